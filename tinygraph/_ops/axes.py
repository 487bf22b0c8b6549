"""Ops that add, remove or exchange axes: expand_dims, squeeze, swapaxes. Their
gradients put g back into the input's layout."""

from __future__ import annotations

import numbers

import numpy as np

from tinygraph._ops._base import Primitive
from tinygraph._ops._parts import literal
from tinygraph._shapes import fmt, normalize_axes


def _int_axis(axis, op: str, shape: tuple, ndim: int) -> int:
    if not isinstance(axis, numbers.Integral) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r} for shape {fmt(shape)}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for shape {fmt(shape)}")
    return int(axis) % ndim


class ExpandDims(Primitive):
    """Insert axes of size 1 at ``axis`` (an int or a tuple), like ``np.expand_dims``.

    Positions refer to the result: ``axis=-1`` appends an axis.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.expand_dims(tg.Tensor([1.0, 2.0]), 1).shape
    (2, 1)
    >>> tg.expand_dims(tg.Tensor([1.0, 2.0]), (0, -1)).shape
    (1, 2, 1)
    """

    name = "expand_dims"
    formula = "dx = g.reshape(x.shape)"
    function, numpy = "expand_dims", (np.expand_dims,)
    __slots__ = ("axis",)

    def __init__(self, axis):
        self.axis = tuple(axis) if isinstance(axis, (tuple, list)) else axis

    def forward(self, x):
        axes = self.axis if isinstance(self.axis, tuple) else (self.axis,)
        ndim = x.ndim + len(axes)  # positions count in the result, which has one more axis per inserted one
        placed = []
        for a in axes:
            if not isinstance(a, numbers.Integral) or isinstance(a, (bool, np.bool_)):
                raise TypeError(f"expand_dims: axis must be an int or a tuple of ints, got {self.axis!r}")
            if not -ndim <= a < ndim:
                raise ValueError(
                    f"expand_dims: axis {a} is out of range for the {ndim} axes of the result "
                    f"(shape {fmt(x.shape)} with {len(axes)} new)"
                )
            placed.append(int(a) % ndim)
        if len(set(placed)) != len(placed):
            raise ValueError(f"expand_dims: repeated axis in {self.axis!r}")
        return np.expand_dims(x, tuple(placed))

    def backward(self, ctx, g):
        return g.reshape(ctx.parents[0].shape)

    def emit_forward(self, ctx, x):
        return f"np.expand_dims({x}, {literal(self.axis)})"

    def emit_backward(self, ctx, g):
        return (f"{g}.reshape({ctx.parents[0].shape!r})",)


class Squeeze(Primitive):
    """Remove axes of size 1: those at ``axis`` (an int or a tuple), or all of them, like ``np.squeeze``.

    Examples
    --------
    >>> import tinygraph as tg
    >>> t = tg.Tensor([[[1.0], [2.0]]])
    >>> t.shape, tg.squeeze(t).shape, t.squeeze(axis=2).shape
    ((1, 2, 1), (2,), (1, 2))
    """

    name = "squeeze"
    formula = "dx = g.reshape(x.shape)"
    method, function, numpy = "squeeze", "squeeze", (np.squeeze,)
    __slots__ = ("axis",)

    def __init__(self, axis=None):
        self.axis = tuple(axis) if isinstance(axis, list) else axis

    def forward(self, x):
        if self.axis is None:
            return np.squeeze(x)
        axes = normalize_axes(self.axis, x.ndim, op=self.name, shape=x.shape)
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {fmt(x.shape)} has size {x.shape[a]}, not 1")
        return np.squeeze(x, axis=axes)

    def backward(self, ctx, g):
        return g.reshape(ctx.parents[0].shape)

    def emit_forward(self, ctx, x):
        return f"{x}.reshape({ctx.shape!r})"

    def emit_backward(self, ctx, g):
        return (f"{g}.reshape({ctx.parents[0].shape!r})",)


class SwapAxes(Primitive):
    """Exchange two axes, like ``np.swapaxes(t, axis1, axis2)``; the gradient swaps them back.

    Examples
    --------
    >>> import tinygraph as tg
    >>> t = tg.Tensor([[[1.0, 2.0, 3.0]]])
    >>> tg.swapaxes(t, 0, 2).shape, t.swapaxes(-1, -2).shape
    ((3, 1, 1), (1, 3, 1))
    """

    name = "swapaxes"
    formula = "dx = g.swapaxes(axis1, axis2)"
    method, function, numpy = "swapaxes", "swapaxes", (np.swapaxes,)
    __slots__ = ("axis1", "axis2")

    def __init__(self, axis1, axis2):
        self.axis1, self.axis2 = axis1, axis2

    def _axes(self, shape: tuple) -> tuple:
        ndim = len(shape)
        return _int_axis(self.axis1, self.name, shape, ndim), _int_axis(self.axis2, self.name, shape, ndim)

    def forward(self, x):
        return np.swapaxes(x, *self._axes(x.shape))

    def backward(self, ctx, g):
        return g.swapaxes(*self._axes(ctx.parents[0].shape))

    def emit_forward(self, ctx, x):
        a, b = self._axes(ctx.parents[0].shape)
        return f"np.swapaxes({x}, {a}, {b})"

    def emit_backward(self, ctx, g):
        a, b = self._axes(ctx.parents[0].shape)
        return (f"np.swapaxes({g}, {a}, {b})",)
