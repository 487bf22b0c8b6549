"""Indexing: ``t[index]`` and its adjoint, the scatter-add that routes gradients back.

The backward of ``t[index]`` is a scatter with accumulation: a position selected twice (an
integer array with repeats) receives both gradients. The scatter is an op of its own, so
the backward of indexing can itself be differentiated (``create_graph=True``), and its
backward is indexing again.
"""

from __future__ import annotations

import numbers

import numpy as np

from tinygraph._graph import hooks
from tinygraph._ops._base import Primitive, is_array
from tinygraph._ops._parts import index_literal
from tinygraph._shapes import fmt


class IndexingError(IndexError, ValueError):
    """An index that does not fit the shape it indexes.

    An IndexError, as Python and numpy raise for a bad index, and a ValueError, as
    tinygraph raises for bad values (numpy's AxisError is both, for the same reason).
    """


def normalize_index(index, op: str) -> tuple:
    """``index`` as a tuple of ints, slices, None, Ellipsis and read-only integer or boolean arrays.

    Lists become arrays (copied, so that changing the caller's array after the forward
    cannot change the gradient). Float values, and Tensors, which always hold floats,
    are refused: a float index would be ambiguous between positions and a mask.
    """
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for part in parts:
        if part is None or part is Ellipsis:
            out.append(part)
        elif isinstance(part, slice):
            bounds = (part.start, part.stop, part.step)
            if any(v is not None and (not isinstance(v, numbers.Integral) or isinstance(v, bool)) for v in bounds):
                raise TypeError(f"{op}: slice bounds must be integers or None, got {part!r}")
            out.append(slice(*(None if v is None else int(v) for v in bounds)))
        elif isinstance(part, numbers.Integral) and not isinstance(part, (bool, np.bool_)):
            out.append(int(part))
        elif isinstance(part, hooks.tensor_type):
            raise TypeError(
                f"{op}: cannot index with a Tensor (shape {fmt(part.shape)}, {part.dtype}): Tensors hold floats, "
                "and float index values are ambiguous (positions or a mask?); index with a numpy integer array "
                "or boolean mask, e.g. t[idx.data.astype(int)] or t[t.data > 0]; indices carry no gradient"
            )
        else:
            array = np.array(part)
            if array.size == 0 and array.dtype.kind == "f":  # t[[]]: numpy reads an empty list as positions
                array = array.astype(np.intp)
            if array.dtype.kind not in "biu":
                shown = array.tolist() if array.size <= 6 else f"an array of shape {fmt(array.shape)}"
                raise TypeError(f"{op}: index values must be integers or booleans, got {array.dtype} {shown}")
            array.flags.writeable = False
            out.append(array)
    return tuple(out)


def describe(index: tuple) -> str:
    """An index as a short text for messages: ``[0, 1:3, None, <int64 array (500,)>]``."""
    parts = []
    for part in index:
        if isinstance(part, np.ndarray) and part.size > 6:
            parts.append(f"<{part.dtype} array {fmt(part.shape)}>")
        elif isinstance(part, np.ndarray):
            parts.append(repr(part.tolist()))
        else:
            parts.append(index_literal((part,)))
    return "[" + ", ".join(parts) + "]"


def _gather(x: np.ndarray, index: tuple, op: str) -> np.ndarray:
    try:
        out = x[index]
    except IndexError as err:
        raise IndexingError(f"{op}: {err} (indexing shape {fmt(x.shape)} with {describe(index)})") from None
    except ValueError as err:  # a zero slice step
        raise ValueError(f"{op}: {err} (indexing shape {fmt(x.shape)} with {describe(index)})") from None
    # A full integer index gives a numpy scalar; basic indexing gives a view, as numpy does.
    return out if type(out) is np.ndarray else np.asarray(out)


def _has_positions(index: tuple) -> bool:
    """Whether ``index`` holds integer arrays, the only parts that can select a position twice."""
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in index)


def _rows(index: tuple, ndim: int):
    """The integer array of an index that picks whole rows (``[i]``, ``[i, :, :]``, ``[i, ...]``), else None."""
    if ndim == 0 or not index:
        return None
    first, rest = index[0], index[1:]
    if not (isinstance(first, np.ndarray) and first.dtype.kind in "iu"):
        return None
    if all(p is Ellipsis or (isinstance(p, slice) and p == slice(None)) for p in rest):
        return first
    return None


def scatter_add(index: tuple, shape: tuple, values: np.ndarray, dtype) -> np.ndarray:
    """Zeros of ``shape`` with ``values`` (shaped like ``zeros[index]``) added at ``index``.

    Linear in the number of indexed elements whatever the repeats: an assignment where no
    position can repeat, and ``np.add.at`` otherwise, on flat positions for the common
    ``[i]`` on the first axis (numpy's fast path for one axis, a few times faster than
    ``np.add.at`` over whole rows). Never a Python loop.
    """
    out = np.zeros(shape, dtype=dtype)
    if not _has_positions(index):
        out[index] = values  # ints, slices and masks select each position at most once
        return out
    rows = _rows(index, len(shape))
    if rows is None:
        np.add.at(out, index, values)
    elif rows.size:
        row = int(np.prod(shape[1:], dtype=np.int64))
        if row == 1:
            # The flat positions are the indices themselves: np.add.at takes negative ones as
            # indexing does, so no array of positions is made (one of 10^5 indices is 800 kB).
            flat = rows.reshape(-1)
        else:
            first = rows.reshape(-1) % shape[0]
            flat = (first[:, None] * row + np.arange(row)).reshape(-1)
        np.add.at(out.reshape(-1), flat, np.broadcast_to(values, rows.shape + tuple(shape[1:])).reshape(-1))
    return out


def _scatter_text(values: str, index: tuple, shape: tuple, dtype) -> str:
    """``scatter_add`` as one numpy expression, for the code emitters."""
    size = int(np.prod(shape, dtype=np.int64))
    positions = f"np.arange({size}).reshape({shape!r})[{index_literal(index)}]"
    text = (
        f"np.bincount({positions}.ravel(), weights=np.broadcast_to({values}, {positions}.shape).ravel(), "
        f"minlength={size}).reshape({shape!r})"
    )
    return f"{text}.astype(np.{np.dtype(dtype).name})"  # bincount counts in float64, or int64 when empty


class GetItem(Primitive):
    """``t[index]``: ints, slices, None, Ellipsis, integer arrays and boolean masks, as numpy indexes.

    The gradient scatters back with accumulation: an element selected several times (an
    integer array with repeats) receives the sum of its gradients. Indices carry no
    gradient. Tensors cannot serve as index values (they hold floats); a boolean mask
    comes from a comparison, ``t[t > 0]``. An index that does not fit the shape raises
    an error that is both an IndexError and a ValueError, naming the shape and the index.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> t = tg.Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    >>> t[0, 1:].numpy().tolist()
    [2.0, 3.0]
    >>> t[[0, 0, 1], [2, 2, 0]].sum().backward()
    >>> t.grad.tolist()
    [[0.0, 0.0, 2.0], [1.0, 0.0, 0.0]]
    """

    name = "getitem"
    formula = "dx = scatter_add(g, index, x.shape)"
    operator = "__getitem__"
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = normalize_index(index, self.name)

    def forward(self, x):
        return _gather(x, self.index, self.name)

    def backward(self, ctx, g):
        x = ctx.parents[0]
        if is_array(g):
            return scatter_add(self.index, x.shape, g, x.dtype)
        return ScatterAdd.apply(g, index=self.index, shape=x.shape)

    def emit_forward(self, ctx, x):
        return f"{x}[{index_literal(self.index)}]"

    def emit_backward(self, ctx, g):
        x = ctx.parents[0]
        return (_scatter_text(g, self.index, x.shape, x.dtype),)


class ScatterAdd(Primitive):
    """Zeros of ``shape`` with ``values`` added at ``index``; repeated positions add up.

    The adjoint of indexing (``np.add.at`` on fresh zeros): ``values`` has the shape
    ``zeros(shape)[index]`` has, or broadcasts to it. Its gradient is ``g[index]``.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.scatter_add([1.0, 2.0, 3.0], [0, 2, 0], (3,)).numpy().tolist()
    [4.0, 0.0, 2.0]
    """

    name = "scatter_add"
    formula = "dvalues = g[index]"
    function = "scatter_add"
    __slots__ = ("index", "shape")

    def __init__(self, index, shape):
        self.index = normalize_index(index, self.name)
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if not all(isinstance(n, numbers.Integral) and not isinstance(n, bool) and n >= 0 for n in shape):
            raise ValueError(f"scatter_add: shape must be non-negative integers, got {shape!r}")
        self.shape = tuple(int(n) for n in shape)

    def forward(self, values):
        # Index a zero-strided stand-in: numpy checks the index against the shape, nothing is allocated.
        selected = _gather(np.broadcast_to(np.zeros((), values.dtype), self.shape), self.index, self.name).shape
        try:
            values = np.broadcast_to(values, selected)
        except ValueError:
            raise ValueError(
                f"scatter_add: values of shape {fmt(values.shape)} do not fit {describe(self.index)} on shape "
                f"{fmt(self.shape)}, which selects {fmt(selected)}"
            ) from None
        return scatter_add(self.index, self.shape, values, values.dtype)

    def backward(self, ctx, g):
        return g[self.index]

    def emit_forward(self, ctx, values):
        return _scatter_text(values, self.index, self.shape, ctx.dtype)

    def emit_backward(self, ctx, g):
        return (f"{g}[{index_literal(self.index)}]",)
