"""The softmax family: logsumexp, softmax and log_softmax, each shifted by its maximum so
that logits of any size stay finite.

Axis 0 is the default class axis: the library lays data out as (features, samples), so a
ten-class head's logits are (10, N).
"""

from __future__ import annotations

import numbers

import numpy as np

from tinygraph._ops._base import Primitive, is_array
from tinygraph._shapes import fmt, normalize_axes


def class_axis(axis, shape: tuple, op: str) -> int:
    """The one axis a softmax runs along, as a non-negative int (negatives count from the end)."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{op}: axis must be an int (the class axis), got {axis!r} for shape {fmt(shape)}")
    return normalize_axes(int(axis), len(shape), op=op, shape=shape)[0]


def _kept(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _finite_max(x: np.ndarray, axes) -> np.ndarray:
    """The maximum along ``axes`` (kept), with 0 where it is not finite: subtracting it
    bounds every exponent by 0, and an all -inf (or inf) slice is left to give -inf (or nan)."""
    m = x.max(axis=axes, keepdims=True)
    finite = np.isfinite(m)
    if np.count_nonzero(finite) != finite.size:  # count_nonzero: a C call, where .all() goes through Python
        m = np.where(finite, m, 0.0).astype(x.dtype, copy=False)
    return m


def stable_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """softmax of an array along ``axis``: exp(x - max) / sum, so no exponent is positive."""
    e = np.exp(x - _finite_max(x, axis))
    return e / e.sum(axis=axis, keepdims=True)


def stable_log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """log_softmax of an array along ``axis``: (x - max) - log(sum(exp(x - max)))."""
    shifted = x - _finite_max(x, axis)
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(z, axis: int):
    """softmax of an array (numpy) or of a Tensor (the recorded op): for other ops' backward rules."""
    return stable_softmax(z, axis) if is_array(z) else Softmax.apply(z, axis=axis)


def log_softmax(z, axis: int):
    """log_softmax of an array (numpy) or of a Tensor (the recorded op)."""
    return stable_log_softmax(z, axis) if is_array(z) else LogSoftmax.apply(z, axis=axis)


def shifted_residuals(x: str, axes) -> dict:
    """The compiled form of ``x - _finite_max(x, axes)``, as ``emit_residuals`` of the ops
    that shift by the maximum: the maximum, the shift (0 where the maximum is not finite)
    and the shifted input, each computed once."""
    return {
        "top": f"np.max({x}, axis={axes!r}, keepdims=True)",
        "shift": "np.where(np.isfinite(top), top, 0)",
        "shifted": f"{x} - shift",
    }


class LogSumExp(Primitive):
    """``log(sum(exp(t), axis))`` computed without overflow: finite for logits of 1e4.

    The maximum along ``axis`` is taken out before exponentiating, so every exponent is
    at most 0. A slice of all ``-inf`` gives ``-inf``. The gradient is the softmax of
    ``t`` along ``axis``.

    Parameters
    ----------
    t : Tensor
    axis : None, int or tuple of ints
        The axes to reduce; all of them by default.
    keepdims : bool
        Keep the reduced axes with size 1.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.logsumexp([[1e4, 1e4], [0.0, 0.0]], axis=1).numpy().round(4).tolist()
    [10000.6931, 0.6931]
    """

    name = "logsumexp"
    formula = "dx = g * exp(x - out)"
    saves = ("x", "out")
    function = "logsumexp"
    __slots__ = ("axis", "keepdims")

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, bool(keepdims)

    def _axes(self, shape: tuple) -> tuple:
        axes = normalize_axes(self.axis, len(shape), op=self.name, shape=shape)
        if any(shape[a] == 0 for a in axes):
            raise ValueError(f"logsumexp: cannot reduce the empty axis of shape {fmt(shape)} (axis {self.axis!r})")
        return axes

    def forward(self, x):
        axes = self._axes(x.shape)
        m = _finite_max(x, axes)
        with np.errstate(divide="ignore"):
            out = np.log(np.exp(x - m).sum(axis=axes, keepdims=True)) + m
        return out if self.keepdims else out.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(self, ctx, g, x, out):
        kept = _kept(ctx.parents[0].shape, self._axes(ctx.parents[0].shape))
        return g.reshape(kept) * np.exp(x - out.reshape(kept))

    def emit_residuals(self, ctx, x):
        return shifted_residuals(x, self._axes(ctx.parents[0].shape))

    def emit_forward(self, ctx, x):
        axes, kept = self._axes(ctx.parents[0].shape), ctx.residuals
        total = f"np.sum(np.exp({kept['shifted']}), axis={axes!r}, keepdims=True)"
        return f"(np.log({total}) + {kept['shift']}).reshape({ctx.shape!r})"

    def emit_backward(self, ctx, g, x, out):
        kept = _kept(ctx.parents[0].shape, self._axes(ctx.parents[0].shape))
        return (f"{g}.reshape({kept!r}) * np.exp({x} - {out}.reshape({kept!r}))",)


class _AlongClassAxis(Primitive):
    """What softmax and log_softmax share: one input normalised along the class axis, the output saved."""

    shared = True
    saves = ("out",)
    __slots__ = ("axis",)

    def __init__(self, axis=0):
        self.axis = axis

    def _axis(self, shape: tuple) -> int:
        return class_axis(self.axis, shape, self.name)

    def forward(self, x):
        axis = self._axis(x.shape)
        if x.shape[axis] == 0:
            return x.copy()
        return self.normalise(x, axis)


class Softmax(_AlongClassAxis):
    """``exp(t) / sum(exp(t), axis)``: probabilities along ``axis`` (0, the class axis, by default).

    Computed as ``exp(t - max)`` over its sum, so logits of any size stay finite.

    Parameters
    ----------
    t : Tensor
    axis : int
        The class axis: 0 in the library's (classes, samples) layout.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.softmax([[1.0, 1000.0], [1.0, 0.0]]).numpy().tolist()
    [[0.5, 1.0], [0.5, 0.0]]
    """

    name = "softmax"
    formula = "dx = out * (g - sum(g * out, axis))"
    function = "softmax"
    normalise = staticmethod(stable_softmax)
    __slots__ = ()

    def backward(self, ctx, g, out):
        axis = self._axis(ctx.shape)
        return out * (g - (g * out).sum(axis=axis, keepdims=True))

    def emit_residuals(self, ctx, x):
        return shifted_residuals(x, self._axis(ctx.shape)) | {"exp": "np.exp(shifted)"}

    def emit_forward(self, ctx, x):
        exp = ctx.residuals["exp"]
        return f"{exp} / np.sum({exp}, axis={self._axis(ctx.shape)}, keepdims=True)"

    def emit_backward(self, ctx, g, out):
        axis = self._axis(ctx.shape)
        return (f"{out} * ({g} - np.sum({g} * {out}, axis={axis}, keepdims=True))",)


class LogSoftmax(_AlongClassAxis):
    """``t - logsumexp(t, axis, keepdims=True)``: log-probabilities along ``axis`` (0 by default).

    Finite wherever ``t`` is, even for logits of 1e4 (where ``log(softmax(t))`` gives -inf).

    Parameters
    ----------
    t : Tensor
    axis : int
        The class axis: 0 in the library's (classes, samples) layout.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.log_softmax([[0.0, 1e4], [0.0, 0.0]]).numpy().round(4).tolist()
    [[-0.6931, 0.0], [-0.6931, -10000.0]]
    """

    name = "log_softmax"
    formula = "dx = g - exp(out) * sum(g, axis)"
    function = "log_softmax"
    normalise = staticmethod(stable_log_softmax)
    __slots__ = ()

    def backward(self, ctx, g, out):
        axis = self._axis(ctx.shape)
        return g - np.exp(out) * g.sum(axis=axis, keepdims=True)

    def emit_residuals(self, ctx, x):
        return shifted_residuals(x, self._axis(ctx.shape))

    def emit_forward(self, ctx, x):
        shifted = ctx.residuals["shifted"]
        return f"{shifted} - np.log(np.sum(np.exp({shifted}), axis={self._axis(ctx.shape)}, keepdims=True))"

    def emit_backward(self, ctx, g, out):
        axis = self._axis(ctx.shape)
        return (f"{g} - np.exp({out}) * np.sum({g}, axis={axis}, keepdims=True)",)
