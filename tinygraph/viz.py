"""Draw a computation graph with Graphviz: ``tg.draw(root)`` returns a ``graphviz.Digraph``.

The picture reads like the document's derivation, inputs on the left and the cost on
the right: every tensor is a record (its name, shape and dtype) and every op is its own
oval between the tensors it reads and the tensor it makes. Colours tell the kinds of
tensor apart: parameters (leaves that require grad) are amber, inputs and constants
(leaves that do not) are blue-grey, intermediate results are white, and the root has a
heavy border. Name scopes become clusters.

``draw`` only writes DOT source, so it works without the ``dot`` program; a Jupyter
cell shows the returned Digraph as SVG, and :func:`render` writes a file.
"""

from __future__ import annotations

import html
import inspect
import os
import tempfile
import weakref
from pathlib import Path

import graphviz
import numpy as np

from tinygraph._graph import RELEASED, Op, node_gradients, topological_order
from tinygraph._ops import OPS
from tinygraph.tensor import Tensor

__all__ = ["draw", "render", "DotNotFoundError", "OPTIONS"]

#: Every option of :func:`draw` with its default.
OPTIONS = {
    "show_grads": False,
    "show_formulas": False,
    "show_values": False,
    "rankdir": "LR",
    "max_nodes": 500,
    "collapse": False,
    "title": None,
    "legend": False,
}

_RANKDIRS = ("LR", "TB", "RL", "BT")
_COLLAPSE_MODES = (False, True, "scopes", "chains")

# Ops whose operands can be swapped: their edges need no position label.
_COMMUTATIVE = frozenset({"add", "mul"})

# A run of identical ops shorter than this is drawn in full: merging two saves little.
_MIN_CHAIN = 3

# Arrays of at most this many elements are shown in full, bigger ones as min/mean/max.
_FULL_VALUES = 4

_INSTALL_HINT = (
    "install Graphviz, which provides `dot`: `sudo apt-get install graphviz` on Debian/Ubuntu, "
    "`brew install graphviz` on macOS, `conda install -c conda-forge graphviz` with conda, "
    "or see https://graphviz.org/download/; draw() itself needs no `dot` and still returns the DOT source"
)

# ----------------------------------------------------------------- look

_FONT = "Helvetica"
_MONO = "Courier"
_INK = "#2B2B2B"
_MUTED = "#6B7280"
_GRAD_INK = "#B42318"
_VALUE_INK = "#1D4E89"

_STYLE = {
    # fill, border
    "param": ("#FFE8B0", "#B7791F"),
    "input": ("#E3E9F3", "#6F83A6"),
    "const": ("#F1F4F9", "#9AA9C2"),
    "tensor": ("#FFFFFF", "#9AA3AF"),
    "op": ("#DCEBFA", "#3F74B5"),
    "box": ("#EEF2F7", "#5B6B82"),
}

_GRAPH_ATTR = {
    "fontname": _FONT,
    "fontsize": "12",
    "nodesep": "0.22",
    "ranksep": "0.32",
    "bgcolor": "white",  # dark notebook themes would hide black ink on a transparent page
    "pad": "0.15",
    "labelloc": "t",
    "labeljust": "l",
    # One global ranking: clusters are not ranked on their own, which avoids the
    # quadratic start of Graphviz 2.43's network simplex on deep graphs.
    "newrank": "true",
}
# Big pictures trade a little polish for time: dot's x-placement (network simplex)
# and crossing minimisation are capped. Thresholds are drawn nodes.
_SPEED_ATTR = (
    (5000, {"nslimit": "0", "mclimit": "0.2"}),
    (1000, {"nslimit": "0.1", "mclimit": "0.5"}),
)
_NODE_ATTR = {"fontname": _FONT, "fontsize": "11", "color": "#9AA3AF", "penwidth": "1"}
_OPERAND_INK = "#3F74B5"
# The side of an op node where its inputs arrive, for each direction of flow.
_ENTRY_SIDE = {"LR": "w", "RL": "e", "TB": "n", "BT": "s"}
_EDGE_ATTR = {"color": "#6B7280", "arrowsize": "0.6", "penwidth": "0.9"}


class DotNotFoundError(graphviz.ExecutableNotFound):
    """The Graphviz ``dot`` program is not installed (or not on PATH).

    A subclass of ``graphviz.ExecutableNotFound`` (a RuntimeError), so code that
    catches graphviz's own error catches this one too.
    """

    def __init__(self, message: str):
        RuntimeError.__init__(self, message)


# ----------------------------------------------------------------- text


def _esc(text) -> str:
    """Text safe inside a Graphviz HTML-like label (names may hold <, >, &)."""
    return html.escape(str(text), quote=False).replace("\n", " ")


def _num(v: float, digits: int = 4) -> str:
    """A number in a few significant digits; whole numbers keep a '.0' so 1.0 reads as a float."""
    text = f"{v:.{digits}g}"
    if text.lstrip("-").isdigit():
        text += ".0"
    return text


def _nested(values) -> str:
    if isinstance(values, list):
        return "[" + ", ".join(_nested(v) for v in values) + "]"
    return _num(values)


def _summary(array) -> str:
    """Every value of a tiny array, else min / mean / max (nan and inf show as such)."""
    array = np.asarray(array)
    if array.size == 0:
        return "empty"
    if array.size <= _FULL_VALUES:
        return _nested(array.astype(np.float64).tolist())
    with np.errstate(all="ignore"):
        wide = array.astype(np.float64, copy=False)
        return f"min {_num(wide.min(), 3)} · mean {_num(wide.mean(), 3)} · max {_num(wide.max(), 3)}"


def _grad_summary(array) -> str:
    array = np.asarray(array)
    if array.size <= _FULL_VALUES:
        return _summary(array)
    with np.errstate(all="ignore"):
        norm = float(np.linalg.norm(array.astype(np.float64, copy=False).ravel()))
    return f"{_summary(array)} · norm {_num(norm, 3)}"


def _shape_text(shape, dtype) -> str:
    shape = tuple(shape)
    dims = "scalar" if not shape else "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
    return f"{dims} {np.dtype(dtype).name}"


def _font(text: str, *, size: int | None = None, color: str | None = None, face: str | None = None) -> str:
    attrs = ""
    if size is not None:
        attrs += f' POINT-SIZE="{size}"'
    if color is not None:
        attrs += f' COLOR="{color}"'
    if face is not None:
        attrs += f' FACE="{face}"'
    return f"<FONT{attrs}>{text}</FONT>"


def _rows(lines) -> str:
    """An HTML-like label: one borderless, centred row per line."""
    body = "".join(f"<TR><TD>{line}</TD></TR>" for line in lines)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{body}</TABLE>>'


_param_names_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # user op classes may come and go


def _operand_names(op: Op) -> tuple:
    """forward's parameter names (x, y; y_hat, y; ...): the names the formulas use."""
    cls = type(op)
    names = _param_names_cache.get(cls)
    if names is None:
        try:
            params = list(inspect.signature(cls.forward).parameters.values())[1:]
        except (TypeError, ValueError):  # builtins or odd callables: fall back to positions
            params = []
        names = tuple(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
        _param_names_cache[cls] = names
    return names


def _formulas(op: Op) -> list:
    """The backward rules of ``op`` that this graph uses: one per input that needs a gradient."""
    formula = op.formula
    if not formula:
        return []
    if isinstance(formula, str):
        return [formula]
    formula = list(formula)
    if len(formula) == len(op.parents):
        return [f for f, need in zip(formula, op.needs) if need]
    return formula


# What the engine records on every node; the rest of a node's attributes are its settings.
_BOOKKEEPING = frozenset({"parents", "needs", "saved", "shape", "dtype", "id", "label", "scope", "retained"})


def _settings(op: Op) -> tuple:
    """What an op was built with beyond its inputs: its own slots (pow's exponent, sum's
    axis) and any attributes a user op keeps."""
    names = [n for cls in type(op).__mro__ if issubclass(cls, Op) and cls is not Op for n in cls.__dict__.get("__slots__", ())]
    names = [n for n in names if n not in _BOOKKEEPING]
    extra = sorted((k, v) for k, v in getattr(op, "__dict__", {}).items() if k not in _BOOKKEEPING)
    return tuple(n for n, _ in extra), [getattr(op, n, None) for n in names] + [v for _, v in extra]


def _same_op(a: Op, b: Op) -> bool:
    """Same class and settings, so "pow ×3" never hides three different exponents."""
    if type(a) is not type(b):
        return False
    (keys_a, values_a), (keys_b, values_b) = _settings(a), _settings(b)
    if keys_a != keys_b:
        return False
    for x, y in zip(values_a, values_b):
        try:
            if not bool(np.all(x == y)):
                return False
        except Exception:  # values that do not compare (odd user attributes): assume different
            return False
    return True


def _is_literal(leaf: Tensor) -> bool:
    return not leaf.requires_grad and leaf.name is None and leaf.data.size == 1


class _Literal:
    """One use of an unnamed one-element constant, drawn beside the op that reads it.

    tinygraph keeps one shared Tensor per Python number, so drawing that Tensor once
    would join every ``1 - a`` and ``x / N`` of a network at one far-away node.
    """

    __slots__ = ("tensor", "scope")
    name = None
    requires_grad = False
    grad = None

    def __init__(self, tensor: Tensor, scope):
        self.tensor = tensor
        self.scope = scope

    @property
    def data(self):
        return self.tensor.data

    @property
    def shape(self):
        return self.tensor.shape

    @property
    def dtype(self):
        return self.tensor.dtype


# ----------------------------------------------------------------- the graph, as drawn


class _Picture:
    """What to draw for one root: units (ops, or merged boxes and chains), drawn tensors and edges.

    Everything is decided before any DOT is written, so ``max_nodes`` is checked on the
    picture's real size and the output is ordered by creation (op ids), hence stable.
    """

    def __init__(self, root: Tensor, collapse):
        self.root = root
        self.root_node = root._node
        if self.root_node is None:
            self.ops = []
        else:
            self.ops = topological_order([self.root_node])
            self.ops.reverse()  # creation order: inputs before the ops that read them

        # Stable names: ranks in this graph, not the global op ids, so the same graph
        # built twice in one process draws to identical DOT.
        self.op_index = {op: k for k, op in enumerate(self.ops)}
        self.leaf_ids: dict = {}
        self.consumers: dict = {}  # leaf or node -> the ops that read it (repeats kept)
        self.inputs: dict = {}  # op -> what it reads, position by position
        for op in self.ops:
            inputs = []
            for parent in op.parents:
                if not isinstance(parent, Op):
                    if _is_literal(parent):
                        parent = _Literal(parent, op.scope)
                    if parent not in self.leaf_ids:
                        self.leaf_ids[parent] = f"leaf{len(self.leaf_ids)}"
                self.consumers.setdefault(parent, []).append(op)
                inputs.append(parent)
            self.inputs[op] = inputs
        if self.root_node is None:
            self.leaf_ids[root] = "leaf0"

        self.leaf_scope = {leaf: self._leaf_scope(leaf) for leaf in self.leaf_ids}

        self.unit = {op: f"op{k}" for op, k in self.op_index.items()}
        self.boxes: dict = {}  # box id -> (scope, member ops)
        self.box_of_scope: dict = {}
        self.chains: dict = {}  # chain id -> member ops, in order
        collapse_scopes = collapse is True or collapse == "scopes"
        collapse_chains = collapse is True or collapse == "chains"
        if collapse_scopes:
            self._collapse_scopes()
        if collapse_chains:
            self._collapse_chains()
        self.collapsed_units = set(self.boxes) | set(self.chains)
        self._decide_drawn()
        self.spine = self._spine()

    # --- scopes

    def _leaf_scope(self, leaf: Tensor):
        scope = leaf.scope
        if scope is None and not leaf.requires_grad and leaf.name is None:
            # Constants made on the fly (the 1.0 in `1 - a`) carry no scope: draw them
            # next to the op that uses them, inside its cluster.
            scopes = {op.scope for op in self.consumers.get(leaf, ())}
            if len(scopes) == 1:
                scope = scopes.pop()
        return scope

    def _collapse_scopes(self):
        """Each innermost scope that holds ops becomes one box; outer scopes stay clusters."""
        scopes = set()
        for scope in [op.scope for op in self.ops] + list(self.leaf_scope.values()):
            while scope:
                scopes.add(scope)
                scope = scope.rpartition("/")[0]
        parents_of_others = {s.rpartition("/")[0] for s in scopes}
        box_of_scope = self.box_of_scope
        for op in self.ops:
            scope = op.scope
            if scope is None or scope in parents_of_others:
                continue
            box = box_of_scope.get(scope)
            if box is None:
                box = box_of_scope[scope] = f"scope{len(box_of_scope)}"
                self.boxes[box] = (scope, [])
            self.boxes[box][1].append(op)
            self.unit[op] = box

    # --- chains

    def _anonymous_constant(self, parent, reader) -> bool:
        return (
            not isinstance(parent, Op)
            and not parent.requires_grad
            and parent.name is None
            and all(c is reader for c in self.consumers[parent])
        )

    def _collapse_chains(self):
        """Runs of the same op, each reading only the previous one's unnamed result
        (plus unnamed constants), become one node "tanh ×2000"."""
        head: dict = {}  # op -> first op of its run
        position: dict = {}  # op -> which input continues the run
        runs: dict = {}
        for op in self.ops:
            if self.unit[op] in self.boxes:
                continue
            inputs = self.inputs[op]
            links = [i for i, p in enumerate(inputs) if isinstance(p, Op)]
            if len(links) != 1:
                continue
            i = links[0]
            prev = inputs[i]
            if (
                not _same_op(prev, op)
                or prev.label is not None
                or prev.retained is not None
                or prev is self.root_node
                or prev.scope != op.scope
                or self.unit[prev] in self.boxes
                or len(self.consumers[prev]) != 1
                or position.get(prev, i) != i
                or not all(self._anonymous_constant(p, op) for j, p in enumerate(inputs) if j != i)
            ):
                continue
            first = head.get(prev, prev)
            head[op] = first
            position[op] = i
            runs.setdefault(first, [first]).append(op)
        for first, members in runs.items():
            if len(members) < _MIN_CHAIN:
                continue
            chain = f"chain{self.op_index[first]}"
            self.chains[chain] = members
            for op in members:
                self.unit[op] = chain

    # --- which tensors appear

    def _decide_drawn(self):
        """A tensor is drawn unless it lives wholly inside one merged box or chain."""
        self.leaf_drawn = {}
        self.leaf_home = {}
        for leaf in self.leaf_ids:
            readers = {self.unit[c] for c in self.consumers.get(leaf, ())}
            home = None
            scope = self.leaf_scope[leaf]
            if scope in self.box_of_scope:
                home = self.box_of_scope[scope]
            elif len(readers) == 1 and not leaf.requires_grad and leaf.name is None:
                only = next(iter(readers))
                if only in self.collapsed_units:
                    home = only
            self.leaf_home[leaf] = home
            self.leaf_drawn[leaf] = leaf is self.root or home is None or any(r != home for r in readers)
        self.out_drawn = {}
        for op in self.ops:
            own = self.unit[op]
            self.out_drawn[op] = op is self.root_node or any(self.unit[c] != own for c in self.consumers.get(op, ()))

    def _spine(self) -> set:
        """The longest path of ops into the root (and the data leaf it starts from).

        dot draws nodes sharing a ``group`` on one straight line, so giving this path a
        group turns the picture into a straight line from X to the cost with parameters
        joining from the side, instead of a staircase.
        """
        if self.root_node is None:
            return set()
        depth: dict = {}
        for op in self.ops:
            depth[op] = 1 + max((depth[p] for p in op.parents if isinstance(p, Op)), default=0)
        path = {self.root_node}
        node = self.root_node
        while True:
            inner = [p for p in node.parents if isinstance(p, Op)]
            if not inner:
                break
            node = max(inner, key=depth.__getitem__)  # max keeps the first of equals
            path.add(node)
        data = [p for p in self.inputs[node] if not p.requires_grad] or self.inputs[node]
        path.add(data[0])
        return path

    def tensor_id(self, item) -> str:
        return f"t{self.op_index[item]}" if isinstance(item, Op) else self.leaf_ids[item]

    def placement(self, scope):
        """The cluster a drawn thing goes into: its scope, or the parent of a merged scope."""
        if scope in self.box_of_scope:
            scope = scope.rpartition("/")[0] or None
        return scope

    def size(self) -> int:
        units = len({u for u in self.unit.values()})
        return units + sum(self.leaf_drawn.values()) + sum(self.out_drawn.values())


# ----------------------------------------------------------------- gradients and values


def _plain(array):
    """``.grad`` holds Tensors after backward(create_graph=True); show their arrays."""
    return array.data if isinstance(array, Tensor) else array


def _retained_tensor(op: Op):
    ref = op.retained
    return ref() if ref is not None else None


def _gradients(picture: _Picture):
    """The gradient to show on each tensor, and a note for the graph label (or None).

    Leaves show their ``.grad``; intermediate results show the ``.grad`` kept by
    ``retain_grad()``, or dL/d(result) recomputed with ``node_gradients`` while the
    graph is still retained. Raises when no gradient exists at all.
    """
    grads: dict = {}
    for leaf in picture.leaf_ids:
        if leaf.grad is not None:
            grads[leaf] = _plain(leaf.grad)
    for op in picture.ops:
        tensor = _retained_tensor(op)
        if tensor is not None and tensor.grad is not None:
            grads[op] = _plain(tensor.grad)
    if not grads:
        raise RuntimeError(
            "draw: show_grads=True but no tensor in this graph has a gradient yet: call backward() on the root "
            "first (backward(retain_graph=True) also shows the gradients of intermediate results), "
            "or draw without show_grads"
        )
    missing = [op for op in picture.ops if op not in grads and picture.out_drawn[op]]
    note = None
    if missing:
        if picture.root.data.size != 1:
            every = {}
            note = "gradients of intermediate results need a one-element root (or retain_grad() on them)"
        else:
            try:
                every = node_gradients(picture.root)
            except RuntimeError:
                every = {}
                note = (
                    "gradients of intermediate results were freed by backward(): "
                    "call backward(retain_graph=True) or retain_grad() to show them"
                )
        for op in missing:
            if op in every:
                grads[op] = _plain(every[op])
    if not any(picture.out_drawn[op] and op not in grads for op in picture.ops):
        note = None
    return grads, note


_DETERMINISTIC_OPS = frozenset(OPS.values())


def _values(picture: _Picture) -> dict:
    """The data of every tensor drawn: leaves hold theirs; results come from the root,
    retained tensors, arrays saved for backward, or by re-running a built-in op's forward."""
    values: dict = {leaf: leaf.data for leaf in picture.leaf_ids}
    if picture.root_node is not None:
        values[picture.root_node] = picture.root.data
    for op in picture.ops:
        tensor = _retained_tensor(op)
        if tensor is not None:
            values[op] = tensor.data
        saved = op.saved
        if saved is RELEASED:
            continue
        for slot, array in zip(op._save_slots, saved):
            owner = op if slot < 0 else op.parents[slot]
            if isinstance(owner, Op) and owner not in values:
                values[owner] = array
    with np.errstate(all="ignore"):
        for op in picture.ops:  # creation order: inputs are known before their readers
            # User ops may be random (dropout) or costly, so only built-in ops are re-run.
            if op in values or type(op) not in _DETERMINISTIC_OPS:
                continue
            inputs = [values.get(p) for p in picture.inputs[op]]
            if any(v is None for v in inputs):
                continue
            try:
                values[op] = op.forward(*inputs)
            except Exception:  # a value we cannot show is not worth failing the picture
                continue
    return values


# ----------------------------------------------------------------- labels


def _tensor_label(name_html: str, shape, dtype, value, grad, grad_name) -> str:
    lines = [name_html, _font(_esc(_shape_text(shape, dtype)), size=9, color=_MUTED)]
    if value is not None:
        lines.append(_font(_esc(value), size=9, color=_VALUE_INK))
    if grad is not None:
        lines.append(_font(f"<B>{_esc(grad_name)}</B> {_esc(grad)}", size=9, color=_GRAD_INK))
    return _rows(lines)


def _leaf_name(leaf: Tensor) -> tuple:
    """(display name, is it a made-up name)."""
    if leaf.name is not None:
        return leaf.name, False
    if leaf.data.size == 1 and not leaf.requires_grad:
        return _num(float(leaf.data.reshape(-1)[0])), False
    if leaf.requires_grad:
        return "parameter", True
    return "constant", True


def _leaf_kind(leaf: Tensor) -> str:
    if leaf.requires_grad:
        return "param"
    return "input" if leaf.name is not None else "const"


def _name_html(name: str, made_up: bool) -> str:
    return f"<I>{_esc(name)}</I>" if made_up else f"<B>{_esc(name)}</B>"


def _op_label(title: str, formulas, operands=(), rankdir: str = "LR") -> str:
    """The op's name (and backward rules), with one small port per operand on the side
    the data comes in from, so ``W1 -> x`` and ``X -> y`` show which operand is which."""
    lines = [_esc(title)] if not formulas else [f"<B>{_esc(title)}</B>"]
    lines += [_font(_esc(f), size=9, face=_MONO) for f in formulas]
    if not operands:
        return _rows(lines)
    inner = "".join(f"<TR><TD>{line}</TD></TR>" for line in lines)
    body = f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{inner}</TABLE>'
    ports = [f'<TD PORT="p{i}">{_font(_esc(name), size=8, color=_OPERAND_INK)}</TD>' for i, name in enumerate(operands)]
    n = len(ports)
    # The first operand's port comes last in dot's order within a rank (lowest when
    # flowing left to right, rightmost top to bottom): dot keeps a name-scope cluster
    # as a block and places edges from outside it first, so a layer's input (the last
    # operand of W @ X) reaches its port without crossing the parameter's edge.
    ports.reverse()
    if rankdir in ("LR", "RL"):
        main = f'<TD ROWSPAN="{n}" CELLPADDING="2">{body}</TD>'
        first = ports[0] + main if rankdir == "LR" else main + ports[0]
        rows = [first] + ports[1:]
    else:
        main = f'<TD COLSPAN="{n}" CELLPADDING="2">{body}</TD>'
        rows = ["".join(ports), main] if rankdir == "TB" else [main, "".join(ports)]
    table = "".join(f"<TR>{row}</TR>" for row in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="0">{table}</TABLE>>'


def _operand_labels(op: Op) -> tuple:
    """Names for the operand ports, or () when the order of operands does not matter."""
    if len(op.parents) < 2 or op.name in _COMMUTATIVE:
        return ()
    names = _operand_names(op)
    return tuple(names[i] if i < len(names) else str(i) for i in range(len(op.parents)))


def _box_label(scope: str, members, hidden_leaves) -> str:
    counts: dict = {}
    for op in members:
        counts[op.name] = counts.get(op.name, 0) + 1
    parts = [name if n == 1 else f"{name} ×{n}" for name, n in counts.items()]
    if len(parts) > 4:
        parts = parts[:4] + ["…"]
    noun = "op" if len(members) == 1 else "ops"
    lines = [
        f"<B>{_esc(scope.rpartition('/')[2])}</B>",
        _font(_esc(f"{len(members)} {noun}: " + ", ".join(parts)), size=9, color=_MUTED),
    ]
    params = [leaf.name for leaf in hidden_leaves if leaf.requires_grad and leaf.name is not None]
    if params:
        shown = params if len(params) <= 6 else params[:6] + ["…"]
        lines.append(_font(_esc("params " + ", ".join(shown)), size=9, color=_MUTED))
    return _rows(lines)


# ----------------------------------------------------------------- draw


def _check_options(show_grads, show_formulas, show_values, rankdir, max_nodes, collapse, title, legend, unknown):
    valid = ", ".join(f"{k}={v!r}" for k, v in OPTIONS.items())
    if unknown:
        names = ", ".join(sorted(unknown))
        raise TypeError(f"draw: unknown option(s) {names}; the valid options (with defaults) are: {valid}")
    for key, value in (
        ("show_grads", show_grads),
        ("show_formulas", show_formulas),
        ("show_values", show_values),
        ("legend", legend),
    ):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"draw: {key} must be True or False, got {value!r}")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {', '.join(_RANKDIRS)}, got {rankdir!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, (int, np.integer)) or max_nodes < 1:
        raise ValueError(f"draw: max_nodes must be a positive integer, got {max_nodes!r}")
    if not any(collapse is mode or (isinstance(mode, str) and collapse == mode) for mode in _COLLAPSE_MODES):
        raise ValueError(f"draw: collapse must be one of False, True, 'scopes', 'chains', got {collapse!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"draw: title must be a string or None, got {type(title).__name__}")


def draw(
    root,
    *,
    show_grads: bool = False,
    show_formulas: bool = False,
    show_values: bool = False,
    rankdir: str = "LR",
    max_nodes: int = 500,
    collapse=False,
    title: str | None = None,
    legend: bool = False,
    **unknown,
) -> graphviz.Digraph:
    """Draw the computation graph that produced ``root``.

    Every tensor is a record with its name, shape and dtype; every op is an oval
    named after it, with edges following the data: input tensors -> op -> output.
    Parameters (leaves that require grad) are amber, named inputs blue-grey, unnamed
    constants paler, intermediate results white; the root has a heavy border.
    Unnamed results are called after their op ("matmul out"); an unnamed
    one-element constant shows its value ("1.0") and is drawn once per use, next to
    the op that reads it. Where the order of operands matters (``matmul``, ``sub``,
    ``div``, the losses, user ops), the op's oval has one small port per operand,
    named as in its ``forward`` (``x``, ``y``, ``y_hat``: the names its formulas use),
    and each input edge ends at its port; the first operand's port is the lowest
    (the rightmost top to bottom), so a layer's input ``X`` of ``W @ X`` comes
    straight along the picture's spine while ``W`` joins from the side. ``x * x`` draws two edges. Ops and
    leaves made inside ``tg.name_scope`` are drawn inside a cluster per scope (nested
    scopes, nested clusters).

    Parameters
    ----------
    root : Tensor
        Usually the cost. A leaf draws as a one-node picture.
    show_grads : bool
        Show the gradient on each tensor record, named after the document (``dW1``,
        ``dZ1``; ``grad`` when unnamed): every value when it has at most 4 elements,
        else min/mean/max and the norm. Leaves show their ``.grad``; intermediate
        results show the ``.grad`` kept by ``retain_grad()``, or dL/d(result) for this
        root recomputed with ``node_gradients`` while the graph is retained (before
        ``backward()`` freed it, or after ``backward(retain_graph=True)``); when freed,
        the graph label says so. Raises RuntimeError when no tensor has a gradient yet
        (``backward()`` never ran): gradients appear only after backward.
    show_formulas : bool
        Write each op's backward rule (its ``formula``) under its name, one line per
        input that needs a gradient, in terms of ``g`` = dL/d(out), the operand names
        and ``out``: sigmoid reads ``dx = g * out * (1 - out)``.
    show_values : bool
        Show each tensor's data: every value when it has at most 4 elements, else
        min/mean/max. Results are taken from the root, from arrays saved for backward,
        or recomputed by re-running built-in ops on their inputs (user ops are not
        re-run, as they may be random or costly).
    rankdir : {"LR", "TB", "RL", "BT"}
        Direction of the data flow: left to right by default, "TB" top to bottom.
    max_nodes : int
        Refuse (ValueError) to draw a picture of more nodes (ops plus tensors, after
        ``collapse``) than this: the picture would be unreadable and slow to lay out.
        Above 1,000 and 5,000 nodes dot is told to spend less effort on placement
        (``nslimit``, ``mclimit``); 10,000 nodes lay out in seconds, but thousands of
        name scopes (clusters) take dot minutes: use ``collapse`` for those.
    collapse : {False, True, "scopes", "chains"}
        Merge repeated structure. ``"scopes"``: each innermost name scope holding ops
        becomes one box listing its ops and hidden parameters, outer scopes stay
        clusters, and tensors crossing the box's border are still drawn. ``"chains"``:
        a run of three or more of the same op, each reading only the previous one's
        unnamed result (plus unnamed constants), becomes one node "tanh ×2000".
        ``True``: both.
    title : str, optional
        A caption at the top of the picture.
    legend : bool
        Add a small key of the colours.

    Returns
    -------
    graphviz.Digraph
        ``.source`` is the DOT text (identical for identical graphs); ``.pipe(format=
        "svg")`` and ``.render()`` need the Graphviz ``dot`` program, see :func:`render`.

    Raises
    ------
    TypeError
        For an unknown option (the message lists the valid ones) or a root that is not
        a Tensor.
    ValueError
        For a bad option value, or a picture bigger than ``max_nodes``.

    Examples
    --------
    ``x * x`` reads its input twice, so two edges go from ``x`` to ``mul``:

    >>> import tinygraph as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    >>> loss = (x * x).sum().named("loss")
    >>> dot = tg.draw(loss)
    >>> [line.strip() for line in dot.source.splitlines() if "->" in line]
    ['leaf0 -> op0', 'leaf0 -> op0', 'op0 -> t0', 't0 -> op1', 'op1 -> t1']
    >>> "loss" in dot.source, "mul out" in dot.source
    (True, True)
    """
    _check_options(show_grads, show_formulas, show_values, rankdir, max_nodes, collapse, title, legend, unknown)
    if not isinstance(root, Tensor):
        raise TypeError(f"draw: root must be a tinygraph Tensor, got {type(root).__name__}")

    picture = _Picture(root, collapse)
    size = picture.size()
    if size > max_nodes:
        hint = "" if collapse is True else ", or collapse=True to merge name scopes and runs of identical ops"
        raise ValueError(
            f"draw: this graph would draw {size} nodes ({len(picture.ops)} ops plus tensors), more than "
            f"max_nodes={max_nodes}; pass max_nodes={size} (or more) to draw it all{hint}"
        )

    grads, note = _gradients(picture) if show_grads else ({}, None)
    values = _values(picture) if show_values else {}

    graph_attr = dict(_GRAPH_ATTR, rankdir=rankdir)
    for threshold, attrs in _SPEED_ATTR:
        if size > threshold:
            graph_attr.update(attrs)
            break
    caption = [f"<B>{_esc(title)}</B>"] if title else []
    if note:
        caption.append(_font(_esc(note), size=10, color=_MUTED))
    if caption:
        graph_attr["label"] = "<" + "<BR/>".join(caption) + ">"
    dot = graphviz.Digraph(name="tinygraph", graph_attr=graph_attr, node_attr=_NODE_ATTR, edge_attr=_EDGE_ATTR)

    # Statements are written as DOT text here rather than through Digraph.node/edge:
    # every attribute value is ours and every label is escaped HTML, so nothing needs
    # graphviz's per-call quoting, which cost most of draw()'s time on big graphs.
    by_scope: dict = {}  # cluster (None: outside any) -> its node statements
    place: dict = {}  # node id -> its cluster

    def put(scope, node_id, label, attrs):
        scope = picture.placement(scope)
        place[node_id] = scope
        by_scope.setdefault(scope, []).append(f"{node_id} [label={label} {attrs}]")

    def tensor_node(item, node_id, scope, name, made_up, kind, shape, dtype):
        value = values.get(item)
        value_text = None
        if value is not None and not (kind == "const" and not made_up):  # "1.0" already shows its value
            value_text = _summary(value)
        grad = grads.get(item)
        grad_text = None if grad is None else _grad_summary(grad)
        grad_name = "grad" if made_up or name is None else f"d{name}"
        attrs = _ROOT_ATTRS[kind] if item is picture.root or item is picture.root_node else _TENSOR_ATTRS[kind]
        if item in picture.spine:
            attrs += _SPINE
        label = _tensor_label(_name_html(name, made_up), shape, dtype, value_text, grad_text, grad_name)
        put(scope, node_id, label, attrs)

    for leaf, node_id in picture.leaf_ids.items():
        if not picture.leaf_drawn[leaf]:
            continue
        name, made_up = _leaf_name(leaf)
        tensor_node(leaf, node_id, picture.leaf_scope[leaf], name, made_up, _leaf_kind(leaf), leaf.shape, leaf.dtype)

    for op in picture.ops:
        unit = picture.unit[op]
        if unit not in picture.collapsed_units:
            label = _op_label(op.name, _formulas(op) if show_formulas else (), _operand_labels(op), rankdir)
            put(op.scope, unit, label, _OP_ATTRS + _SPINE if op in picture.spine else _OP_ATTRS)
        if picture.out_drawn[op]:
            made_up = op.label is None
            name = f"{op.name} out" if made_up else op.label
            tensor_node(op, picture.tensor_id(op), op.scope, name, made_up, "tensor", op.shape, op.dtype)

    for chain, members in picture.chains.items():
        first = members[0]
        label = _op_label(f"{first.name} ×{len(members)}", _formulas(first) if show_formulas else ())
        put(first.scope, chain, label, _CHAIN_ATTRS)

    for box, (scope, members) in picture.boxes.items():
        hidden = [leaf for leaf, home in picture.leaf_home.items() if home == box and not picture.leaf_drawn[leaf]]
        put(scope, box, _box_label(scope, members, hidden), _BOX_ATTRS)

    body = dot.body
    _emit_clusters(body, by_scope)
    _emit_edges(body, picture, place, rankdir)
    if legend:
        _emit_legend(body, picture.tensor_id(picture.root_node if picture.root_node is not None else root))
    return dot


def _attr_text(attrs: dict) -> str:
    return " ".join(f'{key}="{value}"' for key, value in attrs.items())


def _tensor_attrs(kind: str, **extra) -> str:
    fill, border = _STYLE[kind]
    attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": fill, "color": border, "margin": "0.06,0.03"}
    return _attr_text({**attrs, **extra})


_TENSOR_ATTRS = {kind: _tensor_attrs(kind) for kind in ("param", "input", "const", "tensor")}
_ROOT_ATTRS = {kind: _tensor_attrs(kind, color=_INK, penwidth="2.2") for kind in _TENSOR_ATTRS}
_OP_ATTRS = _attr_text(
    {"shape": "ellipse", "style": "filled", "fillcolor": _STYLE["op"][0], "color": _STYLE["op"][1], "margin": "0.04,0.02"}
)
_CHAIN_ATTRS = _OP_ATTRS + ' peripheries="2"'  # a double border: several ops in one
_BOX_ATTRS = _attr_text(
    {"shape": "box3d", "style": "filled", "fillcolor": _STYLE["box"][0], "color": _STYLE["box"][1], "margin": "0.1,0.05"}
)
# dot draws the nodes of one group on a straight line where it can.
_SPINE = ' group="spine"'
_CLUSTER_ATTRS = _attr_text(
    {"style": "rounded,filled", "fillcolor": "#F7F8FA", "color": "#C3CAD5", "fontcolor": _MUTED, "fontsize": "11",
     "labeljust": "l", "margin": "10"}
)  # fmt: skip


def _cluster_id(scope: str) -> str:
    # Scope names may hold any character but '/'; quotes and backslashes would end or
    # escape a quoted DOT id, so they become '_' here (the label keeps the real name).
    return '"cluster_' + scope.replace("\\", "_").replace('"', "_") + '"'


def _emit_clusters(body: list, by_scope: dict) -> None:
    """Write node statements, each scope as a cluster nested in its parent scope's."""
    children: dict = {}
    for scope in by_scope:
        while scope is not None:
            parent = scope.rpartition("/")[0] or None
            siblings = children.setdefault(parent, [])
            if scope in siblings:
                break
            siblings.append(scope)
            scope = parent

    def fill(scope, indent):
        body.extend(f"{indent}{statement}\n" for statement in by_scope.get(scope, ()))
        for child in children.get(scope, ()):
            body.append(f"{indent}subgraph {_cluster_id(child)} {{\n")
            label = f"<<B>{_esc(child.rpartition('/')[2])}</B>>"
            body.append(f"{indent}\tgraph [label={label} {_CLUSTER_ATTRS}]\n")
            fill(child, indent + "\t")
            body.append(f"{indent}}}\n")

    fill(None, "\t")


def _emit_edges(body: list, picture: _Picture, place: dict, rankdir: str) -> None:
    side = _ENTRY_SIDE[rankdir]
    append = body.append

    def edge(tail, head, port=""):
        if place[tail] != place[head]:
            # An edge that crosses a cluster border spans two ranks, so a layer's
            # parameters get a rank of their own instead of sharing one with the
            # previous layer's output, which would stack the clusters as a staircase.
            append(f"\t{tail} -> {head}{port} [minlen=2]\n")
        else:
            append(f"\t{tail} -> {head}{port}\n")

    collapsed = picture.collapsed_units
    seen_into_collapsed = set()
    for op in picture.ops:
        unit = picture.unit[op]
        if unit in collapsed:
            for parent in picture.inputs[op]:
                inside = (
                    picture.unit.get(parent) == unit
                    if isinstance(parent, Op)
                    else picture.leaf_home[parent] == unit and not picture.leaf_drawn[parent]
                )
                if inside:
                    continue
                source = picture.tensor_id(parent)
                if (source, unit) not in seen_into_collapsed:  # one edge per tensor entering a box
                    seen_into_collapsed.add((source, unit))
                    edge(source, unit)
        elif _operand_labels(op):
            for i, parent in enumerate(picture.inputs[op]):
                edge(picture.tensor_id(parent), unit, f":p{i}:{side}")
        else:
            for parent in picture.inputs[op]:
                edge(picture.tensor_id(parent), unit)
        if picture.out_drawn[op]:
            edge(unit, picture.tensor_id(op))


def _emit_legend(body: list, after: str) -> None:
    """One small table node just after the root, so the key costs little layout room."""
    rows = []
    for kind, text in (("param", "parameter"), ("input", "input"), ("const", "constant"), ("tensor", "result"), ("op", "op")):
        fill, border = _STYLE[kind]
        rows.append(
            f'<TR><TD BGCOLOR="{fill}" COLOR="{border}" BORDER="1" STYLE="rounded" WIDTH="18"> </TD>'
            f'<TD ALIGN="LEFT">{_font(text, size=9, color=_MUTED)}</TD></TR>'
        )
    label = f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="1">{"".join(rows)}</TABLE>>'
    body.append(f'\tlegend [label={label} shape="box" style="rounded" color="#C3CAD5" margin="0.05"]\n')
    # An invisible edge places the key after the root (rank=sink is ignored under newrank).
    body.append(f'\t{after} -> legend [style="invis"]\n')


# ----------------------------------------------------------------- files


def render(root, path, format: str = "svg", **options) -> Path:
    """Draw ``root`` and write the picture to ``path`` atomically.

    The file appears complete or not at all: it is written to a temporary file in the
    same directory and moved over ``path``. ``options`` are those of :func:`draw`.

    Parameters
    ----------
    root : Tensor
    path : str or os.PathLike
        The file to write; its directory must exist.
    format : str
        Any Graphviz output format: "svg", "png", "pdf", ...

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    DotNotFoundError
        When the Graphviz ``dot`` program is missing; the message says how to install it.
    OSError
        When ``path`` cannot be written (missing directory, a directory, no permission);
        the message names the path.

    Examples
    --------
    >>> import tinygraph as tg
    >>> from tinygraph.viz import render
    >>> w = tg.Tensor([1.0], requires_grad=True, name="w")
    >>> render(w * 2, "/nonexistent-dir/graph.svg")
    Traceback (most recent call last):
    ...
    FileNotFoundError: render: cannot write '/nonexistent-dir/graph.svg': its directory '/nonexistent-dir' does not exist
    """
    graph = draw(root, **options)  # bad options fail before any file work
    path = Path(os.fspath(path))
    directory = path.parent
    if path.is_dir():
        raise IsADirectoryError(f"render: cannot write '{path}': it is a directory; give a file name such as '{path / 'graph.svg'}'")
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        raise FileNotFoundError(f"render: cannot write '{path}': its directory '{directory}' {what}")
    try:
        data = graph.pipe(format=format)
    except graphviz.ExecutableNotFound as err:
        raise DotNotFoundError(f"render: the Graphviz program `dot` was not found; {_INSTALL_HINT}") from err
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise PermissionError(f"render: cannot write '{path}': {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        # mkstemp makes a private (0600) file; a picture is for everyone to read.
        os.chmod(temp, os.stat(path).st_mode & 0o7777 if path.exists() else 0o644)
        os.replace(temp, path)
    except OSError as err:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise OSError(err.errno, f"render: cannot write '{path}': {err.strerror or err}") from err
    return path
