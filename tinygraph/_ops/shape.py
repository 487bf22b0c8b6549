"""Reductions and shape ops: sum, mean, reshape, transpose, broadcast_to."""

from __future__ import annotations

import numbers

import numpy as np

from tinygraph._ops._base import Primitive
from tinygraph._shapes import broadcast_to, fmt, normalize_axes


def _kept_shape(axis, shape: tuple, op: str) -> tuple:
    """``shape`` with the reduced axes kept as 1: the shape a keepdims reduction gives."""
    axes = normalize_axes(axis, len(shape), op=op, shape=shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Primitive):
    """Sum over ``axis`` (all axes by default), like ``ndarray.sum(axis, keepdims)``.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.Tensor([[1.0, 2.0], [3.0, 4.0]]).sum(axis=1).numpy().tolist()
    [3.0, 7.0]
    """

    name = "sum"
    formula = "dx = broadcast(g)"
    method, function, numpy = "sum", "sum", (np.sum,)
    __slots__ = ("axis", "keepdims")

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, bool(keepdims)

    def forward(self, x):
        return x.sum(axis=normalize_axes(self.axis, x.ndim, op=self.name, shape=x.shape), keepdims=self.keepdims)

    def backward(self, ctx, g):
        shape = ctx.parents[0].shape
        return broadcast_to(g.reshape(_kept_shape(self.axis, shape, self.name)), shape)

    def emit_forward(self, ctx, x):
        return f"{x}.sum({_axis_text(self.axis, ctx.parents[0].shape, self.keepdims, self.name)})"

    def emit_backward(self, ctx, g):
        shape = tuple(ctx.parents[0].shape)
        return (f"np.broadcast_to({_kept_text(g, ctx.shape, _kept_shape(self.axis, shape, self.name))}, {shape!r})",)


class Mean(Primitive):
    """Mean over ``axis`` (all axes by default), like ``ndarray.mean(axis, keepdims)``.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.Tensor([[1.0, 2.0], [3.0, 4.0]]).mean(axis=0).numpy().tolist()
    [2.0, 3.0]
    """

    name = "mean"
    formula = "dx = broadcast(g) / n"
    method, function, numpy = "mean", "mean", (np.mean,)
    __slots__ = ("axis", "keepdims")

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, bool(keepdims)

    def forward(self, x):
        axes = normalize_axes(self.axis, x.ndim, op=self.name, shape=x.shape)
        count = int(np.prod([x.shape[a] for a in axes]))
        if count == 0:
            raise ValueError(f"mean: the mean over an empty axis of shape {fmt(x.shape)} is undefined")
        return x.sum(axis=axes, keepdims=self.keepdims) / count

    def backward(self, ctx, g):
        shape = ctx.parents[0].shape
        kept = _kept_shape(self.axis, shape, self.name)
        count = int(np.prod(shape)) // int(np.prod(kept))
        return broadcast_to(g.reshape(kept) / count, shape)

    def emit_forward(self, ctx, x):
        shape = ctx.parents[0].shape
        axes = normalize_axes(self.axis, len(shape), op=self.name, shape=shape)
        count = int(np.prod([shape[a] for a in axes]))
        return f"{x}.sum({_axis_text(self.axis, shape, self.keepdims, self.name)}) / {count}"

    def emit_backward(self, ctx, g):
        shape = tuple(ctx.parents[0].shape)
        kept = _kept_shape(self.axis, shape, self.name)
        count = int(np.prod(shape)) // int(np.prod(kept))
        return (f"np.broadcast_to({_kept_text(g, ctx.shape, kept)} / {count}, {shape!r})",)


class Reshape(Primitive):
    """The same elements in another shape: ``t.reshape(2, 3)``, ``t.reshape((2, 3))``; one entry may be -1.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.Tensor([1.0, 2.0, 3.0, 4.0]).reshape(2, -1).shape
    (2, 2)
    """

    name = "reshape"
    formula = "dx = g.reshape(x.shape)"
    method, function, numpy = "reshape", "reshape", (np.reshape,)
    __slots__ = ("new_shape",)

    def __init__(self, *args, shape=None, newshape=None, order="C"):
        # t.reshape(2, 3), t.reshape((2, 3)), tg.reshape(t, shape=...), np.reshape(t, newshape=...) (older numpy)
        shape = args if shape is None and newshape is None else (shape if newshape is None else newshape,)
        if order != "C":
            raise ValueError(f"reshape: only order='C' is supported, got {order!r}")
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        self.new_shape = tuple(shape)

    def forward(self, x):
        try:
            return x.reshape(self.new_shape)
        except (ValueError, TypeError):
            raise ValueError(
                f"reshape: cannot reshape {fmt(x.shape)} ({x.size} elements) into {fmt(self.new_shape)}"
            ) from None

    def backward(self, ctx, g):
        return g.reshape(ctx.parents[0].shape)

    def emit_forward(self, ctx, x):
        return f"{x}.reshape({tuple(ctx.shape)!r})"

    def emit_backward(self, ctx, g):
        return (f"{g}.reshape({tuple(ctx.parents[0].shape)!r})",)


class Transpose(Primitive):
    """Permute the axes (reverse them when none are given), like ``ndarray.transpose``.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.Tensor([[1.0, 2.0, 3.0]]).transpose().shape
    (3, 1)
    """

    name = "transpose"
    formula = "dx = g.transpose(inverse(axes))"
    method, function, numpy = "transpose", "transpose", (np.transpose,)
    __slots__ = ("axes",)

    def __init__(self, *axes_args, axes=None):
        if axes is None and len(axes_args) == 1 and (axes_args[0] is None or isinstance(axes_args[0], (tuple, list))):
            axes = axes_args[0]
        elif axes is None and axes_args:
            axes = axes_args
        self.axes = None if axes is None else tuple(axes)

    def _axes(self, ndim: int, shape: tuple) -> tuple:
        axes = tuple(reversed(range(ndim))) if self.axes is None else self.axes
        if not all(isinstance(a, numbers.Integral) for a in axes):
            raise TypeError(f"transpose: axes must be ints, got {self.axes!r} for shape {fmt(shape)}")
        if sorted(a % ndim if -ndim <= a < ndim else -1 for a in axes) != list(range(ndim)):
            raise ValueError(f"transpose: axes {self.axes} are not a permutation of the axes of {fmt(shape)}")
        return axes

    def forward(self, x):
        return x.transpose(self._axes(x.ndim, x.shape))

    def backward(self, ctx, g):
        ndim = len(ctx.shape)
        if ndim < 2:
            return g
        inverse = np.argsort([a % ndim for a in self._axes(ndim, ctx.parents[0].shape)]).tolist()
        return g.transpose(*inverse)

    def emit_forward(self, ctx, x):
        shape = ctx.parents[0].shape
        axes = tuple(a % len(shape) for a in self._axes(len(shape), shape)) if shape else ()
        return f"{x}.T" if axes == tuple(reversed(range(len(shape)))) else f"{x}.transpose({axes!r})"

    def emit_backward(self, ctx, g):
        ndim = len(ctx.shape)
        if ndim < 2:
            return (g,)
        inverse = tuple(np.argsort([a % ndim for a in self._axes(ndim, ctx.parents[0].shape)]).tolist())
        return (f"{g}.T" if inverse == tuple(reversed(range(ndim))) else f"{g}.transpose({inverse!r})",)


class BroadcastTo(Primitive):
    """Repeat along broadcast axes to ``shape``, like ``np.broadcast_to``; the gradient sums back.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.broadcast_to([[1.0], [2.0]], (2, 3)).shape
    (2, 3)
    """

    name = "broadcast_to"
    formula = "dx = sum_to_shape(g, x.shape)"
    method, function, numpy = "broadcast_to", "broadcast_to", (np.broadcast_to,)
    __slots__ = ("target",)

    def __init__(self, shape, subok=False):
        if subok:
            raise ValueError("broadcast_to: subok=True has no meaning for a Tensor")
        self.target = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)

    def forward(self, x):
        try:
            return np.broadcast_to(x, self.target)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast {fmt(x.shape)} to {fmt(self.target)}") from None

    def backward(self, ctx, g):
        return g  # the engine sums it back to the input's shape

    def emit_forward(self, ctx, x):
        return f"np.broadcast_to({x}, {self.target!r})"

    def emit_backward(self, ctx, g):
        return (g,)


def _axis_text(axis, shape: tuple, keepdims: bool, op: str) -> str:
    """The arguments of ``.sum(...)``/``.mean(...)`` for a reduction, as short as numpy reads them."""
    axes = normalize_axes(axis, len(shape), op=op, shape=shape)
    if len(axes) == len(shape) and len(shape) > 0:
        text = ""  # every axis: numpy's default
    else:
        text = f"axis={axes[0]!r}" if len(axes) == 1 else f"axis={axes!r}"
    if keepdims:
        text = f"{text}, keepdims=True" if text else "keepdims=True"
    return text


def _kept_text(g: str, g_shape: tuple, kept: tuple) -> str:
    """``g`` reshaped to the keepdims shape ``kept``, unless broadcasting already lines it up."""
    stripped = tuple(kept)
    while stripped and stripped[0] == 1 and len(stripped) > len(g_shape):
        stripped = stripped[1:]
    return g if tuple(g_shape) == stripped else f"{g}.reshape({tuple(kept)!r})"
