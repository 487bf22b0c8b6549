"""The document's networks in tinygraph (models/nets.py) against the hand derivation
(models/hand.py) and against finite differences, the oracle.

Kinks: ReLU has no derivative at 0, and a central difference straddling 0 measures the
average of the two slopes (0.5 for one unit), not relu'(0) = 0. The Hypothesis draws
use non-zero random biases and reject any draw with a hidden pre-activation closer
than 1e-3 to 0 (a step of 1e-6 then never crosses the kink). Exact zeros do happen on
real data (a zero bias on a unit whose inputs are all zero, a dead unit feeding the
next layer); ``test_exact_relu_zero_takes_one_side`` puts one there on purpose and
checks the gradient against the one-sided differences instead.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph.testing import gradcheck, numerical_gradient
from tinygraph_models import hand, nets
from tinygraph_models.data import load_dataset
from tinygraph_models.init import initialize_parameters

KINK_MARGIN = 1e-3
MAX_LOGIT = 3.0

# --------------------------------------------------------------------------- draws


@st.composite
def problems(draw, model):
    """(parameters, X, Y) for ``model``: sizes, batch and seed drawn by Hypothesis.

    "deep" gets 2 to 4 hidden layers of any widths. Output logits are scaled into
    [-3, 3]: the hand cost is computed from A_L, and where A_L is near 1 its rounding
    error, divided by the 2e-6 of a central difference, would swamp the comparison.
    """
    n_x = draw(st.integers(1, 8), label="n_x")
    hidden = {
        "logistic": [],
        "shallow": [draw(st.integers(1, 6), label="n_h")],
        "deep": draw(st.lists(st.integers(1, 6), min_size=2, max_size=4), label="hidden"),
    }[model]
    N = draw(st.integers(1, 10), label="N")
    seed = draw(st.integers(0, 2**32 - 1), label="seed")
    init = draw(st.sampled_from(["he", "xavier"]), label="init")
    rng = np.random.default_rng(seed)
    parameters = initialize_parameters([n_x, *hidden, 1], init, seed=rng)
    L = len(hidden) + 1
    for l in range(1, L + 1):  # non-zero biases: db is checked at a general point
        parameters[f"b{l}"] = 0.5 * rng.standard_normal((parameters[f"W{l}"].shape[0], 1))
    X = rng.standard_normal((n_x, N))
    Y = rng.integers(0, 2, size=(1, N)).astype(np.float64)
    _, cache = hand.forward(parameters, X)
    largest = np.max(np.abs(cache[f"Z{L}"]))
    if largest > MAX_LOGIT:
        parameters[f"W{L}"] = parameters[f"W{L}"] * (MAX_LOGIT / largest)
        parameters[f"b{L}"] = parameters[f"b{L}"] * (MAX_LOGIT / largest)
    return parameters, X, Y


def away_from_kinks(parameters, X):
    _, cache = hand.forward(parameters, X)
    L = len(parameters) // 2
    return all(np.min(np.abs(cache[f"Z{l}"])) >= KINK_MARGIN for l in range(1, L))


def hand_cost(parameters, X, Y):
    return float(hand.cross_entropy_cost(hand.forward(parameters, X)[0], Y))


def assert_relative(got, expected, rel, what):
    """max |got - expected| <= rel * max |expected| (both all-zero passes)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, f"{what}: shape {got.shape} != {expected.shape}"
    error = float(np.max(np.abs(got - expected)))
    scale = float(np.max(np.abs(expected)))
    assert error <= rel * scale, f"{what}: max abs difference {error:.3e} > {rel:g} x max |expected| {scale:.3e}"


MODELS = ["logistic", "shallow", "deep"]

# --------------------------------------------------------------------------- tinygraph == hand


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_tinygraph_and_hand_give_the_same_cost_and_gradients(model, fused, data):
    parameters, X, Y = data.draw(problems(model))
    assume(away_from_kinks(parameters, X))
    cost, grads = nets.cost_and_gradients(parameters, X, Y, fused=fused)
    expected_cost, expected = hand.cost_and_gradients(parameters, X, Y)
    assert isinstance(cost, float)
    assert math.isclose(cost, float(expected_cost), rel_tol=1e-10, abs_tol=0)
    assert sorted(grads) == sorted(expected)
    for name in expected:
        assert grads[name].dtype == np.float64, name
        assert_relative(grads[name], expected[name], 1e-10, name)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
@pytest.mark.parametrize("model", MODELS)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_both_agree_with_finite_differences(model, fused, data):
    parameters, X, Y = data.draw(problems(model))
    assume(away_from_kinks(parameters, X))
    _, auto = nets.cost_and_gradients(parameters, X, Y, fused=fused)
    _, derived = hand.cost_and_gradients(parameters, X, Y)
    for name, value in parameters.items():
        numeric = numerical_gradient(lambda v, name=name: hand_cost({**parameters, name: v}, X, Y), value)
        np.testing.assert_allclose(auto[f"d{name}"], numeric, rtol=1e-6, atol=1e-8, err_msg=f"autograd d{name}")
        np.testing.assert_allclose(derived[f"d{name}"], numeric, rtol=1e-6, atol=1e-8, err_msg=f"hand d{name}")

    # gradcheck differentiates tinygraph's own forward, all parameters at once.
    names = list(parameters)

    def cost_of(*leaves):
        return network_on(model, dict(zip(names, leaves))).cost(X, Y, fused=fused)

    assert gradcheck(cost_of, *(parameters[n] for n in names))


def network_on(model, leaves):
    """A Network whose layers hold the given Tensors (gradcheck's leaves), not copies."""
    network = nets.Network(model, {name: np.asarray(t.data) for name, t in leaves.items()})
    for layer in network.net.layers:
        if isinstance(layer, tg.nn.Linear):
            layer.W, layer.b = leaves[f"W{layer.index}"], leaves[f"b{layer.index}"]
    return network


def test_exact_relu_zero_takes_one_side():
    # Sample 0 is all zeros and every bias is 0, so each of its hidden pre-activations
    # is exactly 0: the cost has a kink there in every parameter that moves them.
    parameters = initialize_parameters([3, 4, 2, 1], "he", seed=5)
    X = np.array([[0.0, 1.0, -0.5, 2.0], [0.0, -1.5, 0.3, 0.7], [0.0, 0.2, 1.1, -0.4]])
    Y = np.array([[1.0, 0.0, 1.0, 0.0]])
    _, cache = hand.forward(parameters, X)
    assert np.all(cache["Z1"][:, 0] == 0.0) and np.all(cache["Z2"][:, 0] == 0.0)

    _, auto = nets.cost_and_gradients(parameters, X, Y)
    _, derived = hand.cost_and_gradients(parameters, X, Y)
    kinks = 0
    for name, value in parameters.items():
        assert_relative(auto[f"d{name}"], derived[f"d{name}"], 1e-10, name)
        f = lambda v, name=name: hand_cost({**parameters, name: v}, X, Y)  # noqa: E731
        central = numerical_gradient(f, value)
        for index in np.ndindex(value.shape):
            got = auto[f"d{name}"][index]
            if abs(got - central[index]) <= 1e-7 + 1e-6 * abs(central[index]):
                continue
            # Off the central difference: it must be one of the two one-sided slopes.
            kinks += 1
            forward, backward = one_sided(f, value, index)
            assert abs(forward - backward) > 1e-4, f"{name}{index}: no kink, yet {got} != {central[index]}"
            assert min(abs(got - forward), abs(got - backward)) < 1e-5, f"{name}{index}: {got} is neither side"
    assert kinks > 0  # the test must have met the kink it was built for


def one_sided(f, point, index, h=1e-7):
    x = np.array(point, dtype=np.float64)
    base = f(x)
    x[index] += h
    above = f(x)
    x[index] -= 2 * h
    below = f(x)
    return (above - base) / h, (base - below) / h


# --------------------------------------------------------------------------- the Network API


def test_the_documents_deep_net_on_real_data_matches_hand():
    data = load_dataset("digits")
    X, Y = data.train_x[:, :100], data.train_y[:, :100]
    parameters = initialize_parameters([64, 5, 5, 5, 3, 1], "he", seed=0)
    for fused in (True, False):
        cost, auto = nets.cost_and_gradients(parameters, X, Y, fused=fused)
        expected_cost, derived = hand.cost_and_gradients(parameters, X, Y)
        assert math.isclose(cost, float(expected_cost), rel_tol=1e-10)
        for name in derived:
            assert_relative(auto[name], derived[name], 1e-10, name)


@pytest.mark.parametrize("model, units", [("logistic", [4, 1]), ("shallow", [4, 3, 1]), ("deep", [4, 5, 5, 5, 3, 1])])
def test_build_starts_from_the_shared_initial_weights(model, units):
    net = nets.build(model, units, init="xavier", seed=7)
    expected = initialize_parameters(units, "xavier", seed=7)
    assert net.n_units == units and net.L == len(units) - 1 and net.model == model
    assert list(net.parameters) == [f"{k}{l}" for l in range(1, net.L + 1) for k in "Wb"]
    for name, value in expected.items():
        np.testing.assert_array_equal(net.parameters[name].data, value)
    assert net.redrawn == []


def test_network_copies_the_arrays_it_is_given():
    parameters = initialize_parameters([2, 3, 1], seed=0)
    net = nets.Network("shallow", parameters)
    net.parameters["W1"].data[0, 0] = 123.0
    assert parameters["W1"][0, 0] != 123.0
    state = net.state()
    state["W2"][0, 0] = -5.0
    assert net.parameters["W2"].data[0, 0] != -5.0


def test_predictions_threshold_the_probability_at_one_half():
    rng = np.random.default_rng(3)
    net = nets.build("deep", [3, 4, 4, 1], seed=1)
    X = rng.standard_normal((3, 50))
    proba = net.predict_proba(X)
    assert proba.shape == (1, 50) and np.all((proba >= 0) & (proba <= 1))
    np.testing.assert_array_equal(net.predict(X), (proba > 0.5).astype(float))
    Y = net.predict(X)
    assert net.accuracy(X, Y) == 1.0 and net.accuracy(X, 1 - Y) == 0.0


def test_fused_and_unfused_costs_agree_and_only_unfused_saturates():
    net = nets.build("logistic", [1, 1], seed=0)
    net.parameters["W1"].data[...] = 100.0
    X, Y = np.array([[1.0, -1.0]]), np.array([[0.0, 1.0]])  # confidently wrong on both
    fused = net.cost(X, Y).item()
    unfused = net.cost(X, Y, fused=False).item()
    assert fused == pytest.approx(100.0, rel=1e-12)  # -log sigmoid(-100), computed from Z
    assert unfused == pytest.approx(100.0, rel=1e-12)  # log(1 - A) clipped at -100: A rounded to 1
    net = nets.build("logistic", [1, 1], seed=0)
    assert net.cost(X, Y).item() == pytest.approx(net.cost(X, Y, fused=False).item(), rel=1e-12)


@pytest.mark.parametrize(
    "model, units, message",
    [
        ("deep", [4], "at least two"),
        ("deep", [4, 0, 1], "at least two positive"),
        ("deep", [4, 3, 2], "has 1 unit"),
        ("logistic", [4, 3, 1], r"needs 2 layer sizes \(\[n_x, 1\]\)"),
        ("shallow", [4, 1], r"needs 3 layer sizes \(\[n_x, n_h, 1\]\)"),
        ("resnet", [4, 1], "unknown model 'resnet'; choose one of logistic, shallow, deep"),
    ],
)
def test_bad_layer_lists_are_refused(model, units, message):
    with pytest.raises(ValueError, match=message):
        nets.build(model, units)


def test_default_units_fill_in_the_features():
    assert nets.default_units("deep", 64) == [64, 5, 5, 5, 3, 1]
    assert nets.default_units("logistic", 30) == [30, 1]
    assert nets.default_units("shallow", 30) == [30, nets.MODELS["shallow"][0], 1]
    with pytest.raises(ValueError, match="unknown model"):
        nets.default_units("cnn", 3)


def test_network_refuses_misnamed_parameters():
    with pytest.raises(ValueError, match="W1, b1, ..., WL, bL; got W1, b2"):
        nets.Network("deep", {"W1": np.ones((1, 2)), "b2": np.zeros((1, 1))})
    with pytest.raises(ValueError, match="got none"):
        nets.Network("deep", {})


# --------------------------------------------------------------------------- dead units


def hidden_alive(parameters, X):
    _, cache = hand.forward(parameters, X)
    L = len(parameters) // 2
    return [np.max(cache[f"Z{l}"], axis=1) > 0 for l in range(1, L)]


def test_seed_4_starts_with_a_dead_layer_and_redrawing_wakes_it():
    data = load_dataset("digits")
    units = [64, 5, 5, 5, 3, 1]
    raw = initialize_parameters(units, "he", seed=4)
    alive = hidden_alive(raw, data.train_x)
    assert not alive[3].any()  # layer 4 outputs 0 on every sample: a constant classifier
    _, grads = hand.cost_and_gradients(raw, data.train_x, data.train_y)
    assert all(np.all(grads[f"dW{l}"] == 0) for l in range(1, 5))  # and GD can never change that

    net = nets.build("deep", units, seed=4, alive_on=data.train_x)
    fixed = net.state()
    assert all(a.all() for a in hidden_alive(fixed, data.train_x))
    assert net.redrawn and {layer for layer, _ in net.redrawn} <= {1, 2, 3, 4}
    # Only the rows of redrawn units changed; the biases and the output layer did not.
    for l in range(1, 6):
        rows = {unit for layer, unit in net.redrawn if layer == l}
        for j in range(units[l]):
            same = np.array_equal(fixed[f"W{l}"][j], raw[f"W{l}"][j])
            assert same != (j in rows), f"W{l} row {j}"
        np.testing.assert_array_equal(fixed[f"b{l}"], raw[f"b{l}"])
    # Deterministic: the same seed redraws the same way.
    again = nets.build("deep", units, seed=4, alive_on=data.train_x).state()
    for name in fixed:
        np.testing.assert_array_equal(again[name], fixed[name])


@settings(max_examples=40, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 4), min_size=1, max_size=4),
    seed=st.integers(0, 2**31 - 1),
    init=st.sampled_from(["he", "xavier", "document"]),
)
def test_after_redrawing_every_hidden_unit_fires_on_some_sample(hidden, seed, init):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((3, 6))
    raw = initialize_parameters([3, *hidden, 1], init, seed=seed)
    fixed, redrawn = nets.redraw_dead_units(raw, X, init=init, seed=seed)
    assert all(a.all() for a in hidden_alive(fixed, X))
    dead = [(l, int(j)) for l, a in enumerate(hidden_alive(raw, X), start=1) for j in np.flatnonzero(~a)]
    if not dead:
        assert redrawn == [] and all(fixed[name] is raw[name] for name in raw)
    else:
        # The first layer with dead units is handled before any other changes: all of its
        # dead units are reported. (Later layers are judged after the earlier redraws.)
        first = min(l for l, _ in dead)
        assert {unit for unit in dead if unit[0] == first} <= set(redrawn)
        assert min(l for l, _ in redrawn) == first
    for name in raw:
        if name.startswith("b") or not any(name == f"W{l}" for l, _ in redrawn):
            assert fixed[name] is raw[name], name


def test_the_documents_init_has_no_dead_units_to_redraw():
    # The erratum test trains the document's draws, unchanged: nothing may be redrawn.
    data = load_dataset("digits")
    for seed in range(5):
        net = nets.build("deep", [64, 5, 5, 5, 3, 1], init="document", seed=seed, alive_on=data.train_x)
        assert net.redrawn == []
