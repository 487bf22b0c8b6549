"""Fused, stable losses: one op each, so they stay finite where their pieces would not."""

from __future__ import annotations

import numpy as np

from tinygraph._ops._base import Primitive, clamp_min, is_array, sigmoid
from tinygraph._shapes import fmt

# PyTorch's bounds: log is clipped at -100 and the denominator y_hat(1 - y_hat) at 1e-12,
# so y_hat of exactly 0 or 1 gives a finite loss and a finite gradient.
_LOG_FLOOR = -100.0
_DENOMINATOR_FLOOR = 1e-12
_SMALLEST_LOG_ARGUMENT = float(np.exp(_LOG_FLOOR))


def _check_targets(name: str, pred: np.ndarray, y: np.ndarray, pred_name: str):
    if pred.shape != y.shape:
        raise ValueError(
            f"{name}: {pred_name} has shape {fmt(pred.shape)} but the targets y have shape {fmt(y.shape)}; "
            "they must match (the document's Y is (1, N) like A)"
        )
    if pred.size == 0:
        raise ValueError(f"{name}: the inputs are empty (shape {fmt(pred.shape)})")
    if not (y.min() >= 0 and y.max() <= 1):  # written so that NaN fails too
        outside = ~((y >= 0) & (y <= 1))
        raise ValueError(f"{name}: targets must lie in [0, 1]; got {y[outside][:3].tolist()}")


def _clipped_log(v):
    """log(v) clipped below at -100, as the forward of the cross-entropy computes it."""
    if is_array(v):
        with np.errstate(divide="ignore"):
            return np.maximum(np.log(v), _LOG_FLOOR)
    # Under create_graph: where the log is clipped, take the log of 1 instead (value 0, slope
    # finite) and add the floor. Clamping the argument at exp(-100) instead would put log's
    # slope 1/exp(-100) = inf (float32) times the clamp's zero slope: NaN in second derivatives.
    above = v.data > _SMALLEST_LOG_ARGUMENT
    below = (~above).astype(v.dtype)
    return np.log(v * above + below) * above + below * _LOG_FLOOR


class BinaryCrossEntropy(Primitive):
    """Mean over all elements of ``-(y log y_hat + (1 - y) log(1 - y_hat))``.

    The document's cost. ``y_hat`` holds probabilities (e.g. ``sigmoid(Z)``), ``y`` the
    0/1 targets of the same shape. The logs are clipped at -100 (as PyTorch does), so a
    prediction of exactly 0 or 1 gives a finite loss and a finite gradient.

    Examples
    --------
    >>> import tinygraph as tg
    >>> round(tg.binary_cross_entropy([[0.9, 0.2]], [[1.0, 0.0]]).item(), 6)
    0.164252
    """

    name = "binary_cross_entropy"
    formula = ("dy_hat = g * (y_hat - y) / (y_hat * (1 - y_hat)) / N", "dy = g * (log(1 - y_hat) - log(y_hat)) / N")
    saves = ("y_hat", "y")
    function = "binary_cross_entropy"
    __slots__ = ()

    def forward(self, y_hat, y):
        _check_targets(self.name, y_hat, y, "y_hat")
        if not (y_hat.min() >= 0 and y_hat.max() <= 1):  # written so that NaN fails too
            raise ValueError(
                f"{self.name}: y_hat must be probabilities in [0, 1] (got min {y_hat.min():.6g}, max {y_hat.max():.6g}); "
                "for raw scores use binary_cross_entropy_with_logits"
            )
        losses = y * _clipped_log(y_hat) + (1.0 - y) * _clipped_log(1.0 - y_hat)
        return np.asarray(-losses.mean(), dtype=y_hat.dtype)

    def backward(self, ctx, g, y_hat, y):
        n = y_hat.size
        dy_hat = dy = None
        if ctx.needs[0]:
            spread = clamp_min(y_hat * (1.0 - y_hat), _DENOMINATOR_FLOOR)
            dy_hat = g * (y_hat - y) / spread / n
        if ctx.needs[1]:
            dy = g * (_clipped_log(1.0 - y_hat) - _clipped_log(y_hat)) / n
        return dy_hat, dy

    def emit_forward(self, ctx, y_hat, y):
        log_p, log_q = _clipped_log_text(y_hat, ctx), _clipped_log_text(f"(1.0 - {y_hat})", ctx)
        n = int(np.prod(ctx.parents[0].shape))  # .sum() / n is what .mean() computes, without its Python overhead
        return _as_dtype_text(f"-({y} * {log_p} + (1.0 - {y}) * {log_q}).sum() / {n}", ctx)

    def emit_backward(self, ctx, g, y_hat, y):
        n = int(np.prod(ctx.parents[0].shape))
        dy_hat = dy = None
        if ctx.needs[0]:
            dy_hat = f"{g} * ({y_hat} - {y}) / np.maximum({y_hat} * (1.0 - {y_hat}), {_DENOMINATOR_FLOOR!r}) / {n}"
        if ctx.needs[1]:
            log_p, log_q = _clipped_log_text(y_hat, ctx), _clipped_log_text(f"(1.0 - {y_hat})", ctx)
            dy = f"{g} * ({log_q} - {log_p}) / {n}"
        return dy_hat, dy


class BinaryCrossEntropyWithLogits(Primitive):
    """``binary_cross_entropy(sigmoid(z), y)`` computed from the logits ``z`` without overflow.

    Stable for any ``z``, and its gradient is exactly ``(sigmoid(z) - y) / N``: the
    document's ``dZ = A - Y``, averaged over the N elements.

    Examples
    --------
    >>> import tinygraph as tg
    >>> round(tg.binary_cross_entropy_with_logits([[2.0, -1.0]], [[1.0, 0.0]]).item(), 6)
    0.220095
    """

    name = "binary_cross_entropy_with_logits"
    formula = ("dz = g * (sigmoid(z) - y) / N", "dy = -g * z / N")
    saves = ("z", "y")
    function = "binary_cross_entropy_with_logits"
    __slots__ = ()

    def forward(self, z, y):
        _check_targets(self.name, z, y, "z")
        # max(z, 0) - z y + log(1 + e^-|z|): each term is bounded, so nothing overflows.
        losses = np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))
        return np.asarray(losses.mean(), dtype=z.dtype)

    def backward(self, ctx, g, z, y):
        n = z.size
        dz = g * (sigmoid(z) - y) / n if ctx.needs[0] else None
        dy = -g * z / n if ctx.needs[1] else None
        return dz, dy

    def emit_forward(self, ctx, z, y):
        n = int(np.prod(ctx.parents[0].shape))  # .sum() / n is what .mean() computes, without its Python overhead
        return _as_dtype_text(f"(np.maximum({z}, 0.0) - {z} * {y} + np.log1p(np.exp(-np.abs({z})))).sum() / {n}", ctx)

    def emit_backward(self, ctx, g, z, y):
        n = int(np.prod(ctx.parents[0].shape))
        dz = f"{g} * (np.exp(-np.logaddexp(0.0, -{z})) - {y}) / {n}" if ctx.needs[0] else None
        dy = f"-{g} * {z} / {n}" if ctx.needs[1] else None
        return dz, dy


def _clipped_log_text(v: str, ctx) -> str:
    """The text of ``_clipped_log(v)`` without log(0)'s warning: v is first raised to the
    dtype's smallest subnormal, whose log is below -100 already, so the values are the same."""
    dtype = np.dtype(ctx.parents[0].dtype)
    tiny = float(np.nextafter(np.zeros((), dtype), np.ones((), dtype)))
    return f"np.maximum(np.log(np.maximum({v}, {tiny!r})), {_LOG_FLOOR!r})"


def _as_dtype_text(text: str, ctx) -> str:
    """``text`` cast to the prediction's dtype where the targets' dtype would promote it."""
    want = np.dtype(ctx.parents[0].dtype)
    if np.result_type(*[p.dtype for p in ctx.parents]) == want:
        return text
    return f"np.asarray({text}, dtype=np.{want.name})"
