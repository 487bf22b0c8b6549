"""binary_cross_entropy and binary_cross_entropy_with_logits (tinygraph/_ops/losses.py):
values at and away from the clipped ends, gradients, dtypes, the compiled forms, and the
error messages."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck, gradgradcheck

BCE, BCE_LOGITS = tg.binary_cross_entropy, tg.binary_cross_entropy_with_logits

ERRORS = [
    (
        lambda: BCE(np.zeros((1, 3)), np.zeros(3)),
        "binary_cross_entropy: y_hat has shape (1, 3) but the targets y have shape (3,); they must match "
        "(the document's Y is (1, N) like A)",
    ),
    (
        lambda: BCE_LOGITS(np.zeros((1, 3)), np.zeros(3)),
        "binary_cross_entropy_with_logits: z has shape (1, 3) but the targets y have shape (3,); they must match "
        "(the document's Y is (1, N) like A)",
    ),
    (lambda: BCE(np.zeros((0, 3)), np.zeros((0, 3))), "binary_cross_entropy: the inputs are empty (shape (0, 3))"),
    (
        lambda: BCE_LOGITS(np.zeros((2, 0)), np.zeros((2, 0))),
        "binary_cross_entropy_with_logits: the inputs are empty (shape (2, 0))",
    ),
    # At most three targets outside [0, 1] are named; nan is outside too.
    (
        lambda: BCE(np.full(5, 0.5), np.array([2.0, -1.0, 0.5, np.nan, 3.0])),
        "binary_cross_entropy: targets must lie in [0, 1]; got [2.0, -1.0, nan]",
    ),
    (
        lambda: BCE_LOGITS(np.zeros(3), np.array([0.0, 1.0, 1.0000001])),
        "binary_cross_entropy_with_logits: targets must lie in [0, 1]; got [1.0000001]",
    ),
    (lambda: BCE_LOGITS(np.zeros(2), np.array([np.nan, 0.5])), "binary_cross_entropy_with_logits: targets must lie in [0, 1]; got [nan]"),
    (
        lambda: BCE(np.array([1.5, -0.25]), np.zeros(2)),
        "binary_cross_entropy: y_hat must be probabilities in [0, 1] (got min -0.25, max 1.5); "
        "for raw scores use binary_cross_entropy_with_logits",
    ),
    (
        lambda: BCE(np.array([0.5, np.nan]), np.zeros(2)),
        "binary_cross_entropy: y_hat must be probabilities in [0, 1] (got min nan, max nan); "
        "for raw scores use binary_cross_entropy_with_logits",
    ),
]


@pytest.mark.parametrize(("make", "message"), ERRORS, ids=[row[1][:60] for row in ERRORS])
def test_binary_loss_errors_say_exactly_what_is_wrong(make, message):
    with pytest.raises(ValueError) as err:
        make()
    assert str(err.value) == message


@pytest.mark.parametrize("targets", [np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.0, 0.5, 1.0, 0.25])])
def test_targets_on_the_ends_of_zero_to_one_are_accepted(targets):
    y_hat = np.array([0.2, 0.7, 0.9, 0.4])
    want = -(targets * np.log(y_hat) + (1 - targets) * np.log(1 - y_hat)).mean()
    np.testing.assert_allclose(BCE(y_hat, targets).item(), want, rtol=1e-14)


def test_binary_cross_entropy_clips_each_log_at_minus_100():
    # y_hat of exactly 0 or 1 against the wrong target: each log is -100, the loss finite.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert BCE(np.array([0.0, 1.0]), np.array([1.0, 0.0])).item() == 100.0
        assert BCE(np.array([0.0, 1.0]), np.array([0.0, 1.0])).item() == 0.0
        # below the floor only: e^-120 has log -120, clipped to -100; e^-50 keeps its log
        np.testing.assert_allclose(BCE(np.array([np.exp(-120.0), np.exp(-50.0)]), np.array([1.0, 1.0])).item(), 75.0)


@pytest.mark.parametrize("y_hat", [np.array([0.0, 1.0, 0.5]), np.array([np.exp(-120.0), 1.0 - 1e-17, 0.25])])
def test_binary_cross_entropy_gradient_stays_finite_at_the_ends(y_hat):
    p = tg.Tensor(y_hat, requires_grad=True)
    y = tg.Tensor(np.array([1.0, 0.0, 1.0]), requires_grad=True)
    BCE(p, y).backward()
    assert np.isfinite(p.grad).all() and np.isfinite(y.grad).all()
    # dy = (log(1 - y_hat) - log(y_hat)) / N, each log clipped at -100
    logs = np.maximum(np.log(np.maximum(y_hat, 1e-300)), -100.0), np.maximum(np.log(np.maximum(1 - y_hat, 1e-300)), -100.0)
    np.testing.assert_allclose(y.grad, (logs[1] - logs[0]) / 3, rtol=1e-12)


def test_binary_losses_match_finite_differences():
    y_hat = np.array([[0.2, 0.7, 0.9], [0.4, 0.35, 0.6]])
    z = np.array([[-2.0, 0.3, 1.5], [4.0, -0.1, 0.0]])
    y = np.array([[0.9, 0.1, 0.5], [0.25, 0.8, 0.3]])  # inside (0, 1): the steps stay valid targets
    for fn, x in ((BCE, y_hat), (BCE_LOGITS, z)):
        assert gradcheck(fn, x, y)
        assert gradgradcheck(fn, x, y)


def test_with_logits_is_bce_of_the_sigmoid_and_stable_for_huge_logits():
    z, y = np.array([[2.0, -1.0, 0.0]]), np.array([[1.0, 0.0, 0.5]])
    np.testing.assert_allclose(BCE_LOGITS(z, y).item(), BCE(1 / (1 + np.exp(-z)), y).item(), rtol=1e-14)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        big = BCE_LOGITS(np.array([1000.0, -1000.0]), np.array([0.0, 1.0]))
    assert big.item() == 1000.0
    zt = tg.Tensor(z, requires_grad=True)
    (BCE_LOGITS(zt, y) * 2.0).backward()
    np.testing.assert_allclose(zt.grad, 2.0 * (1 / (1 + np.exp(-z)) - y) / 3, rtol=1e-14)


@pytest.mark.parametrize("fn", [BCE, BCE_LOGITS])
@pytest.mark.parametrize(("pred_dtype", "target_dtype"), [(np.float32, np.float64), (np.float64, np.float32), (np.float32, np.float32)])
def test_binary_losses_take_the_dtype_of_the_prediction_eager_and_compiled(fn, pred_dtype, target_dtype):
    # y_hat of exactly 0 and 1: the compiled clipped log must also stay quiet in float32.
    pred = np.array([[0.0, 1.0, 0.5, 1e-30]], dtype=pred_dtype)
    target = np.array([[1.0, 0.0, 1.0, 0.0]], dtype=target_dtype)
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for run in (fn, tg.compile(lambda a, b: fn(a, b))):
            a, b = tg.Tensor(pred, requires_grad=True), tg.Tensor(target, requires_grad=True)
            out = run(a, b)
            out.backward()
            results.append((out, a.grad, b.grad))
    (eager, ga, gb), (compiled, ca, cb) = results
    assert eager.dtype == compiled.dtype == pred_dtype
    np.testing.assert_allclose(compiled.data, eager.data, rtol=1e-6)
    assert ca.dtype == ga.dtype == pred_dtype and cb.dtype == gb.dtype == target_dtype
    np.testing.assert_allclose(ca, ga, rtol=1e-6)
    np.testing.assert_allclose(cb, gb, rtol=1e-6)


@pytest.mark.parametrize("fn", [BCE, BCE_LOGITS])
@pytest.mark.parametrize("wants", [(True, False), (False, True)])
def test_binary_losses_give_only_the_input_that_needs_it_a_gradient(fn, wants):
    pred, target = np.array([0.2, 0.9, 0.5]), np.array([1.0, 0.0, 0.5])
    for run in (fn, tg.compile(lambda a, b: fn(a, b))):
        a, b = tg.Tensor(pred, requires_grad=wants[0]), tg.Tensor(target, requires_grad=wants[1])
        run(a, b).backward()
        assert (a.grad is None) != wants[0] and (b.grad is None) != wants[1]


def test_binary_cross_entropy_gradients_under_create_graph_equal_the_plain_ones_at_the_clipped_ends():
    # Under create_graph the clipped log is built from Tensor ops; it must give the same
    # numbers as the plain backward, clipped ends included.
    y_hat = np.array([0.0, 1.0, 0.3, np.exp(-120.0), 0.9])
    y = np.array([1.0, 0.0, 0.5, 0.25, 1.0])
    plain = [tg.Tensor(y_hat, requires_grad=True), tg.Tensor(y, requires_grad=True)]
    (BCE(*plain) * 1.5).backward()
    graphed = [tg.Tensor(y_hat, requires_grad=True), tg.Tensor(y, requires_grad=True)]
    grads = tg.grad(BCE(*graphed) * 1.5, graphed, create_graph=True)
    for t, g in zip(plain, grads):
        np.testing.assert_allclose(g.data, t.grad, rtol=1e-13)
