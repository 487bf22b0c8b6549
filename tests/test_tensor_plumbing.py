"""Tensor plumbing that the rest of the suite let through: reflected operators with
non-numpy operands, grad mode for every kind of op, the constants made from Python
numbers, and np.dot with a scalar (issue 13's mutation run).

Gradients are compared with central finite differences of the same function.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck, numerical_gradient

W = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])

# ----------------------------------------------------------------- reflected operators


def test_reflected_matmul_with_a_list_on_the_left_keeps_the_order():
    # A list has no __matmul__, so Python asks the Tensor on the right (__rmatmul__):
    # the product is still left @ right, never right @ left.
    w = tg.Tensor(W, requires_grad=True)
    out = [[1.0, 0.0]] @ w
    np.testing.assert_array_equal(out.data, np.array([[1.0, 0.0]]) @ W)
    (out * np.array([[1.0, 2.0, 3.0]])).sum().backward()
    want = numerical_gradient(lambda v: float(np.sum((np.array([[1.0, 0.0]]) @ v) * [1.0, 2.0, 3.0])), W)
    np.testing.assert_allclose(w.grad, want, rtol=1e-7)


def test_reflected_matmul_of_a_square_matrix_is_not_commuted():
    square = np.array([[1.0, 2.0], [3.0, 4.0]])
    left = [[0.0, 1.0], [1.0, 0.0]]  # a permutation: left @ A swaps rows, A @ left swaps columns
    np.testing.assert_array_equal((left @ tg.Tensor(square)).data, np.array(left) @ square)
    gradcheck(lambda a: (np.array(left) @ a) * np.array([[1.0, 2.0], [3.0, 4.0]]), square)
    gradcheck(lambda a: left @ a, square)


@pytest.mark.parametrize(
    "name, op",
    [
        ("add", lambda a, b: a + b),
        ("sub", lambda a, b: a - b),
        ("mul", lambda a, b: a * b),
        ("div", lambda a, b: a / b),
        ("matmul", lambda a, b: a @ b),
    ],
)
def test_reflected_operators_with_a_list_on_the_left_differentiate_the_right(name, op):
    left = [[0.5, -2.0], [1.5, 3.0]]
    right = np.array([[1.25, -0.5], [2.0, 0.75]])
    out = op(left, tg.Tensor(right))
    np.testing.assert_allclose(out.data, op(np.array(left), right), rtol=1e-15, err_msg=name)
    gradcheck(lambda b: op(left, b), right)


# ----------------------------------------------------------------- grad mode, op by op

ONE_INPUT = {
    "neg": lambda w: -w,
    "pos": lambda w: +w * 1.0,
    "sum": lambda w: w.sum(),
    "sum axis": lambda w: w.sum(axis=0, keepdims=True),
    "mean": lambda w: w.mean(),
    "reshape": lambda w: w.reshape(3, 2),
    "transpose": lambda w: w.T,
    "broadcast_to": lambda w: w.broadcast_to((4, 2, 3)),
    "exp": lambda w: w.exp(),
    "log": lambda w: (w * w).log(),
    "relu": lambda w: w.relu(),
    "sigmoid": lambda w: w.sigmoid(),
    "tanh": lambda w: w.tanh(),
    "pow": lambda w: w**2,
    "pow 3": lambda w: w**3.0,
    "exp_base": lambda w: 2.0**w,
    "np.exp": lambda w: np.exp(w),
    "np.negative": lambda w: np.negative(w),
    "np.sum": lambda w: np.sum(w, axis=1),
    "tg.relu": lambda w: tg.relu(w),
    "tg.broadcast_to": lambda w: tg.broadcast_to(w, (2, 2, 3)),
}
TWO_INPUTS = {
    "add": lambda w: w + w,
    "mul by a number": lambda w: w * 3.0,
    "matmul": lambda w: w @ w.T,
    "np.dot": lambda w: np.dot(w, W.T),
    "bce": lambda w: tg.binary_cross_entropy(w.sigmoid(), np.ones((2, 3))),
}


@pytest.mark.parametrize("name", sorted(ONE_INPUT) + sorted(TWO_INPUTS))
def test_no_grad_stops_recording_for_every_op_on_a_tensor_that_requires_grad(name):
    build = {**ONE_INPUT, **TWO_INPUTS}[name]
    w = tg.Tensor(W, requires_grad=True)
    recorded = build(w)
    assert recorded.requires_grad and recorded.grad_fn is not None, name
    with tg.no_grad():
        quiet = build(w)
    assert not quiet.requires_grad and quiet.grad_fn is None and quiet.is_leaf, name
    np.testing.assert_array_equal(quiet.data, recorded.data)
    with pytest.raises(RuntimeError, match="does not require grad"):
        quiet.sum().backward()


def test_no_grad_as_a_decorator_stops_one_input_ops():
    @tg.no_grad()
    def squash(t):
        return t.sigmoid()

    w = tg.Tensor(W, requires_grad=True)
    assert not squash(w).requires_grad
    assert w.sigmoid().requires_grad  # and grad mode is back afterwards


# ----------------------------------------------------------------- constants made from Python numbers


def test_multiplying_by_minus_zero_keeps_the_sign_after_plus_zero():
    t = tg.Tensor([1.0, 2.0])
    assert not np.signbit((t * 0.0).data).any()
    assert np.signbit((t * -0.0).data).all()  # -0.0 == 0.0, but they are not the same constant
    assert not np.signbit((t * 0.0).data).any()
    assert np.signbit((-0.0 * t).data).all()
    with np.errstate(divide="ignore"):  # 1 / -0 = -inf: there the sign is the whole value
        assert np.all((t / 0.0).data == np.inf) and np.all((t / -0.0).data == -np.inf)


def test_the_same_number_next_to_float32_and_float64_keeps_each_precision():
    t32 = tg.Tensor(np.array([1.0, 3.0], dtype=np.float32))
    t64 = tg.Tensor(np.array([1.0, 3.0]))
    assert (t32 * 0.1).dtype == np.float32
    np.testing.assert_array_equal((t64 * 0.1).data, t64.data * 0.1)  # not float32's 0.1
    np.testing.assert_array_equal((t32 * 0.1).data, t32.data * np.float32(0.1))
    np.testing.assert_array_equal((t64 + 1).data, [2.0, 4.0])


def test_nan_constants_give_nan():
    t = tg.Tensor([1.0, 2.0])
    assert np.isnan((t * float("nan")).data).all()
    assert np.isnan((t + float("nan")).data).all()


# ----------------------------------------------------------------- np.dot with a scalar operand


@pytest.mark.parametrize(
    "scalar", [2.0, 2, np.float64(2.0), np.array(2.0)], ids=["float", "int", "np.float64", "0-d array"]
)
def test_np_dot_with_a_scalar_is_a_product(scalar):
    w = tg.Tensor(W, requires_grad=True)
    for out in (np.dot(w, scalar), np.dot(scalar, w)):
        assert isinstance(out, tg.Tensor)
        np.testing.assert_array_equal(out.data, W * 2)
    gradcheck(lambda a: np.dot(a, scalar), W)
    gradcheck(lambda a: np.dot(scalar, a), W)


def test_np_dot_with_a_scalar_tensor_differentiates_both():
    gradcheck(lambda a, s: np.dot(a, s), W, np.array(1.5))
    gradcheck(lambda s, a: np.dot(s, a), np.array(-0.5), W)


def test_np_dot_of_vectors_and_matrices_matches_numpy():
    v = np.array([1.0, -2.0, 0.5])
    for a, b in [(v, v), (W, v), (v, W.T), (W, W.T)]:
        np.testing.assert_allclose(np.dot(tg.Tensor(a), tg.Tensor(b)).data, np.dot(a, b), rtol=1e-15)
        gradcheck(lambda x, y: np.dot(x, y), a, b)


# ----------------------------------------------------------------- user ops with three inputs


SEEN_NEEDS: list = []  # what FusedMultiplyAdd.backward was told, call by call


class FusedMultiplyAdd(tg.Op):
    """x * y + z: three inputs, so it goes through the general apply, not the one- or two-input path."""

    name = "fused_multiply_add"
    saves = ("x", "y")

    def forward(self, x, y, z):
        return x * y + z

    def backward(self, ctx, g, x, y):
        SEEN_NEEDS.append(tuple(ctx.needs))
        needs = ctx.needs
        return (g * y if needs[0] else None), (g * x if needs[1] else None), (g if needs[2] else None)


def test_no_grad_stops_recording_a_user_op_with_three_inputs():
    x, y, z = (tg.Tensor(a, requires_grad=True) for a in (W, W + 1.0, W - 1.0))
    assert FusedMultiplyAdd.apply(x, y, z).requires_grad
    with tg.no_grad():
        out = FusedMultiplyAdd.apply(x, y, z)
    assert not out.requires_grad and out.grad_fn is None and out.is_leaf
    np.testing.assert_array_equal(out.data, W * (W + 1.0) + (W - 1.0))


def test_a_user_op_with_three_inputs_differentiates_each_and_asks_only_for_needed_ones():
    gradcheck(FusedMultiplyAdd.apply, W, W + 1.0, W - 1.0)
    SEEN_NEEDS.clear()
    z = tg.Tensor(W - 1.0, requires_grad=True)
    FusedMultiplyAdd.apply(W, tg.Tensor(W + 1.0), z).sum().backward()  # only the third input needs a gradient
    assert SEEN_NEEDS == [(False, False, True)]
    np.testing.assert_array_equal(z.grad, np.ones_like(W))
    with tg.no_grad():
        assert not FusedMultiplyAdd.apply(W, W, z).requires_grad
