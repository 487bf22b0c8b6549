"""The ten-class networks: softmax regression, an MLP and a small CNN.

The binary networks of :mod:`tinygraph_models.nets` end in one sigmoid unit; these end
in one unit per class and a softmax, ``A_L = softmax(Z_L)`` along axis 0, and their cost
is the mean cross-entropy ``-sum(Y * log A_L) / N`` with ``Y`` one-hot. The cost is
computed from the logits by ``tg.cross_entropy`` in one op, whose gradient is exactly
``(A_L - Y) / N``: the document's ``dZ = A - Y`` again (docs/tutorial.md, section 10,
derives it).

* ``softmax``: softmax regression, ``[n_x, C]``: logistic regression with C outputs.
* ``mlp``: ReLU hidden layers, then the softmax head, ``[n_x, n_h, ..., C]``.
* ``cnn``: for square one-channel images stored one per column (the bundled digits are
  8x8, 64 rows): each column is reshaped to an image, then
  conv 3x3 -> ReLU -> max-pool 2 -> conv 3x3 -> ReLU -> linear -> softmax.

Every network takes ``X`` (n_x, N) and labels ``Y`` (1, N) holding class indices
0..C-1, as :class:`tinygraph_models.data.Dataset` stores them, and has the interface of
:class:`tinygraph_models.nets.Network` that :func:`tinygraph_models.train.train` uses
(``cost``, ``accuracy``, ``predict``, ``net.parameters()``, ``state``).

Examples
--------
>>> import numpy as np
>>> from tinygraph_models import multiclass
>>> net = multiclass.build("cnn", 64, 10, seed=0)
>>> X = np.random.default_rng(1).standard_normal((64, 5)); Y = np.array([[0, 3, 9, 3, 1]])
>>> cost = net.cost(X, Y)
>>> cost.backward()
>>> net.parameters["W1"].grad.shape, net.predict_proba(X).shape
((32, 1, 3, 3), (10, 5))
"""

from __future__ import annotations

import contextlib
import math
import numbers

import numpy as np

import tinygraph as tg
from tinygraph import nn
from tinygraph_models.init import INITS, initialize_parameters

#: Hidden layer sizes per model, without n_x and the classes (filled in from the data).
#: The MLP's width was chosen by cross-validation inside the training split
#: (docs/tutorial.md, section 12).
MODELS = {"softmax": [], "mlp": [512], "cnn": []}

#: The CNN's shape: filters of the two convolutions, their kernel, the pool and the
#: zero padding of the second convolution (the first has none). On 8x8 digits:
#: (N, 1, 8, 8) -> conv (N, 32, 6, 6) -> pool (N, 32, 3, 3) -> conv (N, 64, 1, 1)
#: -> 64 features -> 10 logits. The filters and the padding were chosen by
#: cross-validation inside the training split (docs/tutorial.md, section 12).
CNN = {"filters": (32, 64), "kernel": 3, "pool": 2, "padding": 0}

TITLES = {"softmax": "softmax regression", "mlp": "MLP with a softmax head", "cnn": "CNN with a softmax head"}


def default_units(model: str, n_x: int, n_classes: int) -> list:
    """``[n_x, ..., C]`` for "softmax" and "mlp"; for "cnn", ``[n_x, f1, f2, C]`` (filters).

    Examples
    --------
    >>> default_units("mlp", 64, 10), default_units("softmax", 64, 10)
    ([64, 512, 10], [64, 10])
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    if model == "cnn":
        return [n_x, *CNN["filters"], n_classes]
    return [n_x, *MODELS[model], n_classes]


def check_units(model: str, n_units, n_classes: int) -> list:
    """Validate a layer list ``[n_x, ..., C]`` for ``model``; returns it as ints.

    Softmax regression takes exactly ``[n_x, C]``; the MLP at least one hidden layer.

    Examples
    --------
    >>> check_units("mlp", [64, 32, 10], 10)
    [64, 32, 10]
    >>> check_units("mlp", [64, 32, 1], 10)
    Traceback (most recent call last):
    ...
    ValueError: the output layer of a 10-class classifier has 10 units, one per class, got 1 in [64, 32, 1]
    """
    if model not in ("softmax", "mlp"):
        raise ValueError(f"--model {model} takes no --layers" if model == "cnn" else f"unknown model {model!r}")
    units = [int(n) for n in n_units]
    if len(units) < 2 or any(n < 1 for n in units):
        raise ValueError(f"layer sizes must be at least two positive integers, got {units}")
    if units[-1] != n_classes:
        raise ValueError(
            f"the output layer of a {n_classes}-class classifier has {n_classes} units, one per class, "
            f"got {units[-1]} in {units}"
        )
    if model == "softmax" and len(units) != 2:
        raise ValueError(f"--model softmax needs 2 layer sizes ([n_x, {n_classes}]), got {units}")
    if model == "mlp" and len(units) < 3:
        raise ValueError(f"--model mlp needs a hidden layer ([n_x, n_h, ..., {n_classes}]), got {units}")
    return units


def _side_after(side: int, spec: dict) -> tuple:
    """(side after the pool, side after the second convolution) of ``side``-wide images."""
    pooled = (side - spec["kernel"] + 1) // spec["pool"]
    return pooled, pooled + 2 * spec["padding"] - spec["kernel"] + 1


def image_side(n_features: int, where: str = "the data", cnn: dict | None = None) -> int:
    """The side of the square one-channel images stored as ``n_features`` rows, checked
    to be large enough for the CNN (:data:`CNN`, or ``cnn``'s overrides of it).

    Examples
    --------
    >>> image_side(64)
    8
    >>> image_side(30, "breast-cancer")
    Traceback (most recent call last):
    ...
    ValueError: --model cnn takes square one-channel images, one per column: breast-cancer has 30 features, not a square number
    >>> image_side(36, "small.npz")
    Traceback (most recent call last):
    ...
    ValueError: --model cnn: small.npz holds 6x6 images, too small for conv 3x3, max-pool 2, conv 3x3 (they need at least 8x8)
    """
    side = math.isqrt(int(n_features))
    if side * side != n_features:
        raise ValueError(
            f"--model cnn takes square one-channel images, one per column: {where} has {n_features} features, "
            "not a square number"
        )
    spec = CNN | (cnn or {})
    if min(_side_after(side, spec)) < 1:
        least = next(s for s in range(1, 10 * spec["kernel"] * spec["pool"]) if min(_side_after(s, spec)) >= 1)
        k, padding = spec["kernel"], spec["padding"]
        padded = f" with padding {padding}" if padding else ""
        raise ValueError(
            f"--model cnn: {where} holds {side}x{side} images, too small for conv {k}x{k}, max-pool {spec['pool']}, "
            f"conv {k}x{k}{padded} (they need at least {least}x{least})"
        )
    return side


#: Where a seed's random numbers come from: ``np.random.default_rng([seed, stream])``.
#: Stream 0 is ``default_rng(seed)`` itself (the weights), 1 the redraws of dead units
#: (nets.redraw_dead_units), 2 the mini-batch order (train.train); 3 the dropout masks.
DROPOUT_STREAM = 3


@contextlib.contextmanager
def in_mode(net: nn.Module, training: bool):
    """Run the block with every module of ``net`` in training (True) or evaluation mode,
    then give each module back the mode it had (a module's own mode, not only the top one).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    >>> with in_mode(net, False):
    ...     net.layers[1].training
    False
    >>> net.layers[1].training
    True
    """
    modes = [(module, module.training) for _, module in net.named_modules()]
    net.train(training)
    try:
        yield net
    finally:
        for module, mode in modes:
            module.training = mode


def check_dropout(p, owner: str = "build") -> float:
    """``p`` as a float, if it is a probability of dropping a unit: a real number in [0, 1).

    Examples
    --------
    >>> check_dropout(0.5)
    0.5
    >>> check_dropout(1.0)
    Traceback (most recent call last):
    ...
    ValueError: build: dropout must be a number in [0, 1) (the probability of dropping a unit), got 1.0
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not (0 <= p < 1):
        raise ValueError(f"{owner}: dropout must be a number in [0, 1) (the probability of dropping a unit), got {p!r}")
    return float(p)


def _labels(Y) -> tg.Tensor:
    """Labels (1, N) or (N,) as the (N,) class indices ``cross_entropy`` takes for (C, N) logits."""
    if isinstance(Y, tg.Tensor):
        return Y.reshape(-1)  # an op, not a read of Y.data: tg.compile can trace it
    return tg.Tensor(np.asarray(Y).reshape(-1), name="Y")


class Classifier:
    """What every ten-class network shares: the softmax head, the cost and the predictions.

    Subclasses set ``self.net`` (the layers up to the logits), ``self.model``,
    ``self.n_units`` and ``self.L`` (the index of the output layer).
    """

    model: str
    net: nn.Module
    n_units: list
    L: int

    @property
    def n_classes(self) -> int:
        return self.n_units[-1]

    @property
    def parameters(self) -> dict:
        """``{"W1": Tensor, "b1": Tensor, ...}``."""
        return dict(self.net.named_parameters())

    def logits(self, X) -> tg.Tensor:
        """Z_L (C, N): the output layer before the softmax."""
        X = X if isinstance(X, tg.Tensor) else tg.Tensor(X, name="X")
        return self.net(X)

    def forward(self, X) -> tg.Tensor:
        """A_L = softmax(Z_L) along the class axis: each column holds one sample's class probabilities."""
        Z_L = self.logits(X)
        with tg.name_scope(f"layer{self.L}"):
            return tg.softmax(Z_L, axis=0).named(f"A{self.L}")

    def cost(self, X, Y) -> tg.Tensor:
        """Mean cross-entropy over the N samples, from the logits in one op (gradient ``(A_L - Y) / N``)."""
        return tg.cross_entropy(self.logits(X), _labels(Y), axis=0).named("cost")

    def predict_proba(self, X) -> np.ndarray:
        """A_L as an array (C, N), computed without recording a graph, in evaluation mode
        (no unit dropped); the network's mode is restored afterwards."""
        with tg.no_grad(), in_mode(self.net, False):
            return self.forward(X).data

    def predict(self, X) -> np.ndarray:
        """The most probable class of each column, (1, N) float (the labels' layout); ties go to the lower class.

        Evaluated as :meth:`predict_proba` is: in evaluation mode, the mode restored afterwards.
        """
        with tg.no_grad(), in_mode(self.net, False):
            return self.logits(X).argmax(axis=0).reshape(1, -1).astype(np.float64)

    def accuracy(self, X, Y) -> float:
        """The fraction of columns of ``X`` whose predicted class (:meth:`predict`) equals the label in ``Y``."""
        return float(np.mean(self.predict(X) == np.asarray(Y).reshape(1, -1)))

    def state(self) -> dict:
        """The parameters as plain arrays, ``{"W1": ..., ...}``."""
        return {name: p.data.copy() for name, p in self.parameters.items()}

    def architecture(self) -> dict:
        """Arrays besides the parameters that rebuilding the network needs (saved in params.npz)."""
        return {}

    def describe(self) -> str:
        return f"{self.model} net {self.n_units}"


class Dense(Classifier):
    """Softmax regression (no hidden layer) or an MLP: Linear + ReLU layers, then Linear to C logits.

    Parameters
    ----------
    model : {"softmax", "mlp"}
    parameters : dict
        ``{"W1": (n_1, n_x), "b1": (n_1, 1), ..., "WL": (C, n_{L-1}), "bL": (C, 1)}``.
    dropout : float
        With p > 0, an ``nn.Dropout(p)`` after each hidden ReLU (in training mode only;
        evaluation is the identity, so a saved network needs none to predict). 0 adds no
        layer.
    rng : numpy.random.Generator or int, optional
        The dropout layers' masks are drawn from it, in layer order.
    """

    def __init__(self, model: str, parameters: dict, *, dropout: float = 0.0, rng=None):
        self.model = model
        self.redrawn = []
        self.dropout = check_dropout(dropout, f"{model} network")
        if self.dropout and model != "mlp":
            raise ValueError(f"{model} network: dropout {self.dropout:g} needs hidden layers; only --model mlp has them")
        rng = np.random.default_rng(rng)  # one stream for every dropout layer, drawn in layer order
        L = len(parameters) // 2
        expected = {f"{kind}{l}" for l in range(1, L + 1) for kind in "Wb"}
        if L == 0 or set(parameters) != expected:
            raise ValueError(
                f"{model} network: parameters must be named W1, b1, ..., WL, bL; got {', '.join(sorted(parameters)) or 'none'}"
            )
        layers = [nn.Linear.from_arrays(parameters[f"W{l}"], parameters[f"b{l}"], index=l) for l in range(1, L + 1)]
        stack = []
        for l, layer in enumerate(layers, start=1):
            stack.append(layer)
            if l < L:
                stack.append(nn.Activation("relu", index=l))
                if self.dropout:
                    drop = nn.Dropout(self.dropout, rng=rng)
                    drop.index = l  # its mask is drawn in layer l's name scope, beside the ReLU it follows
                    stack.append(drop)
        self.net = nn.Sequential(*stack)
        self.n_units = [layers[0].W.shape[1]] + [layer.W.shape[0] for layer in layers]
        self.L = L

    def describe(self) -> str:
        """The model and its layer sizes, and the dropout if there is one.

        Examples
        --------
        >>> build("mlp", 64, 10, layers=[64, 32, 10], dropout=0.5).describe()
        'mlp net [64, 32, 10], dropout 0.5 after each hidden ReLU (training only)'
        """
        text = super().describe()
        return f"{text}, dropout {self.dropout:g} after each hidden ReLU (training only)" if self.dropout else text


class Images(nn.Module):
    """Columns (n_x, N) to one-channel images (N, 1, side, side): the inverse of ``nn.Flatten``."""

    def __init__(self, side: int):
        self.side = side

    def forward(self, X) -> tg.Tensor:
        X = X if isinstance(X, tg.Tensor) else tg.Tensor(X, name="X")
        if X.ndim != 2 or X.shape[0] != self.side * self.side:
            raise ValueError(
                f"cnn: expects images of {self.side}x{self.side} = {self.side * self.side} rows, one column per sample; "
                f"got shape {tuple(X.shape)}"
            )
        # Row r*side + c of a column is pixel (r, c): row-major, as the files store the pixels.
        return X.T.reshape(X.shape[1], 1, self.side, self.side).named("X as images")

    def __repr__(self):
        return f"Images({self.side}x{self.side})"


class ConvNet(Classifier):
    """conv -> ReLU -> max-pool -> conv -> ReLU -> linear, on square one-channel images.

    Parameters
    ----------
    parameters : dict
        ``W1`` (f1, 1, k, k), ``b1`` (f1,), ``W2`` (f2, f1, k, k), ``b2`` (f2,),
        ``W3`` (C, f2 * h * h), ``b3`` (C, 1), h the side after the second convolution.
    side : int
        The images' side (8 for the digits).
    padding : int
        Zero padding of the second convolution.
    pool : int
        The max-pool's window and stride.
    """

    model = "cnn"

    def __init__(self, parameters: dict, *, side: int, padding: int = CNN["padding"], pool: int = CNN["pool"]):
        self.redrawn = []
        names = {"W1", "b1", "W2", "b2", "W3", "b3"}
        if set(parameters) != names:
            raise ValueError(f"cnn network: parameters must be named {', '.join(sorted(names))}; got {', '.join(sorted(parameters))}")
        W1, b1, W2, b2, W3, b3 = (np.asarray(parameters[k]) for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
        if W1.ndim != 4 or W1.shape[1] != 1 or W2.ndim != 4 or W2.shape[1] != W1.shape[0]:
            raise ValueError(f"cnn network: filters W1 {W1.shape} and W2 {W2.shape} do not chain (f1, 1, k, k), (f2, f1, k, k)")
        self.side, self.padding, self.pool = int(side), int(padding), int(pool)
        h = self.side - W1.shape[2] + 1  # the first convolution has no padding
        pooled = h // self.pool
        h = pooled + 2 * self.padding - W2.shape[2] + 1
        if pooled < 1 or h < 1 or W3.shape[1] != W2.shape[0] * h * h:
            raise ValueError(
                f"cnn network: W3 {W3.shape} does not fit {self.side}x{self.side} images through W1 {W1.shape}, "
                f"a {self.pool}x{self.pool} pool and W2 {W2.shape} with padding {self.padding} ({W2.shape[0]} x {h} x {h} features)"
            )
        # Built with fixed draws, then given the saved weights.
        zero = np.random.default_rng(0)
        conv1 = nn.Conv2d(1, W1.shape[0], W1.shape[2:], index=1, rng=zero, dtype=W1.dtype)
        conv2 = nn.Conv2d(W1.shape[0], W2.shape[0], W2.shape[2:], padding=self.padding, index=2, rng=zero, dtype=W2.dtype)
        for conv, W, b in ((conv1, W1, b1), (conv2, W2, b2)):
            conv.W.data, conv.b.data = W.copy(), b.copy()
        self.net = nn.Sequential(
            Images(self.side),
            conv1, nn.Activation("relu", index=1), nn.MaxPool2d(self.pool),
            conv2, nn.Activation("relu", index=2), nn.Flatten(),
            nn.Linear.from_arrays(W3, b3, index=3),
        )
        self.n_units = [self.side * self.side, W1.shape[0], W2.shape[0], W3.shape[0]]
        self.L = 3

    def architecture(self) -> dict:
        return {"image_side": np.int64(self.side), "cnn_padding": np.int64(self.padding), "cnn_pool": np.int64(self.pool)}

    def describe(self) -> str:
        f1, f2, C = self.n_units[1:]
        return cnn_layout(self.side, (f1, f2), self.parameters["W1"].shape[2], self.pool, self.padding, C)


def cnn_layout(side: int, filters=CNN["filters"], kernel: int = CNN["kernel"], pool: int = CNN["pool"],
               padding: int = CNN["padding"], n_classes: int = 10) -> str:
    """The CNN's layers in words.

    Examples
    --------
    >>> cnn_layout(8)
    'cnn on 8x8 images: conv 32@3x3 -> relu -> max-pool 2 -> conv 64@3x3 -> relu -> linear 10'
    """
    f1, f2 = filters
    return (
        f"cnn on {side}x{side} images: conv {f1}@{kernel}x{kernel} -> relu -> max-pool {pool} -> "
        f"conv {f2}@{kernel}x{kernel}{f' (padding {padding})' if padding else ''} -> relu -> linear {n_classes}"
    )


def _cnn_parameters(side: int, n_classes: int, *, filters, kernel: int, pool: int, padding: int, init: str, seed: int,
                    dtype) -> dict:
    """Fresh CNN weights: convolutions by fan-in (and fan-out for Xavier) over their windows, as nn.Conv2d draws them."""
    rng = np.random.default_rng(seed)
    f1, f2 = filters
    conv1 = nn.Conv2d(1, f1, kernel, init=init, rng=rng, dtype=dtype)
    conv2 = nn.Conv2d(f1, f2, kernel, padding=padding, init=init, rng=rng, dtype=dtype)
    pooled = (side - kernel + 1) // pool
    h = pooled + 2 * padding - kernel + 1
    if pooled < 1 or h < 1:
        raise ValueError(f"cnn: {side}x{side} images are too small for two {kernel}x{kernel} convolutions and a pool of {pool}")
    W3 = INITS[init](rng, n_classes, f2 * h * h).astype(dtype)
    return {
        "W1": conv1.W.data, "b1": conv1.b.data, "W2": conv2.W.data, "b2": conv2.b.data,
        "W3": W3, "b3": np.zeros((n_classes, 1), dtype=dtype),
    }


def build(model: str, n_features: int, n_classes: int, *, layers=None, init: str = "he", seed: int = 0,
          dtype=np.float64, alive_on=None, cnn: dict | None = None, dropout: float = 0.0) -> Classifier:
    """A ten-class (or C-class) network with fresh weights.

    Parameters
    ----------
    model : {"softmax", "mlp", "cnn"}
    n_features, n_classes : int
    layers : list of int, optional
        ``[n_x, ..., C]`` for softmax and mlp (default :func:`default_units`); the cnn
        takes none.
    init : {"he", "xavier", "document"}
    seed : int
        Seeds the weights (and the redraws of dead units, and the dropout masks: stream
        :data:`DROPOUT_STREAM`).
    alive_on : ndarray (n_x, N), optional
        For the MLP: redraw hidden units dead on every column of it, as
        :func:`tinygraph_models.nets.redraw_dead_units` does for the binary nets.
    cnn : dict, optional
        Overrides of :data:`CNN` (``filters``, ``kernel``, ``pool``, ``padding``).
    dropout : float
        For the MLP: the probability, in [0, 1), of dropping each hidden unit at each
        training step (``nn.Dropout`` after each hidden ReLU). 0, the default, adds no
        layer. softmax and cnn take none.

    Examples
    --------
    >>> net = build("mlp", 64, 10, seed=0)
    >>> net.n_units, sorted(net.parameters)
    ([64, 512, 10], ['W1', 'W2', 'b1', 'b2'])
    >>> build("cnn", 64, 10).describe()
    'cnn on 8x8 images: conv 32@3x3 -> relu -> max-pool 2 -> conv 64@3x3 -> relu -> linear 10'
    >>> build("mlp", 64, 10, dropout=0.2).net
    Sequential(Linear(64 -> 512), Activation('relu'), Dropout(p=0.2), Linear(512 -> 10))
    """
    if init not in INITS:
        raise ValueError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    dropout = check_dropout(dropout)
    if dropout and model in ("softmax", "cnn"):
        what = "has no hidden layer" if model == "softmax" else "has no dropout layer"
        raise ValueError(f"--model {model} {what} to apply dropout {dropout:g} to; only --model mlp takes --dropout")
    if model == "cnn":
        if layers is not None:
            raise ValueError("--model cnn takes no --layers: its layers are fixed (conv 3x3, max-pool 2, conv 3x3, linear)")
        spec = CNN | (cnn or {})
        side = image_side(n_features, cnn=cnn)
        parameters = _cnn_parameters(side, n_classes, filters=spec["filters"], kernel=spec["kernel"], pool=spec["pool"],
                                     padding=spec["padding"], init=init, seed=seed, dtype=dtype)
        return ConvNet(parameters, side=side, padding=spec["padding"], pool=spec["pool"])
    units = default_units(model, n_features, n_classes) if layers is None else list(layers)
    if units[0] != n_features:
        raise ValueError(f"the layer sizes {units} start with {units[0]} inputs but the data have {n_features} features")
    units = check_units(model, units, n_classes)
    parameters = initialize_parameters(units, init, seed=seed, dtype=dtype)
    redrawn = []
    if alive_on is not None and len(units) > 2:
        from tinygraph_models.nets import redraw_dead_units

        parameters, redrawn = redraw_dead_units(parameters, alive_on, init=init, seed=seed)
    network = Dense(model, parameters, dropout=dropout, rng=np.random.default_rng([seed, DROPOUT_STREAM]))
    network.redrawn = redrawn
    return network


def from_parameters(model: str, parameters: dict, extra: dict) -> Classifier:
    """The network saved as ``parameters`` (and the ``architecture()`` arrays in ``extra``)."""
    if model == "cnn":
        missing = [k for k in ("image_side", "cnn_padding", "cnn_pool") if k not in extra]
        if missing:
            raise ValueError(f"a cnn parameter file needs {', '.join(missing)}")
        return ConvNet(parameters, side=int(extra.pop("image_side")), padding=int(extra.pop("cnn_padding")),
                       pool=int(extra.pop("cnn_pool")))
    return Dense(model, parameters)


def confusion_matrix(labels, predictions, n_classes: int) -> np.ndarray:
    """Counts (C, C): row = true class, column = predicted class.

    Examples
    --------
    >>> confusion_matrix([0, 1, 1, 2], [0, 2, 1, 2], 3).tolist()
    [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    """
    labels = np.asarray(labels).astype(np.int64).ravel()
    predictions = np.asarray(predictions).astype(np.int64).ravel()
    return np.bincount(labels * n_classes + predictions, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
