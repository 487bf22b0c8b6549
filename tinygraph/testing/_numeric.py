"""Central finite differences in float64: the oracle every derivative is checked against."""

from __future__ import annotations

from typing import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Gradient of a scalar function by central differences, one element at a time.

    ``f`` is called with arrays that share ``x``'s shape; ``x`` itself is left as it was.
    Each element costs two calls, so keep ``x`` small.

    Parameters
    ----------
    f : callable
        Maps an array shaped like ``x`` to a real number.
    x : array_like
        The point; it is copied to float64 first.
    eps : float
        The step: ``(f(x + eps) - f(x - eps)) / (2 eps)``, truncation error O(eps**2).

    Examples
    --------
    >>> import numpy as np
    >>> g = numerical_gradient(lambda v: float(np.sum(v ** 3)), np.array([1.0, 2.0]))
    >>> np.allclose(g, [3.0, 12.0])
    True
    """
    # C order, so that reshape(-1) below is a view: of a transposed (Fortran-ordered) x it
    # would be a copy, and the steps would never reach f.
    point = np.array(x, dtype=np.float64, copy=True, order="C")
    grad = np.empty_like(point)
    flat_point, flat_grad = point.reshape(-1), grad.reshape(-1)
    for i in range(flat_point.size):
        kept = flat_point[i]
        flat_point[i] = kept + eps
        above = float(f(point))
        flat_point[i] = kept - eps
        below = float(f(point))
        flat_point[i] = kept
        flat_grad[i] = (above - below) / (2.0 * eps)
    return grad
