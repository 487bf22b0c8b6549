"""pytest --doctest-modules passes a module that has no examples at all; this makes the
absence a decision: every library module shows an example, or is listed here with why."""

import doctest
import importlib
import pkgutil

import pytest

import tinygraph

WITHOUT_EXAMPLES = {
    "tinygraph._ops": "the op table's package: each op's example is in its class",
    "tinygraph.losses": "re-exports the loss functions, whose examples are in their op classes",
    "tinygraph.testing": "re-exports gradcheck and friends, whose examples are in their modules",
    "tinygraph.viz": "re-exports draw and render, whose examples are in their modules",
    "tinygraph.viz._annotate": "internal to draw: what gradients and values a picture shows",
    "tinygraph.viz._layout": "internal to draw: what a picture contains",
    "tinygraph.testing._hints": "internal to gradcheck's messages: tests/testing/test_gradcheck_messages.py shows each hint",
}

MODULES = sorted(info.name for info in pkgutil.walk_packages(tinygraph.__path__, "tinygraph."))


@pytest.mark.parametrize("name", MODULES)
def test_every_library_module_shows_an_example(name):
    module = importlib.import_module(name)
    examples = sum(len(test.examples) for test in doctest.DocTestFinder().find(module))
    if name in WITHOUT_EXAMPLES:
        assert examples == 0, f"{name} has examples now: remove it from WITHOUT_EXAMPLES"
    else:
        assert examples > 0, f"{name} has no docstring example (add one, or list it in WITHOUT_EXAMPLES with a reason)"
