"""expand_dims, squeeze, swapaxes (tinygraph/_ops/axes.py): which axes they add, remove or
exchange (an int, a tuple or a list of them), gradients back in the input's layout, and the
exact messages of their refusals."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck


def _data(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape)


@pytest.mark.parametrize(
    ("axis", "shape"),
    [
        (None, (2,)),
        (0, (2, 1)),
        (2, (1, 2)),
        (-1, (1, 2)),
        ((0,), (2, 1)),
        ((0, 2), (2,)),
        ([0, 2], (2,)),
        ([2], (1, 2)),
        ((), (1, 2, 1)),
    ],
)
def test_squeeze_removes_only_the_axes_named(axis, shape):
    # Naming some of the size-1 axes leaves the others in place.
    x = _data((1, 2, 1))
    want = np.squeeze(x, axis=tuple(axis) if isinstance(axis, list) else axis)
    assert want.shape == shape
    for out in (tg.squeeze(tg.Tensor(x), axis), tg.Tensor(x).squeeze(axis=axis), np.squeeze(tg.Tensor(x), axis=axis)):
        assert out.shape == shape
        np.testing.assert_array_equal(out.numpy(), want)
    t = tg.Tensor(x, requires_grad=True)
    t.squeeze(axis=axis).backward(np.arange(2.0).reshape(shape))
    np.testing.assert_array_equal(t.grad, np.arange(2.0).reshape(1, 2, 1))
    assert gradcheck(lambda a: a.squeeze(axis=axis), x)


@pytest.mark.parametrize(
    ("axis", "shape"),
    [
        (0, (1, 2, 3)),
        (1, (2, 1, 3)),
        (-1, (2, 3, 1)),
        ((0, -1), (1, 2, 3, 1)),
        ([0, 2], (1, 2, 1, 3)),
        ([3, 1], (2, 1, 3, 1)),
        ((), (2, 3)),
    ],
)
def test_expand_dims_inserts_axes_at_positions_of_the_result(axis, shape):
    x = _data((2, 3), seed=1)
    want = np.expand_dims(x, tuple(axis) if isinstance(axis, list) else axis)
    assert want.shape == shape
    for out in (tg.expand_dims(tg.Tensor(x), axis), np.expand_dims(tg.Tensor(x), axis)):
        assert out.shape == shape
        np.testing.assert_array_equal(out.numpy(), want)
    assert gradcheck(lambda a: tg.expand_dims(a, axis), x)


@pytest.mark.parametrize(("axis1", "axis2"), [(0, 2), (2, 0), (-1, 0), (1, -2), (1, 1), (np.int64(0), 1)])
def test_swapaxes_exchanges_two_axes_and_its_gradient_swaps_them_back(axis1, axis2):
    x = _data((2, 3, 4), seed=2)
    want = np.swapaxes(x, axis1, axis2)
    out = tg.swapaxes(tg.Tensor(x), axis1, axis2)
    np.testing.assert_array_equal(out.numpy(), want)
    t = tg.Tensor(x, requires_grad=True)
    g = np.arange(24.0).reshape(want.shape)
    t.swapaxes(axis1, axis2).backward(g)
    np.testing.assert_array_equal(t.grad, np.swapaxes(g, axis1, axis2))
    assert gradcheck(lambda a: tg.swapaxes(a, axis1, axis2), x)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda t: t.squeeze(axis=1), ValueError, "squeeze: axis 1 of shape (1, 2, 1) has size 2, not 1"),
        (lambda t: t.squeeze(axis=-2), ValueError, "squeeze: axis 1 of shape (1, 2, 1) has size 2, not 1"),
        (lambda t: t.squeeze(axis=3), ValueError, "squeeze: axis 3 is out of range for shape (1, 2, 1)"),
        (
            lambda t: t.squeeze(axis=1.0),
            TypeError,
            "squeeze: axis must be an int or a tuple of ints, got 1.0 for shape (1, 2, 1)",
        ),
        (lambda t: t.squeeze(axis=[0, 0]), ValueError, "squeeze: repeated axis in (0, 0)"),
        (lambda t: t.squeeze(axis=(0, -3)), ValueError, "squeeze: repeated axis in (0, -3)"),
        (
            lambda t: tg.expand_dims(t, 4),
            ValueError,
            "expand_dims: axis 4 is out of range for the 4 axes of the result (shape (1, 2, 1) with 1 new)",
        ),
        (
            lambda t: tg.expand_dims(t, (0, -6)),
            ValueError,
            "expand_dims: axis -6 is out of range for the 5 axes of the result (shape (1, 2, 1) with 2 new)",
        ),
        (lambda t: tg.expand_dims(t, 1.0), TypeError, "expand_dims: axis must be an int or a tuple of ints, got 1.0"),
        (
            lambda t: tg.expand_dims(t, (0, True)),
            TypeError,
            "expand_dims: axis must be an int or a tuple of ints, got (0, True)",
        ),
        (lambda t: tg.expand_dims(t, [0, 0]), ValueError, "expand_dims: repeated axis in (0, 0)"),
        (lambda t: tg.expand_dims(t, [1, -4]), ValueError, "expand_dims: repeated axis in (1, -4)"),
        (lambda t: tg.swapaxes(t, 0, 3), ValueError, "swapaxes: axis 3 is out of range for shape (1, 2, 1)"),
        (lambda t: tg.swapaxes(t, -4, 0), ValueError, "swapaxes: axis -4 is out of range for shape (1, 2, 1)"),
        (lambda t: tg.swapaxes(t, 0.0, 1), TypeError, "swapaxes: axis must be an int, got 0.0 for shape (1, 2, 1)"),
        (lambda t: tg.swapaxes(t, 1, True), TypeError, "swapaxes: axis must be an int, got True for shape (1, 2, 1)"),
    ],
)
def test_axes_ops_refusals_name_the_axis_and_shape(call, error, message):
    with pytest.raises(error) as err:
        call(tg.Tensor(np.ones((1, 2, 1))))
    assert str(err.value) == message
