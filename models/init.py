"""Parameter initialisation shared by the hand-written and the tinygraph networks.

Both versions call :func:`initialize_parameters` with the same ``n_units``, ``init``
and ``seed``, so they start from the same weights and their costs can be compared
step by step.

Shapes follow the document: ``W_l`` is ``(n_units[l], n_units[l-1])`` (out, in) and
``b_l`` is a column ``(n_units[l], 1)`` of zeros.
"""

from __future__ import annotations

import numpy as np

from tinygraph.nn import INITIALIZERS

__all__ = ["INITS", "initialize_parameters"]


# The draws themselves live in tinygraph.nn, so that nn.Linear and these dicts agree
# weight for weight; they draw in float64 and the dtype is applied below.
INITS = INITIALIZERS
"""The weight initialisers by name ("document", "he", "xavier"); biases always start at zero."""


def initialize_parameters(
    n_units,
    init: str = "he",
    *,
    seed: int | np.random.Generator | None = 0,
    dtype=np.float64,
) -> dict[str, np.ndarray]:
    """Weights and zero biases for a fully connected net with layer sizes ``n_units``.

    Parameters
    ----------
    n_units : sequence of int
        ``[n_x, n_1, ..., n_L]``: the number of features, then the units of each
        layer. At least two entries, all positive.
    init : {"he", "xavier", "document"}
        ``"he"``: normal with standard deviation ``sqrt(2 / fan_in)`` (for ReLU).
        ``"xavier"``: Glorot normal, standard deviation ``sqrt(2 / (fan_in + fan_out))``.
        ``"document"``: the document's ``np.random.rand(...) * 0.01``, uniform on
        ``[0, 0.01)``; too small for a deep ReLU net to learn (see docs/errata.md).
    seed : int, numpy.random.Generator or None
        Passed to :func:`numpy.random.default_rng`; a Generator is used as is (and
        advanced). The same seed gives the same weights in every dtype.
    dtype : numpy floating dtype
        The weights are drawn in float64 and then rounded to ``dtype``, so a float32
        net starts from the float64 net's weights, rounded.

    Returns
    -------
    dict
        ``{'W1': ..., 'b1': ..., ..., 'WL': ..., 'bL': ...}``.

    Raises
    ------
    ValueError
        For an unknown ``init`` (the message lists the valid names) or bad ``n_units``.
    TypeError
        If ``dtype`` is not a floating-point type.

    Examples
    --------
    >>> p = initialize_parameters([3, 4, 1], "he", seed=0)
    >>> sorted(p), p["W1"].shape, p["b1"].shape, p["W2"].shape
    (['W1', 'W2', 'b1', 'b2'], (4, 3), (4, 1), (1, 4))
    >>> bool(np.all(p["b1"] == 0))
    True
    >>> q = initialize_parameters([3, 4, 1], "document", seed=0)
    >>> bool(np.all((0 <= q["W1"]) & (q["W1"] < 0.01)))
    True
    """
    if init not in INITS:
        raise ValueError(
            f"initialize_parameters: unknown init {init!r}; valid names are "
            + ", ".join(repr(name) for name in INITS)
        )
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"initialize_parameters: dtype must be a floating type, got {dtype}")
    n_units = [int(n) for n in n_units]
    if len(n_units) < 2 or min(n_units) < 1:
        raise ValueError(
            f"initialize_parameters: n_units needs at least two positive sizes, got {n_units}"
        )

    rng = np.random.default_rng(seed)
    draw = INITS[init]
    parameters = {}
    for l in range(1, len(n_units)):
        parameters["W" + str(l)] = draw(rng, n_units[l], n_units[l - 1]).astype(dtype)
        parameters["b" + str(l)] = np.zeros((n_units[l], 1), dtype=dtype)
    return parameters
