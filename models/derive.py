"""The document's networks, derived by tinygraph: the generated forward and backward of each.

``tg.compile`` records a network's cost once and writes its graph out as numpy, one
line per op, with the document's names (``Z1``, ``A1``, ``dZ1``, ``dW1``, ...). What it
writes for the three networks is what the document derives by hand; docs/derive.md
sets the two side by side, and ``tinygraph derive --model deep`` prints it.

The shapes are the document's: 64x64x3 images flattened to n_x = 12288 features, N = 209
training samples, so the averages over samples appear as ``/ 209``.

Examples
--------
>>> from tinygraph_models.derive import derive_text
>>> text = derive_text("logistic")
>>> for line in text.splitlines()[2:5]:
...     print(line.split("#")[0].strip())
W1X = W1 @ X
Z1 = W1X + b1
cost = (np.maximum(Z1, 0.0) - Z1 * Y + np.log1p(np.exp(-np.abs(Z1)))).sum() / 209
"""

from __future__ import annotations

import numpy as np

import tinygraph as tg
from tinygraph_models import nets

#: The document's sizes: features of a flattened 64x64x3 image, and training samples.
N_X, N = 12288, 209


def derive_text(model: str, *, fused: bool = True, n_x: int = N_X, n_samples: int = N) -> str:
    """The generated forward and backward of one of the document's networks, as Python source.

    Parameters
    ----------
    model : {"logistic", "shallow", "deep"}
        Logistic regression ``[n_x, 1]``, the one-hidden-layer net ``[n_x, 32, 1]`` or the
        deep net ``[n_x, 5, 5, 5, 3, 1]`` (``tinygraph_models.nets.MODELS``).
    fused : bool
        The cost in one op from the logits (what ``tinygraph train`` uses), or the
        document's graph, ``sigmoid`` then ``binary_cross_entropy`` (``fused=False``).
    n_x, n_samples : int
        The input's shape ``(n_x, N)``; the document's by default.

    Returns
    -------
    str
        ``forward`` and ``backward`` as ``tg.compile`` writes them: the same text for the
        same arguments, every time.

    Raises
    ------
    ValueError
        For an unknown model name.

    Examples
    --------
    >>> text = derive_text("deep", n_x=4, n_samples=3)
    >>> [line.split("#")[0].strip() for line in text.splitlines() if line.strip().startswith("dW1")]
    ['dW1 = dZ1 @ X.T']
    """
    units = nets.default_units(model, n_x)
    network = nets.build(model, units, seed=0)
    # Only the shapes matter to the generated text; the values are the trace's.
    X = np.random.default_rng(0).random((n_x, n_samples))
    Y = (np.arange(n_samples) % 2).astype(np.float64).reshape(1, n_samples)
    step = tg.compile(network.cost)
    step(X, Y, fused=fused)
    return step.source
