"""Losses, fused into single ops so they stay finite (their classes are in ``tinygraph._ops.losses``)."""

from __future__ import annotations

from tinygraph.functional import binary_cross_entropy, binary_cross_entropy_with_logits

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits"]
