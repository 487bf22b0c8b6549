"""What is drawn: the picture of one root, decided before any DOT is written.

This module and :mod:`tinygraph.viz._annotate` are the only parts of the renderer that
read the engine's nodes (``node.parents``, ``node.rule``, ``node.needs``,
``node.tensor``, ``topological_order``, ...). Every drawn tensor is a node: a leaf node
(no parents: a parameter, an input or a constant) or the result of an op node. :mod:`tinygraph.viz._dot` sees nodes only
as dictionary keys and reads them through the functions of the section "reading a
node" below, so a change of the engine's node structure is adapted here.
"""

from __future__ import annotations

import numpy as np

from tinygraph._graph import Node, leaf_node, topological_order
from tinygraph.tensor import Tensor

# A run of identical ops shorter than this is drawn in full: merging two saves little.
_MIN_CHAIN = 3

# ----------------------------------------------------------------- reading a node


def is_op(item) -> bool:
    """Whether a drawn tensor is the result of an op (else a leaf)."""
    return bool(item.parents)


def op_name(op: Node) -> str:
    return op.name


def op_scope(op: Node):
    return op.scope


def leaf_value(leaf):
    """A leaf's array, which its node holds."""
    return leaf.saved[0]


def result_name(op: Node) -> tuple:
    """(display name, is it a made-up name) of an op's result: its label, else "<op> out"."""
    if op.label is None:
        return f"{op.name} out", True
    return op.label, False


def result_type(op: Node) -> tuple:
    return op.shape, op.dtype


def leaf_type(leaf) -> tuple:
    return leaf.shape, leaf.dtype


def leaf_name(leaf) -> tuple:
    """(display name, is it a made-up name); an unnamed one-element constant is named by its
    value, returned as a float for the caller to format."""
    if leaf.label is not None:
        return leaf.label, False
    if not leaf.requires_grad and leaf.saved[0].size == 1:
        return float(leaf.saved[0].reshape(-1)[0]), False
    if leaf.requires_grad:
        return "parameter", True
    return "constant", True


def leaf_kind(leaf) -> str:
    if leaf.requires_grad:
        return "param"
    return "input" if leaf.label is not None else "const"


def operand_labels(op: Node) -> tuple:
    """Names for the operand ports, or () when the order of operands does not matter."""
    if len(op.parents) < 2 or op.rule.commutative:
        return ()
    names = op.rule.input_names
    return tuple(names[i] if i < len(names) else str(i) for i in range(len(op.parents)))


def operand_names(op: Node) -> tuple:
    """The names an op's formulas give its inputs (``x``, ``y``; ``y_hat``, ``y``), ports or not."""
    names = op.rule.input_names
    return tuple(names[i] if i < len(names) else str(i) for i in range(len(op.parents)))


def box_contents(members, hidden_leaves) -> tuple:
    """(the op names of a merged scope, in order, repeats kept; its hidden parameters' names)."""
    names = [op.name for op in members]
    params = [leaf.label for leaf in hidden_leaves if leaf.requires_grad and leaf.label is not None]
    return names, params

def formulas(op: Node) -> list:
    """The backward rules of ``op`` that this graph uses: one per input that needs a gradient."""
    formula = op.rule.formula
    if not formula:
        return []
    if isinstance(formula, str):
        return [formula]
    formula = list(formula)
    if len(formula) == len(op.parents):
        return [f for f, need in zip(formula, op.needs) if need]
    return formula


def _settings(rule) -> tuple:
    """What an op was built with beyond its inputs: its own slots (pow's exponent, sum's
    axis) and any attributes a user op keeps."""
    names = [n for cls in type(rule).__mro__ for n in cls.__dict__.get("__slots__", ()) if n != "__dict__"]
    extra = sorted(getattr(rule, "__dict__", {}).items())
    return tuple(n for n, _ in extra), [getattr(rule, n, None) for n in names] + [v for _, v in extra]


def _same_op(a: Node, b: Node) -> bool:
    """Same op class and settings, so "pow ×3" never hides three different exponents."""
    a, b = a.rule, b.rule
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


def _is_literal(leaf: Node) -> bool:
    return not leaf.requires_grad and leaf.label is None and leaf.saved[0].size == 1


class _Literal:
    """One use of an unnamed one-element constant, drawn beside the op that reads it.

    tinygraph keeps one shared leaf node per Python number, so drawing that node once
    would join every ``1 - a`` and ``x / N`` of a network at one far-away node.
    """

    __slots__ = ("scope", "node")
    label = None
    requires_grad = False
    keeps_grad = False
    grad = None
    parents = ()

    def __init__(self, node: Node, scope):
        self.node = node
        self.scope = scope

    @property
    def saved(self):
        return self.node.saved

    @property
    def shape(self):
        return self.node.shape

    @property
    def dtype(self):
        return self.node.dtype


# ----------------------------------------------------------------- the graph, as drawn


class Picture:
    """What to draw for one root: units (ops, or merged boxes and chains), drawn tensors and edges.

    Everything is decided before any DOT is written, so ``max_nodes`` is checked on the
    picture's real size and the output is ordered by creation (op ids), hence stable.
    """

    def __init__(self, root: Tensor, collapse):
        self.root = root
        node = root.node
        if node is None:  # a Tensor no op has read yet: drawn as a lone constant
            node = leaf_node(root.data)
            node.label, node.scope = root.name, root.scope
        self.root_node = node
        self.ops = [n for n in reversed(topological_order([node])) if n.parents]  # creation order

        # Stable names: ranks in this graph, not the global op ids, so the same graph
        # built twice in one process draws to identical DOT.
        self.op_index = {op: k for k, op in enumerate(self.ops)}
        self.leaf_ids: dict = {}
        self.consumers: dict = {}  # leaf or node -> the ops that read it (repeats kept)
        self.inputs: dict = {}  # op -> what it reads, position by position
        for op in self.ops:
            inputs = []
            for parent in op.parents:
                if not parent.parents:
                    if _is_literal(parent):
                        parent = _Literal(parent, op.scope)
                    if parent not in self.leaf_ids:
                        self.leaf_ids[parent] = f"leaf{len(self.leaf_ids)}"
                self.consumers.setdefault(parent, []).append(op)
                inputs.append(parent)
            self.inputs[op] = inputs
        if not node.parents:
            self.leaf_ids[node] = "leaf0"

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

    def _leaf_scope(self, leaf: Node):
        scope = leaf.scope
        if scope is None and not leaf.requires_grad and leaf.label is None:
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
            not parent.parents
            and not parent.requires_grad
            and parent.label is None
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
            links = [i for i, p in enumerate(inputs) if p.parents]
            if len(links) != 1:
                continue
            i = links[0]
            prev = inputs[i]
            if (
                not _same_op(prev, op)
                or prev.label is not None
                or prev.keeps_grad
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
            elif len(readers) == 1 and not leaf.requires_grad and leaf.label is None:
                only = next(iter(readers))
                if only in self.collapsed_units:
                    home = only
            self.leaf_home[leaf] = home
            self.leaf_drawn[leaf] = leaf is self.root_node or home is None or any(r != home for r in readers)
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
        if not self.root_node.parents:
            return set()
        depth: dict = {}
        for op in self.ops:
            depth[op] = 1 + max((depth[p] for p in op.parents if p.parents), default=0)
        path = {self.root_node}
        node = self.root_node
        while True:
            inner = [p for p in node.parents if p.parents]
            if not inner:
                break
            node = max(inner, key=depth.__getitem__)  # max keeps the first of equals
            path.add(node)
        data = [p for p in self.inputs[node] if not p.requires_grad] or self.inputs[node]
        path.add(data[0])
        return path

    def tensor_id(self, item) -> str:
        return f"t{self.op_index[item]}" if item.parents else self.leaf_ids[item]

    def marked(self, highlight) -> set:
        """The DOT ids to outline for ``draw(highlight=...)``: Tensors and nodes of this graph."""
        if highlight is None:
            return set()
        items = list(highlight) if isinstance(highlight, (list, tuple, set, frozenset)) else [highlight]
        marked = set()
        for item in items:
            node = item.node if isinstance(item, Tensor) else item
            if isinstance(item, Tensor) and node is None and item is self.root:
                node = self.root_node
            if not isinstance(node, Node) or (node not in self.unit and node not in self.leaf_ids):
                what = repr(item) if isinstance(item, (Tensor, Node)) else f"a {type(item).__name__}"
                raise ValueError(f"draw: highlight must name Tensors or nodes of this graph; {what} is not part of it")
            if node in self.unit:  # an op: its oval (or the box or chain holding it) and its result
                marked.update((self.unit[node], self.tensor_id(node)))
            else:
                marked.add(self.leaf_ids[node])
                if not self.leaf_drawn[node] and self.leaf_home.get(node) is not None:
                    marked.add(self.leaf_home[node])
        return marked

    def placement(self, scope):
        """The cluster a drawn thing goes into: its scope, or the parent of a merged scope."""
        if scope in self.box_of_scope:
            scope = scope.rpartition("/")[0] or None
        return scope

    def size(self) -> int:
        units = len({u for u in self.unit.values()})
        return units + sum(self.leaf_drawn.values()) + sum(self.out_drawn.values())

