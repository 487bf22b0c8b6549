"""The hand-written backprop (models/hand.py) and the initialisers (models/init.py).

Gradients are checked against central finite differences of the cost itself
(tinygraph.testing.numerical_gradient), never only against another formula of ours.
"""

import doctest
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tinygraph.testing import numerical_gradient
from tinygraph_models import hand, init

# --------------------------------------------------------------------------- strategies


@st.composite
def networks(draw, min_layers=1, max_layers=4):
    """(parameters, X, Y): min..max_layers layers, widths 1..6, 1..8 features, batch 1..10."""
    L = draw(st.integers(min_layers, max_layers))
    n_x = draw(st.integers(1, 8))
    hidden = draw(st.lists(st.integers(1, 6), min_size=L - 1, max_size=L - 1))
    N = draw(st.integers(1, 10))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    parameters = init.initialize_parameters([n_x, *hidden, 1], "he", seed=rng)
    # Non-zero biases, so db is checked at a general point, not only at b = 0.
    for l in range(1, L + 1):
        b = parameters["b" + str(l)]
        parameters["b" + str(l)] = 0.5 * rng.standard_normal(b.shape)
    X = rng.standard_normal((n_x, N))
    Y = rng.integers(0, 2, size=(1, N)).astype(np.float64)
    return parameters, X, Y


def well_conditioned(parameters, X, margin=1e-3, max_logit=4.0):
    """True when finite differences of the cost can be trusted to ~1e-8 at this point.

    * No pre-activation within ``margin`` of ReLU's kink at 0: there the cost has no
      derivative, and a step of 1e-6 must not cross it.
    * Output logits ``|Z_L| <= max_logit``: the cost is computed from ``A_L``, and once
      ``A_L`` is near 1 its rounding error (~1e-16 absolute) is large relative to
      ``1 - A_L``, so ``log(1 - A_L)`` carries ~1e-16 / (1 - A_L) of noise, which central
      differences divide by 2e-6. With ``|Z_L| <= 4``, ``1 - A_L > 0.018`` and the noise
      stays below ~1e-9.
    """
    _, cache = hand.forward(parameters, X)
    L = sum(k.startswith("Z") for k in cache)
    Zs = [cache["Z" + str(l)] for l in range(1, L + 1)]
    return all(np.all(np.abs(Z) >= margin) for Z in Zs) and np.all(np.abs(Zs[-1]) <= max_logit)


def cost_of(parameters, X, Y):
    AL, _ = hand.forward(parameters, X)
    return float(hand.cross_entropy_cost(AL, Y))


# --------------------------------------------------------------------------- gradients


@settings(max_examples=150, deadline=None)
@given(networks())
def test_backward_matches_finite_differences(net):
    parameters, X, Y = net
    assume(well_conditioned(parameters, X))
    cost, gradients = hand.cost_and_gradients(parameters, X, Y)
    assert sorted(gradients) == sorted("d" + k for k in parameters)
    for name, value in parameters.items():

        def cost_at(v, name=name):
            return cost_of({**parameters, name: v}, X, Y)

        expected = numerical_gradient(cost_at, value)
        got = gradients["d" + name]
        assert got.shape == value.shape, name
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8, err_msg=name)


@settings(max_examples=40, deadline=None)
@given(networks())
def test_backward_gradient_is_a_descent_direction(net):
    # An independent sanity check on the sign: a small step against the gradient lowers the cost.
    parameters, X, Y = net
    cost, gradients = hand.cost_and_gradients(parameters, X, Y)
    squared_norm = sum(float(np.sum(g**2)) for g in gradients.values())
    assume(squared_norm > 1e-8)
    stepped = hand.update_parameters(parameters, gradients, 1e-4)
    assert cost_of(stepped, X, Y) < float(cost)


def test_backward_shapes_for_the_documents_deep_net():
    parameters = init.initialize_parameters([12, 5, 5, 5, 3, 1], seed=3)
    X = np.random.default_rng(0).standard_normal((12, 7))
    Y = np.array([[0, 1, 1, 0, 1, 0, 0]])
    _, gradients = hand.cost_and_gradients(parameters, X, Y)
    for name, value in parameters.items():
        assert gradients["d" + name].shape == value.shape


def test_labels_must_match_prediction_shape():
    parameters = init.initialize_parameters([2, 1], seed=0)
    X = np.ones((2, 3))
    with pytest.raises(ValueError, match=r"\(3, 1\)"):
        hand.cost_and_gradients(parameters, X, np.ones((3, 1)))


def test_missing_parameters_are_reported():
    with pytest.raises(ValueError, match="W1"):
        hand.forward({}, np.ones((2, 1)))
    with pytest.raises(ValueError, match="b2"):
        hand.forward({"W1": np.ones((1, 1)), "b1": np.zeros((1, 1)), "W2": np.ones((1, 1))}, np.ones((1, 1)))


def test_propagate_checks_L():
    parameters = init.initialize_parameters([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match="L=3"):
        hand.propagate(np.ones((2, 1)), parameters, np.ones((1, 1)), L=3)


# --------------------------------------------------------------------------- the named networks


@settings(max_examples=40, deadline=None)
@given(networks(max_layers=1), st.floats(1e-3, 1.0))
def test_logistic_regression_step_equals_generic_code(net, learning_rate):
    parameters, X, Y = net
    step = hand.logistic_regression_step(parameters["W1"], parameters["b1"], X, Y, learning_rate)
    cost, gradients = hand.propagate(X, parameters, Y, L=1)
    updated = hand.update_parameters(parameters, gradients, learning_rate)
    assert step.cost == cost
    np.testing.assert_array_equal(step.dW, gradients["dW1"])
    np.testing.assert_array_equal(step.db, gradients["db1"])
    np.testing.assert_array_equal(step.W, updated["W1"])
    np.testing.assert_array_equal(step.b, updated["b1"])


@settings(max_examples=40, deadline=None)
@given(networks(min_layers=2, max_layers=2), st.floats(1e-3, 1.0))
def test_one_hidden_layer_step_equals_generic_code(net, learning_rate):
    parameters, X, Y = net
    p = parameters
    step = hand.one_hidden_layer_step(p["W1"], p["b1"], p["W2"], p["b2"], X, Y, learning_rate)
    cost, gradients = hand.propagate(X, parameters, Y, L=2)
    updated = hand.update_parameters(parameters, gradients, learning_rate)
    assert step.cost == cost
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_array_equal(getattr(step, "d" + name), gradients["d" + name], err_msg=name)
        np.testing.assert_array_equal(getattr(step, name), updated[name], err_msg=name)


def test_update_parameters_returns_a_new_dict_and_leaves_the_old_one():
    parameters = init.initialize_parameters([3, 2, 1], seed=0)
    before = {k: v.copy() for k, v in parameters.items()}
    X = np.random.default_rng(1).standard_normal((3, 4))
    _, gradients = hand.cost_and_gradients(parameters, X, np.array([[1, 0, 1, 1]]))
    updated = hand.update_parameters(parameters, gradients, 0.5)
    assert updated is not parameters
    for k in parameters:
        np.testing.assert_array_equal(parameters[k], before[k])
        np.testing.assert_allclose(updated[k], before[k] - 0.5 * gradients["d" + k])


def test_train_lowers_the_cost_and_reports_every_epoch():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 50))
    Y = (X[0:1] + X[1:2] > 0).astype(float)
    parameters = init.initialize_parameters([4, 3, 1], seed=0)
    trained, costs = hand.train(parameters, X, Y, learning_rate=0.5, n_epochs=200)
    assert costs.shape == (201,)
    assert costs[-1] < 0.5 * costs[0]
    assert costs[-1] == pytest.approx(cost_of(trained, X, Y))


# --------------------------------------------------------------------------- pieces


def test_relu_prime_is_zero_at_zero():
    np.testing.assert_array_equal(hand.relu_prime(np.array([-2.0, 0.0, -0.0, 1e-300, 3.0])), [0, 0, 0, 1, 1])


def test_sigmoid_is_stable_and_symmetric():
    z = np.array([-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = hand.sigmoid(z)
    np.testing.assert_allclose(s + hand.sigmoid(-z), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(s[2:5], 1 / (1 + np.exp(-z[2:5])), rtol=1e-15)
    assert s[0] == 0.0 and s[-1] == 1.0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.floats(1e-6, 1 - 1e-6), st.integers(0, 1)), min_size=1, max_size=20),
)
def test_cross_entropy_cost_matches_the_formula_inside_0_1(pairs):
    A = np.array([[a for a, _ in pairs]])
    Y = np.array([[y for _, y in pairs]])
    expected = np.mean([-math.log(a) if y == 1 else -math.log(1 - a) for a, y in pairs])
    assert float(hand.cross_entropy_cost(A, Y)) == pytest.approx(expected, rel=1e-9)


def test_cross_entropy_cost_is_finite_at_exactly_0_and_1():
    A = np.array([[0.0, 1.0, 0.0, 1.0]])
    with np.errstate(over="raise", invalid="raise"):
        right = hand.cross_entropy_cost(A, np.array([[0, 1, 0, 1]]))
        wrong = hand.cross_entropy_cost(A, np.array([[1, 0, 1, 0]]))
    assert right == 0.0
    assert wrong == 100.0  # each log clipped at -100, as in PyTorch's BCELoss


# --------------------------------------------------------------------------- dtypes


def test_float32_stays_float32_everywhere():
    f32 = np.float32
    parameters = init.initialize_parameters([3, 4, 2, 1], seed=0, dtype=f32)
    X = np.random.default_rng(0).standard_normal((3, 5)).astype(f32)
    Y = np.array([[1, 0, 1, 1, 0]])  # integer labels must not promote either
    AL, cache = hand.forward(parameters, X)
    assert AL.dtype == f32 and all(v.dtype == f32 for v in cache.values())
    cost, gradients = hand.cost_and_gradients(parameters, X, Y)
    assert cost.dtype == f32
    assert all(g.dtype == f32 for g in gradients.values())
    updated = hand.update_parameters(parameters, gradients, 0.1)
    assert all(v.dtype == f32 for v in updated.values())
    _, costs = hand.train(parameters, X, Y, n_epochs=2)
    assert costs.dtype == f32

    lr = hand.logistic_regression_step(
        parameters["W1"][:1], parameters["b1"][:1], X, Y, 0.1
    )
    assert all(np.asarray(v).dtype == f32 for v in lr)
    p1 = init.initialize_parameters([3, 4, 1], seed=0, dtype=f32)
    one = hand.one_hidden_layer_step(p1["W1"], p1["b1"], p1["W2"], p1["b2"], X, Y, 0.1)
    assert all(np.asarray(v).dtype == f32 for v in one)
    for f in (hand.sigmoid, hand.relu, hand.relu_prime):
        assert f(X).dtype == f32


def test_float32_and_float64_agree_to_float32_precision():
    p64 = init.initialize_parameters([3, 4, 1], seed=5)
    p32 = init.initialize_parameters([3, 4, 1], seed=5, dtype=np.float32)
    X = np.random.default_rng(0).standard_normal((3, 6))
    Y = np.array([[1, 0, 1, 1, 0, 0]])
    _, g64 = hand.cost_and_gradients(p64, X, Y)
    _, g32 = hand.cost_and_gradients(p32, X.astype(np.float32), Y)
    for k in g64:
        np.testing.assert_allclose(g32[k], g64[k], rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------- init


@pytest.mark.parametrize("name", sorted(init.INITS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_init_shapes_dtypes_and_zero_biases(name, dtype):
    n_units = [7, 5, 3, 1]
    parameters = init.initialize_parameters(n_units, name, seed=1, dtype=dtype)
    assert sorted(parameters) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    for l in range(1, 4):
        W, b = parameters["W" + str(l)], parameters["b" + str(l)]
        assert W.shape == (n_units[l], n_units[l - 1]) and b.shape == (n_units[l], 1)
        assert W.dtype == dtype and b.dtype == dtype
        assert np.all(b == 0)


def test_init_is_reproducible_and_seed_dependent():
    a = init.initialize_parameters([6, 4, 1], seed=7)
    b = init.initialize_parameters([6, 4, 1], seed=7)
    c = init.initialize_parameters([6, 4, 1], seed=8)
    np.testing.assert_array_equal(a["W1"], b["W1"])
    assert not np.array_equal(a["W1"], c["W1"])
    # A Generator is used as is: same stream as the integer seed.
    d = init.initialize_parameters([6, 4, 1], seed=np.random.default_rng(7))
    np.testing.assert_array_equal(a["W2"], d["W2"])
    # float32 weights are the float64 weights, rounded.
    e = init.initialize_parameters([6, 4, 1], seed=7, dtype=np.float32)
    np.testing.assert_array_equal(e["W1"], a["W1"].astype(np.float32))


@pytest.mark.parametrize(
    "name, std",
    [("he", math.sqrt(2 / 400)), ("xavier", math.sqrt(2 / (400 + 300)))],
)
def test_normal_inits_have_the_right_mean_and_std(name, std):
    W = init.initialize_parameters([400, 300], name, seed=0)["W1"]  # 120,000 draws
    # Standard errors: mean std/sqrt(n) ~ 0.003 std; std ~ std/sqrt(2n) ~ 0.002 std.
    assert abs(W.mean()) < 0.015 * std
    assert W.std() == pytest.approx(std, rel=0.01)
    # Normal, not uniform: about 4.6% of normal draws fall beyond 2 std (none would for a
    # uniform of that std, whose half-width is sqrt(3) std).
    assert np.mean(np.abs(W) > 2 * std) == pytest.approx(0.0455, abs=0.005)


def test_document_init_is_uniform_on_0_to_0_01():
    W = init.initialize_parameters([400, 300], "document", seed=0)["W1"]
    assert W.min() >= 0 and W.max() < 0.01
    assert W.mean() == pytest.approx(0.005, rel=0.01)
    assert W.std() == pytest.approx(0.01 / math.sqrt(12), rel=0.01)
    # Uniform: each tenth of [0, 0.01) holds ~10% of the draws.
    counts, _ = np.histogram(W, bins=10, range=(0, 0.01))
    np.testing.assert_allclose(counts / W.size, 0.1, atol=0.005)


def test_unknown_init_lists_the_valid_names():
    with pytest.raises(ValueError) as info:
        init.initialize_parameters([2, 1], "glorot")
    for name in ("'document'", "'he'", "'xavier'", "'glorot'"):
        assert name in str(info.value)


@pytest.mark.parametrize("n_units", [[3], [], [3, 0, 1]])
def test_bad_n_units_raise(n_units):
    with pytest.raises(ValueError, match="n_units"):
        init.initialize_parameters(n_units)


def test_integer_dtype_is_refused():
    with pytest.raises(TypeError, match="floating"):
        init.initialize_parameters([2, 1], dtype=np.int64)


# --------------------------------------------------------------------------- docstrings


@pytest.mark.parametrize("module", [hand, init], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
