"""The document's three networks, compiled: the same cost and gradients as the eager engine to
1e-12 relative (float64), the hand-derived equations' values, float32 kept, training through
compiled steps identical to eager training, and models.derive's text."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph_models import hand, nets
from tinygraph_models.derive import derive_text

MODELS = {"logistic": [20, 1], "shallow": [20, 8, 1], "deep": [20, 5, 5, 5, 3, 1]}


def _relative_error(got, want) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


def _data(n_x, n=30, seed=1, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n_x, n)).astype(dtype), (rng.random((1, n)) > 0.5).astype(dtype)


def _gradients(network, cost):
    cost.backward()
    grads = {name: p.grad for name, p in network.parameters.items()}
    for p in network.parameters.values():
        p.grad = None
    return grads


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "sigmoid-then-bce"])
@pytest.mark.parametrize("model", sorted(MODELS))
def test_network_equals_eager(model, fused):
    network = nets.build(model, MODELS[model], seed=2)
    X, Y = _data(MODELS[model][0])
    eager = network.cost(X, Y, fused=fused)
    want = _gradients(network, eager)
    step = tg.compile(network.cost)
    for _ in range(2):
        got_cost = step(X, Y, fused=fused)
        got = _gradients(network, got_cost)
        assert _relative_error(got_cost.data, eager.data) <= 1e-12
        for name in want:
            assert got[name].shape == want[name].shape
            assert _relative_error(got[name], want[name]) <= 1e-12, name


@pytest.mark.parametrize("model", sorted(MODELS))
def test_network_equals_the_hand_derivation(model):
    # The document's equations written by hand (corrected): dZ_L = A_L - Y, dW = dZ A_prev^T / N, ...
    network = nets.build(model, MODELS[model], seed=2)
    X, Y = _data(MODELS[model][0])
    got = _gradients(network, tg.compile(network.cost)(X, Y))
    _, want = hand.cost_and_gradients(network.state(), X, Y)
    for name, grad in got.items():
        assert _relative_error(grad, want[f"d{name}"]) <= 1e-12, name


@pytest.mark.parametrize("model", sorted(MODELS))
def test_network_stays_float32(model):
    network = nets.build(model, MODELS[model], seed=2, dtype=np.float32)
    X, Y = _data(MODELS[model][0], dtype=np.float32)
    cost = tg.compile(network.cost)(X, Y)
    assert cost.dtype == np.float32
    for name, grad in _gradients(network, cost).items():
        assert grad.dtype == np.float32, name


def test_training_through_compiled_steps_equals_eager_training():
    X, Y = _data(20, n=40)
    finals = []
    for compiled in (False, True):
        network = nets.build("deep", MODELS["deep"], seed=5)
        opt = tg.optim.GD(network.net.parameters(), lr=0.1)
        cost_of = tg.compile(network.cost) if compiled else network.cost
        costs = []
        for _ in range(20):
            opt.zero_grad()
            cost = cost_of(X, Y)
            cost.backward()
            opt.step()
            costs.append(cost.item())
        finals.append((np.array(costs), network.state()))
    (eager_costs, eager_state), (compiled_costs, compiled_state) = finals
    assert _relative_error(compiled_costs, eager_costs) <= 1e-12
    for name in eager_state:
        assert _relative_error(compiled_state[name], eager_state[name]) <= 1e-12, name


@pytest.mark.parametrize("model", ["logistic", "shallow", "deep"])
def test_derive_text_is_deterministic_and_readable(model):
    text = derive_text(model, n_x=12, n_samples=7)
    assert text == derive_text(model, n_x=12, n_samples=7)
    compile(text, "<derive>", "exec")
    L = len(nets.MODELS[model])
    for line in (f"Z{L} = W{L}A{L - 1} + b{L}" if L > 1 else "Z1 = W1X + b1", f"dZ{L} = dcost * ", "dW1 = dZ1 @ X.T",
                 f"db{L} = dZ{L}.sum(axis=1, keepdims=True)"):  # fmt: skip
        assert line in text, line
    assert "dX" not in text and "dY" not in text  # the data needs no gradient: none is computed


def test_derive_text_refuses_an_unknown_model():
    with pytest.raises(ValueError, match="unknown model 'wide'"):
        derive_text("wide")
