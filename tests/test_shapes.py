"""tinygraph/_shapes.py: the one un-broadcast, operand coercion and the text of shape errors.

The engine reaches these helpers through every op; here they are pinned directly, at the
edges the op tests do not reach (a mutation run found them, issue 13). This file is also
the test selection of ``scripts/mutation.sh --smoke``, so it stays fast.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis.extra import numpy as hnp

import tinygraph as tg
from tinygraph._shapes import (
    as_float_array,
    as_operand,
    broadcast_to,
    fmt,
    normalize_axes,
    sum_to_shape,
)

# ----------------------------------------------------------------- sum_to_shape


@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3))
def test_sum_to_shape_is_the_adjoint_of_broadcasting(drawn):
    # <broadcast(x), g> == <x, sum_to_shape(g)> for every x and g: the definition of the adjoint.
    shape, _ = drawn.input_shapes
    rng = np.random.default_rng(0)
    x, g = rng.standard_normal(shape), rng.standard_normal(drawn.result_shape)
    reduced = sum_to_shape(g, shape)
    assert reduced.shape == shape and isinstance(reduced, np.ndarray)
    np.testing.assert_allclose(np.sum(np.broadcast_to(x, drawn.result_shape) * g), np.sum(x * reduced), rtol=1e-12)


@pytest.mark.parametrize(
    "gshape, shape, want",
    [
        ((2, 3), (2, 3), np.full((2, 3), 1.0)),
        ((2, 3), (3,), np.full(3, 2.0)),
        ((2, 3), (1, 3), np.full((1, 3), 2.0)),
        ((2, 3), (2, 1), np.full((2, 1), 3.0)),
        ((2, 3), (), np.array(6.0)),
        ((4, 2, 3), (2, 1), np.full((2, 1), 12.0)),
        ((4, 1, 3), (1, 1), np.full((1, 1), 12.0)),
    ],
)
def test_sum_to_shape_values(gshape, shape, want):
    got = sum_to_shape(np.ones(gshape), shape)
    assert type(got) is np.ndarray and got.shape == want.shape
    np.testing.assert_array_equal(got, want)


def test_sum_to_shape_returns_the_same_gradient_when_the_shape_matches():
    g = np.ones((2, 3))
    assert sum_to_shape(g, (2, 3)) is g


def test_sum_to_shape_works_on_tensors_and_stays_on_the_graph():
    g = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    reduced = sum_to_shape(g, (3,))
    assert isinstance(reduced, tg.Tensor) and reduced.shape == (3,) and reduced.requires_grad
    np.testing.assert_array_equal(reduced.data, [3.0, 5.0, 7.0])


@pytest.mark.parametrize("gshape, shape", [((2, 3), (4,)), ((3,), (2, 3)), ((2, 3), (2, 2)), ((5,), (2, 1))])
def test_sum_to_shape_refuses_a_shape_broadcasting_could_not_have_made(gshape, shape):
    with pytest.raises(ValueError) as info:
        sum_to_shape(np.ones(gshape), shape)
    assert str(info.value) == (
        f"backward: the gradient for input 0 has shape {gshape}, which does not reduce to the input's shape {shape}"
    )
    with pytest.raises(ValueError, match=r"^mul: the gradient for input 1 has shape"):
        sum_to_shape(np.ones(gshape), shape, op="mul", index=1)


# ----------------------------------------------------------------- as_float_array


@pytest.mark.parametrize(
    "data, dtype",
    [([1, 2], np.float64), (np.array([1, 2], dtype=np.int32), np.float64), (np.array([True]), np.float64),
     (np.float32(1.5), np.float32), (np.array([1.5], dtype=np.float32), np.float32), (3, np.float64)],
)  # fmt: skip
def test_as_float_array_keeps_floats_and_promotes_the_rest_to_float64(data, dtype):
    got = as_float_array(data)
    assert type(got) is np.ndarray and got.dtype == dtype
    np.testing.assert_array_equal(got, np.asarray(data, dtype=dtype))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix, on purpose
def test_as_float_array_keeps_a_float_array_without_copy_and_unwraps_subclasses():
    a = np.array([1.0, 2.0])
    assert as_float_array(a) is a
    m = as_float_array(np.asmatrix([[1.0, 2.0]]))
    assert type(m) is np.ndarray


@pytest.mark.parametrize(
    "data, message",
    [
        (np.array([1 + 2j]), r"^Tensor: complex data \(complex128\) is not supported"),
        (1j, r"^Tensor: complex data"),
        (np.array(["a"]), r"^Tensor: expected numbers, got an array of dtype <U1 from ndarray"),
        ([[1.0], [1.0, 2.0]], r"^Tensor: cannot make a numeric array from list"),
        (np.array([None]), r"^Tensor: expected numbers, got an array of dtype object"),
    ],
)
def test_as_float_array_refuses_what_is_not_real_numbers(data, message):
    with pytest.raises(TypeError, match=message):
        as_float_array(data)


def test_as_float_array_names_the_caller():
    with pytest.raises(TypeError, match=r"^matmul: complex data"):
        as_float_array(np.array([1j]), what="matmul")


# ----------------------------------------------------------------- as_operand


@pytest.mark.parametrize(
    "value", [0.3141592653589793, 7, True, np.int64(5), np.array([1, 2]), np.array([True]), Fraction(1, 4)]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_as_operand_gives_numbers_and_integer_arrays_the_tensors_dtype(value, dtype):
    got = as_operand(value, np.dtype(dtype), what="mul")
    assert type(got) is np.ndarray and got.dtype == dtype
    np.testing.assert_array_equal(got, np.asarray(value, dtype=dtype))


@pytest.mark.parametrize("value", [np.float64(0.5), np.array([0.5]), np.float32(0.5), np.array([0.5], dtype=np.float32)])
def test_as_operand_keeps_the_dtype_of_floating_numpy_values(value):
    got = as_operand(value, np.dtype(np.float32), what="mul")
    assert got.dtype == np.asarray(value).dtype


def test_as_operand_refuses_what_is_not_a_number_naming_the_op():
    with pytest.raises(TypeError, match=r"^add: expected numbers"):
        as_operand("x", np.dtype(np.float64), what="add")


def test_tensor_operators_follow_as_operand_for_fresh_numbers():
    # Numbers nobody else uses, so no cached constant hides a wrong coercion.
    t32 = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32))
    assert (t32 * 0.2718281828).dtype == np.float32
    assert (t32 * 12345).dtype == np.float32
    assert (t32 * np.int64(4321)).dtype == np.float32
    assert (t32 * np.array([3, 4])).dtype == np.float32
    assert (t32 * np.float64(0.5)).dtype == np.result_type(np.float32, np.float64)  # numpy's rule for arrays
    assert (t32 * Fraction(1, 3)).dtype == np.float32


# ----------------------------------------------------------------- small helpers


def test_fmt_prints_shapes_as_numpy_does():
    assert fmt((3, 4)) == "(3, 4)" and fmt((2,)) == "(2,)" and fmt(()) == "()" and fmt([5, 1]) == "(5, 1)"


def test_broadcast_to_gives_a_read_only_view_of_arrays_and_an_op_on_tensors():
    a = np.array([[1.0], [2.0]])
    view = broadcast_to(a, (2, 3))
    assert view.shape == (2, 3) and not view.flags.writeable and np.shares_memory(view, a)
    assert broadcast_to(np.float64(2.0), (2,)).tolist() == [2.0, 2.0]
    t = broadcast_to(tg.Tensor(a, requires_grad=True), (2, 3))
    assert isinstance(t, tg.Tensor) and t.shape == (2, 3) and t.requires_grad


@pytest.mark.parametrize(
    "axis, ndim, want",
    [(None, 3, (0, 1, 2)), (0, 3, (0,)), (-1, 3, (2,)), ((2, 0), 3, (0, 2)), ([-1, 0], 2, (0, 1)), (np.int64(1), 2, (1,))],
)
def test_normalize_axes(axis, ndim, want):
    got = normalize_axes(axis, ndim, op="sum", shape=(2,) * ndim)
    assert got == want and all(type(a) is int for a in got)


@pytest.mark.parametrize(
    "axis, error, message",
    [
        (3, ValueError, r"^sum: axis 3 is out of range for shape \(2, 2, 2\)$"),
        (-4, ValueError, r"^sum: axis -4 is out of range"),
        ((0, -3), ValueError, r"^sum: repeated axis in \(0, -3\)$"),
        (1.0, TypeError, r"^sum: axis must be an int or a tuple of ints, got 1.0 for shape \(2, 2, 2\)$"),
        (True, TypeError, r"^sum: axis must be an int"),
        (np.bool_(True), TypeError, r"^sum: axis must be an int"),
    ],
)
def test_normalize_axes_refuses_bad_axes(axis, error, message):
    with pytest.raises(error, match=message):
        normalize_axes(axis, 3, op="sum", shape=(2, 2, 2))
