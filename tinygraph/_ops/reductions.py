"""Reductions beyond sum and mean: max and min (with a stated tie rule), variance and
standard deviation."""

from __future__ import annotations

import numbers

import numpy as np

from tinygraph._ops._base import Primitive
from tinygraph._ops._parts import literal, value_of
from tinygraph._shapes import fmt, normalize_axes


def _kept(axes: tuple, shape: tuple) -> tuple:
    """``shape`` with the reduced axes kept as 1: the shape a keepdims reduction gives."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class _Extreme:
    """What max and min share: the forward reduction and the tie-sharing backward.

    Not a Primitive itself (subclassing Primitive registers an op), only a mixin.
    """

    __slots__ = ()
    reduce = None  # np.max or np.min

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, bool(keepdims)

    def _axes(self, shape: tuple) -> tuple:
        return normalize_axes(self.axis, len(shape), op=self.name, shape=shape)

    def forward(self, x):
        axes = self._axes(x.shape)
        if any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"{self.name}: the {self.name} over an empty axis of shape {fmt(x.shape)} is undefined")
        return np.asarray(type(self).reduce(x, axis=axes, keepdims=self.keepdims))

    def backward(self, ctx, g, x, out):
        shape = ctx.parents[0].shape
        axes = self._axes(shape)
        kept = _kept(axes, shape)
        xv = value_of(x)
        hit = xv == value_of(out).reshape(kept)
        # Tied extremes share the gradient equally: each of k ties gets g / k.
        share = (hit / hit.sum(axis=axes, keepdims=True)).astype(xv.dtype)
        return g.reshape(kept) * share

    def emit_forward(self, ctx, x):
        axes = self._axes(ctx.parents[0].shape)
        return f"np.{self.name}({x}, axis={literal(axes)}, keepdims={self.keepdims})"

    def emit_backward(self, ctx, g, x, out):
        shape = ctx.parents[0].shape
        axes = self._axes(shape)
        kept = _kept(axes, shape)
        hit = f"({x} == {out}.reshape({kept!r}))"
        share = f"({hit} / {hit}.sum(axis={literal(axes)}, keepdims=True)).astype(np.{np.dtype(ctx.dtype).name})"
        return (f"{g}.reshape({kept!r}) * {share}",)


class Max(_Extreme, Primitive):
    """The largest value over ``axis`` (all axes by default), like ``ndarray.max(axis, keepdims)``.

    Ties share the gradient equally: when k elements tie for the maximum, each receives
    g / k (the mean of the one-sided derivatives for two ties, as central differences see).

    Examples
    --------
    >>> import tinygraph as tg
    >>> t = tg.Tensor([[1.0, 5.0, 5.0], [2.0, 0.0, -1.0]], requires_grad=True)
    >>> tg.max(t, axis=1).numpy().tolist()
    [5.0, 2.0]
    >>> t.max(axis=1).sum().backward()
    >>> t.grad.tolist()
    [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]
    """

    name = "max"
    formula = "dx = g * (x == out) / count(x == out)"
    saves = ("x", "out")
    method, function, numpy = "max", "max", (np.max, np.amax)
    reduce = np.max
    __slots__ = ("axis", "keepdims")


class Min(_Extreme, Primitive):
    """The smallest value over ``axis`` (all axes by default), like ``ndarray.min(axis, keepdims)``.

    Ties share the gradient equally: when k elements tie for the minimum, each receives g / k.

    Examples
    --------
    >>> import tinygraph as tg
    >>> t = tg.Tensor([3.0, 1.0, 1.0, 4.0], requires_grad=True)
    >>> t.min().backward()
    >>> t.grad.tolist()
    [0.0, 0.5, 0.5, 0.0]
    """

    name = "min"
    formula = "dx = g * (x == out) / count(x == out)"
    saves = ("x", "out")
    method, function, numpy = "min", "min", (np.min, np.amin)
    reduce = np.min
    __slots__ = ("axis", "keepdims")


class _Spread:
    """What var and std share: parameters, the count of values per result, and its check."""

    __slots__ = ()

    def __init__(self, axis=None, keepdims=False, ddof=0, *, correction=None):
        if correction is not None:  # numpy 2's name for ddof
            ddof = correction
        if not isinstance(ddof, numbers.Real) or isinstance(ddof, bool):
            raise TypeError(f"{self.name}: ddof must be a number, got {ddof!r}")
        self.axis, self.keepdims, self.ddof = axis, bool(keepdims), ddof

    def _layout(self, shape: tuple):
        """The reduced axes, the keepdims shape and the divisor n - ddof, checked."""
        axes = normalize_axes(self.axis, len(shape), op=self.name, shape=shape)
        n = int(np.prod([shape[a] for a in axes], dtype=np.int64))
        if n - self.ddof <= 0:
            raise ValueError(
                f"{self.name}: {n} value(s) per result (axis={self.axis!r}, shape {fmt(shape)}) leave no "
                f"degrees of freedom with ddof={self.ddof}"
            )
        return axes, _kept(axes, shape), n - self.ddof

    def _deviation(self, ctx, g, x):
        """g * (x - mean) * 2 / (n - ddof): the gradient of the variance, written once for arrays and Tensors."""
        axes, kept, dof = self._layout(ctx.parents[0].shape)
        return g.reshape(kept) * (x - x.mean(axis=axes, keepdims=True)) * (2.0 / dof), kept

    def _forward_args(self, shape: tuple) -> str:
        axes, _, _ = self._layout(shape)
        return f"axis={literal(axes)}, ddof={self.ddof!r}, keepdims={self.keepdims}"


class Var(_Spread, Primitive):
    """Variance over ``axis`` (all axes by default): mean of squared deviations, divided by n - ddof.

    Like ``ndarray.var(axis, keepdims=..., ddof=...)``; ``ddof=1`` gives the unbiased
    estimate. A ddof that leaves no degrees of freedom is refused.

    Examples
    --------
    >>> import tinygraph as tg
    >>> t = tg.Tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    >>> t.var().item(), t.var(ddof=1).item()
    (1.25, 1.6666666666666667)
    >>> t.var().backward()
    >>> t.grad.tolist()
    [-0.75, -0.25, 0.25, 0.75]
    """

    name = "var"
    formula = "dx = g * 2 (x - mean(x)) / (n - ddof)"
    saves = ("x",)
    method, function, numpy = "var", "var", (np.var,)
    __slots__ = ("axis", "keepdims", "ddof")

    def forward(self, x):
        axes, _, _ = self._layout(x.shape)
        return np.asarray(x.var(axis=axes, ddof=self.ddof, keepdims=self.keepdims))

    def backward(self, ctx, g, x):
        return self._deviation(ctx, g, x)[0]

    def emit_forward(self, ctx, x):
        return f"np.var({x}, {self._forward_args(ctx.parents[0].shape)})"

    def emit_backward(self, ctx, g, x):
        axes, kept, dof = self._layout(ctx.parents[0].shape)
        return (f"{g}.reshape({kept!r}) * ({x} - {x}.mean(axis={literal(axes)}, keepdims=True)) * {2.0 / dof!r}",)


class Std(_Spread, Primitive):
    """Standard deviation over ``axis``: the square root of ``var(axis, keepdims, ddof)``.

    Where the variance is exactly zero (all values equal) the derivative does not exist;
    the gradient there is 0, a subgradient (std is a norm of the deviations, and 0 is in
    a norm's subdifferential at 0), chosen as for abs'(0) = 0, so no NaN appears.

    Examples
    --------
    >>> import tinygraph as tg
    >>> t = tg.Tensor([[1.0, 3.0], [2.0, 2.0]], requires_grad=True)
    >>> t.std(axis=1).numpy().tolist()
    [1.0, 0.0]
    >>> t.std(axis=1).sum().backward()
    >>> t.grad.tolist()
    [[-0.5, 0.5], [0.0, 0.0]]
    """

    name = "std"
    formula = "dx = g * (x - mean(x)) / ((n - ddof) * out), 0 where out = 0"
    saves = ("x", "out")
    method, function, numpy = "std", "std", (np.std,)
    __slots__ = ("axis", "keepdims", "ddof")

    def forward(self, x):
        axes, _, _ = self._layout(x.shape)
        return np.asarray(x.std(axis=axes, ddof=self.ddof, keepdims=self.keepdims))

    def backward(self, ctx, g, x, out):
        twice, kept = self._deviation(ctx, g, x)
        out = out.reshape(kept)
        zero = value_of(out) == 0
        if not zero.any():
            return twice / (out * 2.0)
        # Divide by 1 where std is 0, then zero those results: the subgradient 0, never 0 / 0.
        return twice / ((out + zero) * 2.0) * ~zero

    def emit_forward(self, ctx, x):
        return f"np.std({x}, {self._forward_args(ctx.parents[0].shape)})"

    def emit_backward(self, ctx, g, x, out):
        axes, kept, dof = self._layout(ctx.parents[0].shape)
        zero = f"({out}.reshape({kept!r}) == 0)"
        return (
            f"{g}.reshape({kept!r}) * ({x} - {x}.mean(axis={literal(axes)}, keepdims=True)) "
            f"/ (({out}.reshape({kept!r}) + {zero}) * {float(dof)!r}) * ~{zero}",
        )
