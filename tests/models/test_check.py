"""models/check.py: autograd, the hand derivation and finite differences compared, without
crying wolf where float64 or a ReLU kink fools the finite differences, and loudly where a
gradient is wrong."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygraph.testing import numerical_gradient
from tinygraph_models import check, hand, nets
from tinygraph_models.data import load_dataset
from tinygraph_models.init import initialize_parameters


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def first(data, n):
    return np.array(data.train_x[:, :n]), np.array(data.train_y[:, :n])


# --------------------------------------------------------------------------- the cost that is differenced


def test_the_logit_cost_is_the_documents_cost(digits):
    X, Y = first(digits, 64)
    for units in ([64, 1], [64, 6, 1], [64, 5, 3, 1]):
        p = initialize_parameters(units, "he", seed=1)
        assert check.logit_cost(p, X, Y) == pytest.approx(float(hand.cross_entropy_cost(hand.forward(p, X)[0], Y)), rel=1e-12)


def test_the_logit_cost_keeps_its_digits_where_the_sigmoid_rounds():
    Z = np.array([[16.0, 30.0, 40.0, -40.0]])
    p = {"W1": np.ones((1, 1)), "b1": np.zeros((1, 1))}
    Y = np.array([[0.0, 0.0, 0.0, 1.0]])
    expected = np.mean(np.logaddexp(0.0, np.abs(Z)))  # -log(1 - sigmoid(z)) = log(1 + e^z)
    assert check.logit_cost(p, Z, Y) == pytest.approx(expected, rel=1e-15)


def test_the_documents_formula_is_a_staircase_at_the_step_where_the_logit_form_is_smooth(digits):
    # Why `tinygraph check --model logistic --samples 500` used to report DISAGREE: on these
    # samples Z reaches 16, 1 - sigmoid(Z) keeps 9 of 16 digits, and the central difference
    # of the document's formula is off by 1e-4 relative. The same differences of the logit
    # form agree with autograd to 1e-8.
    X, Y = first(digits, 500)
    p = initialize_parameters([64, 1], "he", seed=0)
    assert np.max(np.abs(hand.forward(p, X)[1]["Z1"])) > 16
    _, auto = nets.cost_and_gradients(p, X, Y)

    def with_b(cost):
        return lambda b: cost({"W1": p["W1"], "b1": b}, X, Y)

    documents = numerical_gradient(with_b(lambda q, X, Y: float(hand.cross_entropy_cost(hand.forward(q, X)[0], Y))), p["b1"])
    logits = numerical_gradient(with_b(check.logit_cost), p["b1"])
    scale = np.max(np.abs(auto["db1"]))
    assert np.max(np.abs(documents - auto["db1"])) / scale > 1e-5
    assert np.max(np.abs(logits - auto["db1"])) / scale < 1e-7


# --------------------------------------------------------------------------- no false alarms


@pytest.mark.parametrize("n", [200, 500, 1000, 1348])
def test_logistic_regression_agrees_on_any_number_of_samples(digits, n):
    result = check.check_gradients(initialize_parameters([64, 1], "he", seed=0), *first(digits, n))
    assert result.ok, "\n".join(result.lines())
    assert result.kinks == [] and "ReLU" not in "\n".join(result.lines())


def test_relu_inputs_within_the_step_of_zero_are_compared_on_autograds_piece(digits):
    # The document's tiny initial weights put hidden inputs within 1e-6 * |x| of 0: a
    # central difference straddles the kink (1% off on W1[24, 19] before).
    p = initialize_parameters([64, 32, 1], "document", seed=1)
    result = check.check_gradients(p, *first(digits, 200))
    assert result.ok, "\n".join(result.lines())
    assert "W1[24, 19]" in result.kinks
    assert any("carry a hidden ReLU input across 0" in line for line in result.lines())


def test_a_relu_input_exactly_at_zero_counts_as_off():
    # Unit 2 of layer 1 has zero weights and bias: its input is exactly 0 on every sample.
    # Its bias then has two one-sided slopes; autograd's relu'(0) = 0 is the left one.
    rng = np.random.default_rng(0)
    p = {"W1": rng.standard_normal((2, 3)), "b1": np.zeros((2, 1)), "W2": np.array([[0.7, -1.3]]), "b2": np.zeros((1, 1))}
    p["W1"][1] = 0.0
    X, Y = rng.standard_normal((3, 8)), (rng.random((1, 8)) > 0.5).astype(float)
    result = check.check_gradients(p, X, Y)
    assert result.ok, "\n".join(result.lines())
    assert "b1[1, 0]" in result.kinks
    assert nets.cost_and_gradients(p, X, Y)[1]["db1"][1, 0] == 0.0


@given(
    hidden=st.lists(st.integers(1, 4), min_size=0, max_size=2),
    n_x=st.integers(1, 4),
    n=st.integers(1, 12),
    init=st.sampled_from(["he", "xavier", "document"]),
    seed=st.integers(0, 2**16),
    spread=st.sampled_from([0.1, 1.0, 10.0]),
)
@settings(max_examples=30, deadline=None)
def test_correct_gradients_always_pass(hidden, n_x, n, init, seed, spread):
    rng = np.random.default_rng(seed)
    X = spread * rng.standard_normal((n_x, n))
    Y = (rng.random((1, n)) > 0.5).astype(float)
    result = check.check_gradients(initialize_parameters([n_x, *hidden, 1], init, seed=seed), X, Y)
    assert result.ok, "\n".join(result.lines())


# --------------------------------------------------------------------------- real errors are caught


def wrong(monkeypatch, name, change):
    real = nets.cost_and_gradients

    def broken(parameters, X, Y, **kwargs):
        cost, grads = real(parameters, X, Y, **kwargs)
        grads = dict(grads)
        grads[name] = change(grads[name].copy())
        return cost, grads

    monkeypatch.setattr(nets, "cost_and_gradients", broken)


def test_a_slightly_wrong_gradient_fails_loudly_and_is_named(digits, monkeypatch):
    wrong(monkeypatch, "dW1", lambda g: g * (1 + 1e-5))
    result = check.check_gradients(initialize_parameters([64, 1], "he", seed=0), *first(digits, 500))
    text = "\n".join(result.lines())
    assert not result.ok and "DISAGREE" in text
    assert "  W1[0, " in text and "autograd" in text and "finite differences" in text
    assert "ReLU" not in text  # no ReLU in logistic regression, so no kink note either


def test_one_wrong_element_in_a_deep_net_fails(digits, monkeypatch):
    def flip(g):
        g[2, 3] = -g[2, 3] if g[2, 3] != 0 else 1e-3
        return g

    wrong(monkeypatch, "dW2", flip)
    result = check.check_gradients(initialize_parameters([64, 5, 5, 5, 3, 1], "he", seed=0), *first(digits, 32))
    assert not result.ok
    assert "  W2[2, 3]" in "\n".join(result.lines())


def test_a_kink_cannot_excuse_a_wrong_gradient(monkeypatch):
    # Exactly at a kink autograd must equal the slope of ITS piece; the other side's slope
    # (relu'(0) = 1, the document's choice) is a disagreement.
    rng = np.random.default_rng(0)
    p = {"W1": rng.standard_normal((2, 3)), "b1": np.zeros((2, 1)), "W2": np.array([[0.7, -1.3]]), "b2": np.zeros((1, 1))}
    p["W1"][1] = 0.0
    X, Y = rng.standard_normal((3, 8)), (rng.random((1, 8)) > 0.5).astype(float)
    AL, _ = hand.forward(p, X)
    other_side = float(np.mean((AL - Y) * p["W2"][0, 1]))  # db1[1] with relu'(0) = 1
    assert nets.cost_and_gradients(p, X, Y)[1]["db1"][1, 0] == 0.0 and other_side != 0.0

    def the_other_side(g):
        g[1, 0] = other_side
        return g

    wrong(monkeypatch, "db1", the_other_side)
    result = check.check_gradients(p, X, Y)
    assert not result.ok and "  b1[1, 0]" in "\n".join(result.lines())


def test_gradients_too_faint_for_finite_differences_are_said_to_be(digits):
    # The document's uniform [0, 0.01) init leaves the deep net's gradients near 1e-9, about
    # the rounding error of a difference of step 1e-6: those pass, and the report says how
    # little that means.
    result = check.check_gradients(initialize_parameters([64, 5, 5, 5, 3, 1], "document", seed=1), *first(digits, 200))
    text = "\n".join(result.lines())
    assert result.ok
    assert "note: finite differences resolve gradients only to about" in text and "W1 (" in text
    healthy = check.check_gradients(initialize_parameters([64, 5, 5, 5, 3, 1], "he", seed=0), *first(digits, 32))
    assert "resolve gradients only" not in "\n".join(healthy.lines())
