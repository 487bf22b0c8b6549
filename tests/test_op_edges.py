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
from tinygraph.testing import gradcheck, gradgradcheck
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
