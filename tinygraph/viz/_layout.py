"""What is drawn: the picture of one root, decided before any DOT is written.

This module and :mod:`tinygraph.viz._annotate` are the only parts of the renderer that
read the engine's nodes (``op.parents``, ``isinstance(p, Op)``, ``op.needs``,
``op.retained``, ``topological_order``, ...). :mod:`tinygraph.viz._dot` sees nodes only
as dictionary keys and reads them through the functions of the section "reading a
node" below, so a change of the engine's node structure is adapted here.
"""

from __future__ import annotations

import inspect
import weakref

import numpy as np

from tinygraph._graph import Op, topological_order
from tinygraph.tensor import Tensor

# Ops whose operands can be swapped: their edges need no position label.
_COMMUTATIVE = frozenset({"add", "mul"})

# A run of identical ops shorter than this is drawn in full: merging two saves little.
_MIN_CHAIN = 3

# ----------------------------------------------------------------- reading a node


def is_op(item) -> bool:
    """Whether a drawn tensor is the result of an op (else a leaf)."""
    return isinstance(item, Op)


def op_name(op: Op) -> str:
    return op.name


def op_scope(op: Op):
    return op.scope


def result_name(op: Op) -> tuple:
    """(display name, is it a made-up name) of an op's result: its label, else "<op> out"."""
    if op.label is None:
        return f"{op.name} out", True
    return op.label, False


def result_type(op: Op) -> tuple:
    return op.shape, op.dtype


def leaf_type(leaf) -> tuple:
    return leaf.shape, leaf.dtype


def leaf_name(leaf) -> tuple:
    """(display name, is it a made-up name); an unnamed one-element constant is named by its
    value, returned as a float for the caller to format."""
    if leaf.name is not None:
        return leaf.name, False
    if leaf.data.size == 1 and not leaf.requires_grad:
        return float(leaf.data.reshape(-1)[0]), False
    if leaf.requires_grad:
        return "parameter", True
    return "constant", True


def leaf_kind(leaf) -> str:
    if leaf.requires_grad:
        return "param"
    return "input" if leaf.name is not None else "const"


def operand_labels(op: Op) -> tuple:
    """Names for the operand ports, or () when the order of operands does not matter."""
    if len(op.parents) < 2 or op.name in _COMMUTATIVE:
        return ()
    names = _operand_names(op)
    return tuple(names[i] if i < len(names) else str(i) for i in range(len(op.parents)))


def box_contents(members, hidden_leaves) -> tuple:
    """(the op names of a merged scope, in order, repeats kept; its hidden parameters' names)."""
    names = [op.name for op in members]
    params = [leaf.name for leaf in hidden_leaves if leaf.requires_grad and leaf.name is not None]
    return names, params

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


def formulas(op: Op) -> list:
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
        except Exception:  # noqa: BLE001 - values that do not compare (odd user attributes): assume different
            return False
    return True


def _is_literal(leaf: Tensor) -> bool:
    return not leaf.requires_grad and leaf.name is None and leaf.data.size == 1


class _Literal:
    """One use of an unnamed one-element constant, drawn beside the op that reads it.

    tinygraph keeps one shared Tensor per Python number, so drawing that Tensor once
    would join every ``1 - a`` and ``x / N`` of a network at one far-away node.
    """

    __slots__ = ("scope", "tensor")
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


class Picture:
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

