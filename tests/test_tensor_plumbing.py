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
W.flags.writeable = False  # Tensors made from it share it: no test may change it for the others

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


# ----------------------------------------------------------------- found by the full mutation run


def test_constants_from_fresh_numbers_take_the_tensors_dtype_and_differentiate():
    # Numbers no other test uses: the cache of constants must not be what makes this pass.
    x32 = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    out = x32 * 0.7071067811865476
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, x32.data * np.float32(0.7071067811865476))
    out.sum().backward()
    np.testing.assert_array_equal(x32.grad, np.full(2, np.float32(0.7071067811865476)))
    assert repr(out.grad_fn.parents[1]).startswith("<leaf node")
    gradcheck(lambda a: 1.6180339887 - a * 2.718281828459045, np.array([0.5, -1.5]))


def test_nodes_of_named_leaves_carry_the_name_and_scope():
    with tg.name_scope("layer"):
        w = tg.Tensor([1.0, 2.0], requires_grad=True, name="W")
    y = w * 3.0
    leaf = y.grad_fn.parents[0]
    assert repr(leaf) == "<leaf node %d 'W' (2,)>" % leaf.id
    assert leaf.scope == "layer"
    assert repr(y.grad_fn.parents[1]).endswith(" ()>")  # an unnamed constant: no label


def test_detach_keeps_the_name():
    assert tg.Tensor([1.0], requires_grad=True, name="W").detach().name == "W"
    assert tg.Tensor([1.0], requires_grad=True).detach().name is None


def test_zero_dimensional_results_are_arrays_not_numpy_scalars():
    a, b = tg.Tensor(2.0, requires_grad=True), tg.Tensor(3.0)
    for out in (a * b, a + b, a / b, a - 1.5, -a, a.exp(), a**2, tg.tanh(a), (a * b).sum()):
        assert type(out.data) is np.ndarray and out.shape == (), out


def test_user_ops_saving_their_output_next_to_an_input():
    class Softsign(tg.Op):
        """x / (1 + |x|), whose derivative is (1 - |out|)**2, read from the output."""

        name = "softsign"
        saves = ("x", "out")

        def forward(self, x):
            return x / (1.0 + np.abs(x))

        def backward(self, ctx, g, x, out):
            assert np.allclose(out, x / (1.0 + np.abs(x)))  # the output, not the input again
            return g * (1.0 - np.abs(out)) ** 2

    class Blend(tg.Op):
        """x * y + z, saving its output (three inputs: the general apply)."""

        name = "blend"
        saves = ("y", "x", "out")

        def forward(self, x, y, z):
            return x * y + z

        def backward(self, ctx, g, y, x, out):
            assert np.allclose(out, x * y + (out - x * y))
            return g * y, g * x, g

    gradcheck(Softsign.apply, np.array([0.5, -1.5, 2.0]))
    gradcheck(Blend.apply, np.array([0.5, -1.5]), np.array([2.0, 0.25]), np.array([1.0, 3.0]))


def test_a_user_op_with_three_inputs_keeps_a_float32_tensors_dtype_for_numbers():
    x = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    out = FusedMultiplyAdd.apply(x, 0.3183098861837907, 1.4142135623730951)
    assert out.dtype == np.float32


@pytest.mark.parametrize("inputs", [("a", [1.0]), ([1.0], "a")])
def test_operands_that_are_not_numbers_are_refused_naming_the_op(inputs):
    with pytest.raises(TypeError, match=r"^matmul: "):
        tg.matmul(*inputs)


def test_user_op_forward_must_return_floats_with_any_number_of_inputs():
    class Counts(tg.Op):
        name = "counts"

        def forward(self, x, y, z=None):
            return np.ones(x.shape, dtype=np.int64)

        def backward(self, ctx, g):
            return g, g, g

    for inputs in ((np.ones(2), np.ones(2)), (np.ones(2), np.ones(2), np.ones(2))):
        with pytest.raises(TypeError, match=r"^counts: forward must return a floating array, got dtype int64"):
            Counts.apply(*inputs)
    with pytest.raises(TypeError, match=r"^fused_multiply_add: "):
        FusedMultiplyAdd.apply(tg.Tensor([1.0]), "a", 1.0)


@pytest.mark.parametrize("shapes", [((2, 2, 2), (2, 2)), ((2, 2), (2, 2, 2))])
def test_np_dot_refuses_stacks(shapes):
    a, b = (tg.Tensor(np.ones(s)) for s in shapes)
    with pytest.raises(TypeError) as info:
        np.dot(a, b)
    assert str(info.value) == "np.dot on Tensors takes 1-D or 2-D operands and no out=; use @ (np.matmul) for stacks"


def test_np_dot_refuses_out():
    with pytest.raises(TypeError, match=r"^np.dot on Tensors takes 1-D or 2-D operands and no out="):
        np.dot(tg.Tensor(np.ones((2, 2))), np.ones((2, 2)), out=np.empty((2, 2)))


def test_np_power_with_a_tensor_on_either_side():
    t = tg.Tensor([1.0, 2.0], requires_grad=True)
    assert np.power(t, 3.0).grad_fn.name == "pow" and np.power(2.0, t).grad_fn.name == "exp_base"
    np.testing.assert_array_equal(np.power(t, 3.0).data, [1.0, 8.0])
    np.testing.assert_array_equal(np.power(2.0, t).data, [2.0, 4.0])
    gradcheck(lambda a: np.power(a, 3.0), t.data)
    gradcheck(lambda a: np.power(2.0, a), t.data)


def test_numpy_functions_on_constant_tensors_nested_in_lists_and_keywords():
    c = tg.Tensor([[1.25, 2.5]])
    np.testing.assert_array_equal(np.block([[c, c]]), [[1.25, 2.5, 1.25, 2.5]])
    np.testing.assert_array_equal(np.round(c, decimals=0), [[1.0, 2.0]])
    np.testing.assert_array_equal(np.clip(c, a_min=tg.Tensor(1.5), a_max=None), [[1.5, 2.5]])


def test_numpy_functions_refuse_a_tensor_that_requires_grad_even_nested_in_a_list():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError) as info:
        np.block([[x, tg.Tensor([3.0])]])
    assert str(info.value) == (
        "np.block is not differentiable in tinygraph and would cut the graph; "
        "use a tinygraph op, define an Op, or leave the graph with .detach().numpy()"
    )


def test_a_numpy_function_of_ours_with_a_wrong_argument_names_the_function():
    with pytest.raises(TypeError, match=r"^np.sum on a Tensor: .*argument"):
        np.sum(tg.Tensor([1.0]), where=True, initial=0.0)


def test_ufunc_out_and_methods_on_constant_tensors():
    c = tg.Tensor([1.0, 2.0])
    buffer = np.zeros(2)
    np.add(c, c, out=buffer)
    np.testing.assert_array_equal(buffer, [2.0, 4.0])
    target = tg.Tensor(np.zeros(2))
    np.multiply(c, 3.0, out=(target,))
    np.testing.assert_array_equal(target.data, [3.0, 6.0])
    assert np.add.reduce(c) == 3.0


def test_array_conversion_shares_or_copies_as_asked():
    t = tg.Tensor(np.array([1.5, 2.5]))
    assert np.asarray(t) is t.data
    assert np.shares_memory(np.asarray(t, dtype=np.float64), t.data)
    as32 = np.asarray(t, dtype=np.float32)
    assert as32.dtype == np.float32 and as32.tolist() == [1.5, 2.5]
    copied = np.array(t, copy=True)
    assert not np.shares_memory(copied, t.data) and copied.tolist() == [1.5, 2.5]
    copied32 = np.array(t, dtype=np.float32, copy=True)
    assert copied32.dtype == np.float32 and not np.shares_memory(copied32, t.data)


def test_python_conversions_and_comparisons():
    assert bool(tg.Tensor([2.0])) is True and bool(tg.Tensor(0.0)) is False
    assert int(tg.Tensor(2.7)) == 2 and float(tg.Tensor([2.5])) == 2.5
    t = tg.Tensor([1.0, 2.0, 3.0])
    assert (t < 2.0).tolist() == [True, False, False] and (t <= tg.Tensor(2.0)).tolist() == [True, True, False]
    assert (t > 2.0).tolist() == [False, False, True] and (t >= 2.0).tolist() == [False, True, True]


def test_repr_in_full():
    assert repr(tg.Tensor([1.0, 2.5])) == "Tensor([1. , 2.5])"
    w = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True, name="w")
    assert repr(w) == "Tensor([1., 2.], dtype=float32, requires_grad=True, name='w')"
    assert repr(w * 2) == "Tensor([2., 4.], dtype=float32, grad_fn=<mul>)"
    long = repr(tg.Tensor(np.arange(25.0)))
    assert "..." in long and long.startswith("Tensor([ 0.,  1.,  2.,")
    assert "..." not in repr(tg.Tensor(np.arange(20.0)))
    assert repr(tg.Tensor(np.arange(4.0).reshape(2, 2))) == "Tensor([[0., 1.],\n        [2., 3.]])"


def test_backward_and_retain_grad_on_tensors_that_do_not_require_grad():
    with pytest.raises(RuntimeError) as info:
        tg.Tensor([1.0]).sum().backward()
    assert str(info.value) == (
        "backward: this Tensor does not require grad: no input of the ops that made it has requires_grad=True"
    )
    with pytest.raises(RuntimeError) as info:
        tg.Tensor([1.0]).retain_grad()
    assert str(info.value) == "retain_grad: this Tensor does not require grad, so it will never have one"


def test_in_place_write_errors_name_the_tensor():
    w = tg.Tensor([1.0, 2.0], requires_grad=True, name="W")
    loss = (w * w).sum()
    w.data *= 2.0
    with pytest.raises(RuntimeError, match=r"^backward: Tensor 'W' was changed in place"):
        loss.backward()
    v = tg.Tensor([1.0, 2.0], requires_grad=True)
    loss = (v * v).sum()
    v.data *= 2.0
    with pytest.raises(RuntimeError, match=r"^backward: a Tensor of shape \(2,\) was changed in place"):
        loss.backward()


def test_tg_grad_results_never_share_memory_with_a_tensor_seed():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    seed = tg.Tensor([3.0, 4.0])
    (g,) = tg.grad(x + 0.0, x, grad_outputs=seed)
    assert not np.shares_memory(g, seed.data)
    g += 1.0
    assert seed.data.tolist() == [3.0, 4.0]


def test_a_fresh_constant_is_a_read_only_leaf():
    x = tg.Tensor([1.0], requires_grad=True)
    constant = (x * 0.5772156649015329).grad_fn.parents[1]
    assert constant.is_leaf and not constant.requires_grad and constant.saved[0].item() == 0.5772156649015329
    with pytest.raises(ValueError):
        constant.saved[0][...] = 7.0


def test_a_user_op_with_three_inputs_on_plain_arrays():
    out = FusedMultiplyAdd.apply(np.array([1.0, 2.0]), [3.0, 4.0], 0.5)
    assert isinstance(out, tg.Tensor) and not out.requires_grad
    np.testing.assert_array_equal(out.data, [3.5, 8.5])


# ----------------------------------------------------------------- the third mutation run (issue 13): numpy protocol, repr, messages


def test_array_conversion_keeps_a_float32_tensors_dtype_and_memory():
    # np.asarray(t) with no dtype is the Tensor's own array: no cast to float64, no copy.
    t = tg.Tensor(np.array([0.1, 2.5], dtype=np.float32))
    assert np.asarray(t) is t.data and np.asarray(t).dtype == np.float32
    assert np.array(t, copy=True).dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("target", ["U32", np.float16, np.float64, np.int32])
@pytest.mark.parametrize("copy", [None, True])
def test_array_conversion_with_a_dtype_is_numpys_conversion_of_the_data(dtype, target, copy):
    # The cast goes straight from the Tensor's dtype to the one asked for: text of a float32
    # 0.1 is "0.1", not the "0.10000000149011612" of a detour through float64.
    t = tg.Tensor(np.array([0.1, 2.5, -3.75], dtype=dtype))
    got = np.array(t, dtype=target, copy=copy)
    want = np.array(t.data, dtype=target, copy=copy)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert not np.shares_memory(got, t.data) or (copy is None and np.dtype(target) == np.dtype(dtype))


def test_numpy_functions_take_constant_tensors_nested_in_a_keyword_list():
    c = tg.Tensor([[1.25, 2.5]])
    np.testing.assert_array_equal(np.block(arrays=[[c, c]]), [[1.25, 2.5, 1.25, 2.5]])
    np.testing.assert_array_equal(np.column_stack(tup=(c, c)), [[1.25, 2.5, 1.25, 2.5]])


_CUT = "is not differentiable in tinygraph and would cut the graph; use a tinygraph op, define an Op, or leave the graph with .detach().numpy()"


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x: np.hypot(x, x), f"np.hypot {_CUT}"),
        (lambda x: np.add.reduce(x), f"np.add.reduce {_CUT}"),
        (lambda x: np.multiply.accumulate(x), f"np.multiply.accumulate {_CUT}"),
        # a question about values is answered, but not into out=, which would leave the graph
        (lambda x: np.isfinite(x, out=np.empty(2, dtype=bool)), f"np.isfinite {_CUT}"),
        (lambda x: np.block([[x, x]]), f"np.block {_CUT}"),
    ],
)
def test_numpy_calls_that_would_cut_the_graph_are_refused_naming_the_call(call, message):
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError) as info:
        call(x)
    assert str(info.value) == message


def test_a_boolean_question_without_out_is_answered_on_a_tensor_that_requires_grad():
    x = tg.Tensor([1.0, np.inf], requires_grad=True)
    assert np.isfinite(x).tolist() == [True, False]


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: iter(tg.Tensor(1.0)), TypeError, "iteration over a 0-d Tensor"),
        (lambda: tg.Tensor([]).argmax(), ValueError, "argmax: a Tensor of shape (0,) is empty, so it has no max"),
        (lambda: tg.Tensor(np.zeros((2, 0))).argmin(), ValueError, "argmin: a Tensor of shape (2, 0) is empty, so it has no min"),
        (lambda: tg.Tensor([1.0]).argmax(axis=(0,)), TypeError, "argmax: axis must be an int or None, got (0,) for shape (1,)"),
        (lambda: tg.Tensor([1.0]).argmin(axis=1), ValueError, "argmin: axis 1 is out of range for shape (1,)"),
        (
            lambda: tg.Tensor([1.0], requires_grad=True).register_hook(3),
            TypeError,
            "register_hook: expected a function of the gradient, got int",
        ),
        (
            lambda: tg.Tensor([1.0]).register_hook(print),
            RuntimeError,
            "register_hook: this Tensor does not require grad, so no gradient will ever reach it",
        ),
    ],
)
def test_tensor_method_errors_in_full(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_argmax_and_argmin_give_flat_positions_by_default_and_keep_dims_when_asked():
    data = np.array([[3.0, -1.0, 7.0], [0.5, 9.0, -2.0]])
    t = tg.Tensor(data)
    for which in ("argmax", "argmin"):
        flat = getattr(t, which)()
        assert flat == getattr(data, which)() and np.ndim(flat) == 0
        np.testing.assert_array_equal(getattr(t, which)(axis=-1), getattr(data, which)(axis=-1))
        kept = getattr(t, which)(axis=0, keepdims=True)
        assert kept.shape == (1, 3)
        np.testing.assert_array_equal(kept, getattr(data, which)(axis=0, keepdims=True))


def test_repr_rounds_to_four_decimals_and_summarises_above_twenty_values():
    assert repr(tg.Tensor([1.234567, -0.000123])) == "Tensor([ 1.2346e+00, -1.2300e-04])"
    assert repr(tg.Tensor([1.23456])) == "Tensor([1.2346])"
    assert "..." in repr(tg.Tensor(np.arange(21.0)))


@pytest.mark.skipif(np.lib.NumpyVersion(np.__version__) < "2.0.0", reason="numpy 1.x has no copy= in __array__")
def test_array_conversion_without_copy_refuses_a_cast_as_numpy_does():
    # copy=False promises the result shares the data; a cast cannot, so numpy raises for an
    # array, and it must for a Tensor too rather than hand back a silent copy.
    t = tg.Tensor(np.array([1.5, 2.5]))
    assert np.asarray(t, dtype=np.float64, copy=False) is t.data
    with pytest.raises(ValueError) as ours:
        np.asarray(t, dtype=np.float32, copy=False)
    with pytest.raises(ValueError) as numpys:
        np.asarray(t.data, dtype=np.float32, copy=False)
    assert str(ours.value) == str(numpys.value)


def _made_by_mul():
    return tg.Tensor([1.0], requires_grad=True) * 2


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: tg.Tensor(1.0, requires_grad=1), TypeError, "Tensor: requires_grad must be a bool, got int"),
        (lambda: tg.Tensor(1.0, name=3), TypeError, "Tensor: name must be a string, got int"),
        (lambda: setattr(_made_by_mul(), "name", b"y"), TypeError, "Tensor: name must be a string, got bytes"),
        (lambda: setattr(tg.Tensor(1.0), "requires_grad", 1), TypeError, "requires_grad must be a bool, got int"),
        (
            lambda: setattr(_made_by_mul(), "requires_grad", False),
            RuntimeError,
            "requires_grad: only a leaf's flag can change; this Tensor was made by 'mul' "
            "(use .detach() for a leaf with the same values)",
        ),
        (
            lambda: setattr(_made_by_mul(), "data", np.ones(3)),
            ValueError,
            "data: this Tensor was made by 'mul' with shape (1,) and dtype float64; "
            "an array of shape (3,) and dtype float64 cannot take its place",
        ),
        (lambda: setattr(tg.Tensor(1.0), "grad", np.ones(())), RuntimeError, "grad: this Tensor does not require grad, so it holds no gradient"),
        (
            lambda: setattr(tg.Tensor([1.0], requires_grad=True), "grad", [1.0, 2.0]),
            ValueError,
            "grad: a gradient of shape (2,) cannot belong to a Tensor of shape (1,)",
        ),
        (lambda: tg.Tensor([1.0, 2.0]).item(), ValueError, "item: only a one-element Tensor has an item; this one has shape (2,)"),
    ],
)
def test_tensor_attribute_errors_in_full(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_a_tensor_is_a_constant_unless_asked_and_takes_the_name_and_scope_it_was_made_in():
    plain = tg.Tensor([1.0])
    assert plain.requires_grad is False and plain.node is None and plain.name is None and plain.scope is None
    with tg.name_scope("layer"):
        w = tg.Tensor([1.0], requires_grad=np.bool_(True), name="w")
    assert w.requires_grad is True and w.is_leaf and w.grad is None
    assert w.name == "w" and w.scope == "layer" and w.node.label == "w" and w.node.scope == "layer"
    assert w.node.requires_grad and w.node.saved[0] is w.data
    unnamed = tg.Tensor([1.0], requires_grad=True)
    assert unnamed.node.label is None and unnamed.node.scope is None


def test_a_new_value_of_another_dtype_keeps_name_scope_hooks_and_the_gradient_cast():
    with tg.name_scope("layer"):
        w = tg.Tensor([1.0, 2.0], requires_grad=True, name="w")
    seen = []
    w.register_hook(lambda g: seen.append(g.tolist()))
    (w * 3).sum().backward()
    old = w.node
    w.data = np.array([1.0, 2.0], dtype=np.float32)
    assert w.node is not old and w.node.dtype == np.float32 and w.node.requires_grad
    assert w.node.label == "w" and w.node.scope == "layer" and w.requires_grad
    assert w.grad.dtype == np.float32 and w.grad.tolist() == [3.0, 3.0]
    (w * 2).sum().backward()  # the hook still runs; the gradient adds to the kept one
    assert seen == [[3.0, 3.0], [2.0, 2.0]] and w.grad.tolist() == [5.0, 5.0]
    w.data = np.ones(3)  # a new shape: the old gradient cannot belong to it
    assert w.grad is None and w.node.shape == (3,)
    (w * 1.5).sum().backward()
    assert seen[-1] == [1.5, 1.5, 1.5] and w.grad.tolist() == [1.5, 1.5, 1.5]


def test_a_new_value_of_a_leaf_without_gradient_or_hooks():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    w.data = np.array([1.0, 2.0], dtype=np.float32)
    assert w.grad is None and w.node.hooks is None
    (w * w).sum().backward()
    assert w.grad.tolist() == [2.0, 4.0]


def test_flatten_is_a_recorded_reshape_to_minus_one():
    x = tg.Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    flat = x.flatten()
    assert flat.shape == (4,) and flat.tolist() == [1.0, 2.0, 3.0, 4.0] and flat.grad_fn.name == "reshape"
    (flat * np.array([1.0, 2.0, 3.0, 4.0])).sum().backward()
    assert x.grad.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    # anomaly messages name the op with the parameters it was built with (the place it was
    # built at, after "built at", is left out: the mutation tool adds frames)
    with tg.detect_anomaly(), pytest.raises(FloatingPointError) as info:
        tg.Tensor([[1.0, np.nan]], requires_grad=True).flatten()
    assert str(info.value).startswith(
        "detect_anomaly: 'reshape' (new_shape=(-1,)) returned 1 NaN and 0 inf among the 2 values of its output (shape (2,)), built at "
    )


@pytest.mark.parametrize("inputs", [(1.0,), (1.0, 2.0), (1.0, 2.0, 3.0, 4.0)])
def test_a_user_op_applied_to_the_wrong_number_of_inputs_is_refused(inputs):
    # Without the check, two inputs would reach forward(x, y, z) and four would be cut to three.
    with pytest.raises(TypeError) as info:
        FusedMultiplyAdd.apply(*[tg.Tensor(v, requires_grad=True) for v in inputs])
    assert str(info.value) == f"fused_multiply_add: takes 3 input(s), got {len(inputs)}"


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("returned", ["list", "numpy scalar", "python float"])
def test_a_user_ops_forward_may_return_numbers_that_become_an_array(n, returned):
    # ufuncs on 0-d arrays give numpy scalars, and user code may return lists or floats:
    # the result is still a Tensor around a floating ndarray, with any number of inputs.
    class Total(tg.Op):
        name = "total"
        arity, min_arity = 3, 1

        def forward(self, *xs):
            total = float(sum(np.sum(x) for x in xs))
            return {"list": [total, -total], "numpy scalar": np.float64(total), "python float": total}[returned]

        def backward(self, ctx, g):
            return (None,) * len(ctx.parents)

    out = Total.apply(*[tg.Tensor(np.array([1.5, 2.0]), requires_grad=True) for _ in range(n)])
    assert type(out.data) is np.ndarray and out.data.dtype == np.float64
    assert np.ravel(out.data)[0] == 3.5 * n



class _RatioLog(tg.Op):
    """log(x / y), saving its output and y only: not the two inputs the fast path of binary ops saves."""

    name = "ratio_log"
    saves = ("out", "y")
    needs_seen: list = []

    def forward(self, x, y):
        return np.log(x / y)

    def backward(self, ctx, g, out, y):
        _RatioLog.needs_seen.append(tuple(ctx.needs))
        # d/dx = 1/x = exp(-out) / y, d/dy = -1/y
        return (g * np.exp(-out) / y if ctx.needs[0] else None), (-g / y if ctx.needs[1] else None)


@pytest.mark.parametrize("which", [(True, True), (True, False), (False, True)])
def test_a_binary_op_gets_what_it_saves_and_is_asked_only_for_needed_gradients(which):
    x0, y0 = np.array([2.0, 0.5]), np.array([4.0, 1.5])
    x, y = tg.Tensor(x0, requires_grad=which[0]), tg.Tensor(y0, requires_grad=which[1])
    _RatioLog.needs_seen.clear()
    (_RatioLog.apply(x, y) * np.array([1.0, 3.0])).sum().backward()
    assert _RatioLog.needs_seen == [which]
    if which[0]:
        np.testing.assert_allclose(x.grad, numerical_gradient(lambda v: float(np.sum(np.log(v / y0) * [1.0, 3.0])), x0), rtol=1e-7)
    if which[1]:
        np.testing.assert_allclose(y.grad, numerical_gradient(lambda v: float(np.sum(np.log(x0 / v) * [1.0, 3.0])), y0), rtol=1e-7)


def test_unary_ops_on_plain_data_coerce_it_and_name_themselves_when_they_cannot():
    out = tg.exp([0.0, 1.0])
    assert isinstance(out, tg.Tensor) and out.dtype == np.float64 and not out.requires_grad
    np.testing.assert_allclose(out.data, np.exp([0.0, 1.0]))
    assert tg.relu(np.array([-1, 2])).tolist() == [0.0, 2.0]
    with pytest.raises(TypeError) as info:
        tg.exp("a")
    assert str(info.value) == "exp: expected numbers, got an array of dtype <U1 from str"


def test_a_one_input_user_op_must_return_floats():
    class Count(tg.Op):
        name = "count"

        def forward(self, x):
            return np.ones(x.shape, dtype=np.int64)

        def backward(self, ctx, g):
            return g

    with pytest.raises(TypeError) as info:
        Count.apply(tg.Tensor([1.0], requires_grad=True))
    assert str(info.value) == "count: forward must return a floating array, got dtype int64"


@pytest.mark.parametrize("number", [0, 0.0, np.float32(0.3), np.int64(3), float("nan")])
def test_numbers_the_cache_leaves_out_still_take_a_float32_tensors_dtype(number):
    # zero, NaN and numpy numbers are not cached, and go through the general coercion
    x = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    assert (x * number).dtype == np.float32 and (number + x).dtype == np.float32
    assert (x + np.array([1, 2])).dtype == np.float32  # an integer array too


def test_a_named_constant_gives_its_node_its_name_and_scope():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with tg.name_scope("consts"):
        c = tg.Tensor([3.0, 4.0], name="c")
        fresh = x * 0.8123  # a number made into a constant inside the scope belongs to it
    node = (x * c).grad_fn.parents[1]
    assert node.label == "c" and node.scope == "consts" and not node.requires_grad
    assert fresh.grad_fn.parents[1].scope == "consts"
    unnamed = (x * tg.Tensor([1.0, 1.0])).grad_fn.parents[1]
    assert unnamed.label is None and unnamed.scope is None


# ----- residuals (HEAD: ops may keep what forward computed for backward)


class _ScaledProduct(tg.Op):
    """x * y * 3 for two inputs, or x * y * z * 3 for three, keeping its stacked inputs as a residual."""

    name = "scaled_product"
    saves = ()
    residuals = ("stacked",)
    arity = None
    min_arity = 2
    calls: list = []

    def forward(self, *xs):
        _ScaledProduct.calls.append("forward")
        return np.prod(np.stack(xs), axis=0) * 3.0

    def forward_with_residuals(self, *xs):
        _ScaledProduct.calls.append("with residuals")
        stacked = np.stack(xs)
        return np.prod(stacked, axis=0) * 3.0, (stacked,)

    def backward(self, ctx, g, stacked):
        return tuple(g * 3.0 * np.prod(np.delete(stacked, i, axis=0), axis=0) for i in range(len(stacked)))


@pytest.mark.parametrize("n", [2, 3])
def test_residuals_are_made_only_for_a_recorded_node_and_reach_backward(n):
    values = [np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([0.5, -1.0])][:n]
    _ScaledProduct.calls.clear()
    assert not _ScaledProduct.apply(*[tg.Tensor(v) for v in values]).requires_grad
    with tg.no_grad():
        _ScaledProduct.apply(*[tg.Tensor(v, requires_grad=True) for v in values])
    assert _ScaledProduct.calls == ["forward", "forward"]
    _ScaledProduct.calls.clear()
    xs = [tg.Tensor(v, requires_grad=i == n - 1) for i, v in enumerate(values)]  # only the last one
    out = _ScaledProduct.apply(*xs)
    assert _ScaledProduct.calls == ["with residuals"]
    np.testing.assert_array_equal(out.data, 3.0 * np.prod(values, axis=0))
    out.sum().backward()
    np.testing.assert_array_equal(xs[-1].grad, 3.0 * np.prod(values[:-1], axis=0))


@pytest.mark.parametrize(
    "returned, got",
    [("out only", "ndarray"), ("list", "tuple"), ("too few", "tuple"), ("too many", "tuple"), ("three", "tuple")],
)
@pytest.mark.parametrize("n", [1, 2, 3])
def test_forward_with_residuals_returning_the_wrong_thing_is_refused_in_full(returned, got, n):
    class Sloppy(tg.Op):
        name = "sloppy"
        residuals = ("r", "s")
        arity, min_arity = 3, 1

        def forward(self, *xs):
            return xs[0] * 2.0

        def forward_with_residuals(self, *xs):
            out, x = xs[0] * 2.0, xs[0]
            return {
                "out only": out,
                "list": (out, [x, x]),
                "too few": (out, (x,)),
                "too many": (out, (x, x, x)),
                "three": (out, (x, x), x),
            }[returned]

        def backward(self, ctx, g, r, s):
            return (2.0 * g,) + (None,) * (len(ctx.parents) - 1)

    with pytest.raises(TypeError) as info:
        Sloppy.apply(*[tg.Tensor([1.0], requires_grad=True) for _ in range(n)])
    assert str(info.value) == (
        f"sloppy: forward_with_residuals must return (out, residuals) with a tuple of 2 residual(s) ('r', 's'), got {got}"
    )
