"""Losses for binary classification, fused into single ops so they stay finite."""

from __future__ import annotations

from tinygraph import _ops
from tinygraph.tensor import Tensor, apply1, apply2


def binary_cross_entropy(y_hat, y) -> Tensor:
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
    return apply2(_ops.BinaryCrossEntropy(), y_hat, y)


def binary_cross_entropy_with_logits(z, y) -> Tensor:
    """``binary_cross_entropy(sigmoid(z), y)`` computed from the logits ``z``.

    Stable for any ``z``, and its gradient is exactly ``(sigmoid(z) - y) / N``: the
    document's ``dZ = A - Y``, averaged over the N elements.

    Examples
    --------
    >>> import tinygraph as tg
    >>> round(tg.binary_cross_entropy_with_logits([[2.0, -1.0]], [[1.0, 0.0]]).item(), 6)
    0.220095
    """
    return apply2(_ops.BinaryCrossEntropyWithLogits(), z, y)
