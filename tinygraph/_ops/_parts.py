"""Pieces shared by the indexing, selection, join and contraction ops: the array behind a
value (array or Tensor), and op parameters written as Python source for the code emitters."""

from __future__ import annotations

import math
import numbers

import numpy as np


def value_of(v):
    """The array behind ``v``: ``v`` itself on the fast path, ``v.data`` for a Tensor (create_graph).

    Masks and tie shares are computed from values and enter the graph as constants: their
    derivative is zero wherever it exists.
    """
    return v if isinstance(v, (np.ndarray, np.generic)) else v.data


def _number(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return repr(bool(v))
    if isinstance(v, numbers.Integral):
        return repr(int(v))
    v = float(v)
    if math.isnan(v):
        return "np.nan"
    if math.isinf(v):
        return "np.inf" if v > 0 else "-np.inf"
    return repr(v)


def _nested(values) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return _number(values)


def literal(value) -> str:
    """``value`` (a number, None, a tuple of them, or an array) as numpy source text.

    >>> literal((2, None, -np.inf, np.array([[True], [False]])))
    '(2, None, -np.inf, np.array([[True], [False]], dtype=np.bool_))'
    """
    if value is None:
        return "None"
    if isinstance(value, tuple):
        inner = ", ".join(literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, np.ndarray):
        dtype = "np.bool_" if value.dtype.kind == "b" else f"np.{value.dtype.name}"
        return f"np.array({_nested(value.tolist())}, dtype={dtype})"
    return _number(value)


def _slice_text(s: slice) -> str:
    def part(v):
        return "" if v is None else _number(v)

    text = f"{part(s.start)}:{part(s.stop)}"
    return text if s.step is None else f"{text}:{part(s.step)}"


def index_literal(index: tuple) -> str:
    """An index tuple as the text between the brackets of a subscript.

    >>> index_literal((slice(1, 3), None, Ellipsis, np.array([0, 2]), slice(None, None, -1)))
    '1:3, None, ..., np.array([0, 2], dtype=np.int64), ::-1'
    """
    if not index:
        return "()"
    parts = []
    for part in index:
        if part is Ellipsis:
            parts.append("...")
        elif isinstance(part, slice):
            parts.append(_slice_text(part))
        else:
            parts.append(literal(part))
    return ", ".join(parts)  # x[0] is x[(0,)] and x[a] is x[(a,)] for an array a: no trailing comma needed
