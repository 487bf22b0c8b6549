"""Joining and splitting: concatenate and stack (ops of any number of inputs) and split
(a list of slices, each its own indexing op)."""

from __future__ import annotations

import numbers

import numpy as np

from tinygraph._graph import hooks
from tinygraph._ops._base import Primitive
from tinygraph._ops._parts import index_literal
from tinygraph._ops.indexing import GetItem
from tinygraph._shapes import fmt, normalize_axes


def _axis_parameter(axis, op: str, *, allow_none: bool):
    if axis is None and allow_none:
        return None
    if not isinstance(axis, numbers.Integral) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{op}: axis must be an int{' or None' if allow_none else ''}, got {axis!r}")
    return int(axis)


def _no_numpy_extras(op: str, out, dtype) -> None:
    if out is not None or dtype is not None:
        raise TypeError(f"{op}: out= and dtype= are not supported on Tensors (cast the result with .astype)")


def _along(axis: int, part) -> tuple:
    """The index that applies ``part`` (a slice or a position) to ``axis`` and takes every other axis whole."""
    return (slice(None),) * axis + (part,)


class Concatenate(Primitive):
    """Join Tensors along an existing axis, like ``np.concatenate(tensors, axis=0)``.

    All inputs have the same number of axes and the same sizes except along ``axis``;
    ``axis=None`` joins them flattened. Each input's gradient is its slice of g.

    Examples
    --------
    >>> import tinygraph as tg
    >>> a = tg.Tensor([[1.0, 2.0]], requires_grad=True)
    >>> b = tg.Tensor([[3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    >>> c = tg.concatenate([a, b], axis=0)
    >>> c.shape
    (3, 2)
    >>> (c * [[1.0], [2.0], [3.0]]).sum().backward()
    >>> a.grad.tolist(), b.grad.tolist()
    ([[1.0, 1.0]], [[2.0, 2.0], [3.0, 3.0]])
    """

    name = "concatenate"
    formula = "dx_i = g[offset_i : offset_i + n_i] along axis"
    function, numpy = "concatenate", (np.concatenate,)
    __slots__ = ("axis",)

    def __init__(self, axis=0, out=None, dtype=None, casting="same_kind"):
        _no_numpy_extras(self.name, out, dtype)
        self.axis = _axis_parameter(axis, self.name, allow_none=True)

    def _axis(self, shapes: list) -> int:
        """The joining axis, checked against every input's shape."""
        if not shapes:
            raise ValueError("concatenate: needs at least one array to join")
        first = shapes[0]
        for i, shape in enumerate(shapes):
            if len(shape) == 0:
                raise ValueError(f"concatenate: input {i} is 0-d (shape ()); only arrays with axes can be joined")
            if len(shape) != len(first):
                raise ValueError(
                    f"concatenate: input 0 has shape {fmt(first)} but input {i} has shape {fmt(shape)}; "
                    "all inputs need the same number of axes"
                )
        (axis,) = normalize_axes(self.axis, len(first), op=self.name, shape=first)
        for i, shape in enumerate(shapes):
            if shape[:axis] + shape[axis + 1 :] != first[:axis] + first[axis + 1 :]:
                raise ValueError(
                    f"concatenate: input 0 has shape {fmt(first)} but input {i} has shape {fmt(shape)}; "
                    f"they may differ only along axis {axis}, the joined axis"
                )
        return axis

    def forward(self, *xs):
        if self.axis is None:
            if not xs:
                raise ValueError("concatenate: needs at least one array to join")
            return np.concatenate([x.reshape(-1) for x in xs])
        return np.concatenate(xs, axis=self._axis([x.shape for x in xs]))

    def _pieces(self, ctx) -> list:
        """Per input, the index of its part of the output (None for inputs that need no gradient)."""
        shapes = [p.shape for p in ctx.parents]
        axis = 0 if self.axis is None else self._axis(shapes)
        pieces, start = [], 0
        for need, shape in zip(ctx.needs, shapes):
            stop = start + (int(np.prod(shape, dtype=np.int64)) if self.axis is None else shape[axis])
            pieces.append(_along(axis, slice(start, stop)) if need else None)
            start = stop
        return pieces

    def backward(self, ctx, g):
        grads = []
        for piece, parent in zip(self._pieces(ctx), ctx.parents):
            if piece is None:
                grads.append(None)
            else:
                grads.append(g[piece] if self.axis is not None else g[piece].reshape(parent.shape))
        return tuple(grads)

    def emit_forward(self, ctx, *xs):
        if self.axis is None:
            return f"np.concatenate([{', '.join(f'{x}.reshape(-1)' for x in xs)}])"
        return f"np.concatenate([{', '.join(xs)}], axis={self._axis([p.shape for p in ctx.parents])})"

    def emit_backward(self, ctx, g):
        grads = []
        for piece, parent in zip(self._pieces(ctx), ctx.parents):
            if piece is None:
                grads.append(None)
            elif self.axis is None:
                grads.append(f"{g}[{index_literal(piece)}].reshape({parent.shape!r})")
            else:
                grads.append(f"{g}[{index_literal(piece)}]")
        return tuple(grads)


class Stack(Primitive):
    """Join Tensors of one shape along a new axis, like ``np.stack(tensors, axis=0)``.

    Each input's gradient is its slice of g at its position along the new axis.

    Examples
    --------
    >>> import tinygraph as tg
    >>> a = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> s = tg.stack([a, a * 10], axis=1)
    >>> s.numpy().tolist()
    [[1.0, 10.0], [2.0, 20.0]]
    >>> s.sum().backward()
    >>> a.grad.tolist()
    [11.0, 11.0]
    """

    name = "stack"
    formula = "dx_i = g[i] along axis"
    function, numpy = "stack", (np.stack,)
    __slots__ = ("axis",)

    def __init__(self, axis=0, out=None, dtype=None, casting="same_kind"):
        _no_numpy_extras(self.name, out, dtype)
        self.axis = _axis_parameter(axis, self.name, allow_none=False)

    def _axis(self, shapes: list) -> int:
        if not shapes:
            raise ValueError("stack: needs at least one array to stack")
        first = shapes[0]
        for i, shape in enumerate(shapes):
            if shape != first:
                raise ValueError(
                    f"stack: input 0 has shape {fmt(first)} but input {i} has shape {fmt(shape)}; "
                    "stacked arrays need one shape"
                )
        ndim = len(first) + 1
        if not -ndim <= self.axis < ndim:
            raise ValueError(
                f"stack: axis {self.axis} is out of range for stacking shape {fmt(first)} (a result of {ndim} axes)"
            )
        return self.axis % ndim

    def forward(self, *xs):
        return np.stack(xs, axis=self._axis([x.shape for x in xs]))

    def backward(self, ctx, g):
        axis = self._axis([p.shape for p in ctx.parents])
        return tuple(g[_along(axis, i)] if need else None for i, need in enumerate(ctx.needs))

    def emit_forward(self, ctx, *xs):
        return f"np.stack([{', '.join(xs)}], axis={self._axis([p.shape for p in ctx.parents])})"

    def emit_backward(self, ctx, g):
        axis = self._axis([p.shape for p in ctx.parents])
        return tuple(f"{g}[{index_literal(_along(axis, i))}]" if need else None for i, need in enumerate(ctx.needs))


def split(x, indices_or_sections, axis=0) -> list:
    """Split into consecutive pieces along ``axis``, like ``np.split``: a list of Tensors.

    ``indices_or_sections`` is a number of equal sections (which must divide the axis)
    or the positions where pieces start. Each piece is an indexing op on ``x`` (a slice),
    so gradients flow back from whichever pieces are used.

    Examples
    --------
    >>> import tinygraph as tg
    >>> x = tg.Tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True)
    >>> [p.tolist() for p in tg.split(x, [2, 3])]
    [[1.0, 2.0], [3.0], [4.0, 5.0]]
    >>> head, tail = tg.split(x, [1])
    >>> (tail * 2).sum().backward()
    >>> x.grad.tolist()
    [0.0, 2.0, 2.0, 2.0, 2.0]
    """
    shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)
    if not shape:
        raise ValueError("split: cannot split a 0-d array (shape ())")
    (axis,) = normalize_axes(_axis_parameter(axis, "split", allow_none=False), len(shape), op="split", shape=shape)
    n = shape[axis]
    if isinstance(indices_or_sections, np.ndarray) and indices_or_sections.ndim == 0:
        indices_or_sections = indices_or_sections.item()  # a 0-d array is a number of sections, as in np.split
    if isinstance(indices_or_sections, numbers.Integral) and not isinstance(indices_or_sections, bool):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"split: the number of sections must be positive, got {sections}")
        if n % sections:
            raise ValueError(
                f"split: {n} element(s) along axis {axis} of shape {fmt(shape)} do not divide into {sections} "
                "equal sections; give the split positions instead"
            )
        bounds = list(range(0, n + 1, n // sections)) if n else [0] * (sections + 1)
    else:
        positions = list(np.asarray(indices_or_sections).reshape(-1).tolist())
        if not all(isinstance(p, int) and not isinstance(p, bool) for p in positions):
            raise TypeError(f"split: positions must be integers, got {indices_or_sections!r}")
        bounds = [0, *positions, n]
    # np.split's pieces, x[b_i : b_(i+1)] along the axis, with Python's slice rules for negative positions.
    return [hooks.apply(GetItem(_along(axis, slice(start, stop))), x) for start, stop in zip(bounds[:-1], bounds[1:])]
