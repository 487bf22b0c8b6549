"""The graph: the Op base class (each recorded op is a node), grad mode, name scopes
and the reverse-mode pass.

A node keeps its parents (the input Tensor for a leaf, the producing node otherwise),
the arrays its backward rule needs, and its output's shape and dtype. It never keeps
its own output Tensor, so dropping the root frees the graph by reference counting.
"""

from __future__ import annotations

import inspect
import itertools
from heapq import heapify, heappop, heappush
import threading
from operator import attrgetter

import numpy as np

from tinygraph._shapes import fmt, sum_to_shape

# Node ids grow in creation order, and a node is always created after its inputs, so
# sorting by id (newest first) is a topological order: no recursion, no visit marks.
_ids = itertools.count()
_creation_order = attrgetter("id")


class _State(threading.local):
    grad_enabled = True
    scope = None


_state = _State()


def is_grad_enabled() -> bool:
    """Whether ops record a graph right now (False inside ``no_grad``)."""
    return _state.grad_enabled


class no_grad:
    """Context manager (and decorator) in which ops record nothing.

    Use it for parameter updates and evaluation: results do not require grad and no
    arrays are kept for a backward pass.

    Examples
    --------
    >>> import tinygraph as tg
    >>> w = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> with tg.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    def __enter__(self):
        # A stack, not one slot: the same instance may be entered again while in use.
        self.__dict__.setdefault("_before", []).append(_state.grad_enabled)
        _state.grad_enabled = False
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self._before.pop()
        return False

    def __call__(self, func):
        def wrapper(*args, **kwargs):
            with no_grad():
                return func(*args, **kwargs)

        wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = func.__name__, func.__doc__, func
        return wrapper


class name_scope:
    """Group the ops (and the leaves) created inside under a name, e.g. a layer.

    Scopes nest as ``"layer1/linear"``; ``tg.draw`` draws each scope as a cluster.

    Examples
    --------
    >>> import tinygraph as tg
    >>> with tg.name_scope("layer1"):
    ...     W1 = tg.Tensor([[1.0]], requires_grad=True, name="W1")
    >>> W1.scope
    'layer1'
    """

    def __init__(self, name: str):
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"name_scope: a scope name is a non-empty string without '/', got {name!r}")
        self.name = name

    def __enter__(self):
        before = _state.scope
        self.__dict__.setdefault("_before", []).append(before)
        _state.scope = self.name if before is None else f"{before}/{self.name}"
        return self

    def __exit__(self, *exc):
        _state.scope = self._before.pop()
        return False


# The two commonest ``saves`` layouts, shared so that apply can test them by identity.
SAVES_BOTH = (0, 1)
SAVES_OUT = (-1,)


class _Released:
    """Stands in for the saved arrays of a node whose graph was freed by backward()."""

    def __repr__(self):
        return "<released>"


RELEASED = _Released()


class Op:
    """One differentiable operation; each application is a node of the graph.

    Subclass it to define an op: ``forward`` computes on numpy arrays, ``backward``
    returns one gradient per input (``None`` where an input needs none), and ``saves``
    names what backward needs, among forward's parameters and ``"out"``. Backward is
    written once with operators, ``.T``, ``.reshape``, ``.sum`` and numpy ufuncs, so it
    runs on arrays and, under ``create_graph=True``, on Tensors. Return gradients of
    the broadcast shape: the engine sums them back to each input's shape.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> class Softplus(tg.Op):
    ...     name = "softplus"
    ...     formula = "dx = g * sigmoid(x)"
    ...     saves = ("x",)
    ...     def forward(self, x):
    ...         return np.logaddexp(0.0, x)
    ...     def backward(self, g, x):
    ...         return g * tg.sigmoid(x)
    >>> x = tg.Tensor([0.0, 2.0], requires_grad=True)
    >>> softplus = Softplus.apply
    >>> softplus(x).sum().backward()
    >>> np.round(x.grad, 4)
    array([0.5   , 0.8808])
    """

    name = "op"
    formula = ""
    saves: tuple = ()
    #: Whether apply checks that forward returned a floating array; the built-in ops,
    #: whose forwards are numpy calls on float arrays, turn it off (see _ops.OPS).
    check_output = True

    __slots__ = ("parents", "needs", "saved", "shape", "dtype", "id", "__dict__")
    # Set on few nodes, so they default here rather than being written for every op.
    label = None
    scope = None
    retained = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        params = [
            p.name
            for p in inspect.signature(cls.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ][1:]
        cls.arity = len(params)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__  # messages and pictures name the op, never a bare "op"
        backward = inspect.signature(cls.backward).parameters.values()
        if not any(p.kind == p.VAR_POSITIONAL for p in backward):
            takes = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in backward) - 2  # self, g
            if takes != len(cls.saves):
                raise TypeError(
                    f"{cls.__name__}.backward takes {takes} saved value(s) after g, "
                    f"but saves = {tuple(cls.saves)} names {len(cls.saves)}"
                )
        slots = []
        for saved in cls.saves:
            if saved == "out":
                slots.append(-1)
            elif saved in params:
                slots.append(params.index(saved))
            else:
                raise TypeError(
                    f"{cls.__name__}.saves names {saved!r}, which is neither 'out' nor a parameter of forward {params}"
                )
        cls._save_slots = {(0, 1): SAVES_BOTH, (-1,): SAVES_OUT}.get(tuple(slots), tuple(slots))

    def forward(self, *arrays):  # pragma: no cover - every op overrides it
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def backward(self, g, *saved):  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} defines no backward")

    @classmethod
    def apply(cls, *inputs, **attrs):
        """Build the op with ``attrs`` and apply it to ``inputs`` (Tensors, arrays or numbers)."""
        from tinygraph.tensor import apply

        return apply(cls(**attrs), *inputs)

    def __repr__(self):
        return f"<{self.name} node {getattr(self, 'id', '?')}>"

    requires_grad = True  # a node exists only when some input requires grad


def record(op: Op, inputs, out: np.ndarray) -> None:
    """Turn ``op`` into a node of the graph: called once per op, right after forward.

    ``tensor.apply1``/``apply2`` do the same steps inline for one and two inputs.
    """
    op.parents = tuple([t if t._node is None else t._node for t in inputs])
    op.needs = tuple([t.requires_grad for t in inputs])
    op.saved = saved_arrays(op._save_slots, inputs, out)
    op.shape, op.dtype, op.id = out.shape, out.dtype, next(_ids)
    if _state.scope is not None:
        op.scope = _state.scope


def saved_arrays(slots: tuple, inputs, out: np.ndarray) -> tuple:
    """The arrays an op's ``saves`` names: input ``i`` for slot i, the output for -1."""
    return tuple([out if i < 0 else inputs[i].data for i in slots])


def topological_order(roots) -> list:
    """Every node reachable from ``roots``, outputs before inputs (iterative, no recursion)."""
    seen = set(roots)
    stack = list(seen)
    while stack:
        node = stack.pop()
        for parent in node.parents:
            if isinstance(parent, Op) and parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=_creation_order, reverse=True)


def _lift_saved(node: Op) -> tuple:
    """For create_graph: the saved arrays as Tensors wired to the nodes that made them."""
    from tinygraph.tensor import Tensor

    lifted = []
    for slot, array in zip(node._save_slots, node.saved):
        if slot < 0:
            lifted.append(Tensor._make(array, node))
        else:
            parent = node.parents[slot]
            lifted.append(parent if not isinstance(parent, Op) else Tensor._make(array, parent))
    return tuple(lifted)


def run_backward(roots, seeds, *, retain_graph: bool, create_graph: bool, capture=None):
    """Reverse-mode accumulation from ``roots`` (Tensors) seeded with ``seeds``.

    Without ``capture`` the gradients land in the leaves' ``.grad`` (and in retained
    non-leaves). With ``capture`` (a list of Tensors) nothing is written and the
    gradients of those Tensors are returned instead, as ``tg.grad`` needs. With
    ``capture="all"`` the gradient reaching every node and leaf is returned as a dict,
    as ``tg.draw`` needs.
    """
    grads: dict = {}
    for root, seed in zip(roots, seeds):
        target = root if root._node is None else root._node
        grads[target] = seed if target not in grads else grads[target] + seed
    # Arrays already handed to a .grad in this pass: another leaf that receives the
    # same array object (add returns g for both inputs) must get its own copy.
    handed = {id(s) for s in seeds} | {id(s.data) for s in seeds if not isinstance(s, np.ndarray)}
    everything = capture == "all"
    if capture is None or everything:
        wanted = None
    else:
        wanted = {(t if t._node is None else t._node): None for t in capture}
    # tg.grad runs only the nodes between the roots and the wanted tensors: the rest of
    # the graph is neither computed nor freed (another loss may still need it).
    useful = None if wanted is None else _leading_to(grads, wanted)
    seen: dict = {}

    outer_mode = _state.grad_enabled
    _state.grad_enabled = create_graph
    pop, get = grads.pop, grads.get
    ndarray = np.ndarray
    try:
        # The loop below runs once per node; it is the whole per-op cost of backward
        # beyond numpy's own work, so its common path is kept short.
        # Nodes wait in a heap keyed by -id, pushed when their first gradient arrives.
        # Every consumer of a node has a larger id, so popping the largest id first
        # finishes each node's gradient before the node is processed: a topological
        # order without a separate traversal of the graph.
        heap = [(-k.id, k) for k in grads if isinstance(k, Op)]
        heapify(heap)
        while heap:
            node = heappop(heap)[1]
            g = pop(node)
            if capture is not None:
                if everything:
                    seen[node] = g
                else:
                    if node in wanted:
                        wanted[node] = g
                    if node not in useful:
                        continue
            elif node.retained is not None:
                _set_retained(node, g, handed)
            saved = node.saved
            if saved is RELEASED:
                raise RuntimeError(
                    f"backward: the graph through '{node.name}' was already freed by an earlier backward(); "
                    "pass retain_graph=True to the first backward() to backpropagate through it again"
                )
            if create_graph:
                saved = _lift_saved(node)
            in_grads = node.backward(g, *saved)
            if not retain_graph:
                node.saved = RELEASED
            parents = node.parents
            if type(in_grads) is not tuple:
                if type(in_grads) is ndarray and len(parents) == 1:
                    in_grads = (in_grads,)
                else:
                    in_grads = _as_gradient_tuple(node, in_grads)
            elif len(in_grads) != len(parents):
                in_grads = _as_gradient_tuple(node, in_grads)
            for parent, need, gi in zip(parents, node.needs, in_grads):
                if gi is None or not need:
                    continue
                if type(gi) is not ndarray:
                    gi = _as_gradient(gi, node, _index_of(in_grads, gi), parent, create_graph)
                shape = parent.shape
                if gi.shape != shape:
                    gi = sum_to_shape(gi, shape, op=node.name, index=_index_of(parents, parent))
                dtype = parent.dtype
                if gi.dtype is not dtype and gi.dtype != dtype and isinstance(gi, ndarray):
                    gi = gi.astype(dtype)
                prev = get(parent)
                if prev is None:
                    grads[parent] = gi
                    if isinstance(parent, Op):
                        heappush(heap, (-parent.id, parent))
                else:
                    grads[parent] = prev + gi
    finally:
        _state.grad_enabled = outer_mode

    if everything:
        seen.update(grads)
        return seen
    if wanted is not None:
        for leaf, g in grads.items():
            if leaf in wanted:
                wanted[leaf] = g
        # Like .grad, what tg.grad returns is the caller's own: no two results (nor a
        # result and the caller's grad_outputs) share an array, and every one is writeable.
        results = [wanted[t if t._node is None else t._node] for t in capture]
        return [None if r is None else _owned(r, handed) for r in results]
    for leaf, g in grads.items():  # only leaves are left: every node was popped
        if leaf.requires_grad:
            _accumulate_leaf(leaf, g, handed)
    return None


def _leading_to(roots, wanted) -> set:
    """The nodes below ``roots`` from which some node or leaf of ``wanted`` can be reached."""
    useful: set = set()
    # Oldest first: every parent is decided before the nodes that consume it.
    for node in reversed(topological_order([k for k in roots if isinstance(k, Op)])):
        if any(p in wanted or p in useful for p in node.parents):
            useful.add(node)
    return useful


def _index_of(items, item) -> int:
    """The position of ``item`` in ``items`` by identity, for error messages (off the hot path)."""
    return next(i for i, x in enumerate(items) if x is item)


def _as_gradient_tuple(node: Op, in_grads) -> tuple:
    """What backward returned, as one gradient per input, or an error naming the op."""
    if type(in_grads) is not tuple:
        # One bare gradient counts as one, however many rows it has.
        in_grads = tuple(in_grads) if type(in_grads) is list else (in_grads,)
    if len(in_grads) != len(node.parents):
        raise RuntimeError(
            f"{node.name}: backward returned {len(in_grads)} gradient(s) for {len(node.parents)} input(s)"
        )
    return in_grads


def _as_gradient(gi, node: Op, index: int, parent, create_graph: bool):
    """A gradient that is not a plain array, as the pass needs it.

    A user's rule may call tinygraph functions on arrays (``g * tg.sigmoid(x)``) and so
    return a constant Tensor: outside create_graph its array is the gradient, so that
    ``.grad`` stays an array. Numbers and lists become arrays; anything else is refused.
    """
    from tinygraph.tensor import Tensor

    if isinstance(gi, Tensor):
        return gi if create_graph else gi.data
    if isinstance(gi, np.generic):  # numpy's 0-d arithmetic returns scalars; the dtype cast needs an array
        return np.asarray(gi)
    if isinstance(gi, np.ndarray):
        return gi
    try:
        return np.asarray(gi, dtype=parent.dtype)
    except (TypeError, ValueError):
        raise TypeError(
            f"{node.name}: backward returned a {type(gi).__name__} as the gradient for input {index}; "
            f"expected an array of shape {fmt(parent.shape)}"
        ) from None


def _owned(g, handed: set):
    """``g`` itself if no one else holds it, else a private writeable copy."""
    if isinstance(g, np.generic):
        return np.array(g)
    if isinstance(g, np.ndarray):
        if g.base is not None or not g.flags.writeable or id(g) in handed:
            g = np.array(g)
        handed.add(id(g))
        return g
    # A Tensor (create_graph): the same rule for its array, and the copy keeps its place
    # in the graph, so gradients of this gradient still flow.
    data = g.data
    if id(g) in handed or id(data) in handed or data.base is not None or not data.flags.writeable:
        if g._node is None and g.requires_grad:  # the user's own leaf, e.g. a seed v for H @ v
            before, _state.grad_enabled = _state.grad_enabled, True
            try:
                g = g * 1.0
            finally:
                _state.grad_enabled = before
        else:
            g = type(g)._make(np.array(data), g._node)
    handed.add(id(g))
    handed.add(id(g.data))
    return g


def _accumulate_leaf(leaf, g, handed: set) -> None:
    leaf.grad = _owned(g, handed) if leaf.grad is None else leaf.grad + g


def _set_retained(node: Op, g, handed: set) -> None:
    tensor = node.retained()
    if tensor is not None:
        tensor.grad = _owned(g, handed) if tensor.grad is None else tensor.grad + g


def check_seed(root, grad, *, create_graph: bool):
    """The gradient that starts backward at ``root``: ones for a scalar, else ``grad`` checked."""
    if grad is None:
        if root.data.size != 1:
            raise ValueError(
                f"backward: the root has shape {fmt(root.shape)}; backward() without grad= needs a scalar "
                "(one-element) root, so reduce it first (e.g. .sum() or .mean()) or pass grad= of that shape"
            )
        seed = np.ones(root.shape, dtype=root.dtype)
        if not create_graph:
            return seed
    from tinygraph.tensor import Tensor  # here, not at the top: tensor imports this module

    if grad is not None:
        seed = grad.data if isinstance(grad, Tensor) and not create_graph else grad
        if not isinstance(seed, Tensor):
            seed = np.asarray(seed, dtype=root.dtype)
        if seed.shape != root.shape:
            raise ValueError(
                f"backward: grad has shape {fmt(seed.shape)} but the root has shape {fmt(root.shape)}; they must match"
            )
    if create_graph and not isinstance(seed, Tensor):
        seed = Tensor._make(seed, None)
    return seed


def node_gradients(root) -> dict:
    """dL/d(every node and leaf) for a one-element ``root``, without touching any ``.grad``.

    Runs a backward pass that keeps the graph, so it needs the saved arrays: call it
    before ``backward()``, or after ``backward(retain_graph=True)``. Keys are the nodes
    (``Op``) and the leaf Tensors that require grad.
    """
    if not root.requires_grad:
        return {}
    seed = check_seed(root, None, create_graph=False)
    return run_backward([root], [seed], retain_graph=True, create_graph=False, capture="all")
