"""The document's three networks, built from tinygraph ops.

Each is the L-layer binary classifier of the document with its own ``n_units``:
logistic regression is ``[n_x, 1]``, the one-hidden-layer net ``[n_x, n_h, 1]`` and the
deep net ``[n_x, 5, 5, 5, 3, 1]``. Hidden layers are ``A_l = relu(W_l A_{l-1} + b_l)``;
the output is ``A_L = sigmoid(Z_L)``. Gradients come from ``backward()``, and
``tests/models/test_nets.py`` checks them against the hand derivation of
:mod:`tinygraph_models.hand` and against finite differences.

Examples
--------
>>> import numpy as np
>>> from tinygraph_models import nets
>>> net = nets.build("deep", [4, 5, 5, 5, 3, 1], seed=0)
>>> X = np.random.default_rng(1).standard_normal((4, 6)); Y = np.array([[0, 1, 1, 0, 1, 0]])
>>> cost = net.cost(X, Y)
>>> cost.backward()
>>> net.parameters["W1"].grad.shape
(5, 4)
"""

from __future__ import annotations

import numpy as np

import tinygraph as tg
from tinygraph import nn
from tinygraph_models.init import INITS, initialize_parameters

#: Model names the CLI accepts, with their default layer sizes (n_x is filled in from the data).
#: The document gives no width for its one-hidden-layer net. In cross-validation accuracy
#: rose with width from 4 to 64 units; 32 is within 0.3 points of 64 at a third of the
#: training time (docs/tutorial.md, section 7).
MODELS = {"logistic": [1], "shallow": [32, 1], "deep": [5, 5, 5, 3, 1]}


def default_units(model: str, n_x: int) -> list:
    """``[n_x, ...]`` for a model name: the document's [n_x, 5, 5, 5, 3, 1] for "deep"."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    return [n_x] + MODELS[model]


def check_units(model: str, n_units) -> list:
    """Validate a layer list for ``model``; returns it as a list of ints.

    Logistic regression takes exactly ``[n_x, 1]`` and the one-hidden-layer net
    ``[n_x, n_h, 1]``; "deep" takes any list ending in 1.

    Examples
    --------
    >>> check_units("deep", [64, 5, 3, 1])
    [64, 5, 3, 1]
    >>> check_units("shallow", [64, 5, 3, 1])
    Traceback (most recent call last):
    ...
    ValueError: --model shallow needs 3 layer sizes ([n_x, n_h, 1]), got [64, 5, 3, 1]
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    units = [int(n) for n in n_units]
    if len(units) < 2 or any(n < 1 for n in units):
        raise ValueError(f"layer sizes must be at least two positive integers, got {units}")
    if units[-1] != 1:
        raise ValueError(f"the output layer of a binary classifier has 1 unit, got {units[-1]} in {units}")
    expected = {"logistic": 2, "shallow": 3}.get(model)
    if expected is not None and len(units) != expected:
        raise ValueError(f"--model {model} needs {expected} layer sizes ([n_x{', n_h' if expected == 3 else ''}, 1]), got {units}")
    return units


class Network:
    """A binary classifier in the document's convention, X (n_x, N) and Y (1, N).

    Parameters
    ----------
    model : str
        "logistic", "shallow" or "deep" (only a label: the layers come from ``parameters``).
    parameters : dict
        ``{"W1": (n_1, n_x), "b1": (n_1, 1), ...}`` arrays, copied into Tensors.
    """

    def __init__(self, model: str, parameters: dict):
        self.model = model
        self.redrawn = []  # (layer, unit) redrawn by build(alive_on=...); empty otherwise
        L = len(parameters) // 2
        expected = {f"{kind}{l}" for l in range(1, L + 1) for kind in "Wb"}
        if L == 0 or set(parameters) != expected:
            raise ValueError(
                f"Network: parameters must be named W1, b1, ..., WL, bL; got {', '.join(sorted(parameters)) or 'none'}"
            )
        layers = [nn.Linear.from_arrays(parameters[f"W{l}"], parameters[f"b{l}"], index=l) for l in range(1, L + 1)]
        stack = []
        for l, layer in enumerate(layers, start=1):
            stack.append(layer)
            if l < L:
                stack.append(nn.Activation("relu", index=l))
        self.net = nn.Sequential(*stack)
        self.n_units = [layers[0].W.shape[1]] + [layer.W.shape[0] for layer in layers]
        self.L = L

    @property
    def parameters(self) -> dict:
        """``{"W1": Tensor, "b1": Tensor, ...}``."""
        return dict(self.net.named_parameters())

    def logits(self, X) -> tg.Tensor:
        """Z_L, the output layer before its sigmoid."""
        X = X if isinstance(X, tg.Tensor) else tg.Tensor(X, name="X")
        return self.net(X)

    def forward(self, X) -> tg.Tensor:
        """A_L = sigmoid(Z_L): the predicted probability of class 1 for each sample."""
        Z_L = self.logits(X)  # the Sequential puts each layer's ops in its own scope
        with tg.name_scope(f"layer{self.L}"):
            return tg.sigmoid(Z_L).named(f"A{self.L}")

    def cost(self, X, Y, *, fused: bool = True) -> tg.Tensor:
        """The document's cost, mean cross-entropy over the N samples.

        ``fused=True`` computes it from Z_L in one stable op whose gradient is exactly
        ``(A_L - Y) / N``, the document's dZ_L averaged; ``fused=False`` spells out the
        document's graph, ``sigmoid`` then ``binary_cross_entropy``.
        """
        Y = Y if isinstance(Y, tg.Tensor) else tg.Tensor(Y, name="Y")
        if fused:
            return tg.binary_cross_entropy_with_logits(self.logits(X), Y).named("cost")
        return tg.binary_cross_entropy(self.forward(X), Y).named("cost")

    def predict_proba(self, X) -> np.ndarray:
        """A_L as an array (1, N), computed without recording a graph."""
        with tg.no_grad():
            return self.forward(X).data

    def predict(self, X) -> np.ndarray:
        """0/1 predictions, threshold 0.5 (Z_L > 0, to avoid rounding at the boundary)."""
        with tg.no_grad():
            return (self.logits(X).data > 0).astype(np.float64)

    def accuracy(self, X, Y) -> float:
        """The fraction of columns of ``X`` whose prediction equals the label in ``Y``."""
        return float(np.mean(self.predict(X) == np.asarray(Y)))

    def state(self) -> dict:
        """The parameters as plain arrays, ``{"W1": ..., ...}``."""
        return {name: p.data.copy() for name, p in self.parameters.items()}


def build(model: str, n_units, *, init: str = "he", seed: int = 0, dtype=np.float64, alive_on=None) -> Network:
    """A network with freshly initialised weights (those ``initialize_parameters`` gives the hand version).

    Parameters
    ----------
    model : {"logistic", "shallow", "deep"}
    n_units : list of int
        ``[n_x, ..., 1]``, checked by :func:`check_units`.
    init : {"he", "xavier", "document"}
    seed : int
        Seeds the initial weights (and the redraws below).
    dtype : numpy floating dtype
    alive_on : ndarray (n_x, N), optional
        Training inputs. When given, hidden units that are dead on every column of it
        are redrawn (see :func:`redraw_dead_units`); ``network.redrawn`` lists them.

    Examples
    --------
    >>> net = build("shallow", [3, 4, 1], seed=0)
    >>> net.n_units, sorted(net.parameters)
    ([3, 4, 1], ['W1', 'W2', 'b1', 'b2'])
    """
    units = check_units(model, n_units)
    parameters = initialize_parameters(units, init, seed=seed, dtype=dtype)
    redrawn = []
    if alive_on is not None:
        parameters, redrawn = redraw_dead_units(parameters, alive_on, init=init, seed=seed)
    network = Network(model, parameters)
    network.redrawn = redrawn
    return network


def redraw_dead_units(parameters: dict, X, *, init: str = "he", seed: int = 0, max_tries: int = 100):
    """Redraw the weights of hidden units that output 0 for every sample of ``X``.

    A ReLU unit whose pre-activation is <= 0 on every training sample outputs 0 and
    has relu' = 0 on all of them, so its row of W, its bias and its outgoing weights
    all get a gradient of exactly zero: gradient descent can never wake it. The
    document's layers are narrow, so this is common at He or Xavier init: on the
    bundled digits, 334 of the seeds 0-499 start the deep net with a dead unit, and
    4 (seed 4 among them) with a whole layer dead, which cuts the output off from the
    input and leaves a constant classifier. Layer by layer, each dead unit's row of
    ``W_l`` is replaced by a fresh draw of the same initialiser until the unit fires
    on some sample (at most ``max_tries`` draws). Only inputs are looked at, never
    labels.

    Parameters
    ----------
    parameters : dict
        ``{"W1": ..., "b1": ..., ...}``; not modified.
    X : ndarray (n_x, N)
        The inputs the units must be alive on (the training split).
    init : {"he", "xavier", "document"}
        The initialiser the fresh rows come from.
    seed : int
        Seeds the fresh draws (a stream separate from the initial weights).
    max_tries : int
        Redraws per layer before giving up; a unit still dead is left as it is.

    Returns
    -------
    parameters : dict
        A new dict: redrawn ``W_l`` are new arrays, everything else is shared.
    redrawn : list of (int, int)
        ``(layer, unit)`` for every unit that was redrawn, in order.

    Examples
    --------
    >>> p = {"W1": np.array([[1.0], [-1.0]]), "b1": np.zeros((2, 1)),
    ...      "W2": np.ones((1, 2)), "b2": np.zeros((1, 1))}
    >>> q, redrawn = redraw_dead_units(p, np.array([[1.0, 2.0]]), seed=0)
    >>> redrawn, bool(np.all(q["W1"] > 0)), q["W2"] is p["W2"]
    ([(1, 1)], True, True)
    """
    if init not in INITS:
        raise ValueError(f"redraw_dead_units: unknown init {init!r}; choose one of {', '.join(INITS)}")
    parameters = dict(parameters)
    L = len(parameters) // 2
    # A stream of its own, so the first draw of every weight stays initialize_parameters'.
    rng = np.random.default_rng([seed, 1])
    A = np.asarray(X)
    redrawn = []
    for l in range(1, L):  # the output unit has no ReLU; it cannot die
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        first = None
        for _ in range(max_tries):
            dead = np.max(W @ A + b, axis=1) <= 0  # relu'(0) = 0: exactly 0 counts as dead
            if first is None:
                first = dead
            if not dead.any():
                break
            # A whole fresh matrix, so the rows keep the initialiser's fan-in/fan-out scale.
            fresh = INITS[init](rng, *W.shape).astype(W.dtype)
            W = np.where(dead[:, None], fresh, W)
        if first.any():
            parameters[f"W{l}"] = W
            redrawn += [(l, int(j)) for j in np.flatnonzero(first)]
        A = np.maximum(W @ A + b, 0)
    return parameters, redrawn


def cost_and_gradients(parameters: dict, X, Y, *, fused: bool = True):
    """tinygraph's twin of ``hand.cost_and_gradients``: the cost and its gradients from backward().

    Parameters
    ----------
    parameters : dict
        ``{"W1": ..., "b1": ..., ...}`` arrays (copied; any number of layers).
    X, Y : array_like
        Inputs ``(n_x, N)`` and labels ``(1, N)``.
    fused : bool
        Cost from the logits in one op (True) or the document's sigmoid then
        cross-entropy (False); see :meth:`Network.cost`.

    Returns
    -------
    cost : float
    gradients : dict
        ``{"dW1": ..., "db1": ..., ...}``, arrays shaped like their parameters.

    Examples
    --------
    >>> p = {"W1": np.zeros((1, 2)), "b1": np.zeros((1, 1))}
    >>> cost, g = cost_and_gradients(p, np.ones((2, 3)), np.array([[1.0, 1.0, 0.0]]))
    >>> round(cost, 6), g["dW1"].round(6).tolist(), g["db1"].round(6).tolist()   # dZ = A - Y = [-.5, -.5, .5]
    (0.693147, [[-0.166667, -0.166667]], [[-0.166667]])
    """
    network = Network("deep", parameters)
    cost = network.cost(X, Y, fused=fused)
    cost.backward()
    return cost.item(), {f"d{name}": p.grad for name, p in network.parameters.items()}
