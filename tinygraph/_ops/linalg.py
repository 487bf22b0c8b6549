"""Matrix products."""

from __future__ import annotations

import numpy as np

from tinygraph._ops._base import Primitive, swap_last
from tinygraph._shapes import fmt


class MatMul(Primitive):
    """x @ y: matrix product with numpy's rules (1-D operands, stacks of matrices).

    The document's ``np.dot(W, X)`` for 2-D operands.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.matmul([[1.0, 2.0]], [[3.0], [4.0]]).item()
    11.0
    """

    name = "matmul"
    formula = ("dx = g @ y.T", "dy = x.T @ g")
    saves = ("x", "y")
    # np.dot answers to matmul or mul depending on its operands: see tensor.py.
    operator, reflected, function, numpy = "__matmul__", "__rmatmul__", "matmul", (np.matmul,)
    __slots__ = ()

    def forward(self, x, y):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(
                f"matmul: cannot multiply {fmt(x.shape)} by {fmt(y.shape)}: matmul needs at least 1-D operands "
                "(use * for a scalar)"
            )
        inner_x, inner_y = x.shape[-1], y.shape[0] if y.ndim == 1 else y.shape[-2]
        if inner_x != inner_y:
            raise ValueError(
                f"matmul: cannot multiply {fmt(x.shape)} by {fmt(y.shape)}: inner dimensions {inner_x} != {inner_y}"
            )
        try:
            return np.matmul(x, y)
        except ValueError:
            raise ValueError(
                f"matmul: cannot multiply {fmt(x.shape)} by {fmt(y.shape)}: the stack (batch) dimensions "
                f"{fmt(x.shape[:-2])} and {fmt(y.shape[:-2])} do not broadcast"
            ) from None

    def backward(self, ctx, g, x, y):
        needs = ctx.needs
        if x.ndim == 2 and y.ndim == 2:  # the common case, kept plain
            dx = g @ y.T if needs[0] else None
            dy = x.T @ g if needs[1] else None
            return dx, dy
        # Treat vectors as matrices (x as a row, y as a column), then drop those axes again.
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        g2 = g
        if x.ndim == 1:
            g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:]) if y.ndim > 1 else g2.reshape(1, -1)
        if y.ndim == 1:
            g2 = g2.reshape(g2.shape + (1,))
        dx = dy = None
        if needs[0]:
            dx = g2 @ swap_last(y2)
            if x.ndim == 1:
                dx = dx.reshape(dx.shape[:-2] + dx.shape[-1:])
        if needs[1]:
            dy = swap_last(x2) @ g2
            if y.ndim == 1:
                dy = dy.reshape(dy.shape[:-1])
        return dx, dy

    def emit_forward(self, ctx, x, y):
        return f"{x} @ {y}"

    def emit_backward(self, ctx, g, x, y):
        needs = ctx.needs
        xs, ys = tuple(ctx.parents[0].shape), tuple(ctx.parents[1].shape)
        if len(xs) == 2 and len(ys) == 2:
            return (f"{g} @ {y}.T" if needs[0] else None), (f"{x}.T @ {g}" if needs[1] else None)
        # backward's steps with the shapes written out: vectors as a row (x) and a column (y).
        x2, x2s = (x, xs) if len(xs) > 1 else (f"{x}.reshape(1, -1)", (1,) + xs)
        y2, y2s = (y, ys) if len(ys) > 1 else (f"{y}.reshape(-1, 1)", ys + (1,))
        g2s = tuple(ctx.shape)
        if len(xs) == 1:
            g2s = g2s[:-1] + (1,) + g2s[-1:] if len(ys) > 1 else (1, int(np.prod(g2s)))
        if len(ys) == 1:
            g2s = g2s + (1,)
        g2 = g if g2s == tuple(ctx.shape) else f"{g}.reshape({g2s!r})"
        dx = dy = None
        if needs[0]:
            dx = f"{g2} @ {_swap_last_text(y2, len(y2s))}"
            if len(xs) == 1:  # drop the row axis again
                dx = f"({dx}).reshape({np.broadcast_shapes(g2s[:-2], y2s[:-2]) + y2s[-2:-1]!r})"
        if needs[1]:
            dy = f"{_swap_last_text(x2, len(x2s))} @ {g2}"
            if len(ys) == 1:  # drop the column axis again
                dy = f"({dy}).reshape({np.broadcast_shapes(x2s[:-2], g2s[:-2]) + x2s[-1:]!r})"
        return dx, dy


def _swap_last_text(a: str, ndim: int) -> str:
    """The text of swap_last(a) for an array of ``ndim`` axes."""
    return f"{a}.T" if ndim == 2 else f"np.swapaxes({a}, -1, -2)"
