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
import math
from collections.abc import Iterator
from typing import ClassVar

import numpy as np

from tinygraph._compile import refuse_while_tracing
from tinygraph._graph import name_scope
from tinygraph._ops import OPS
from tinygraph.functional import conv2d, log_softmax, max_pool2d, relu, sigmoid, softmax, tanh
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


def _is_parameter(value) -> bool:
    """A parameter is a leaf Tensor that requires grad: what an optimiser can step."""
    return isinstance(value, Tensor) and value.requires_grad and value.is_leaf


def _is_whole(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


class Module:
    """A callable holding parameters and sub-modules. Subclasses define ``forward``.

    Parameters (leaf Tensors with ``requires_grad=True``) and sub-modules assigned to
    attributes in ``__init__`` are found by reading the attributes, in the order they were
    first assigned: ``parameters()``, ``state_dict()``, ``zero_grad()`` and ``train()``
    see them without further declaration. A list of layers must be an ``nn.ModuleList``
    (a plain list or dict holding layers or parameters is refused rather than silently
    skipped). Subclasses written for the older API, which override ``children()`` and
    ``own_parameters()``, keep working.

    Every parameter has a unique name, its path: the attribute names (or positions in a
    ``Sequential`` / ``ModuleList``) leading to it, joined by dots, e.g. ``hidden.W`` or
    ``0.b``. A layer built with ``index=l`` (``Linear(..., index=l)``, as in
    ``Sequential.mlp``) keeps the document's names ``W{l}``, ``b{l}`` wherever it sits.
    Two different parameters with the same name are an error, not a silent overwrite in
    ``state_dict()``.

    Attributes
    ----------
    training : bool
        True (the default) in training mode, False after ``eval()``; ``Dropout`` reads it.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self, rng):
    ...         self.hidden = nn.Linear(3, 4, rng=rng)
    ...         self.out = nn.Linear(4, 1, rng=rng)
    ...     def forward(self, X):
    ...         return self.out(tg.relu(self.hidden(X)))
    >>> net = TwoLayer(np.random.default_rng(0))
    >>> [name for name, _ in net.named_parameters()]
    ['hidden.W', 'hidden.b', 'out.W', 'out.b']
    >>> net(np.ones((3, 5))).shape
    (1, 5)
    """

    training = True  # the class default; train() and eval() set it on each instance

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):  # pragma: no cover - abstract
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    # ----- what a module holds

    def _attributes(self) -> tuple[dict, dict]:
        """(parameters, modules) held in attributes, each ``{attribute: value}`` in assignment order."""
        params, modules = {}, {}
        for key, value in vars(self).items():
            if isinstance(value, Module):
                modules[key] = value
            elif _is_parameter(value):
                params[key] = value
        return params, modules

    def own_parameters(self) -> dict:
        """``{name: Tensor}`` for the parameters this module holds itself, not through its children."""
        return self._attributes()[0]

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for each direct sub-module: its attribute name, in assignment order."""
        if type(self).children is not Module.children:
            # A subclass listing its children itself (the older API): name each by the
            # attribute holding it, else by its position in children().
            attribute = {}
            for key, value in vars(self).items():
                if isinstance(value, Module):
                    attribute.setdefault(id(value), key)
            for i, child in enumerate(self.children()):
                yield attribute.get(id(child), str(i)), child
        else:
            yield from self._attributes()[1].items()

    def children(self) -> list:
        """The direct sub-modules, in order."""
        return [child for _, child in self.named_children()]

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """(path, module) for this module (path ``prefix``, "" by default) and every module inside it, each once."""
        seen: set = set()
        stack = [(prefix, self, frozenset())]
        while stack:
            path, module, ancestors = stack.pop()
            if id(module) in ancestors:
                raise ValueError(f"{type(self).__name__}: module {path!r} contains itself, so it has no finite list of parameters")
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield path, module
            inner = ancestors | {id(module)}
            children = [(f"{path}.{name}" if path else name, child, inner) for name, child in module.named_children()]
            stack.extend(reversed(children))

    def _walk(self, prefix: str, ancestors: frozenset, visited: list) -> Iterator[tuple[str, Tensor]]:
        if id(self) in ancestors:
            raise ValueError(f"{type(self).__name__}: module {prefix.rstrip('.')!r} contains itself, so it has no finite list of parameters")
        visited.append(self)
        ancestors = ancestors | {id(self)}
        for name, p in self.own_parameters().items():
            yield prefix + name, p
        for name, child in self.named_children():
            # A layer that carries the document's index already names its parameters uniquely (W1, b1).
            yield from child._walk(prefix if child._keeps_document_names() else f"{prefix}{name}.", ancestors, visited)

    @staticmethod
    def _check_nothing_hidden(visited: list, found: set) -> None:
        """Refuse layers or parameters kept in a plain list, tuple or dict, where they would be missed."""
        for module in visited:
            for key, value in vars(module).items():
                if not isinstance(value, (list, tuple, dict)):
                    continue
                for item in value.values() if isinstance(value, dict) else value:
                    if (isinstance(item, Module) or _is_parameter(item)) and id(item) not in found:
                        what = "a Module" if isinstance(item, Module) else "a parameter"
                        hint = "nn.ModuleList([...])" if isinstance(item, Module) else "an attribute of its own"
                        raise TypeError(
                            f"{type(module).__name__}: attribute {key!r} is a {type(value).__name__} holding {what}, "
                            f"whose parameters would be missed by parameters() and state_dict(); hold it in {hint}"
                        )

    def _keeps_document_names(self) -> bool:
        return False

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """(name, Tensor) for every parameter, in a stable order, each parameter once.

        Raises
        ------
        ValueError
            When two different parameters would get the same name (say, two layers both
            built with ``index=1``), naming them; or a module contains itself.
        TypeError
            When a layer or parameter is held only in a plain list, tuple or dict
            attribute, where it would be missed (hold layers in an ``nn.ModuleList``).
        """
        named, names, seen, visited = [], {}, set(), []
        clashes: list = []
        for name, p in self._walk(prefix, frozenset(), visited):
            if id(p) in seen:  # one Tensor reached twice (a shared layer) is one parameter
                continue
            seen.add(id(p))
            if name in names and name not in clashes:
                clashes.append(name)
            names[name] = p
            named.append((name, p))
        self._check_nothing_hidden(visited, seen | {id(module) for module in visited})
        if clashes:
            raise ValueError(
                f"{type(self).__name__}: parameter names must be unique, but {', '.join(map(repr, clashes))} "
                "each name more than one parameter; give every indexed layer its own index, or leave index unset "
                "so that the layer's position or attribute names it"
            )
        return iter(named)

    def parameters(self) -> list:
        """Every parameter (leaf Tensors with ``requires_grad=True``), each once."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Forget accumulated gradients (``.grad = None``) before the next backward."""
        for p in self.parameters():
            p.grad = None

    # ----- modes

    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and every module inside it.

        Returns the module, so ``net = Net().eval()`` reads naturally.

        Examples
        --------
        >>> from tinygraph import nn
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        >>> net.eval().training, net.layers[1].training
        (False, False)
        >>> net.train().layers[1].training
        True
        """
        if not isinstance(mode, (bool, np.bool_)):
            raise TypeError(f"train: mode must be a bool, got {type(mode).__name__}")
        for _, module in self.named_modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``. Dropout passes its input through unchanged."""
        return self.train(False)

    # ----- saving and loading

    def state_dict(self) -> dict:
        """``{name: array}`` copies of the parameters, e.g. for ``np.savez(path, **state)``.

        Examples
        --------
        >>> import io
        >>> import numpy as np
        >>> from tinygraph import nn
        >>> a = nn.Sequential(nn.Linear(3, 4), nn.Activation("tanh"), nn.Linear(4, 1))
        >>> list(a.state_dict())
        ['0.W', '0.b', '2.W', '2.b']
        >>> file = io.BytesIO(); np.savez(file, **a.state_dict()); _ = file.seek(0)
        >>> b = nn.Sequential(nn.Linear(3, 4), nn.Activation("tanh"), nn.Linear(4, 1))
        >>> b.load_state_dict(np.load(file))
        >>> X = np.ones((3, 2))
        >>> bool(np.array_equal(a(X).data, b(X).data))
        True
        """
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state) -> None:
        """Copy arrays into the parameters; names and shapes must match exactly.

        Parameters
        ----------
        state : mapping of str to array_like
            Such as ``state_dict()`` or ``np.load("params.npz")``. Values are cast to
            each parameter's dtype.

        Raises
        ------
        ValueError
            Naming, in one message, every parameter the state misses, every entry it has
            that the module does not, and every entry of the wrong shape or not numeric.
            Nothing is loaded then.
        TypeError
            When ``state`` is not a mapping.
        """
        if not (hasattr(state, "keys") and hasattr(state, "__getitem__")):
            raise TypeError(f"load_state_dict: expected a mapping of names to arrays, got {type(state).__name__}")
        own = dict(self.named_parameters())
        keys = list(state.keys())
        given = set(keys)
        missing = [name for name in own if name not in given]
        unexpected = [key for key in keys if key not in own]
        wrong, values = [], {}
        for name, p in own.items():
            if name not in given:
                continue
            value = np.asarray(state[name])
            if value.dtype.kind not in "iuf":
                wrong.append(f"{name!r} holds {value.dtype} values, not numbers")
            elif value.shape != p.shape:
                wrong.append(f"{name!r} is {p.shape} here but {value.shape} in the state")
            else:
                values[name] = value
        if missing or unexpected or wrong:
            problems = []
            if missing:
                problems.append(f"missing {', '.join(map(repr, missing))}")
            if unexpected:
                problems.append(f"unexpected {', '.join(map(repr, unexpected))}")
            if wrong:
                problems.append(f"wrong: {'; '.join(wrong)}")
            raise ValueError(
                f"load_state_dict: the state does not fit this {type(self).__name__} ({'; '.join(problems)}); nothing was loaded"
            )
        for name, p in own.items():
            p.data = values[name].astype(p.dtype, copy=True)
            p.grad = None


def _layer_scope(index: int | None):
    """The name scope ``layer{index}`` that Sequential records layer ``index``'s ops in."""
    return name_scope(f"layer{index}") if index is not None else contextlib.nullcontext()


def _check_index(owner: str, index) -> None:
    if index is None:
        return
    if not _is_whole(index):
        raise TypeError(f"{owner}: index must be a whole number (the layer l) or None, got {type(index).__name__}")
    if index < 0:
        raise ValueError(f"{owner}: index must be >= 0 (the layer l), got {index}")


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
        The layer number l: the parameters are then named ``W{l}``, ``b{l}`` as in the
        document, wherever the layer sits; without it they are ``W`` and ``b``, under
        the path of the layer (``0.W`` in a Sequential, ``hidden.W`` as an attribute).
    dtype : numpy dtype

    Examples
    --------
    >>> import numpy as np
    >>> from tinygraph import nn
    >>> layer = nn.Linear(3, 2, index=1, rng=np.random.default_rng(0))
    >>> [(name, p.shape) for name, p in layer.named_parameters()]
    [('W1', (2, 3)), ('b1', (2, 1))]
    >>> layer(np.ones((3, 5))).shape
    (2, 5)
    """

    def __init__(self, n_in: int, n_out: int, *, init: str = "he", rng=None, index: int | None = None, dtype=np.float64):
        for what, n in (("n_in", n_in), ("n_out", n_out)):
            if not _is_whole(n) or n < 1:
                raise ValueError(f"Linear: {what} must be a positive integer, got {n!r}")
        if init not in INITIALIZERS:
            raise ValueError(f"Linear: unknown init {init!r}; choose one of {sorted(INITIALIZERS)}")
        _check_index("Linear", index)
        rng = np.random.default_rng() if rng is None else rng
        suffix = "" if index is None else str(index)
        self.index = index
        with _layer_scope(index):  # so that tg.draw puts W and b in their layer's cluster
            self.W = Tensor(INITIALIZERS[init](rng, int(n_out), int(n_in), dtype), requires_grad=True, name=f"W{suffix}")
            self.b = Tensor(np.zeros((int(n_out), 1), dtype=dtype), requires_grad=True, name=f"b{suffix}")

    @classmethod
    def from_arrays(cls, W, b, *, index: int | None = None) -> Linear:
        """A layer holding copies of given weights (W (out, in), b (out, 1))."""
        W, b = np.asarray(W), np.asarray(b)
        # Floating weights keep their dtype (a float32 net stays float32); anything else becomes float64.
        dtype = W.dtype if W.dtype.kind == "f" else np.dtype(np.float64)
        W, b = np.array(W, dtype=dtype), np.array(b, dtype=dtype)  # copies: the layer owns its weights
        if W.ndim != 2 or b.shape != (W.shape[0], 1):
            raise ValueError(f"Linear.from_arrays: need W (out, in) and b (out, 1), got {W.shape} and {b.shape}")
        _check_index("Linear.from_arrays", index)
        layer = cls.__new__(cls)
        suffix = "" if index is None else str(index)
        layer.index = index
        with _layer_scope(index):
            layer.W = Tensor(W, requires_grad=True, name=f"W{suffix}")
            layer.b = Tensor(b, requires_grad=True, name=f"b{suffix}")
        return layer

    def own_parameters(self) -> dict:
        own = super().own_parameters()
        if self.index is None:
            return own
        return {f"{name}{self.index}": p for name, p in own.items()}

    def _keeps_document_names(self) -> bool:
        return self.index is not None

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

    FUNCTIONS: ClassVar[dict] = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}

    def __init__(self, kind: str, *, index: int | None = None):
        if kind not in self.FUNCTIONS:
            raise ValueError(f"Activation: unknown kind {kind!r}; choose one of {sorted(self.FUNCTIONS)}")
        _check_index("Activation", index)
        self.kind, self.index = kind, index

    def _keeps_document_names(self) -> bool:
        return self.index is not None

    def forward(self, Z) -> Tensor:
        return self.FUNCTIONS[self.kind](Z).named(f"A{'' if self.index is None else self.index}")

    def __repr__(self):
        return f"Activation({self.kind!r})"


class Softmax(Module):
    """``softmax`` along ``axis`` (0, the class axis of the (classes, samples) layout): a probability head.

    For training, pair the logits (no softmax) with ``tg.cross_entropy``, which fuses
    the two stably; use this layer to read probabilities.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygraph import nn
    >>> nn.Softmax()(np.zeros((4, 2))).data.tolist()
    [[0.25, 0.25], [0.25, 0.25], [0.25, 0.25], [0.25, 0.25]]
    """

    function = staticmethod(softmax)

    def __init__(self, axis: int = 0, *, index: int | None = None):
        if not _is_whole(axis):
            raise TypeError(f"{type(self).__name__}: axis must be an int, got {axis!r}")
        _check_index(type(self).__name__, index)
        self.axis, self.index = int(axis), index

    def _keeps_document_names(self) -> bool:
        return self.index is not None

    def forward(self, Z) -> Tensor:
        return self.function(Z, axis=self.axis).named(f"A{'' if self.index is None else self.index}")

    def __repr__(self):
        return f"{type(self).__name__}(axis={self.axis})"


class LogSoftmax(Softmax):
    """``log_softmax`` along ``axis`` (0 by default): log-probabilities, finite for any logits.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygraph import nn
    >>> np.exp(nn.LogSoftmax()(np.zeros((2, 3))).data).tolist()
    [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    """

    function = staticmethod(log_softmax)


class Conv2d(Module):
    """A 2-D convolution layer: ``tg.conv2d(x, W, b, stride, padding)`` on images (N, C, H, W).

    Parameters
    ----------
    in_channels, out_channels : int
        C of the input images and F, the number of filters.
    kernel_size : int or pair of int
    stride, padding : int or pair of int
    bias : bool
        Whether the layer has a bias b (F,), starting at zero.
    init : {"he", "xavier", "document"}
        How W (F, C, kh, kw) is drawn: He's N(0, 2 / fan_in) with fan_in = C kh kw, Glorot's
        N(0, 2 / (fan_in + fan_out)) with fan_out = F kh kw, or the document's U[0, 0.01).
    rng : numpy.random.Generator, optional
    index : int, optional
        The layer number l: the parameters are then named ``W{l}``, ``b{l}`` (as in ``Linear``).
    dtype : numpy dtype

    Examples
    --------
    >>> import numpy as np
    >>> from tinygraph import nn
    >>> conv = nn.Conv2d(1, 8, 3, padding=1, rng=np.random.default_rng(0))
    >>> [(name, p.shape) for name, p in conv.named_parameters()]
    [('W', (8, 1, 3, 3)), ('b', (8,))]
    >>> conv(np.ones((5, 1, 8, 8))).shape
    (5, 8, 8, 8)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0, bias: bool = True,
                 init: str = "he", rng=None, index: int | None = None, dtype=np.float64):
        for what, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not _is_whole(n) or n < 1:
                raise ValueError(f"Conv2d: {what} must be a positive integer, got {n!r}")
        if init not in INITIALIZERS:
            raise ValueError(f"Conv2d: unknown init {init!r}; choose one of {sorted(INITIALIZERS)}")
        _check_index("Conv2d", index)
        # Building the ops checks stride, padding and kernel size: a bad layer fails where it is made.
        op = OPS["conv2d"](stride, padding)
        self.stride, self.padding = op.stride, op.padding
        kernel = OPS["im2col"](kernel_size).kernel_size
        rng = np.random.default_rng() if rng is None else rng
        shape = (int(out_channels), int(in_channels)) + kernel
        fan_in, fan_out = shape[1] * kernel[0] * kernel[1], shape[0] * kernel[0] * kernel[1]
        if init == "document":
            W = uniform_small(rng, shape[0], fan_in, dtype).reshape(shape)
        else:
            variance = 2.0 / fan_in if init == "he" else 2.0 / (fan_in + fan_out)
            W = (rng.standard_normal(shape) * np.sqrt(variance)).astype(dtype)
        suffix = "" if index is None else str(index)
        self.index = index
        with _layer_scope(index):
            self.W = Tensor(W, requires_grad=True, name=f"W{suffix}")
            self.b = Tensor(np.zeros(shape[0], dtype=dtype), requires_grad=True, name=f"b{suffix}") if bias else None

    def own_parameters(self) -> dict:
        own = super().own_parameters()
        if self.index is None:
            return own
        return {f"{name}{self.index}": p for name, p in own.items()}

    def _keeps_document_names(self) -> bool:
        return self.index is not None

    def forward(self, x) -> Tensor:
        Z = conv2d(x, self.W, self.b, stride=self.stride, padding=self.padding)
        return Z.named(f"Z{'' if self.index is None else self.index}")

    def __repr__(self):
        f, c, kh, kw = self.W.shape
        return f"Conv2d({c} -> {f}, kernel {(kh, kw)}, stride {self.stride}, padding {self.padding})"


class MaxPool2d(Module):
    """``tg.max_pool2d(x, kernel_size, stride)``: the maximum of each window; stride defaults to the kernel.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygraph import nn
    >>> nn.MaxPool2d(2)(np.arange(16.0).reshape(1, 1, 4, 4)).data.tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """

    def __init__(self, kernel_size, stride=None):
        op = OPS["max_pool2d"](kernel_size, stride)  # checked where the layer is built
        self.kernel_size, self.stride = op.kernel_size, op.stride

    def forward(self, x) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride)

    def __repr__(self):
        return f"MaxPool2d({self.kernel_size}, stride={self.stride})"


class Flatten(Module):
    """Samples-first data to the library's (features, samples) layout: (N, C, H, W) becomes (C*H*W, N).

    The bridge from convolution layers, which take images (N, C, H, W) as numpy and
    PyTorch lay them out, to ``Linear``, which takes one column per sample. Any input
    with a leading samples axis works: (N, d1, d2, ...) becomes (d1*d2*..., N).

    Examples
    --------
    >>> import numpy as np
    >>> from tinygraph import nn
    >>> nn.Flatten()(np.zeros((5, 16, 3, 3))).shape
    (144, 5)
    """

    def forward(self, x) -> Tensor:
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim < 2:
            raise ValueError(f"Flatten: expects samples first, (N, ...) with at least 2 axes, got shape {tuple(x.shape)}")
        return x.reshape(x.shape[0], -1).T

    def __repr__(self):
        return "Flatten()"


class Dropout(Module):
    """Inverted dropout: in training mode each unit is zeroed with probability ``p`` and
    the kept ones are scaled by ``1 / (1 - p)``, so the expected activation is unchanged
    and evaluation needs no rescaling. In evaluation mode (``eval()``) it is the identity.

    Gradients flow through the kept units only, scaled by the same ``1 / (1 - p)``.

    Parameters
    ----------
    p : float
        The probability of dropping a unit, in [0, 1). 0 drops nothing.
    rng : numpy.random.Generator or int, optional
        Where the masks are drawn from: a Generator, or a seed for a new one. One mask is
        drawn per call, the same shape as the input (one value per unit and sample).

    Examples
    --------
    >>> import numpy as np
    >>> from tinygraph import nn
    >>> drop = nn.Dropout(0.5, rng=0)
    >>> drop(np.ones((2, 4))).data                 # kept units are doubled
    array([[2., 0., 0., 0.],
           [2., 2., 2., 2.]])
    >>> drop.eval()(np.ones((2, 4))).data          # evaluation: unchanged
    array([[1., 1., 1., 1.],
           [1., 1., 1., 1.]])
    """

    def __init__(self, p: float = 0.5, *, rng=None):
        if not (_is_real(p) and 0 <= p < 1):
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        if rng is not None and not isinstance(rng, np.random.Generator) and not _is_whole(rng):
            raise TypeError(f"Dropout: rng must be a numpy Generator or an integer seed, got {type(rng).__name__}")
        self.p = float(p)
        self.rng = np.random.default_rng(rng)

    def forward(self, A) -> Tensor:
        # A compiled function would replay one mask forever, and keep the mode it was traced in.
        refuse_while_tracing(
            "nn.Dropout draws a random mask (and can be switched between train and eval)",
            "Compile the layers before and after the dropout separately, or leave this model uncompiled.",
        )
        if not isinstance(A, Tensor):
            A = Tensor(A)
        if not self.training or self.p == 0.0:
            return A
        keep = self.rng.random(A.shape) >= self.p
        mask = keep.astype(A.dtype) / A.dtype.type(1.0 - self.p)
        return A * Tensor(mask, name="dropout mask")

    def __repr__(self):
        return f"Dropout(p={self.p})"


class ModuleList(Module):
    """A list of modules whose parameters belong to the module holding it.

    Use it where a plain list would hide the layers from ``parameters()``; the layers
    are named by their position, ``blocks.0.W``.

    Examples
    --------
    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> class Deep(nn.Module):
    ...     def __init__(self, widths):
    ...         self.blocks = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
    ...     def forward(self, X):
    ...         for block in self.blocks:
    ...             X = tg.tanh(block(X))
    ...         return X
    >>> [name for name, _ in Deep([3, 4, 2]).named_parameters()]
    ['blocks.0.W', 'blocks.0.b', 'blocks.1.W', 'blocks.1.b']
    """

    def __init__(self, modules=()):
        self._items: list = []
        self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end (checked: a Module, and its parameter names fit in)."""
        return self.extend([module])

    def extend(self, modules) -> ModuleList:
        """Append each module in turn; if any is refused, none is added."""
        modules = list(modules)
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                hint = f"; write {type(self).__name__}(*layers)" if isinstance(module, (list, tuple)) else ""
                raise TypeError(
                    f"{type(self).__name__}: item {len(self._items) + i} is a {type(module).__name__}, not a Module{hint}"
                )
        before = len(self._items)
        self._items.extend(modules)
        try:
            self.named_parameters()  # two layers with the same index: refused when built, not at save time
        except (ValueError, TypeError):
            del self._items[before:]
            raise
        return self

    def named_children(self):
        for i, module in enumerate(self._items):
            yield str(i), module

    def __len__(self):
        return len(self._items)

    def __iter__(self):
        return iter(self._items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return ModuleList(self._items[i])
        return self._items[i]

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} defines no forward: iterate over it in your module's forward")

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(repr(module) for module in self._items)})"


class Sequential(ModuleList):
    """Modules applied in order; each layer's ops are recorded in the name scope ``layer{l}``.

    Layers are named by position (``0.W``, ``2.b``), except those built with an index,
    which keep the document's ``W1``, ``b1``.

    Examples
    --------
    >>> import numpy as np
    >>> from tinygraph import nn
    >>> net = nn.Sequential(nn.Linear(3, 2, index=1), nn.Activation("relu", index=1))
    >>> [name for name, _ in net.named_parameters()]
    ['W1', 'b1']
    >>> [name for name, _ in nn.Sequential(nn.Linear(3, 2), nn.Activation("relu"), nn.Linear(2, 1)).named_parameters()]
    ['0.W', '0.b', '2.W', '2.b']
    """

    def __init__(self, *layers: Module):
        super().__init__(layers)

    @classmethod
    def mlp(cls, n_units, *, hidden: str = "relu", output: str | None = None, init: str = "he", rng=None, dtype=np.float64):
        """The document's L-layer net: Linear + ``hidden`` for layers 1..L-1, then Linear (+ ``output``).

        ``output=None`` ends with the logits Z_L, to pair with ``cross_entropy`` (ten
        classes: ``n_units[-1] = 10``) or ``binary_cross_entropy_with_logits`` (one unit);
        ``"softmax"`` or ``"log_softmax"`` end with class probabilities or their logs
        along axis 0, and ``"sigmoid"`` (or another activation) with that function.
        The layers carry their index, so the parameters are named ``W1, b1, ..., WL, bL``.

        Examples
        --------
        >>> import numpy as np
        >>> from tinygraph import nn
        >>> net = nn.Sequential.mlp([64, 32, 10], output="softmax", rng=np.random.default_rng(0))
        >>> P = net(np.ones((64, 5)))
        >>> P.shape, bool(np.allclose(P.data.sum(axis=0), 1.0))
        ((10, 5), True)
        """
        n_units = list(n_units)
        if len(n_units) < 2:
            raise ValueError(f"Sequential.mlp: need at least [n_x, n_out], got {n_units}")
        heads = {"softmax": Softmax, "log_softmax": LogSoftmax}
        if output is not None and output not in heads and output not in Activation.FUNCTIONS:
            raise ValueError(
                f"Sequential.mlp: unknown output {output!r}; choose None (logits) or one of {sorted([*heads, *Activation.FUNCTIONS])}"
            )
        rng = np.random.default_rng() if rng is None else rng
        layers: list = []
        last = len(n_units) - 1
        for l in range(1, last + 1):
            layers.append(Linear(n_units[l - 1], n_units[l], init=init, rng=rng, index=l, dtype=dtype))
            kind = hidden if l < last else output
            if kind in heads and l == last:
                layers.append(heads[kind](axis=0, index=l))
            elif kind is not None:
                layers.append(Activation(kind, index=l))
        return cls(*layers)

    @property
    def layers(self) -> tuple:
        """The layers, in order (read-only: use ``append`` to add one)."""
        return tuple(self._items)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return Sequential(*self._items[i])
        return self._items[i]

    def forward(self, X) -> Tensor:
        A = X
        for layer in self._items:
            with _layer_scope(getattr(layer, "index", None)):
                A = layer(A)
        return A

    def __repr__(self):
        inner = ", ".join(repr(layer) for layer in self._items)
        return f"Sequential({inner})"


# ----------------------------------------------------------------- gradient clipping


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale the gradients so that their global norm is at most ``max_norm``.

    The global norm is ``sqrt(sum of every gradient element squared)`` over all the
    parameters, as if their gradients were one vector. When it exceeds ``max_norm``,
    every gradient is multiplied by ``max_norm / norm``, so the norm becomes
    ``max_norm`` (to rounding) and the direction is kept; otherwise nothing changes.
    Each clipped gradient is a new array (``p.grad = ...``), never written into.

    Parameters
    ----------
    params : Module, Tensor or iterable of Tensor
        Parameters without a ``.grad`` are skipped; one listed twice counts once.
    max_norm : float
        > 0.

    Returns
    -------
    float
        The global norm before clipping (PyTorch's ``clip_grad_norm_`` convention), to
        log or to watch for exploding gradients.

    Raises
    ------
    ValueError
        ``max_norm`` not a positive finite number; or a gradient holding nan or inf
        (a non-finite norm cannot be clipped into a finite one: the gradients are left
        as they are and the parameters at fault are named).
    TypeError
        An item that is not a Tensor, or a gradient that is a Tensor (from
        ``backward(create_graph=True)``).

    Examples
    --------
    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> w = tg.Tensor([3.0, 4.0], requires_grad=True)
    >>> (w * w).sum().backward()                 # grad = 2w = [6, 8], norm 10
    >>> nn.clip_grad_norm([w], max_norm=5.0)
    10.0
    >>> w.grad.tolist()
    [3.0, 4.0]
    """
    if isinstance(params, Module):
        params = params.parameters()
    elif isinstance(params, Tensor):
        params = [params]
    params = list(params)
    if not (_is_real(max_norm) and math.isfinite(max_norm) and max_norm > 0):
        raise ValueError(f"clip_grad_norm: max_norm must be a positive finite number, got {max_norm!r}")
    with_grad, seen = [], set()
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"clip_grad_norm: item {i} is a {type(p).__name__}, not a Tensor")
        if p.grad is None or id(p) in seen:
            continue
        seen.add(id(p))
        if isinstance(p.grad, Tensor):
            raise TypeError(
                f"clip_grad_norm: parameter {i} ({p.name or 'unnamed'}) has a Tensor gradient (from create_graph=True); "
                "clip the arrays of an ordinary backward"
            )
        with_grad.append((i, p, np.asarray(p.grad)))
    peaks = [float(np.max(np.abs(g))) for _, _, g in with_grad if g.size]
    if not all(math.isfinite(peak) for peak in peaks):
        bad = [f"{i} ({p.name or 'unnamed'})" for i, p, g in with_grad if not np.all(np.isfinite(g))]
        raise ValueError(
            f"clip_grad_norm: the gradients' global norm is not finite: parameter {', '.join(bad)} holds nan or inf; "
            "no scaling can make it finite, so the gradients are left unchanged"
        )
    peak = max(peaks, default=0.0)
    if peak == 0.0:
        return 0.0
    # Divided by the largest element first, so squares neither overflow nor underflow.
    total = peak * math.sqrt(sum(float(np.sum(np.square(g.astype(np.float64, copy=False) / peak))) for _, _, g in with_grad))
    if total > max_norm:
        scale = max_norm / total
        for _, p, g in with_grad:
            p.grad = (g * scale).astype(g.dtype, copy=False)
    return total


# ----------------------------------------------------------------- gradient flow (tinygraph/_flow.py)

from tinygraph._flow import FlowHistory, FlowReport, gradient_flow, gradient_report  # noqa: E402, F401
