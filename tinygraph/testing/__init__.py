"""Tools to check derivatives: finite differences, gradcheck, Hypothesis strategies."""

from tinygraph.testing._numeric import numerical_gradient

__all__ = ["numerical_gradient"]
