"""sum, mean, reshape, transpose, broadcast_to (tinygraph/_ops/shape.py): values as numpy
gives them, gradients against finite differences, the ways each accepts its arguments,
compiled code agreeing with the eager ops, and the exact messages of their refusals."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph._ops.shape import BroadcastTo, Mean, Sum, Transpose
from tinygraph.testing import gradcheck


def _data(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _compiled_agrees(fn, *arrays):
    """fn compiled gives the eager value and gradients (shape, dtype, values)."""
    step = tg.compile(fn)
    eager = [tg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    compiled = [tg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    want, got = fn(*eager), step(*compiled)
    assert got.shape == want.shape and got.dtype == want.dtype, step.source
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-300, err_msg=step.source)
    seed = np.random.default_rng(9).uniform(0.5, 1.5, want.shape).astype(want.dtype)
    want.backward(seed)
    got.backward(seed)
    for e, c in zip(eager, compiled):
        assert c.grad.shape == e.grad.shape and c.grad.dtype == e.grad.dtype, step.source
        np.testing.assert_allclose(c.grad, e.grad, rtol=1e-12, err_msg=step.source)
    return step


# --- sum and mean -------------------------------------------------------------------------

# (shape, axis): all axes, one axis (negative too), several, every axis named, none named (()).
REDUCTIONS = [
    ((2, 3), None),
    ((2, 3), 0),
    ((2, 3), 1),
    ((2, 3), -1),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, 0)),
    ((2, 3, 4), [1, 2]),
    ((2, 3), (0, 1)),
    ((2, 3), ()),
    ((4,), 0),
    ((), None),
    ((1, 3, 1), (0, 2)),
    ((3, 1), 1),
]


@pytest.mark.parametrize(("shape", "axis"), REDUCTIONS)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_reduction_value_and_shape_are_numpys(op, shape, axis, keepdims):
    x = _data(shape)
    np_axis = tuple(axis) if isinstance(axis, list) else axis
    want = getattr(x, op)(axis=np_axis, keepdims=keepdims)
    got = getattr(tg.Tensor(x), op)(axis=axis, keepdims=keepdims)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize(("shape", "axis"), REDUCTIONS)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_reduction_gradient_spreads_g_over_the_reduced_axes(op, shape, axis, keepdims):
    # sum: each input element gets the g of its output element; mean: that over the count.
    x = _data(shape, seed=1)
    t = tg.Tensor(x, requires_grad=True)
    out = getattr(t, op)(axis=axis, keepdims=keepdims)
    g = np.random.default_rng(2).uniform(0.5, 1.5, out.shape)
    out.backward(g)
    axes = tuple(range(len(shape))) if axis is None else tuple(a % len(shape) for a in np.atleast_1d(axis).astype(int))
    kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
    count = int(np.prod([shape[a] for a in axes]))
    want = np.broadcast_to(g.reshape(kept), shape) / (count if op == "mean" else 1)
    assert t.grad.shape == shape
    np.testing.assert_allclose(t.grad, want, rtol=1e-12)
    assert gradcheck(lambda a: getattr(a, op)(axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize(("shape", "axis"), REDUCTIONS)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_compiled_reduction_gives_the_eager_value_and_gradient(op, shape, axis, keepdims):
    _compiled_agrees(lambda a: getattr(a, op)(axis=axis, keepdims=keepdims), _data(shape, seed=3))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["sum", "mean"])
def test_reduction_keeps_the_dtype_in_value_and_gradient(op, dtype):
    t = tg.Tensor(np.arange(6, dtype=dtype).reshape(2, 3), requires_grad=True)
    out = getattr(t, op)(axis=1)
    assert out.dtype == dtype
    out.backward(np.ones(2, dtype=dtype))
    assert t.grad.dtype == dtype


def test_keepdims_is_read_as_a_truth_value():
    # keepdims=1 keeps the axes, keepdims=0 drops them, like numpy.
    t = tg.Tensor(np.ones((2, 3)))
    assert t.sum(axis=1, keepdims=1).shape == (2, 1)
    assert t.mean(axis=1, keepdims=1).shape == (2, 1)
    assert t.sum(axis=1, keepdims=0).shape == (2,)


def test_mean_of_one_number_and_of_a_stack_divides_by_the_count():
    t = tg.Tensor([[1.0, 2.0, 6.0], [4.0, 8.0, 0.0]], requires_grad=True)
    np.testing.assert_array_equal(t.mean(axis=1).numpy(), [3.0, 4.0])
    np.testing.assert_array_equal(t.mean(axis=0).numpy(), [2.5, 5.0, 3.0])
    assert t.mean().item() == 3.5
    t.mean().backward()
    np.testing.assert_array_equal(t.grad, np.full((2, 3), 1 / 6))


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda t: t.mean(axis=0), ValueError, "mean: the mean over an empty axis of shape (0, 3) is undefined"),
        (lambda t: t.mean(), ValueError, "mean: the mean over an empty axis of shape (0, 3) is undefined"),
        (lambda t: t.mean(axis=2), ValueError, "mean: axis 2 is out of range for shape (0, 3)"),
        (lambda t: t.sum(axis=2), ValueError, "sum: axis 2 is out of range for shape (0, 3)"),
        (lambda t: t.sum(axis=-3), ValueError, "sum: axis -3 is out of range for shape (0, 3)"),
        (lambda t: t.sum(axis=1.0), TypeError, "sum: axis must be an int or a tuple of ints, got 1.0 for shape (0, 3)"),
        (lambda t: t.mean(axis=(1, -1)), ValueError, "mean: repeated axis in (1, -1)"),
    ],
)
def test_reduction_refusals_name_the_op_axis_and_shape(call, error, message):
    with pytest.raises(error) as err:
        call(tg.Tensor(np.ones((0, 3))))
    assert str(err.value) == message


def test_mean_over_a_non_empty_axis_of_an_array_with_an_empty_one_is_empty():
    # Only the reduced axes count: (0, 3) over axis 1 averages 3 numbers, 0 times.
    assert tg.Tensor(np.ones((0, 3))).mean(axis=1).shape == (0,)


# --- reshape ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda t: t.reshape(3, 2),
        lambda t: t.reshape((3, 2)),
        lambda t: t.reshape([3, 2]),
        lambda t: t.reshape(3, -1),
        lambda t: tg.reshape(t, (3, 2)),
        lambda t: tg.reshape(t, shape=(3, 2)),
        lambda t: tg.reshape(t, newshape=(3, 2)),
        lambda t: tg.reshape(t, newshape=[3, 2]),
        lambda t: np.reshape(t, (3, 2)),
        lambda t: tg.reshape(t, (3, 2), order="C"),
    ],
)
def test_reshape_accepts_the_shape_in_each_of_numpys_spellings(make):
    x = np.arange(6.0).reshape(2, 3)
    out = make(tg.Tensor(x))
    assert out.shape == (3, 2)
    np.testing.assert_array_equal(out.numpy(), x.reshape(3, 2))


@pytest.mark.parametrize(
    ("args", "shape"), [((6,), (6,)), ((-1,), (6,)), (((6,),), (6,)), ((1, 6), (1, 6)), (((),), None)]
)
def test_reshape_to_one_axis_or_one_number(args, shape):
    x = np.arange(6.0).reshape(2, 3)
    if shape is None:  # () holds one element only
        with pytest.raises(ValueError) as err:
            tg.Tensor(x).reshape(*args)
        assert str(err.value) == "reshape: cannot reshape (2, 3) (6 elements) into ()"
        assert tg.Tensor([5.0]).reshape(()).shape == ()
        return
    assert tg.Tensor(x).reshape(*args).shape == shape


def test_reshape_gradient_puts_g_back_in_the_input_shape():
    x = _data((2, 3, 2), seed=4)
    t = tg.Tensor(x, requires_grad=True)
    g = np.arange(12.0).reshape(4, 3)
    t.reshape(4, 3).backward(g)
    np.testing.assert_array_equal(t.grad, g.reshape(2, 3, 2))
    assert gradcheck(lambda a: a.reshape(3, -1) * np.arange(4.0), x)
    _compiled_agrees(lambda a: a.reshape(4, 3), x)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: t.reshape(4, 2), "reshape: cannot reshape (2, 3) (6 elements) into (4, 2)"),
        (lambda t: t.reshape("a"), "reshape: cannot reshape (2, 3) (6 elements) into ('a',)"),
        (lambda t: t.reshape(3, 2, order="F"), "reshape: only order='C' is supported, got 'F'"),
        (lambda t: t.reshape(3, 2, order="c"), "reshape: only order='C' is supported, got 'c'"),
        (lambda t: np.reshape(t, (3, 2), order="A"), "reshape: only order='C' is supported, got 'A'"),
    ],
)
def test_reshape_refusals_name_the_shapes_and_the_order(call, message):
    with pytest.raises(ValueError) as err:
        call(tg.Tensor(np.ones((2, 3))))
    assert str(err.value) == message


# --- transpose ----------------------------------------------------------------------------

TRANSPOSES = [
    ((2, 3), None),
    ((2, 3), (1, 0)),
    ((2, 3), (0, 1)),
    ((2, 3, 4), None),
    ((2, 3, 4), (1, 2, 0)),
    ((2, 3, 4), (2, 0, 1)),
    ((2, 3, 4), (-1, 0, -2)),
    ((2, 3, 4), (0, -1, 1)),
    ((2, 3, 4, 5), (3, 1, 0, 2)),
    ((3,), None),
    ((3,), (0,)),
    ((), None),
    ((), ()),
]


@pytest.mark.parametrize(("shape", "axes"), TRANSPOSES)
def test_transpose_value_and_gradient(shape, axes):
    x = _data(shape, seed=5)
    out = tg.Tensor(x).transpose(axes)
    want = x.transpose(axes)
    assert out.shape == want.shape
    np.testing.assert_array_equal(out.numpy(), want)
    # The gradient is g permuted back: each input element gets the g at its new place.
    t = tg.Tensor(x, requires_grad=True)
    g = np.arange(float(x.size)).reshape(want.shape)
    t.transpose(axes).backward(g)
    expected = np.empty(shape)
    np.copyto(expected.transpose(axes), g)
    np.testing.assert_array_equal(t.grad, expected)
    assert gradcheck(lambda a: a.transpose(axes), x)


@pytest.mark.parametrize(("shape", "axes"), TRANSPOSES)
def test_compiled_transpose_gives_the_eager_value_and_gradient(shape, axes):
    _compiled_agrees(lambda a: a.transpose(axes), _data(shape, seed=6))


@pytest.mark.parametrize(
    "make",
    [
        lambda t: t.transpose(1, 2, 0),
        lambda t: t.transpose((1, 2, 0)),
        lambda t: t.transpose([1, 2, 0]),
        lambda t: t.transpose(axes=(1, 2, 0)),
        lambda t: t.transpose(axes=[1, 2, 0]),
        lambda t: tg.transpose(t, (1, 2, 0)),
        lambda t: np.transpose(t, (1, 2, 0)),
        lambda t: np.transpose(t, axes=(1, 2, 0)),
    ],
)
def test_transpose_accepts_the_axes_in_each_of_numpys_spellings(make):
    x = np.arange(24.0).reshape(2, 3, 4)
    out = make(tg.Tensor(x))
    np.testing.assert_array_equal(out.numpy(), x.transpose(1, 2, 0))


@pytest.mark.parametrize(
    "make",
    [
        lambda t: t.transpose(),
        lambda t: t.transpose(None),
        lambda t: tg.transpose(t),
        lambda t: np.transpose(t),
        lambda t: t.T,
    ],
)
def test_transpose_without_axes_reverses_them(make):
    x = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(make(tg.Tensor(x)).numpy(), x.transpose(2, 1, 0))


def test_transpose_stores_its_axes_as_a_tuple_or_none():
    assert Transpose(1, 0).axes == (1, 0)
    assert Transpose([1, 0]).axes == (1, 0)
    assert Transpose(axes=[2, 0, 1]).axes == (2, 0, 1)
    assert Transpose(None).axes is None
    assert Transpose().axes is None
    assert Transpose(0).axes == (0,)


@pytest.mark.parametrize(
    ("axes", "error", "message"),
    [
        ((0, 0), ValueError, "transpose: axes (0, 0) are not a permutation of the axes of (2, 3)"),
        ((0,), ValueError, "transpose: axes (0,) are not a permutation of the axes of (2, 3)"),
        ((0, 1, 2), ValueError, "transpose: axes (0, 1, 2) are not a permutation of the axes of (2, 3)"),
        ((0, 2), ValueError, "transpose: axes (0, 2) are not a permutation of the axes of (2, 3)"),
        ((-3, 1), ValueError, "transpose: axes (-3, 1) are not a permutation of the axes of (2, 3)"),
        ((-1, 1), ValueError, "transpose: axes (-1, 1) are not a permutation of the axes of (2, 3)"),
        ((1.0, 0), TypeError, "transpose: axes must be ints, got (1.0, 0) for shape (2, 3)"),
        (("1", 0), TypeError, "transpose: axes must be ints, got ('1', 0) for shape (2, 3)"),
    ],
)
def test_transpose_refusals_name_the_axes_and_shape(axes, error, message):
    with pytest.raises(error) as err:
        tg.Tensor(np.ones((2, 3))).transpose(axes)
    assert str(err.value) == message


# --- broadcast_to -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "target"),
    [((2, 1), (2, 3)), ((3,), (2, 3)), ((1,), 4), ((1,), [2, 4]), ((), (3,)), ((2, 3), (2, 3)), ((1, 3), (4, 2, 3))],
)
def test_broadcast_to_value_and_gradient_sums_back(shape, target):
    x = _data(shape, seed=7)
    want = np.broadcast_to(x, target)
    out = tg.broadcast_to(tg.Tensor(x), target)
    assert out.shape == want.shape
    np.testing.assert_array_equal(out.numpy(), want)
    assert np.broadcast_to(tg.Tensor(x), target).shape == want.shape
    assert gradcheck(lambda a: tg.broadcast_to(a, target), x)
    _compiled_agrees(lambda a: tg.broadcast_to(a, target), x)


def test_broadcast_to_stores_its_target_as_a_tuple():
    assert BroadcastTo(3).target == (3,)
    assert BroadcastTo([2, 3]).target == (2, 3)
    assert BroadcastTo((2, 3), subok=False).target == (2, 3)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda t: tg.broadcast_to(t, (3,)), "broadcast_to: cannot broadcast (2,) to (3,)"),
        (lambda t: tg.broadcast_to(t, 3), "broadcast_to: cannot broadcast (2,) to (3,)"),
        (lambda t: tg.broadcast_to(t, (2, 1)), "broadcast_to: cannot broadcast (2,) to (2, 1)"),
        (lambda t: np.broadcast_to(t, (2, 2), subok=True), "broadcast_to: subok=True has no meaning for a Tensor"),
        (lambda t: tg.broadcast_to(t, (2, 2), subok=True), "broadcast_to: subok=True has no meaning for a Tensor"),
    ],
)
def test_broadcast_to_refusals(call, message):
    with pytest.raises(ValueError) as err:
        call(tg.Tensor([1.0, 2.0]))
    assert str(err.value) == message


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_reductions_drop_the_reduced_axes_by_default(op):
    # keepdims is False unless asked for, in every spelling: method, function, numpy's and the op itself.
    t = tg.Tensor(np.ones((2, 3)))
    cls = {"sum": Sum, "mean": Mean}[op]
    assert getattr(t, op)().shape == ()
    assert getattr(t, op)(axis=1).shape == (2,)
    assert getattr(tg, op)(t, 1).shape == (2,)
    assert getattr(np, op)(t, axis=1).shape == (2,)
    assert cls(1).forward(np.ones((2, 3))).shape == (2,)
