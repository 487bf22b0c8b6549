"""The Python examples in docs/tutorial.md run and print what the tutorial says."""

import contextlib
import doctest
from pathlib import Path

import numpy  # noqa: F401  loaded before the BLAS limit below, which only reaches libraries already loaded

TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"


def test_tutorial_examples_run():
    # The tutorial's own training loops run outside train(), which is what limits BLAS
    # to one thread; without the limit they crawl on a busy 2-core machine.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        limit = contextlib.nullcontext()
    else:
        limit = threadpool_limits(limits=1, user_api="blas")
    with limit:
        result = doctest.testfile(str(TUTORIAL), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 20  # the examples were found
    assert result.failed == 0, f"{result.failed} example(s) in docs/tutorial.md failed"
