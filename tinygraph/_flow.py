"""Gradient flow: per layer, how large the weights and their gradients are, and whether units work.

``gradient_report(model, X, Y, loss_fn)`` runs the model once and reads, for every layer
(a module holding a weight matrix), the norms of the weight and of its gradient, their
ratio (and the relative size of one update for a learning rate), the share of dead ReLU
units and of saturated sigmoid/tanh values over the batch, and a verdict. It never
touches ``.grad``: the gradients come from ``tg.grad``. ``gradient_flow(model, loss)``
does the same from a loss already computed (before its ``backward()``, which stays
possible), so a training loop pays one extra backward pass per report.

The verdicts (chosen from the document's deep net, see docs/debugging.md):

- **vanishing** when ``|dW| < 1e-5 |W|``: one step of learning rate 1 would change the
  weights by less than 0.001 %. Healthy nets sit at 1e-3 to 1 (He init on the
  document's [n_x, 5, 5, 5, 3, 1]: 2e-4 and above); the document's ``uniform * 0.01``
  init at 1e-8 to 1e-6. Also when ``|dW|`` is below 1e-4 of the largest layer's
  gradient norm in the model: the layers do not learn together.
- **exploding** when a gradient is not finite or ``|dW| > 100 |W|``: a step of
  learning rate 0.01 would be as large as the weights.
- **dead** when every ReLU unit of the layer is zero on the whole batch (a unit is a row
  of the document's (features, samples) activations, a channel of (N, C, H, W) images).
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tinygraph._files import write_atomically
from tinygraph._graph import RELEASED, topological_order
from tinygraph._shapes import fmt
from tinygraph.functional import grad
from tinygraph.tensor import Tensor

#: |dW| / |W| below which a layer's gradients vanish.
VANISHING_RATIO = 1e-5
#: |dW| below this share of the largest layer gradient norm also counts as vanishing.
VANISHING_SHARE = 1e-4
#: |dW| / |W| above which a layer's gradients explode.
EXPLODING_RATIO = 1e2
#: A sigmoid value below 0.01 or above 0.99, a tanh value beyond +-0.99, is saturated:
#: its slope is under 1% (sigmoid) or 2% (tanh) of its largest.
SATURATION = 0.99

_ACTIVATIONS = ("relu", "sigmoid", "tanh")


@dataclass(frozen=True)
class LayerFlow:
    """The gradient flow through one layer."""

    name: str  # "layer1" for a layer with an index, else the module's path
    weight: str  # the weight's parameter name (W1, 0.W)
    shape: tuple
    weight_norm: float
    grad_norm: float  # nan when the loss does not depend on the weight
    grad_ratio: float  # |dW| / |W|
    update_ratio: float | None  # lr |dW| / |W|, when a learning rate is given
    bias: str | None = None
    bias_grad_norm: float | None = None
    activation: str | None = None  # the relu/sigmoid/tanh applied to the layer's output
    dead: float | None = None  # share of ReLU units zero on every sample
    saturated: float | None = None  # share of sigmoid/tanh values in the flat region
    verdict: str = "ok"  # "ok", "vanishing", "exploding", "dead" or "unused"
    reasons: tuple = field(default=())

    def as_dict(self) -> dict:
        d = asdict(self)
        d["shape"] = list(self.shape)
        d["reasons"] = list(self.reasons)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


class FlowReport:
    """What :func:`gradient_report` found: one :class:`LayerFlow` per layer, input side first.

    ``str()`` is a table with the warnings below it; ``as_dict()`` is JSON-ready;
    ``vanishing``, ``exploding`` and ``dead`` list the layers with that verdict.
    """

    def __init__(self, layers: list, *, loss: float, lr: float | None):
        self.layers = layers
        self.loss = loss
        self.lr = lr

    def __iter__(self):
        return iter(self.layers)

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, key):
        if isinstance(key, str):
            for layer in self.layers:
                if key in (layer.name, layer.weight):
                    return layer
            raise KeyError(f"gradient report: no layer {key!r}; layers are {[layer.name for layer in self.layers]}")
        return self.layers[key]

    def _named(self, verdict: str) -> list:
        return [layer.name for layer in self.layers if layer.verdict == verdict]

    @property
    def vanishing(self) -> list:
        return self._named("vanishing")

    @property
    def exploding(self) -> list:
        return self._named("exploding")

    @property
    def dead(self) -> list:
        return self._named("dead")

    @property
    def healthy(self) -> bool:
        return all(layer.verdict == "ok" for layer in self.layers)

    def warnings(self) -> list:
        """One line per layer whose verdict is not ok: what is wrong and by how much."""
        return [f"{layer.name}: {layer.verdict}: {'; '.join(layer.reasons)}" for layer in self.layers if layer.reasons]

    def as_dict(self) -> dict:
        return {
            "loss": self.loss if math.isfinite(self.loss) else None,
            "lr": self.lr,
            "layers": [layer.as_dict() for layer in self.layers],
            "vanishing": self.vanishing,
            "exploding": self.exploding,
            "dead": self.dead,
        }

    def __repr__(self):
        return f"<FlowReport: {len(self.layers)} layers, {len(self.warnings())} warnings>"

    def __str__(self):
        lr = "" if self.lr is None else f", lr {self.lr:g}"
        head = f"gradient flow: {len(self.layers)} layers, loss {self.loss:.6g}{lr}"
        rows = [("layer", "weight", "shape", "|W|", "|dW|", "|dW|/|W|", "update/|W|", "|db|", "activation",
                 "dead", "saturated", "verdict")]
        for layer in self.layers:
            rows.append((
                layer.name, layer.weight, fmt(layer.shape), _e(layer.weight_norm), _e(layer.grad_norm),
                _e(layer.grad_ratio), _e(layer.update_ratio), _e(layer.bias_grad_norm), layer.activation or "-",
                _share(layer.dead), _share(layer.saturated), layer.verdict,
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = [head] + ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        warnings = self.warnings()
        if warnings:
            lines.append("warnings:")
            lines += [f"  {w}" for w in warnings]
        return "\n".join(lines)


def _e(value) -> str:
    if value is None:
        return "-"
    return f"{value:.2e}" if math.isfinite(value) else str(value)


def _share(value) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


# ----------------------------------------------------------------- reading a model


def _layers(model) -> list:
    """(name, weight name, W, bias name, b) for every module that holds a weight matrix."""
    names = {id(p): name for name, p in model.named_parameters()}
    found = []
    for path, module in model.named_modules():
        own = module.own_parameters()
        weights = [(key, p) for key, p in own.items() if p.ndim >= 2]
        if not weights:
            continue
        key, W = weights[0]
        biases = [(k, p) for k, p in own.items() if p is not W and p.ndim <= 2 and p.shape[0] == W.shape[0]]
        index = getattr(module, "index", None)
        name = f"layer{index}" if index is not None else (path or type(module).__name__)
        bias_name, b = (names[id(biases[0][1])], biases[0][1]) if biases else (None, None)
        found.append((name, names[id(W)], W, bias_name, b))
    return found


def _children(root) -> dict:
    children: dict = {}
    for node in topological_order([root]):
        for parent in node.parents:
            children.setdefault(parent, []).append(node)
    return children


def _activation_of(weight_node, children: dict, weight_nodes: set):
    """The first relu/sigmoid/tanh node downstream of a weight, not past another layer's weight."""
    queue = deque([(weight_node, 0)])
    seen = {weight_node}
    while queue:
        node, depth = queue.popleft()
        for child in sorted(children.get(node, ()), key=lambda n: n.id):
            if child in seen:
                continue
            seen.add(child)
            if child.rule.name in _ACTIVATIONS:
                return child
            if depth < 4 and not any(p in weight_nodes for p in child.parents if p is not node):
                queue.append((child, depth + 1))
    return None


def _output_of(node) -> np.ndarray:
    """An activation node's value, from what it saved for backward."""
    if node.saved is RELEASED:
        raise RuntimeError(
            "gradient_flow: the loss's graph was freed by backward(); call it before loss.backward() "
            "(it leaves the graph usable), or use gradient_report, which runs the model itself"
        )
    slots = node.rule.save_slots
    if -1 in slots:
        return np.asarray(node.saved[slots.index(-1)])
    return np.asarray(node.rule.forward(*[np.asarray(s) for s in node.saved]))  # pragma: no cover - saves x


def _unit_stats(kind: str, out: np.ndarray) -> tuple:
    """(dead share, saturated share). Units are rows of (features, samples), the document's
    layout, and channels of images (N, C, H, W), a convolution's."""
    out = np.asarray(out, dtype=np.float64)
    if kind == "relu":
        if out.ndim == 4:
            out = np.moveaxis(out, 1, 0)
        units = out.reshape(out.shape[0], -1) if out.ndim > 1 else out.reshape(-1, 1)
        return float(np.mean(np.all(units <= 0, axis=1))), None
    if kind == "sigmoid":
        flat = (out < 1 - SATURATION) | (out > SATURATION)
    else:
        flat = np.abs(out) > SATURATION
    return None, float(np.mean(flat)) if out.size else 0.0


def _norm(a) -> float:
    a = np.asarray(a, dtype=np.float64)
    return float(np.sqrt(np.sum(a * a)))


def gradient_flow(model, loss: Tensor, *, lr: float | None = None) -> FlowReport:
    """The gradient flow of ``loss`` through ``model``'s layers, read from the recorded graph.

    Call it before ``loss.backward()``: it takes the gradients with ``tg.grad`` (keeping
    the graph, touching no ``.grad``) and the activations from the arrays the graph
    saved, so the backward and the optimizer step can follow as usual.

    Parameters
    ----------
    model : tinygraph.nn.Module
        Its layers are the modules that hold a weight matrix (``nn.Linear``); a layer's
        activation is the first relu, sigmoid or tanh applied to its output.
    loss : Tensor
        A one-element Tensor computed by ``model``.
    lr : float, optional
        The learning rate, for the relative size of one gradient-descent update.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> net = nn.Sequential.mlp([3, 4, 1], rng=np.random.default_rng(0))
    >>> X, Y = np.random.default_rng(1).random((3, 8)), np.ones((1, 8))
    >>> loss = tg.binary_cross_entropy_with_logits(net(X), Y)
    >>> report = nn.gradient_flow(net, loss, lr=0.1)
    >>> [(layer.name, layer.activation, layer.verdict) for layer in report]
    [('layer1', 'relu', 'ok'), ('layer2', None, 'ok')]
    >>> loss.backward()                     # the graph is still there
    """
    # Read through the Module interface, not the class: nn imports this module.
    if not callable(getattr(model, "named_modules", None)) or not callable(getattr(model, "named_parameters", None)):
        raise TypeError(f"gradient_flow: model must be a tinygraph.nn.Module, got {type(model).__name__}")
    if not isinstance(loss, Tensor):
        raise TypeError(f"gradient_flow: loss must be a Tensor, got {type(loss).__name__}")
    if loss.size != 1:
        raise ValueError(f"gradient_flow: the loss must have one element, got shape {fmt(loss.shape)}")
    if lr is not None and not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"gradient_flow: lr must be a positive number or None, got {lr!r}")
    layers = _layers(model)
    if not layers:
        raise ValueError(f"gradient_flow: {type(model).__name__} holds no weight matrix, so it has no layers to report")
    if not loss.requires_grad:
        raise RuntimeError("gradient_flow: the loss does not require grad: no parameter of the model reached it")
    tensors = [t for _, _, W, _, b in layers for t in (W, b) if t is not None and t.requires_grad]
    reached = set(topological_order([loss.node]))
    used = [t for t in tensors if t.node in reached]
    for node in reached:
        if node.parents and node.saved is RELEASED:
            _output_of(node)  # raises: the graph was freed
    grads = dict(zip(map(id, used), grad(loss, used, retain_graph=True))) if used else {}
    children = _children(loss.node)
    weight_nodes = {W.node for _, _, W, _, _ in layers if W.node is not None}

    raw = []
    for name, weight, W, bias_name, b in layers:
        dW = grads.get(id(W))
        weight_norm = _norm(W.data)
        grad_norm = _norm(dW) if dW is not None else float("nan")
        ratio = grad_norm / weight_norm if weight_norm > 0 else float("inf") if grad_norm > 0 else 0.0
        db = grads.get(id(b)) if b is not None else None
        activation = dead = saturated = None
        act = _activation_of(W.node, children, weight_nodes) if W.node in reached else None
        if act is not None:
            activation = act.rule.name
            dead, saturated = _unit_stats(activation, _output_of(act))
        raw.append(dict(
            name=name, weight=weight, shape=tuple(W.shape), weight_norm=weight_norm, grad_norm=grad_norm,
            grad_ratio=ratio, update_ratio=None if lr is None or dW is None else lr * ratio,
            bias=bias_name, bias_grad_norm=None if db is None else _norm(db),
            activation=activation, dead=dead, saturated=saturated, _g=None if dW is None else grad_norm,
        ))
    largest = max((r["grad_norm"] for r in raw if math.isfinite(r["grad_norm"])), default=0.0)
    result = [LayerFlow(**_verdict(r, largest), **r) for r in raw]
    return FlowReport(result, loss=float(loss.item()), lr=lr)


def _verdict(r: dict, largest: float) -> dict:
    g, ratio = r.pop("_g"), r["grad_ratio"]
    if g is None:
        return {"verdict": "unused", "reasons": ("the loss does not depend on this weight",)}
    if not math.isfinite(g):
        return {"verdict": "exploding", "reasons": (f"|d{r['weight']}| is not finite",)}
    if r["dead"] == 1.0:
        return {"verdict": "dead", "reasons": ("every ReLU unit is zero on every sample of the batch",)}
    if ratio > EXPLODING_RATIO:
        return {"verdict": "exploding", "reasons": (
            f"|d{r['weight']}|/|{r['weight']}| = {ratio:.2g} > {EXPLODING_RATIO:g}: one step of lr 0.01 moves "
            "the weights by more than their own size",)}
    reasons = []
    if ratio < VANISHING_RATIO:
        reasons.append(f"|d{r['weight']}|/|{r['weight']}| = {ratio:.2g} < {VANISHING_RATIO:g}")
    if largest > 0 and g < VANISHING_SHARE * largest:
        reasons.append(f"|d{r['weight']}| = {g:.2g} is below {VANISHING_SHARE:g} of the largest layer gradient ({largest:.2g})")
    if reasons:
        return {"verdict": "vanishing", "reasons": tuple(reasons)}
    return {"verdict": "ok", "reasons": ()}


def gradient_report(model, X, Y, loss_fn, *, lr: float | None = None) -> FlowReport:
    """Run ``loss_fn(model(X), Y)`` and report the gradient flow through ``model``'s layers.

    Nothing is changed: no ``.grad`` is written and the weights are untouched. See
    :func:`gradient_flow` for what is read, and the module's notes for the verdicts.

    Examples
    --------
    The document's deep net with the document's init: the gradients vanish.

    >>> import numpy as np
    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.random((64, 100)), (rng.random((1, 100)) > 0.5) * 1.0
    >>> net = nn.Sequential.mlp([64, 5, 5, 5, 3, 1], init="document", rng=rng)
    >>> report = nn.gradient_report(net, X, Y, tg.binary_cross_entropy_with_logits)
    >>> report.vanishing
    ['layer1', 'layer2', 'layer3', 'layer4']
    >>> f"{report['layer1'].grad_ratio:.0e}"
    '2e-07'
    
    """
    if not callable(loss_fn):
        raise TypeError(f"gradient_report: loss_fn must be a function (prediction, Y) -> loss, got {type(loss_fn).__name__}")
    X = X if isinstance(X, Tensor) else Tensor(X, name="X")
    Y = Y if isinstance(Y, Tensor) else Tensor(Y, name="Y")
    loss = loss_fn(model(X), Y)
    return gradient_flow(model, loss, lr=lr)


# ----------------------------------------------------------------- over epochs


class FlowHistory:
    """Gradient-flow reports over training, for ``flow.json`` and ``flow.png``.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> net = nn.Sequential.mlp([3, 4, 1], rng=np.random.default_rng(0))
    >>> X, Y = np.random.default_rng(1).random((3, 8)), np.ones((1, 8))
    >>> history = nn.FlowHistory()
    >>> for epoch in (1, 2):
    ...     history.record(epoch, nn.gradient_report(net, X, Y, tg.binary_cross_entropy_with_logits))
    >>> history.layers, len(history.grad_norms()["layer1"])
    (['layer1', 'layer2'], 2)
    """

    def __init__(self):
        self.epochs: list = []
        self.reports: list = []

    def record(self, epoch: int, report: FlowReport) -> None:
        if not isinstance(report, FlowReport):
            raise TypeError(f"FlowHistory.record: expected a FlowReport, got {type(report).__name__}")
        self.epochs.append(int(epoch))
        self.reports.append(report.as_dict())

    @property
    def layers(self) -> list:
        names: list = []
        for report in self.reports:
            for layer in report["layers"]:
                if layer["name"] not in names:
                    names.append(layer["name"])
        return names

    def grad_norms(self) -> dict:
        """``{layer: [|dW| per recorded epoch]}`` (None where not finite)."""
        return {name: [_find(report, name, "grad_norm") for report in self.reports] for name in self.layers}

    def warnings(self) -> list:
        """The layers whose gradients vanished or exploded, with the epochs where they did."""
        lines = []
        for name in self.layers:
            for verdict in ("vanishing", "exploding", "dead"):
                epochs = [e for e, r in zip(self.epochs, self.reports) if name in r[verdict]]
                if epochs:
                    when = f"epoch {epochs[0]}" if len(epochs) == 1 else f"{len(epochs)} of {len(self.epochs)} reports (epochs {epochs[0]}-{epochs[-1]})"
                    lines.append(f"{name}: gradients {verdict if verdict != 'dead' else 'dead (every ReLU unit off)'} at {when}")
        return lines

    def as_dict(self) -> dict:
        return {
            "epochs": self.epochs,
            "layers": self.layers,
            "grad_norm": self.grad_norms(),
            "warnings": self.warnings(),
            "reports": self.reports,
            "thresholds": {"vanishing_ratio": VANISHING_RATIO, "vanishing_share": VANISHING_SHARE,
                           "exploding_ratio": EXPLODING_RATIO, "saturation": SATURATION},
        }

    @classmethod
    def from_dict(cls, data: dict) -> FlowHistory:
        history = cls()
        history.epochs = [int(e) for e in data["epochs"]]
        history.reports = list(data["reports"])
        return history

    def save(self, path) -> Path:
        """Write :meth:`as_dict` as JSON to ``path``, atomically (a reader never sees half a file)."""
        text = json.dumps(self.as_dict(), indent=2) + "\n"
        return write_atomically(path, lambda tmp: tmp.write_text(text))


def _find(report: dict, name: str, key: str):
    for layer in report["layers"]:
        if layer["name"] == name:
            return layer[key]
    return None
