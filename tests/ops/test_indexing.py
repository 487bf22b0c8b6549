"""t[index] and scatter_add (tinygraph/_ops/indexing.py): every kind of index numpy takes
(ints, slices, None, Ellipsis, integer arrays, boolean masks) gives numpy's value, and its
gradient is the scatter-add back, where a position selected twice gets both gradients;
the scatter in the input's dtype, the compiled code, and every error message in full."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph._ops.indexing import describe, normalize_index
from tinygraph.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(1129)
X = RNG.standard_normal((3, 4, 5))

# Indexes of every kind, with repeats where positions can repeat.
INDEXES = [
    1,
    -1,
    (0, 2, 3),
    (slice(1, None), slice(None, None, 2)),
    (slice(None, None, -1), 0),
    (None, 1, Ellipsis, None),
    (Ellipsis, 2),
    np.array([2, 0, 2, 2]),
    (np.array([0, 0, 2]), np.array([1, 1, 3])),
    (np.array([[1, 1], [0, 2]]),),
    (np.array([0, 2, 0]), slice(1, 3)),  # integer rows, then a slice that is not the whole axis
    (np.array([1, 1]), slice(None), slice(0, 5, 2)),
    (np.array([2, 2]), Ellipsis),
    (np.array([2, 2, 0]), slice(None), slice(None)),
    (slice(None), np.array([3, 3, 0])),
    (1, np.array([0, 0]), np.array([4, 4])),
    X[:, :, 0] > 0,
    (slice(None), X[0] > 0.5),
    (slice(None), np.array([True, False, True, True])),
    [2, 2, 1],
    ([0, 0], [3, 3]),
    np.array([], dtype=np.int64),
    [],
]


def _label(index) -> str:
    """A test id: the index as the error messages show it."""
    return describe(normalize_index(index, "test"))


def _scatter_loops(index, shape, g):
    """The gradient of x[index] by definition: every selected position gets its g entries, added one by one."""
    positions = np.arange(int(np.prod(shape))).reshape(shape)[index]
    out = np.zeros(int(np.prod(shape)))
    for p, v in zip(np.ravel(positions), np.ravel(np.broadcast_to(g, np.shape(positions)))):
        out[p] += v
    return out.reshape(shape)


@pytest.mark.parametrize("index", INDEXES, ids=_label)
def test_getitem_is_numpys_indexing_and_its_gradient_adds_up_repeats(index):
    x = tg.Tensor(X.copy(), requires_grad=True)
    out = x[index]
    want = X[index]
    assert out.shape == want.shape and out.dtype == want.dtype
    assert np.array_equal(out.data, want)
    g = RNG.standard_normal(want.shape)
    out.backward(g)
    np.testing.assert_allclose(x.grad, _scatter_loops(index, X.shape, g), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("index", INDEXES[::3], ids=_label)
def test_getitem_first_and_second_derivatives_match_finite_differences(index):
    assert gradcheck(lambda x: x[index], X)
    assert gradgradcheck(lambda x: x[index] ** 2, X)


@pytest.mark.parametrize("index", INDEXES, ids=_label)
def test_getitem_compiled_gives_the_eager_values_and_gradients(index):
    eager, traced = tg.Tensor(X.copy(), requires_grad=True), tg.Tensor(X.copy(), requires_grad=True)
    step = tg.compile(lambda x: x[index] * 1.5)
    want, got = eager[index] * 1.5, step(traced)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.data, want.data)
    g = RNG.standard_normal(want.shape)
    want.backward(g)
    got.backward(g)
    np.testing.assert_allclose(traced.grad, eager.grad, rtol=1e-14, atol=1e-14)


def test_getitem_of_every_position_gives_a_0d_array_and_a_one_hot_gradient():
    x = tg.Tensor(X.copy(), requires_grad=True)
    out = x[2, 1, np.int64(3)]
    assert out.shape == () and type(out.data) is np.ndarray and out.item() == X[2, 1, 3]
    out.backward()
    assert x.grad[2, 1, 3] == 1.0 and x.grad.sum() == 1.0


def test_getitem_with_a_boolean_scalar_adds_an_axis_as_numpy_does():
    x = tg.Tensor(X.copy(), requires_grad=True)
    assert x[True].shape == (1, 3, 4, 5)
    assert x[np.True_].shape == (1, 3, 4, 5)
    assert x[False].shape == (0, 3, 4, 5)
    x[True].sum().backward()
    assert np.array_equal(x.grad, np.ones(X.shape))


def test_getitem_slice_bounds_may_be_numpy_integers():
    x = tg.Tensor(X)
    assert np.array_equal(x[np.int64(1) : np.int32(3), :: np.int8(2)].data, X[1:3, ::2])


def test_basic_indexing_is_a_view_and_advanced_indexing_a_copy_as_in_numpy():
    x = tg.Tensor(X.copy())
    assert np.shares_memory(x[1:, 0].data, x.data)
    assert not np.shares_memory(x[[1, 2]].data, x.data)


def test_changing_the_index_array_after_the_forward_does_not_change_the_gradient():
    index = np.array([0, 0, 1])
    positions = [2, 2, 0]
    x = tg.Tensor(X.copy(), requires_grad=True)
    a, b = x[index], x[positions]
    index[:] = 2
    positions[:] = [1, 1, 1]
    (a.sum() + 2 * b.sum()).backward()
    want = np.zeros(3)
    np.add.at(want, [0, 0, 1], 1.0)
    np.add.at(want, [2, 2, 0], 2.0)
    assert np.array_equal(x.grad, np.broadcast_to(want[:, None, None], X.shape))


def test_repeated_rows_accumulate_in_the_inputs_dtype_in_order():
    # float32: 1e8 + 3 rounds back to 1e8 (the spacing there is 8), twice; adding in
    # float64 and rounding once would give 1e8 + 8.
    x = tg.Tensor(np.zeros(4, dtype=np.float32), requires_grad=True)
    x[[0, 0, 0]].backward(np.array([1e8, 3.0, 3.0], dtype=np.float32))
    assert x.grad.dtype == np.float32
    assert x.grad.tolist() == [1e8, 0.0, 0.0, 0.0]
    rows = tg.Tensor(np.zeros((2, 3), dtype=np.float32), requires_grad=True)
    rows[[1, 1, 1]].backward(np.array([[1e8] * 3, [3.0] * 3, [3.0] * 3], dtype=np.float32))
    assert rows.grad.dtype == np.float32
    assert rows.grad.tolist() == [[0.0] * 3, [1e8] * 3]


@pytest.mark.parametrize("shape", [(5,), (5, 1), (5, 1, 1), (5, 2)], ids=str)
def test_negative_and_positive_indices_of_one_row_add_up_together(shape):
    # -1 and 4 name the same row: the scatter (whose one-column case hands the indices to
    # np.add.at as they are) must add both there, and nothing anywhere else.
    x = tg.Tensor(np.zeros(shape), requires_grad=True)
    index = np.array([-1, 4, 0, -5, -1, 2])
    g = np.arange(1.0, 7.0).reshape((6,) + (1,) * (len(shape) - 1)) * np.ones((6,) + shape[1:])
    x[index].backward(g)
    want = np.zeros(shape)
    for i, gi in zip(index, g):
        want[i] += gi
    np.testing.assert_array_equal(x.grad, want)
    assert want[4].ravel()[0] == 1.0 + 2.0 + 5.0 and want[0].ravel()[0] == 3.0 + 4.0


def test_indexing_gradient_under_create_graph_is_recorded_and_keeps_the_dtype():
    x = tg.Tensor(np.arange(6.0, dtype=np.float32).reshape(2, 3), requires_grad=True)
    (gx,) = tg.grad((x[[1, 1, 0], 2] ** 2).sum(), [x], create_graph=True)
    assert gx.dtype == np.float32
    assert gx.tolist() == [[0.0, 0.0, 4.0], [0.0, 0.0, 20.0]]
    (ggx,) = tg.grad(gx.sum(), [x])
    assert ggx.tolist() == [[0.0, 0.0, 2.0], [0.0, 0.0, 4.0]]


# ----------------------------------------------------------------- scatter_add


@pytest.mark.parametrize(
    "index, shape",
    [
        ([0, 2, 0], 3),
        ([0, 2, 0], (3,)),
        ((np.array([1, 1]), slice(None)), [2, 3]),
        ((np.array([0, 1, 0]), np.array([2, 2, 2])), (2, 3)),
        ((slice(None), 1), (4, 2)),
        ([[0, 0], [1, 1]], (2, 1)),
    ],
    ids=repr,
)
def test_scatter_add_adds_the_values_at_the_index_of_fresh_zeros(index, shape):
    selected = np.zeros(shape)[index if not isinstance(index, list) else np.array(index)].shape
    values = RNG.standard_normal(selected)
    out = tg.scatter_add(values, index, shape)
    want_shape = (shape,) if isinstance(shape, int) else tuple(shape)
    assert out.shape == want_shape
    np.testing.assert_allclose(out.data, _scatter_loops(np.array(index) if isinstance(index, list) else index,
                                                        want_shape, values), rtol=1e-14)
    assert gradcheck(lambda v: tg.scatter_add(v, index, shape), values)
    assert gradgradcheck(lambda v: tg.scatter_add(v, index, shape) ** 2, values)


def test_scatter_add_broadcasts_values_to_what_the_index_selects():
    out = tg.scatter_add(np.array([1.0, 2.0]), (np.array([0, 0, 2]), slice(None)), (3, 2))
    assert out.tolist() == [[2.0, 4.0], [0.0, 0.0], [1.0, 2.0]]


def test_scatter_add_into_a_shape_with_an_empty_axis():
    out = tg.scatter_add(np.zeros((2, 0)), [1, 1], (3, 0))
    assert out.shape == (3, 0)
    assert tg.scatter_add(np.zeros(0), [], 0).shape == (0,)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_add_keeps_the_values_dtype_eager_and_compiled(dtype):
    values = np.array([1.0, 2.0, 4.0], dtype=dtype)
    eager = tg.scatter_add(tg.Tensor(values, requires_grad=True), [1, 1, 0], (3,))
    compiled = tg.compile(lambda v: tg.scatter_add(v, [1, 1, 0], (3,)))(tg.Tensor(values, requires_grad=True))
    assert eager.dtype == dtype and compiled.dtype == dtype
    assert eager.tolist() == compiled.tolist() == [4.0, 3.0, 0.0]


# ----------------------------------------------------------------- errors


T = tg.Tensor(np.zeros((3, 4)))


@pytest.mark.parametrize(
    "call, errors, message",
    [
        (lambda: T[5], (IndexError, ValueError),
         "getitem: index 5 is out of bounds for axis 0 with size 3 (indexing shape (3, 4) with [5])"),
        (lambda: T[0, ::0], (ValueError,),
         "getitem: slice step cannot be zero (indexing shape (3, 4) with [0, ::0])"),
        (lambda: T[1.5], (TypeError,), "getitem: index values must be integers or booleans, got float64 1.5"),
        (lambda: T[0:2.0], (TypeError,), "getitem: slice bounds must be integers or None, got slice(0, 2.0, None)"),
        (lambda: T[True:2], (TypeError,), "getitem: slice bounds must be integers or None, got slice(True, 2, None)"),
        (lambda: T[::np.float64(1)], (TypeError,),
         "getitem: slice bounds must be integers or None, got slice(None, None, np.float64(1.0))"),
        (lambda: T[T], (TypeError,),
         "getitem: cannot index with a Tensor (shape (3, 4), float64): Tensors hold floats, and float index values "
         "are ambiguous (positions or a mask?); index with a numpy integer array or boolean mask, e.g. "
         "t[idx.data.astype(int)] or t[t.data > 0]; indices carry no gradient"),
        (lambda: T[np.array([0.5, 1.5])], (TypeError,),
         "getitem: index values must be integers or booleans, got float64 [0.5, 1.5]"),
        (lambda: T[np.zeros(6) + 0.5], (TypeError,),
         "getitem: index values must be integers or booleans, got float64 [0.5, 0.5, 0.5, 0.5, 0.5, 0.5]"),
        (lambda: T[np.zeros(7) + 0.5], (TypeError,),
         "getitem: index values must be integers or booleans, got float64 an array of shape (7,)"),
        (lambda: T["a"], (TypeError,), "getitem: index values must be integers or booleans, got <U1 a"),
        (lambda: T[np.arange(7), 0], (IndexError, ValueError),
         "getitem: index 3 is out of bounds for axis 0 with size 3 (indexing shape (3, 4) with [<int64 array (7,)>, 0])"),
        (lambda: T[np.arange(6), 0], (IndexError, ValueError),
         "getitem: index 3 is out of bounds for axis 0 with size 3 (indexing shape (3, 4) with [[0, 1, 2, 3, 4, 5], 0])"),
        (lambda: T[[0, 1], [0, 1, 2]], (IndexError, ValueError),
         "getitem: shape mismatch: indexing arrays could not be broadcast together with shapes (2,) (3,)  "
         "(indexing shape (3, 4) with [[0, 1], [0, 1, 2]])"),
        (lambda: T[None, 0, 1:3, ..., 4], (IndexError, ValueError),
         "getitem: too many indices for array: array is 2-dimensional, but 3 were indexed "
         "(indexing shape (3, 4) with [None, 0, 1:3, ..., 4])"),
        (lambda: tg.scatter_add([1.0, 2.0], [0, 0], (-1,)), (ValueError,),
         "scatter_add: shape must be non-negative integers, got (-1,)"),
        (lambda: tg.scatter_add([1.0], [0], (2.0,)), (ValueError,),
         "scatter_add: shape must be non-negative integers, got (2.0,)"),
        (lambda: tg.scatter_add([1.0], [0], (True, 2)), (ValueError,),
         "scatter_add: shape must be non-negative integers, got (True, 2)"),
        (lambda: tg.scatter_add([1.0, 2.0, 3.0], [0, 0], (3,)), (ValueError,),
         "scatter_add: values of shape (3,) do not fit [[0, 0]] on shape (3,), which selects (2,)"),
        (lambda: tg.scatter_add(np.ones(7), (np.zeros(7, dtype=np.int64), 0), (2,)), (IndexError, ValueError),
         "scatter_add: too many indices for array: array is 1-dimensional, but 2 were indexed "
         "(indexing shape (2,) with [<int64 array (7,)>, 0])"),
        (lambda: tg.scatter_add([1.0], [5], 3), (IndexError, ValueError),
         "scatter_add: index 5 is out of bounds for axis 0 with size 3 (indexing shape (3,) with [[5]])"),
        (lambda: tg.scatter_add([1.0], slice(0, 1.5), 3), (TypeError,),
         "scatter_add: slice bounds must be integers or None, got slice(0, 1.5, None)"),
        (lambda: tg.scatter_add([1.0], 0.5, 3), (TypeError,),
         "scatter_add: index values must be integers or booleans, got float64 0.5"),
    ],
)
def test_indexing_refuses_bad_indexes_naming_the_op_the_shape_and_the_index(call, errors, message):
    with pytest.raises(errors[0]) as err:
        call()
    assert isinstance(err.value, errors)
    assert str(err.value) == message


def test_the_index_an_op_keeps_is_read_only():
    # The backward scatters with the index kept at the forward: nothing may change it in between.
    out = tg.Tensor(X, requires_grad=True)[[0, 2], np.array([1, 1])]
    kept = out.node.rule.index
    assert all(not part.flags.writeable for part in kept)
    with pytest.raises(ValueError):
        kept[0][0] = 1
