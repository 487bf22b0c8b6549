"""docs/derive.md cannot drift: its listings are generated again and compared character for
character, each listing runs and gives the eager engine's cost and gradients, and its
examples run as doctests."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import numpy as np
import pytest

from tinygraph_models import nets
from tinygraph_models.derive import N, N_X, derive_text

DOC = Path(__file__).resolve().parents[2] / "docs" / "derive.md"
LISTING = re.compile(r"<!-- derive: (\w+)(, fused=False)? -->\n```python\n(.*?)```", re.DOTALL)


def _listings():
    return [(model, not unfused, code) for model, unfused, code in LISTING.findall(DOC.read_text(encoding="utf-8"))]


def _id(listing):
    model, fused, _ = listing
    return model if fused else f"{model}-unfused"


def test_the_page_has_every_network():
    assert sorted({model for model, _, _ in _listings()}) == ["deep", "logistic", "shallow"]


@pytest.mark.parametrize("listing", _listings(), ids=_id)
def test_listing_is_what_derive_generates(listing):
    model, fused, code = listing
    assert code == derive_text(model, fused=fused), f"regenerate docs/derive.md's {model} listing"


@pytest.mark.parametrize("listing", _listings(), ids=_id)
def test_listing_runs_and_gives_the_eager_gradients(listing):
    model, fused, code = listing
    namespace = {"np": np}
    exec(compile(code, f"<docs/derive.md {model}>", "exec"), namespace)  # noqa: S102 - the page's own code
    network = nets.build(model, nets.default_units(model, N_X), seed=3)
    rng = np.random.default_rng(4)
    X, Y = rng.random((N_X, N)) - 0.5, (rng.random((1, N)) > 0.5).astype(np.float64)
    parameters = [p.data for _, p in sorted(network.parameters.items(), key=lambda kv: (int(kv[0][1:]), kv[0][0] != "W"))]
    cost, saved = namespace["forward"](X, Y, *parameters)
    grads = namespace["backward"](np.ones(()), *saved)
    eager = network.cost(X, Y, fused=fused)
    eager.backward()
    want = [p.grad for _, p in sorted(network.parameters.items(), key=lambda kv: (int(kv[0][1:]), kv[0][0] != "W"))]
    assert abs(cost - eager.item()) <= 1e-12 * abs(eager.item())
    for got, ref in zip(grads, want):
        assert np.linalg.norm(got - ref) <= 1e-12 * np.linalg.norm(ref)


def test_examples_run():
    result = doctest.testfile(str(DOC), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 10
    assert result.failed == 0, f"{result.failed} example(s) in docs/derive.md failed"
