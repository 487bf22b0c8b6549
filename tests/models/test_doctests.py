"""The examples in the docstrings of models/ run, imported under the installed name
(pytest's own doctest collection would import models/ a second time as `models`)."""

import doctest
import importlib
import pkgutil

import pytest

import tinygraph_models

MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(tinygraph_models.__path__, "tinygraph_models.")
    if not info.name.endswith("__main__")
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
