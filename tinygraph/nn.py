"""Layers in the document's convention: W is (out, in), b is (out, 1), and activations
are (features, samples), so a layer computes ``Z = W @ A_prev + b``.

Examples
--------
The document's deep network [nx, 5, 5, 5, 3, 1], ReLU hidden layers, a sigmoid output:

>>> import numpy as np
>>> import tinygraph as tg
>>> from tinygraph import nn
>>> net = nn.Sequential.mlp([4, 5, 5, 5, 3, 1], rng=np.random.default_rng(0))
>>> X = tg.Tensor(np.ones((4, 7)), name="X")
>>> net(X).shape
(1, 7)
>>> len(net.parameters())
10
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import numpy as np

from tinygraph._graph import name_scope
from tinygraph.functional import relu, sigmoid, tanh
from tinygraph.tensor import Tensor

# ----------------------------------------------------------------- initialisers


def he_normal(rng: np.random.Generator, n_out: int, n_in: int, dtype=np.float64) -> np.ndarray:
    """N(0, 2/n_in): keeps the variance of ReLU activations steady from layer to layer (He et al., 2015)."""
    return (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(dtype)


def xavier_normal(rng: np.random.Generator, n_out: int, n_in: int, dtype=np.float64) -> np.ndarray:
    """N(0, 2/(n_in + n_out)): Glorot & Bengio's balance of forward and backward variance (for sigmoid/tanh)."""
    return (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / (n_in + n_out))).astype(dtype)


def uniform_small(rng: np.random.Generator, n_out: int, n_in: int, dtype=np.float64) -> np.ndarray:
    """U[0, 0.01): what the document's ``np.random.rand(n_out, n_in) * 0.01`` really draws.

    Too small for a deep ReLU net: the signal shrinks ~100x per layer and the net does
    not learn (see docs/errata.md). Kept to reproduce the document.
    """
    return (rng.random((n_out, n_in)) * 0.01).astype(dtype)


INITIALIZERS = {"he": he_normal, "xavier": xavier_normal, "document": uniform_small}


# ----------------------------------------------------------------- modules


class Module:
    """A callable holding parameters. Subclasses define ``forward`` and, if they hold
    sub-modules, ``children``."""

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def children(self) -> list:
        return []

    def own_parameters(self) -> dict:
        return {}

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(name, Tensor) for every parameter, in a stable order."""
        for name, p in self.own_parameters().items():
            yield prefix + name, p
        for child in self.children():
            yield from child.named_parameters(prefix)

    def parameters(self) -> list:
        """Every parameter (leaf Tensors with requires_grad=True)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Forget accumulated gradients (``.grad = None``) before the next backward."""
        for p in self.parameters():
            p.grad = None

    def state_dict(self) -> dict:
        """{name: array} copies of the parameters, e.g. for ``np.savez``."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict) -> None:
        """Copy arrays into the parameters; names and shapes must match exactly."""
        own = dict(self.named_parameters())
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if missing or unexpected:
            raise KeyError(f"load_state_dict: missing {missing}, unexpected {unexpected}")
        for name, p in own.items():
            value = np.asarray(state[name])
            if value.shape != p.shape:
                raise ValueError(f"load_state_dict: {name} has shape {p.shape}, the state has {value.shape}")
            p.data = value.astype(p.dtype, copy=True)
            p.grad = None


def _layer_scope(index: int | None):
    """The name scope ``layer{index}`` that Sequential records layer ``index``'s ops in."""
    return name_scope(f"layer{index}") if index is not None else contextlib.nullcontext()


class Linear(Module):
    """``Z = W @ A_prev + b`` with W (n_out, n_in) and b (n_out, 1), the document's shapes.

    Parameters
    ----------
    n_in, n_out : int
        Units of the previous layer and of this one.
    init : {"he", "xavier", "document"}
        How W is drawn; b starts at zero.
    rng : numpy.random.Generator, optional
    index : int, optional
        The layer number l, so parameters are named ``W{l}``, ``b{l}`` as in the document.
    dtype : numpy dtype
    """

    def __init__(self, n_in: int, n_out: int, *, init: str = "he", rng=None, index: int | None = None, dtype=np.float64):
        for what, n in (("n_in", n_in), ("n_out", n_out)):
            if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
                raise ValueError(f"Linear: {what} must be a positive integer, got {n!r}")
        if init not in INITIALIZERS:
            raise ValueError(f"Linear: unknown init {init!r}; choose one of {sorted(INITIALIZERS)}")
        rng = np.random.default_rng() if rng is None else rng
        suffix = "" if index is None else str(index)
        self.index = index
        with _layer_scope(index):  # so that tg.draw puts W and b in their layer's cluster
            self.W = Tensor(INITIALIZERS[init](rng, int(n_out), int(n_in), dtype), requires_grad=True, name=f"W{suffix}")
            self.b = Tensor(np.zeros((int(n_out), 1), dtype=dtype), requires_grad=True, name=f"b{suffix}")

    @classmethod
    def from_arrays(cls, W, b, *, index: int | None = None) -> "Linear":
        """A layer holding copies of given weights (W (out, in), b (out, 1))."""
        W, b = np.asarray(W), np.asarray(b)
        # Floating weights keep their dtype (a float32 net stays float32); anything else becomes float64.
        dtype = W.dtype if W.dtype.kind == "f" else np.dtype(np.float64)
        W, b = np.array(W, dtype=dtype), np.array(b, dtype=dtype)  # copies: the layer owns its weights
        if W.ndim != 2 or b.shape != (W.shape[0], 1):
            raise ValueError(f"Linear.from_arrays: need W (out, in) and b (out, 1), got {W.shape} and {b.shape}")
        layer = cls.__new__(cls)
        suffix = "" if index is None else str(index)
        layer.index = index
        with _layer_scope(index):
            layer.W = Tensor(W, requires_grad=True, name=f"W{suffix}")
            layer.b = Tensor(b, requires_grad=True, name=f"b{suffix}")
        return layer

    def own_parameters(self) -> dict:
        return {self.W.name: self.W, self.b.name: self.b}

    def forward(self, A_prev) -> Tensor:
        if not isinstance(A_prev, Tensor):
            A_prev = Tensor(A_prev)
        if A_prev.ndim != 2 or A_prev.shape[0] != self.W.shape[1]:
            raise ValueError(
                f"Linear{'' if self.index is None else ' ' + str(self.index)}: expects inputs shaped "
                f"({self.W.shape[1]}, N), one column per sample, got shape {tuple(A_prev.shape)}"
            )
        Z = self.W @ A_prev + self.b
        return Z.named(f"Z{'' if self.index is None else self.index}")

    def __repr__(self):
        return f"Linear({self.W.shape[1]} -> {self.W.shape[0]})"


class Activation(Module):
    """An elementwise nonlinearity by name: "relu", "sigmoid", "tanh"."""

    FUNCTIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}

    def __init__(self, kind: str, *, index: int | None = None):
        if kind not in self.FUNCTIONS:
            raise ValueError(f"Activation: unknown kind {kind!r}; choose one of {sorted(self.FUNCTIONS)}")
        self.kind, self.index = kind, index

    def forward(self, Z) -> Tensor:
        return self.FUNCTIONS[self.kind](Z).named(f"A{'' if self.index is None else self.index}")

    def __repr__(self):
        return f"Activation({self.kind!r})"


class Sequential(Module):
    """Modules applied in order; each layer's ops are recorded in the name scope ``layer{l}``.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygraph import nn
    >>> net = nn.Sequential(nn.Linear(3, 2, index=1), nn.Activation("relu", index=1))
    >>> [name for name, _ in net.named_parameters()]
    ['W1', 'b1']
    """

    def __init__(self, *layers: Module):
        self.layers = list(layers)

    @classmethod
    def mlp(cls, n_units, *, hidden: str = "relu", output: str | None = None, init: str = "he", rng=None, dtype=np.float64):
        """The document's L-layer net: Linear + ``hidden`` for layers 1..L-1, then Linear (+ ``output``).

        ``output=None`` ends with the logits Z_L, to pair with a ``*_with_logits`` loss.
        """
        n_units = list(n_units)
        if len(n_units) < 2:
            raise ValueError(f"Sequential.mlp: need at least [n_x, n_out], got {n_units}")
        rng = np.random.default_rng() if rng is None else rng
        layers: list = []
        last = len(n_units) - 1
        for l in range(1, last + 1):
            layers.append(Linear(n_units[l - 1], n_units[l], init=init, rng=rng, index=l, dtype=dtype))
            kind = hidden if l < last else output
            if kind is not None:
                layers.append(Activation(kind, index=l))
        return cls(*layers)

    def children(self) -> list:
        return self.layers

    def forward(self, X) -> Tensor:
        A = X
        for layer in self.layers:
            with _layer_scope(getattr(layer, "index", None)):
                A = layer(A)
        return A

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential({inner})"
