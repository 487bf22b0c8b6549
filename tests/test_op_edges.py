"""Edge paths of single ops that the op table's strategies do not reach.

Each test here was written for a bug that the table-driven tests in test_ops.py let
through (a mutation run, issue 13): the op's derivative is still checked against
central finite differences, only at inputs the table never draws.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph.testing import gradcheck, gradgradcheck, numerical_gradient
from tinygraph.testing import strategies as tgst

# ----------------------------------------------------------------- matmul: a vector next to a stack


@st.composite
def vector_and_stack(draw):
    """A 1-D operand on one side of ``@`` and a stack of matrices (3-D or 4-D) on the other."""
    k, m = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    batch = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    stack = batch + ((k, m) if draw(st.booleans()) else (m, k))
    vector = (k,)
    left, right = (vector, stack) if stack[-2] == k else (stack, vector)
    return draw(tgst.arrays(left)), draw(tgst.arrays(right))


@given(vector_and_stack())
def test_matmul_of_a_vector_and_a_stack_differentiates(pair):
    # numpy treats the vector as a row (on the left) or a column (on the right) of every
    # matrix in the stack; the backward must undo that for each matrix, not once for all.
    x, y = pair
    np.testing.assert_allclose((tg.Tensor(x) @ tg.Tensor(y)).data, np.matmul(x, y), rtol=1e-12)
    gradcheck(lambda a, b: a @ b, x, y)


@pytest.mark.parametrize("shape_x, shape_y", [((3,), (2, 3, 4)), ((2,), (2, 1, 2, 3)), ((2, 4, 3), (3,))])
def test_matmul_of_a_vector_and_a_stack_at_fixed_shapes(shape_x, shape_y):
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal(shape_x), rng.standard_normal(shape_y)
    gradcheck(lambda a, b: a @ b, x, y)
    gradgradcheck(lambda a, b: (a @ b) * (a @ b), x, y)


# ----------------------------------------------------------------- binary cross-entropy at its clip bound

# The loss clips log(v) at -100, i.e. at v = exp(-100): below that bound log is flat.
BOUND = float(np.exp(-100.0))


def _target_gradient_slope(y_hat_value: float) -> np.ndarray:
    """d/dy_hat of dL/dy for L = binary_cross_entropy(y_hat, y), taken with create_graph."""
    y_hat = tg.Tensor([y_hat_value, 0.5], requires_grad=True)
    y = tg.Tensor([0.25, 0.75], requires_grad=True)
    (dy,) = tg.grad(tg.binary_cross_entropy(y_hat, y), y, create_graph=True)
    (slope,) = tg.grad(dy.sum(), y_hat)
    return slope


def test_cross_entropy_second_derivative_at_the_clip_bound_takes_the_flat_side():
    # dL/dy = (clip_log(1 - y_hat) - clip_log(y_hat)) / N. Exactly at the bound, like relu at 0,
    # the slope of clip_log is taken from its flat side (0), not as 1 / y_hat = e^100; so the
    # second derivative there equals the one just below the bound, where log is clipped.
    n = 2
    at_bound = _target_gradient_slope(BOUND)
    below = _target_gradient_slope(float(np.nextafter(BOUND, 0.0)))
    inside = 0.5  # the second element, away from the bound: -(1/(1 - p) + 1/p) / N
    np.testing.assert_allclose(at_bound, below, rtol=1e-12)
    np.testing.assert_allclose(at_bound, [-1.0 / (1.0 - BOUND) / n, -(1 / (1 - inside) + 1 / inside) / n], rtol=1e-12)


def test_cross_entropy_second_derivative_just_above_the_clip_bound_is_log_slope():
    # One float above the bound, log is not clipped: the slope is -1 / y_hat / N (huge, exact).
    above = float(np.nextafter(BOUND, 1.0))
    slope = _target_gradient_slope(above)
    np.testing.assert_allclose(slope[0], (-1.0 / (1.0 - above) - 1.0 / above) / 2, rtol=1e-12)


# ----------------------------------------------------------------- found by the full mutation run


def test_relu_slope_under_create_graph_is_zero_at_and_below_the_kink():
    x = tg.Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    (slope,) = tg.grad(tg.relu(x).sum(), x, create_graph=True)
    np.testing.assert_array_equal(slope.data, [0.0, 0.0, 1.0])  # relu'(0) = 0, as on the fast path


def _float32_target_gradient_slope():
    y_hat = tg.Tensor(np.array([0.0, 0.5], dtype=np.float32), requires_grad=True)
    y = tg.Tensor(np.array([0.25, 0.75], dtype=np.float32), requires_grad=True)
    (dy,) = tg.grad(tg.binary_cross_entropy(y_hat, y), y, create_graph=True)
    with np.errstate(over="ignore", invalid="ignore"):
        (slope,) = tg.grad(dy.sum(), y_hat)
    return dy, slope


def test_cross_entropy_second_derivative_stays_float32_at_the_clip_bound():
    dy, slope = _float32_target_gradient_slope()
    assert dy.dtype == np.float32 and slope.dtype == np.float32


def test_cross_entropy_second_derivative_in_float32_is_finite_at_zero():
    # Once a bug: in float32 the clamp exp(-100) is subnormal, so log's backward g / x overflowed to inf and
    # inf * 0 (the clamp's zero slope) gave NaN at y_hat = 0.
    _, slope = _float32_target_gradient_slope()
    np.testing.assert_allclose(slope, [-1.0 / 2, -(1 / 0.5 + 1 / 0.5) / 2], rtol=1e-6)


def test_cross_entropy_of_float32_predictions_is_float32_whatever_the_targets():
    y_hat = tg.Tensor(np.array([0.2, 0.9], dtype=np.float32))
    for loss in (tg.binary_cross_entropy, tg.binary_cross_entropy_with_logits):
        assert loss(y_hat, np.array([0.0, 1.0])).dtype == np.float32, loss.__name__


def test_fractional_powers_of_zero_are_defined():
    np.testing.assert_array_equal((tg.Tensor([0.0, 4.0]) ** 0.5).data, [0.0, 2.0])
    with pytest.raises(ValueError, match=r"^pow: input of shape \(2,\) has negative values \(min -1\)"):
        tg.Tensor([-1.0, 4.0]) ** 0.5


def test_zero_dimensional_arrays_as_exponent_and_base():
    t = tg.Tensor([1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal((t ** np.array(3.0)).data, [1.0, 8.0])
    np.testing.assert_array_equal(np.power(np.array(2.0), t).data, [2.0, 4.0])
    gradcheck(lambda a: a ** np.array(3.0), t.data)


@pytest.mark.parametrize("base", [0.0, 0, -2.0])
def test_a_power_with_a_tensor_exponent_needs_a_positive_base(base):
    with pytest.raises(TypeError, match=r"^exp_base: the base of a power with a Tensor exponent must be a positive number"):
        base ** tg.Tensor([1.0, 2.0])


def test_pow_exponent_error_says_what_to_write_instead():
    with pytest.raises(TypeError) as info:
        tg.Tensor([1.0]) ** tg.Tensor([2.0])
    assert str(info.value) == (
        "pow: the exponent must be a real number, got Tensor; for a Tensor exponent write exp(y * log(x))"
    )


def test_matmul_of_scalars_says_to_use_a_product():
    with pytest.raises(ValueError) as info:
        tg.matmul(tg.Tensor(2.0), tg.Tensor([1.0]))
    assert str(info.value) == "matmul: cannot multiply () by (1,): matmul needs at least 1-D operands (use * for a scalar)"


@pytest.mark.parametrize("loss", [tg.binary_cross_entropy, tg.binary_cross_entropy_with_logits])
@pytest.mark.parametrize("y, shown", [([-0.5, 0.5], "[-0.5]"), ([0.0, 1.0, 1.5], "[1.5]"), ([2.0, 3.0, 4.0, 5.0], "[2.0, 3.0, 4.0]")])
def test_loss_targets_outside_the_unit_interval_are_named(loss, y, shown):
    with pytest.raises(ValueError) as info:
        loss(tg.Tensor(np.full(len(y), 0.5)), np.array(y))
    assert str(info.value) == f"{loss.__name__}: targets must lie in [0, 1]; got {shown}"


@pytest.mark.parametrize("loss, what", [(tg.binary_cross_entropy, "y_hat"), (tg.binary_cross_entropy_with_logits, "z")])
def test_loss_shape_mismatch_names_both_shapes(loss, what):
    with pytest.raises(ValueError) as info:
        loss(tg.Tensor(np.full((1, 3), 0.5)), np.zeros((3,)))
    assert str(info.value) == (
        f"{loss.__name__}: {what} has shape (1, 3) but the targets y have shape (3,); "
        "they must match (the document's Y is (1, N) like A)"
    )


@pytest.mark.parametrize("y_hat", [[-0.5, 0.5], [0.5, 1.5]])
def test_cross_entropy_predictions_outside_the_unit_interval_are_refused(y_hat):
    with pytest.raises(ValueError) as info:
        tg.binary_cross_entropy(tg.Tensor(y_hat), np.array([0.0, 1.0]))
    assert str(info.value).startswith("binary_cross_entropy: y_hat must be probabilities in [0, 1] (got min ")
    assert str(info.value).endswith("; for raw scores use binary_cross_entropy_with_logits")


def test_transpose_with_negative_axes_differentiates():
    x = np.arange(24.0).reshape(2, 3, 4) / 10
    np.testing.assert_array_equal(tg.Tensor(x).transpose(-1, 0, 1).data, x.transpose(-1, 0, 1))
    np.testing.assert_array_equal(tg.Tensor(x).transpose(-3, -1, -2).data, x.transpose(-3, -1, -2))
    gradcheck(lambda a: a.transpose(-1, 0, 1), x)
    gradcheck(lambda a: a.transpose(-3, -1, -2), x)


def test_broadcast_to_a_single_size_and_refusing_subok():
    t = tg.Tensor([2.0], requires_grad=True)
    np.testing.assert_array_equal(t.broadcast_to(3).data, [2.0, 2.0, 2.0])
    gradcheck(lambda a: tg.broadcast_to(a, 3), t.data)
    with pytest.raises(ValueError) as info:
        np.broadcast_to(t, (3,), subok=True)
    assert str(info.value) == "broadcast_to: subok=True has no meaning for a Tensor"


def test_reshape_spellings_of_numpy_and_refusing_fortran_order():
    t = tg.Tensor(np.arange(6.0), requires_grad=True)
    assert np.reshape(t, (3, 2)).shape == (3, 2)
    assert np.reshape(t, shape=(2, 3)).shape == (2, 3)
    with pytest.raises(ValueError) as info:
        np.reshape(t, (3, 2), order="F")
    assert str(info.value) == "reshape: only order='C' is supported, got 'F'"


# ----------------------------------------------------------------- cross_entropy's kept softmax


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_cross_entropy_gradient_of_fortran_ordered_logits_matches_finite_differences(axis):
    rng = np.random.default_rng(11)
    logits = np.asfortranarray(rng.standard_normal((3, 4, 5)))  # the label positions are C-order ones
    labels = rng.integers(0, logits.shape[axis], np.delete(logits.shape, axis))
    z = tg.Tensor(logits, requires_grad=True)
    tg.cross_entropy(z, labels, axis=axis).backward()
    expected = numerical_gradient(lambda a: tg.cross_entropy(a, labels, axis=axis).item(), logits.copy())
    np.testing.assert_allclose(z.grad, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("target", ["labels", "probabilities"])
def test_cross_entropy_backward_twice_on_a_retained_graph_gives_the_same_gradient(target):
    rng = np.random.default_rng(12)
    z = tg.Tensor(rng.standard_normal((4, 6)), requires_grad=True)
    y = rng.integers(0, 4, 6) if target == "labels" else rng.dirichlet(np.ones(4), 6).T
    loss = tg.cross_entropy(z, y)
    loss.backward(retain_graph=True)
    first = z.grad.copy()
    loss.backward()
    np.testing.assert_array_equal(z.grad, 2 * first)


@pytest.mark.parametrize("target", ["labels", "probabilities"])
def test_cross_entropy_gradient_is_the_same_with_the_kept_softmax_and_with_create_graph(target):
    rng = np.random.default_rng(13)
    z = tg.Tensor(rng.standard_normal((5, 7)) * 3, requires_grad=True)
    y = rng.integers(0, 5, 7) if target == "labels" else rng.dirichlet(np.ones(5), 7).T
    (kept,) = tg.grad(tg.cross_entropy(z, y), z)
    (recomputed,) = tg.grad(tg.cross_entropy(z, y), z, create_graph=True)
    np.testing.assert_allclose(kept, recomputed.data, rtol=1e-13, atol=1e-16)
