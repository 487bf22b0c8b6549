"""Every misuse gets a built-in exception whose message names the op and the offending
shapes, dtypes or values, raised where the mistake is made (when the op is built),
never later in backward and never as a bare numpy or Python error.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygraph as tg

T = tg.Tensor


def raises(kind, *fragments):
    """pytest.raises that also checks each fragment appears literally in the message."""
    return pytest.raises(kind, match="(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments))


def ones(*shape, requires_grad=False):
    return T(np.ones(shape), requires_grad=requires_grad)


# ----------------------------------------------------------------- shapes of binary ops


def test_matmul_names_both_shapes_and_the_inner_dimensions():
    with raises(ValueError, "matmul", "(5, 3)", "(4, 209)", "3 != 4"):
        ones(5, 3, requires_grad=True) @ ones(4, 209)
    with raises(ValueError, "matmul", "(5, 3)", "(4, 209)"):
        tg.matmul(np.ones((5, 3)), np.ones((4, 209)))
    with raises(ValueError, "matmul", "(5, 3)", "(4, 209)"):
        np.ones((5, 3)) @ ones(4, 209)  # ndarray on the left
    with raises(ValueError, "matmul", "(3,)", "(4,)", "3 != 4"):
        ones(3) @ ones(4)
    with raises(ValueError, "matmul", "()", "(3,)", "1-D"):
        T(2.0) @ ones(3)
    with raises(ValueError, "matmul", "(2, 3, 4)", "(3, 4, 5)", "(2,)", "(3,)"):
        ones(2, 3, 4) @ ones(3, 4, 5)


@pytest.mark.parametrize(
    "name, op", [("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b), ("div", lambda a, b: a / b)]
)
def test_elementwise_ops_name_both_shapes_that_do_not_broadcast(name, op):
    with raises(ValueError, f"{name}:", "(3, 4)", "(2,)"):
        op(ones(3, 4, requires_grad=True), ones(2))
    with raises(ValueError, f"{name}:", "(3, 4)", "(2,)"):
        op(ones(3, 4), np.ones(2))
    with raises(ValueError, f"{name}:", "(2,)", "(3, 4)"):
        op(np.ones(2), ones(3, 4))
    with raises(ValueError, f"{name}:", "(2,)", "(3, 4)"):
        op([1.0, 2.0], ones(3, 4))


def test_errors_are_raised_when_the_op_is_built_with_or_without_a_graph():
    # No input requires grad, and grad mode is off: the check still runs at once.
    with tg.no_grad():
        with raises(ValueError, "add", "(3, 4)", "(2,)"):
            ones(3, 4, requires_grad=True) + ones(2)
        with raises(ValueError, "log", "negative"):
            T([-1.0]).log()


# ----------------------------------------------------------------- domains


def test_log_of_negative_values():
    with raises(ValueError, "log", "(3,)", "negative", "-2"):
        T([1.0, -2.0, 3.0], requires_grad=True).log()
    with raises(ValueError, "log", "(1,)", "negative"):
        tg.log([-0.5])
    with raises(ValueError, "log", "negative"):
        np.log(T([-1.0]))
    with np.errstate(divide="ignore"):
        assert tg.log([0.0]).item() == -np.inf  # zero is allowed: log 0 = -inf, like numpy


def test_pow_of_a_negative_base_with_a_fractional_exponent():
    with raises(ValueError, "pow", "(1, 2)", "negative", "-2", "0.5"):
        T([[1.0, -2.0]], requires_grad=True) ** 0.5
    with raises(ValueError, "pow", "(2,)", "zero", "-1"):
        T([0.0, 1.0]) ** -1
    np.testing.assert_array_equal((T([-2.0]) ** 3).numpy(), [-8.0])  # integer exponents are fine
    np.testing.assert_array_equal((T([-2.0]) ** 2.0).numpy(), [4.0])


def test_pow_exponent_must_be_a_real_number():
    with raises(TypeError, "pow", "exponent", "Tensor"):
        ones(2) ** ones(2)
    with raises(TypeError, "pow", "exponent", "str"):
        ones(2) ** "2"
    with raises(TypeError, "pow", "exponent", "ndarray"):
        ones(2) ** np.array([1.0, 2.0])
    with raises(TypeError, "pow", "base", "-2"):
        (-2) ** ones(2)


# ----------------------------------------------------------------- the losses


@pytest.mark.parametrize("loss", [tg.binary_cross_entropy, tg.binary_cross_entropy_with_logits])
def test_losses_need_predictions_and_targets_of_one_shape(loss):
    with raises(ValueError, loss.__name__, "(1, 3)", "(3,)"):
        loss(T(np.full((1, 3), 0.5), requires_grad=True), np.ones(3))
    with raises(ValueError, loss.__name__, "(1, 3)", "(3, 1)"):
        loss(np.full((1, 3), 0.5), np.ones((3, 1)))
    with raises(ValueError, loss.__name__, "empty", "(1, 0)"):
        loss(np.ones((1, 0)), np.ones((1, 0)))


@pytest.mark.parametrize("loss", [tg.binary_cross_entropy, tg.binary_cross_entropy_with_logits])
def test_losses_need_targets_in_the_unit_interval(loss):
    with raises(ValueError, loss.__name__, "targets", "[0, 1]", "2.0", "-1.0"):
        loss(T([[0.5, 0.5, 0.5]], requires_grad=True), [[2.0, -1.0, 1.0]])
    with raises(ValueError, loss.__name__, "targets", "nan"):
        loss(T([[0.5, 0.5]]), [[np.nan, 1.0]])


def test_binary_cross_entropy_needs_probabilities():
    with raises(ValueError, "binary_cross_entropy", "y_hat", "[0, 1]", "-0.1", "1.2", "with_logits"):
        tg.binary_cross_entropy(T([[0.5, 1.2, -0.1]], requires_grad=True), np.ones((1, 3)))
    with raises(ValueError, "binary_cross_entropy", "y_hat", "nan"):  # NaN is not a probability
        tg.binary_cross_entropy(T([[0.5, np.nan]]), np.ones((1, 2)))


# ----------------------------------------------------------------- shape ops


def test_reshape_to_an_incompatible_shape():
    with raises(ValueError, "reshape", "(2, 3)", "6", "(4, 2)"):
        ones(2, 3, requires_grad=True).reshape(4, 2)
    with raises(ValueError, "reshape", "(2, 3)", "(-1, -1)"):
        ones(2, 3).reshape(-1, -1)
    with raises(ValueError, "reshape", "(2, 3)", "(5,)"):
        ones(2, 3).reshape((5,))


@pytest.mark.parametrize("method", ["sum", "mean"])
def test_reductions_over_bad_axes(method):
    x = ones(2, 3, requires_grad=True)
    with raises(ValueError, method, "axis 2", "(2, 3)"):
        getattr(x, method)(axis=2)
    with raises(ValueError, method, "axis -3", "(2, 3)"):
        getattr(x, method)(axis=-3)
    with raises(ValueError, method, "axis 5", "(2, 3)"):
        getattr(x, method)(axis=(0, 5))
    with raises(ValueError, method, "repeated", "(1, -1)"):
        getattr(x, method)(axis=(1, -1))
    with raises(TypeError, method, "axis", "1.0", "(2, 3)"):
        getattr(x, method)(axis=1.0)
    with raises(TypeError, method, "axis", "True"):
        getattr(x, method)(axis=True)
    with raises(ValueError, method, "axis 0", "()"):
        getattr(T(1.0), method)(axis=0)


def test_mean_over_an_empty_axis():
    with raises(ValueError, "mean", "empty", "(2, 0)"):
        ones(2, 0).mean(axis=1)


def test_transpose_with_bad_axes():
    x = ones(2, 3, requires_grad=True)
    with raises(ValueError, "transpose", "(0, 0)", "(2, 3)"):
        x.transpose(0, 0)
    with raises(ValueError, "transpose", "(0,)", "(2, 3)"):
        x.transpose(0)
    with raises(ValueError, "transpose", "(0, 2)", "(2, 3)"):
        x.transpose(0, 2)
    with raises(ValueError, "transpose", "(0, 1, 2)", "(2, 3)"):
        x.transpose(0, 1, 2)
    with raises(TypeError, "transpose", "ints", "'a'", "(2, 3)"):
        x.transpose("a", 0)
    with raises(TypeError, "transpose", "ints", "1.0", "(2, 3)"):
        x.transpose(1.0, 0)


def test_broadcast_to_an_incompatible_shape():
    with raises(ValueError, "broadcast_to", "(2, 3)", "(3, 3)"):
        tg.broadcast_to(ones(2, 3, requires_grad=True), (3, 3))


# ----------------------------------------------------------------- Tensor misuse


@pytest.mark.parametrize(
    "data, fragment",
    [
        ("abc", "<U3"),
        (["a", "b"], "<U1"),
        (b"x", "S1"),
        (np.array([1.0, "a"], dtype=object), "object"),
        (np.array([1.0, 2.0], dtype=object), "object"),
        (None, "object"),
        ({"a": 1}, "dict"),
        ([1j], "complex"),
        (np.array([1 + 2j]), "complex"),
        ([[1.0], [1.0, 2.0]], "list"),
        (np.array(["2020-01-01"], dtype="datetime64[D]"), "datetime64"),
    ],
)
def test_tensor_refuses_data_that_is_not_real_numbers(data, fragment):
    with raises(TypeError, "Tensor", fragment):
        T(data)


def test_tensor_arguments_are_validated():
    with raises(TypeError, "Tensor", "requires_grad", "bool", "int"):
        T([1.0], requires_grad=1)
    with raises(TypeError, "Tensor", "name", "string", "int"):
        T([1.0], name=3)


@pytest.mark.parametrize(
    "make, name, fragment",
    [
        (lambda t: t + "a", "add", "<U1"),
        (lambda t: "a" + t, "add", "<U1"),
        (lambda t: t * 1j, "mul", "complex"),
        (lambda t: t - np.array([None]), "sub", "object"),
        (lambda t: t / None, "div", "object"),
        (lambda t: t @ [["a"]], "matmul", "<U1"),
        (lambda t: tg.relu("abc"), "relu", "<U3"),
        (lambda t: tg.sigmoid([1j]), "sigmoid", "complex"),
        (lambda t: tg.binary_cross_entropy(t, ["a"]), "binary_cross_entropy", "<U1"),
    ],
)
def test_operands_that_are_not_numbers_are_refused_naming_the_op(make, name, fragment):
    with raises(TypeError, name, fragment):
        make(T([0.5], requires_grad=True))


def test_item_on_a_non_scalar():
    with raises(ValueError, "item", "(2,)"):
        T([1.0, 2.0]).item()
    with raises(ValueError, "item", "(0,)"):
        T([]).item()
    with raises(ValueError, "item", "(2, 3)"):
        float(ones(2, 3))


def test_numpy_functions_that_are_not_differentiable():
    with raises(TypeError, "np.fmax", "not differentiable"):
        np.fmax(T([1.0], requires_grad=True), 0.0)
    with raises(TypeError, "exp_base", "must be a positive number"):
        np.ones(2) ** T([1.0, 2.0])  # an array base: only a constant number is supported
    with raises(TypeError, "np.add.reduce", "not differentiable"):
        np.add.reduce(T([1.0, 2.0], requires_grad=True))
    # Off the graph, numpy answers as it would on the array.
    assert np.add.reduce(T([1.0, 2.0])) == 3.0


def test_retain_grad_on_a_tensor_that_does_not_require_grad():
    with raises(RuntimeError, "retain_grad", "does not require grad"):
        T([1.0]).retain_grad()


def test_name_scope_names():
    for bad in ("", "a/b", 3):
        with pytest.raises(ValueError, match="name_scope"):
            tg.name_scope(bad)


# ----------------------------------------------------------------- backward misuse


def test_backward_on_a_tensor_that_does_not_require_grad():
    with raises(RuntimeError, "backward", "does not require grad"):
        T([1.0, 2.0]).sum().backward()
    with raises(RuntimeError, "backward", "does not require grad"):
        T(1.0).backward()


def test_backward_on_a_non_scalar_root_needs_a_gradient():
    x = ones(3, requires_grad=True)
    with raises(ValueError, "backward", "(3,)", "scalar", "grad="):
        (x * 2).backward()
    with raises(ValueError, "(2, 3)", "scalar"):
        (ones(2, 3, requires_grad=True) * 2).backward()
    with raises(ValueError, "(0,)", "scalar"):
        (T(np.ones(0), requires_grad=True) * 2).backward()
    assert x.grad is None


def test_backward_refuses_a_gradient_of_the_wrong_shape():
    x = ones(3, requires_grad=True)
    with raises(ValueError, "backward", "(3, 1)", "(3,)"):
        (x * 2).backward(grad=np.ones((3, 1)))
    with raises(ValueError, "backward", "(1,)", "(3,)"):
        (x * 2).backward(grad=[1.0])  # broadcastable is not enough
    with raises(ValueError, "backward", "(2,)", "()"):
        (x * 2).sum().backward(grad=T([1.0, 1.0]))
    assert x.grad is None


def test_second_backward_through_a_released_graph():
    x = ones(3, requires_grad=True)
    loss = (x.exp() * 2).sum()
    loss.backward()
    first = x.grad.copy()
    with raises(RuntimeError, "backward", "freed", "retain_graph=True"):
        loss.backward()
    np.testing.assert_array_equal(x.grad, first)  # the failed pass wrote nothing


def test_grad_misuse():
    x = ones(3, requires_grad=True)
    loss = (x * x).sum()
    with raises(RuntimeError, "grad", "input 1", "(2,)", "does not require grad"):
        tg.grad(loss, [x, T([1.0, 2.0])])
    with raises(RuntimeError, "grad", "output 0", "does not require grad"):
        tg.grad(T([1.0]).sum(), x)
    with raises(ValueError, "grad", "1 output", "2 grad_outputs"):
        tg.grad([loss], [x], grad_outputs=[None, None])
    with raises(TypeError, "grad", "Tensors", "ndarray"):
        tg.grad(loss, [np.ones(3)])
    with raises(ValueError, "(3,)", "scalar"):
        tg.grad(x * 2, x)
    with raises(ValueError, "(2,)", "(3,)"):
        tg.grad(x * 2, x, grad_outputs=np.ones(2))


# ----------------------------------------------------------------- user-defined ops


class _ThreeForTwo(tg.Op):
    name = "three_for_two"

    def forward(self, x, y):
        return x + y

    def backward(self, ctx, g):
        return g, g, g


class _OneForTwo(tg.Op):
    name = "one_for_two"

    def forward(self, x, y):
        return x * y

    def backward(self, ctx, g):
        return g  # a bare array: its rows must not be taken for two gradients


class _WrongShape(tg.Op):
    name = "wrong_shape"

    def forward(self, x, y):
        return x * y

    def backward(self, ctx, g):
        return g, g[:, :2]


class _TooSmall(tg.Op):
    name = "too_small"

    def forward(self, x):
        return x.sum(axis=0)

    def backward(self, ctx, g):
        return g  # the output's shape (3,), not the input's (2, 3)


class _NotAnArray(tg.Op):
    name = "not_an_array"

    def forward(self, x):
        return x * 2

    def backward(self, ctx, g):
        return "two"


class _IntegerForward(tg.Op):
    name = "integer_forward"

    def forward(self, x):
        return np.round(x).astype(int)

    def backward(self, ctx, g):
        return g


def test_user_op_returning_the_wrong_number_of_gradients():
    x, y = ones(2, requires_grad=True), ones(2, requires_grad=True)
    with raises(RuntimeError, "three_for_two", "3 gradient", "2 input"):
        _ThreeForTwo.apply(x, y).sum().backward()
    with raises(RuntimeError, "one_for_two", "1 gradient", "2 input"):
        _OneForTwo.apply(x, y).sum().backward()
    with raises(RuntimeError, "one_for_two", "1 gradient", "2 input"):
        tg.grad(_OneForTwo.apply(x, y).sum(), [x, y])


def test_user_op_returning_a_gradient_of_the_wrong_shape():
    x, y = ones(2, 3, requires_grad=True), ones(2, 3, requires_grad=True)
    with raises(ValueError, "wrong_shape", "input 1", "(2, 2)", "(2, 3)"):
        _WrongShape.apply(x, y).sum().backward()
    with raises(ValueError, "too_small", "input 0", "(3,)", "(2, 3)"):
        _TooSmall.apply(ones(2, 3, requires_grad=True)).sum().backward()


def test_user_op_returning_something_that_is_not_an_array():
    with raises(TypeError, "not_an_array", "input 0", "str", "(2,)"):
        _NotAnArray.apply(ones(2, requires_grad=True)).sum().backward()


def test_user_op_forward_must_return_floats():
    with raises(TypeError, "integer_forward", "floating", "int"):
        _IntegerForward.apply(ones(2, requires_grad=True))


def test_user_op_saving_an_unknown_name():
    with raises(TypeError, "Typo.saves", "'z'", "'out'", "['x']"):

        class Typo(tg.Op):
            name = "typo"
            saves = ("z",)

            def forward(self, x):
                return x


def test_a_bad_gradient_shape_names_the_right_input():
    class Bad(tg.Op):
        name = "bad"
        formula = ("dx = g", "dy = g")

        def forward(self, x, y):
            return x + y

        def backward(self, ctx, g):
            return g, np.ones((2, 5))

    x = tg.Tensor(np.ones(3), requires_grad=True)
    y = tg.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=r"bad: the gradient for input 1 has shape \(2, 5\)"):
        Bad.apply(x, y).sum().backward()


def test_a_bad_gradient_shape_names_the_input_by_position_when_one_tensor_is_both_inputs():
    class Bad(tg.Op):
        name = "bad"
        formula = ("dx = g", "dy = g")

        def forward(self, x, y):
            return x * y

        def backward(self, ctx, g):
            return g, np.ones((2, 5))

    x = tg.Tensor(np.ones(3), requires_grad=True)
    # Found by identity, the index of x would be 0 for both inputs.
    with pytest.raises(ValueError, match=r"bad: the gradient for input 1 has shape \(2, 5\)"):
        Bad.apply(x, x).sum().backward()
