"""The examples in the docstrings of models/ run, imported under the installed name
(pytest's own doctest collection would import models/ a second time as `models`).

Every module is expected to show at least one example; the few that cannot are listed
with the reason, so a module whose examples were lost (or never written) fails here
instead of passing with nothing run."""

import doctest
import importlib
import pkgutil

import pytest

import tinygraph_models

WITHOUT_EXAMPLES = {
    "tinygraph_models.render": "writes SVG files with Graphviz: tests/models/test_render.py runs it",
    "tinygraph_models.document": "the article's code as written, wrong on purpose: tests/models/test_errata.py runs it",
    "tinygraph_models.datasets": "a package holding data files",
}

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(tinygraph_models.__path__, "tinygraph_models.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    examples = sum(len(test.examples) for test in doctest.DocTestFinder().find(module))
    if name in WITHOUT_EXAMPLES:
        assert examples == 0, f"{name} has examples now: remove it from WITHOUT_EXAMPLES"
        pytest.skip(WITHOUT_EXAMPLES[name])
    assert examples > 0, f"{name} has no docstring example to run (add one, or list it in WITHOUT_EXAMPLES with a reason)"
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
    assert result.attempted == examples
