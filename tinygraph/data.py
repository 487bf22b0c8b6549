"""Mini-batches over data in the document's layout: one column per sample.

tinygraph, like the document, keeps samples on the LAST axis: ``X`` is
``(features, N)`` and ``Y`` is ``(1, N)``. :func:`batches` cuts both along that axis.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator

import numpy as np

__all__ = ["batches"]


def _as_array(value, name: str) -> np.ndarray:
    data = getattr(value, "data", value)  # a Tensor's values; batches are plain arrays
    array = np.asarray(data)
    if array.ndim == 0:
        raise ValueError(f"batches: {name} is a scalar; expected samples on its last axis, e.g. (features, N)")
    return array


def _generator(rng) -> np.random.Generator:
    if rng is None or (isinstance(rng, (numbers.Integral, np.random.SeedSequence)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(
        f"batches: rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}"
    )


def batches(X, Y, batch_size: int, *, shuffle: bool = True, rng=None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(X_batch, Y_batch)`` pairs that together hold every sample once: one epoch.

    Samples are columns (the last axis), as everywhere in tinygraph. All batches hold
    ``batch_size`` samples except the last, which holds what is left
    (``N % batch_size`` when that is not 0). With ``shuffle`` the samples are visited in
    an order drawn from ``rng``; the same seed gives the same order, whatever the data.

    Parameters
    ----------
    X : array_like or Tensor, shape (..., N)
        Inputs, one sample per column (``(features, N)``).
    Y : array_like or Tensor, shape (1, N) or (N,)
        Labels, one per sample; each batch keeps ``Y``'s number of dimensions.
    batch_size : int
        Samples per batch, at least 1. A size of ``N`` or more gives one batch (the
        document's full-batch step).
    shuffle : bool, default True
        Visit the samples in a random order; ``False`` keeps the order of ``X``.
    rng : numpy.random.Generator, int or None
        Where the order comes from: a Generator (its state advances, so calling again
        for the next epoch gives a new order) or a seed. ``None`` draws fresh entropy:
        pass a seed for runs that repeat.

    Yields
    ------
    X_batch : numpy.ndarray, shape (..., n)
    Y_batch : numpy.ndarray, shape (1, n) or (n,)
        Copies when shuffled, views of ``X`` and ``Y`` otherwise; ``n <= batch_size``.

    Raises
    ------
    ValueError
        When ``batch_size`` is below 1, or ``X`` and ``Y`` hold different numbers of
        samples (their shapes are named), or ``Y`` is not ``(1, N)`` or ``(N,)``.
    TypeError
        When ``batch_size`` is not an integer or ``rng`` not a Generator, seed or None.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(10.0).reshape(2, 5)        # 2 features, 5 samples
    >>> Y = np.array([[0, 1, 0, 1, 1]])
    >>> [xb.shape for xb, yb in batches(X, Y, 2, shuffle=False)]
    [(2, 2), (2, 2), (2, 1)]
    >>> for xb, yb in batches(X, Y, 2, rng=0):   # shuffled: samples 2, 4 | 3, 0 | 1
    ...     print(xb[0], yb[0])
    [2. 4.] [0 1]
    [3. 0.] [1 0]
    [1.] [1]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise TypeError(f"batches: batch_size must be an integer, got {type(batch_size).__name__} {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batches: batch_size must be at least 1, got {batch_size}")
    X, Y = _as_array(X, "X"), _as_array(Y, "Y")
    if Y.ndim > 2 or (Y.ndim == 2 and Y.shape[0] != 1):
        raise ValueError(f"batches: Y must be (1, N) or (N,), one label per sample, got shape {Y.shape}")
    n = X.shape[-1]
    if Y.shape[-1] != n:
        raise ValueError(
            f"batches: X {X.shape} holds {n} samples (its last axis) but Y {Y.shape} holds {Y.shape[-1]}; "
            "samples are columns, so X is (features, N) and Y (1, N)"
        )
    generator = _generator(rng) if shuffle else None
    return _epoch(X, Y, int(batch_size), generator)


def _epoch(X, Y, batch_size, generator):
    # A generator of its own, so that the checks in batches() run at the call, not at
    # the first next().
    n = X.shape[-1]
    order = generator.permutation(n) if generator is not None else None
    for start in range(0, n, batch_size):
        if order is None:
            yield X[..., start:start + batch_size], Y[..., start:start + batch_size]
        else:
            index = order[start:start + batch_size]
            yield X[..., index], Y[..., index]
