"""cross_entropy and mse_loss (tinygraph/_ops/losses_multiclass.py): values, gradients (also
under create_graph, compiled, and from the softmax kept as a residual), and error messages."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph._ops.losses_multiclass import CrossEntropy
from tinygraph.testing import check_graph, gradcheck, gradgradcheck


def _softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _onehot(labels, classes, axis):
    return np.moveaxis(np.eye(classes)[labels.astype(int)], -1, axis)


# ---------------------------------------------------------------------- error messages

ZEROS = np.zeros((3, 7))

ERRORS = [
    (
        lambda: tg.cross_entropy(tg.Tensor(1.0), np.array(0.0)),
        ValueError,
        "cross_entropy: the logits are a 0-d value; they need a class axis (shape (C, N) or (C,))",
    ),
    (
        # a bool is no axis, even though Python counts it as an int
        lambda: tg.cross_entropy(np.zeros((2, 2)), np.array([0, 1]), axis=True),
        TypeError,
        "cross_entropy: axis must be an int (the class axis), got True for shape (2, 2)",
    ),
    (
        lambda: tg.cross_entropy(np.zeros((3, 2)), np.zeros(2), axis=2),
        ValueError,
        "cross_entropy: axis 2 is out of range for shape (3, 2)",
    ),
    (
        lambda: tg.cross_entropy(np.zeros((3, 2)), np.zeros(2), axis=-3),
        ValueError,
        "cross_entropy: axis -3 is out of range for shape (3, 2)",
    ),
    (
        lambda: tg.cross_entropy(np.zeros((0, 2)), np.zeros(2)),
        ValueError,
        "cross_entropy: the logits of shape (0, 2) hold no classes or no samples (axis 0)",
    ),
    (
        lambda: tg.cross_entropy(np.zeros((3, 0)), np.zeros(0)),
        ValueError,
        "cross_entropy: the logits of shape (3, 0) hold no classes or no samples (axis 0)",
    ),
    (
        lambda: tg.cross_entropy(np.zeros((3, 2)), np.zeros(3)),
        ValueError,
        "cross_entropy: target has shape (3,), but logits of shape (3, 2) with classes on axis 0 take class "
        "labels of shape (2,) or probabilities of shape (3, 2)",
    ),
    # Bad labels: at most five distinct values are shown, then how many there are.
    (
        lambda: tg.cross_entropy(ZEROS, np.array([3, 4, 5, 6, 7, 1, 1.0])),
        ValueError,
        "cross_entropy: class labels must be whole numbers in [0, 3) (the logits (3, 7) have 3 classes on axis 0); "
        "got 3, 4, 5, 6, 7",
    ),
    (
        lambda: tg.cross_entropy(ZEROS, np.array([3, 4, 5, 6, 7, 8, 1.0])),
        ValueError,
        "cross_entropy: class labels must be whole numbers in [0, 3) (the logits (3, 7) have 3 classes on axis 0); "
        "got 3, 4, 5, 6, 7, ... (6 distinct)",
    ),
    (
        lambda: tg.cross_entropy(ZEROS, np.array([3, 4, 5, 6, 7, 8, -1.0])),
        ValueError,
        "cross_entropy: class labels must be whole numbers in [0, 3) (the logits (3, 7) have 3 classes on axis 0); "
        "got -1, 3, 4, 5, 6, ... (7 distinct)",
    ),
    (
        lambda: tg.cross_entropy(np.zeros((3, 2)), np.array([0.5, np.nan])),
        ValueError,
        "cross_entropy: class labels must be whole numbers in [0, 3) (the logits (3, 2) have 3 classes on axis 0); "
        "got 0.5, nan",
    ),
    (
        lambda: tg.cross_entropy(np.zeros((3, 2)), np.array([[0.5, 1.5], [0, 0], [0, 0]])),
        ValueError,
        "cross_entropy: target probabilities must lie in [0, 1] (shape (3, 2)); got 1.5",
    ),
    (
        lambda: tg.mse_loss(np.zeros((1, 3)), np.zeros(3)),
        ValueError,
        "mse_loss: pred has shape (1, 3) but target has shape (3,); they must match",
    ),
    (lambda: tg.mse_loss(np.zeros((0, 2)), np.zeros((0, 2))), ValueError, "mse_loss: the inputs are empty (shape (0, 2))"),
]


@pytest.mark.parametrize(("make", "kind", "message"), ERRORS, ids=[row[2][15:60] for row in ERRORS])
def test_multiclass_loss_errors_say_exactly_what_is_wrong(make, kind, message):
    with pytest.raises(kind) as err:
        make()
    assert str(err.value) == message


# ---------------------------------------------------------------------- cross_entropy

LOGITS = np.array([[0.3, -1.2, 2.0, 0.1], [1.1, 0.4, -0.7, 0.0], [-0.5, 0.9, 0.2, 1.3]])
LABELS = np.array([2, 0, 1, 1])


@pytest.mark.parametrize("axis", [0, -2, np.int64(0)])
def test_cross_entropy_with_labels_is_the_mean_negative_log_probability(axis):
    want = -np.log(_softmax(LOGITS, 0)[LABELS, np.arange(4)]).mean()
    np.testing.assert_allclose(tg.cross_entropy(LOGITS, LABELS, axis=axis).item(), want, rtol=1e-14)


@pytest.mark.parametrize(("shape", "axis"), [((3, 4), 1), ((2, 3, 4), 1), ((2, 4, 3), -1), ((5,), 0)])
def test_cross_entropy_gradients_with_labels_on_any_axis(shape, axis):
    rng = np.random.default_rng(7)
    z = rng.normal(size=shape)
    labels = rng.integers(0, shape[axis], size=shape[:axis % len(shape)] + shape[axis % len(shape) + 1 :])
    fn = lambda t: tg.cross_entropy(t, labels.astype(float), axis=axis)  # noqa: E731
    assert gradcheck(fn, z)
    assert gradgradcheck(fn, z)
    t = tg.Tensor(z, requires_grad=True)
    (tg.cross_entropy(t, labels, axis=axis) * 3.0).backward()
    samples = z.size // shape[axis]
    want = 3.0 * (_softmax(z, axis) - _onehot(labels, shape[axis], axis % len(shape))) / samples
    np.testing.assert_allclose(t.grad, want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("axis", [0, 1])
def test_cross_entropy_gradients_with_probability_targets(axis):
    rng = np.random.default_rng(3)
    z = rng.normal(size=(3, 4))
    target = _softmax(rng.normal(size=(3, 4)), axis) * 0.8  # each sample's target sums to 0.8
    assert gradcheck(lambda a, b: tg.cross_entropy(a, b, axis=axis), z, target)
    assert gradgradcheck(lambda a, b: tg.cross_entropy(a, b, axis=axis), z, target)
    zt, tt = tg.Tensor(z, requires_grad=True), tg.Tensor(target, requires_grad=True)
    tg.cross_entropy(zt, tt, axis=axis).backward()
    samples = z.size // z.shape[axis]
    p = _softmax(z, axis)
    np.testing.assert_allclose(zt.grad, (p * target.sum(axis=axis, keepdims=True) - target) / samples, rtol=1e-12)
    np.testing.assert_allclose(tt.grad, -np.log(p) / samples, rtol=1e-12)


def test_cross_entropy_gradient_for_a_probability_target_alone():
    target = tg.Tensor(_softmax(LOGITS, 0), requires_grad=True)
    tg.cross_entropy(tg.Tensor(LOGITS), target).backward()
    np.testing.assert_allclose(target.grad, -np.log(_softmax(LOGITS, 0)) / 4, rtol=1e-12)


@pytest.mark.parametrize("wants", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("axis", [0, 1])
def test_compiled_cross_entropy_with_probabilities_gives_each_input_that_needs_it_its_gradient(wants, axis):
    target = _softmax(LOGITS[::-1], axis)
    results = []
    for run in (lambda a, b: tg.cross_entropy(a, b, axis=axis), tg.compile(lambda a, b: tg.cross_entropy(a, b, axis=axis))):
        inputs = [tg.Tensor(LOGITS.copy(), requires_grad=wants[0]), tg.Tensor(target.copy(), requires_grad=wants[1])]
        out = run(*inputs)
        out.backward()
        results.append((out.item(), [t.grad for t in inputs]))
    (eager, eager_grads), (compiled, compiled_grads) = results
    np.testing.assert_allclose(compiled, eager, rtol=1e-12)
    for want, a, b in zip(wants, eager_grads, compiled_grads):
        assert (a is None) == (b is None) == (not want)
        if want:
            np.testing.assert_allclose(b, a, rtol=1e-12)


@pytest.mark.parametrize(("shape", "axis"), [((3, 4), 0), ((2, 3, 4), 1), ((2, 4, 3), -1)])
def test_compiled_cross_entropy_with_labels_matches_eager(shape, axis):
    rng = np.random.default_rng(11)
    z = rng.normal(size=shape)
    labels = rng.integers(0, shape[axis], size=shape[:axis % len(shape)] + shape[axis % len(shape) + 1 :]).astype(float)
    fn = lambda t: tg.cross_entropy(t, labels, axis=axis)  # noqa: E731
    a, b = tg.Tensor(z, requires_grad=True), tg.Tensor(z, requires_grad=True)
    eager, compiled = fn(a), tg.compile(fn)(b)
    np.testing.assert_allclose(compiled.item(), eager.item(), rtol=1e-12)
    eager.backward()
    compiled.backward()
    np.testing.assert_allclose(b.grad, a.grad, rtol=1e-12)


# ---------------------------------------------------------------------- mse_loss


def test_mse_loss_keeps_the_predictions_dtype():
    pred = tg.Tensor(np.array([1.0, 2.0, 4.0], dtype=np.float32))
    out = tg.mse_loss(pred, np.array([1.0, 0.0, 1.0]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.item(), 13.0 / 3.0, rtol=1e-6)


@pytest.mark.parametrize("wants", [(True, False), (False, True), (True, True)])
def test_mse_loss_gradients_eager_and_compiled(wants):
    pred, target = np.array([[1.0, 2.0, 4.0]]), np.array([[1.0, 0.0, 1.5]])
    want = [2.0 * (pred - target) / 3, -2.0 * (pred - target) / 3]
    for run in (tg.mse_loss, tg.compile(lambda a, b: tg.mse_loss(a, b))):
        inputs = [tg.Tensor(pred, requires_grad=wants[0]), tg.Tensor(target, requires_grad=wants[1])]
        run(*inputs).backward()
        for flag, t, w in zip(wants, inputs, want):
            if flag:
                np.testing.assert_allclose(t.grad, w, rtol=1e-14)
            else:
                assert t.grad is None


# ---------------------------------------------------------------------- residuals (HEAD)


@pytest.mark.parametrize(("shape", "axis"), [((3, 4), 0), ((3, 4), 1), ((2, 3, 4), 1), ((2, 4, 3), -1), ((4,), 0)])
def test_cross_entropy_keeps_its_softmax_and_the_label_positions_for_backward(shape, axis):
    rng = np.random.default_rng(5)
    z = rng.normal(size=shape)
    ax = axis % len(shape)
    labels = rng.integers(0, shape[ax], size=shape[:ax] + shape[ax + 1 :]).astype(float)
    loss, (probs, picked) = CrossEntropy(axis).forward_with_residuals(z, labels)
    np.testing.assert_allclose(probs, _softmax(z, ax), rtol=1e-14)
    # the positions are the C-order flat indices of each sample's label along the class axis
    np.testing.assert_array_equal(z.ravel()[picked], np.take_along_axis(z, np.expand_dims(labels.astype(int), ax), ax).ravel())
    assert loss == pytest.approx(-np.log(np.take_along_axis(probs, np.expand_dims(labels.astype(int), ax), ax)).mean())
    _, (probs_p, picked_p) = CrossEntropy(axis).forward_with_residuals(z, _softmax(z, ax))
    assert picked_p is None and np.allclose(probs_p, probs)


@pytest.mark.parametrize("transposed", [False, True])
def test_cross_entropy_gradient_from_residuals_equals_the_recomputed_one(transposed):
    # A transposed (Fortran-ordered) logits array: the kept label positions are C-order ones.
    z = LOGITS.T.copy().T if not transposed else np.ascontiguousarray(LOGITS.T).T
    plain = tg.Tensor(z, requires_grad=True)
    (tg.cross_entropy(plain, LABELS) * 0.75).backward()
    graphed = tg.Tensor(z, requires_grad=True)
    (grad,) = tg.grad(tg.cross_entropy(graphed, LABELS) * 0.75, [graphed], create_graph=True)
    np.testing.assert_allclose(plain.grad, grad.data, rtol=1e-14)
    want = 0.75 * (_softmax(LOGITS, 0) - _onehot(LABELS, 3, 0)) / 4
    np.testing.assert_allclose(plain.grad, want, rtol=1e-12)


@pytest.mark.parametrize("target", [LABELS.astype(float), _softmax(LOGITS[::-1], 0)])
def test_cross_entropy_node_passes_check_graph(target):
    z = tg.Tensor(LOGITS, requires_grad=True)
    t = tg.Tensor(target, requires_grad=target.ndim == 2)
    assert check_graph(tg.cross_entropy(z, t) * 2.0)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("kind", ["labels", "probabilities"])
def test_cross_entropy_gradients_under_create_graph_equal_the_plain_ones(kind, axis):
    rng = np.random.default_rng(13)
    z = rng.normal(size=(3, 4))
    ax = axis % 2
    target = rng.integers(0, 3 if ax == 0 else 4, size=4 if ax == 0 else 3).astype(float)
    if kind == "probabilities":
        target = _softmax(rng.normal(size=(3, 4)), ax)
    wants_target = kind == "probabilities"
    plain = [tg.Tensor(z, requires_grad=True), tg.Tensor(target, requires_grad=wants_target)]
    (tg.cross_entropy(*plain, axis=axis) * 1.5).backward()
    graphed = [tg.Tensor(z, requires_grad=True), tg.Tensor(target, requires_grad=wants_target)]
    wrt = graphed if wants_target else graphed[:1]
    grads = tg.grad(tg.cross_entropy(*graphed, axis=axis) * 1.5, wrt, create_graph=True)
    for t, g in zip(plain, grads):
        assert g.requires_grad
        np.testing.assert_allclose(g.data, t.grad, rtol=1e-13)


# ----------------------------------------------------------------- the fused forward's edges


@pytest.mark.parametrize("target", ["labels", "probabilities"])
def test_cross_entropy_with_minus_infinite_logits_is_nan_or_inf_without_numpy_warnings(target):
    import warnings

    # Sample 0: every class at -inf (no softmax: nan); sample 1: its label's logit at -inf (probability 0: inf).
    logits = np.array([[-np.inf, -np.inf], [-np.inf, 1.0]])
    y = np.array([0, 0]) if target == "labels" else np.array([[1.0, 1.0], [0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log(0), 0/0 and inf - inf stay silent: the loss itself says it
        first = tg.cross_entropy(logits[:, :1], y[:1] if target == "labels" else y[:, :1]).item()
        second = tg.cross_entropy(logits[:, 1:], y[1:] if target == "labels" else y[:, 1:]).item()
    assert np.isnan(first) and second == np.inf


def test_cross_entropy_lists_only_the_target_probabilities_outside_zero_to_one():
    with pytest.raises(ValueError) as err:
        tg.cross_entropy(tg.Tensor(np.zeros((2, 2))), np.array([[1.0, 1.5], [0.0, 0.0]]))
    assert str(err.value) == "cross_entropy: target probabilities must lie in [0, 1] (shape (2, 2)); got 1.5"
