"""The graph: nodes, the op contract, grad mode, name scopes and the reverse-mode pass.

Every vertex of the graph is a :class:`Node`, leaves included. A node records which
rule (an :class:`Op`) made it, its parent nodes, which parents need a gradient, the
arrays its rule's backward needs, and its output's shape and dtype. A leaf that
requires grad keeps its gradient on its node (its Tensor's ``.grad`` reads it there), so
no node refers back to a Tensor: dropping the root frees the graph by reference
counting, and a graph never loses a gradient because a Tensor went away.

This module knows nothing of Tensor: ``tensor.py`` registers the two things the pass
needs from it (how to recognise a Tensor and how to make one) in :data:`hooks`.
"""

from __future__ import annotations

import inspect
import itertools
import threading
import weakref
from heapq import heappop, heappush

import numpy as np

from tinygraph._shapes import fmt, sum_to_shape

# Node ids grow in creation order, and a node is always created after its parents, so
# the largest id first is a topological order: no recursion, no visit marks.
_ids = itertools.count()


class _State(threading.local):
    grad_enabled = True
    scope = None


_state = _State()


class _Hooks:
    """What the engine needs from the Tensor layer, registered by ``tensor.py``."""

    #: The Tensor class: gradients that are Tensors (create_graph) pass through as they are.
    tensor_type: type = type(None)
    #: ``make_tensor(array, node)``: a Tensor around ``array`` made by ``node``.
    make_tensor = None
    #: ``apply(rule, *inputs)``: run a rule forward and record it (``Op.apply``).
    apply = None


hooks = _Hooks()


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


# ----------------------------------------------------------------- the op contract


class _Released:
    """Stands in for the saved arrays of a node whose graph was freed by backward()."""

    def __repr__(self):
        return "<released>"


RELEASED = _Released()


class Op:
    """A differentiable operation: the rule that makes nodes of the graph.

    Subclass it to define an op: ``forward`` computes on numpy arrays, ``backward``
    returns one gradient per input (``None`` where an input needs none), and ``saves``
    names what backward needs, among forward's parameters and ``"out"``. Backward gets
    ``ctx``, the node being differentiated: ``ctx.needs[i]`` says whether input ``i``
    needs a gradient, ``ctx.parents[i].shape`` is that input's shape. It is written once
    with operators, ``.T``, ``.reshape``, ``.sum`` and numpy ufuncs, so it runs on
    arrays and, under ``create_graph=True``, on Tensors. Return gradients of the
    broadcast shape: the engine sums them back to each input's shape.

    An op instance holds only what the op is told when it is built (an axis, an
    exponent); everything about one application lives on its node.

    Code emitters, for ``tg.compile`` (every op in the table defines both; a user op
    needs them only to be compiled):

    - ``emit_forward(self, ctx, *xs) -> str``: one numpy expression that computes the
      output, written with ``np.`` and Python literals only; ``xs`` are the names of the
      variables holding the input arrays (for ``+ - * /`` an input may also be a number
      literal). Op parameters (an axis, a shape, an index) are written as literals
      (``repr``); an index holding arrays as ``np.array(<list>)`` of its values.
    - ``emit_backward(self, ctx, g, *saved) -> tuple``: one expression per input for its
      gradient, in terms of ``g`` (the name of dL/d(out)) and the names of the saved
      values (in the order of ``saves``); ``None`` where ``ctx.needs[i]`` is False. The
      gradient may keep the broadcast shape: the compiler sums it back, as the engine does.

    Residuals, for an op whose backward needs what its forward computed on the way (the
    softmax of a fused cross-entropy): ``residuals`` names them, and the op defines
    ``forward_with_residuals(self, *xs) -> (out, (r1, r2, ...))`` beside ``forward``.
    The engine calls it only when it records the op, keeps the residuals on the node and
    passes them to backward after the saved values: ``backward(self, ctx, g, *saved,
    *residuals)``. They are plain arrays, so where they cannot be used they arrive as
    ``None`` and backward computes from the saved values instead: under
    ``create_graph=True`` (a residual has no graph to differentiate through) and when
    ``check_graph`` runs a node again.

    The compiled form has its own: ``emit_residuals(self, ctx, *xs) -> dict`` (optional)
    maps names to expressions of values both the forward line and the backward lines
    read; each expression may read the op's inputs and the names before it. The
    compiler writes each as a forward line under a fresh variable, before the op's own
    line, keeps those the backward reads, and gives the emitters the variables in
    ``ctx.residuals`` (name -> variable): ``cross_entropy`` shares its exponentials and
    their sums this way, so its compiled backward computes no second softmax.

    ``ctx`` gives the shapes and dtypes (``ctx.parents[i].shape``, ``ctx.shape``,
    ``ctx.dtype``) so that the text can be specialised; the same ``ctx`` must give the
    same text. The expressions must compute what forward and backward compute (the
    compiler checks shapes and dtypes, the tests values to 1e-12).

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
    ...     def backward(self, ctx, g, x):
    ...         return g * tg.sigmoid(x)
    ...     def emit_forward(self, ctx, x):
    ...         return f"np.logaddexp(0.0, {x})"
    ...     def emit_backward(self, ctx, g, x):
    ...         return (f"{g} * np.exp(-np.logaddexp(0.0, -{x}))",)
    >>> x = tg.Tensor([0.0, 2.0], requires_grad=True)
    >>> softplus = Softplus.apply
    >>> softplus(x).sum().backward()
    >>> np.round(x.grad, 4)
    array([0.5   , 0.8808])
    >>> step = tg.compile(lambda t: softplus(t).sum())
    >>> step(x).item() == softplus(x).sum().item()
    True
    """

    name = "op"
    #: The backward rule as text, one line per input (a str for one input): docs and pictures show it.
    formula = ""
    saves: tuple = ()
    #: Names of the arrays ``forward_with_residuals`` returns beside the output for backward.
    residuals: tuple = ()
    #: Whether apply checks that forward returned a floating array. The built-in ops,
    #: whose forwards are numpy calls on float arrays, declare False.
    check_output = True

    # Public forms, declared by the built-in ops and built from the declaration by
    # tensor.py and functional.py (see _ops/__init__.py):
    #: Name of the Tensor method (``t.exp()``), or None.
    method: str | None = None
    #: Name of the function form (``tg.exp(t)``), or None.
    function: str | None = None
    #: Tensor operator (``"__add__"``, ``"__neg__"``); for two inputs ``reflected`` is the swapped form.
    operator: str | None = None
    reflected: str | None = None
    #: numpy ufuncs and functions that record this op when called on a Tensor.
    numpy: tuple = ()
    #: Inputs can be swapped without changing the result (pictures need no operand labels).
    commutative = False

    __slots__ = ("__dict__",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        forward = list(inspect.signature(cls.forward).parameters.values())[1:]
        params = [p.name for p in forward if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        # forward(self, *xs) takes any number of inputs (concatenate, stack, ...).
        cls.arity = None if any(p.kind == p.VAR_POSITIONAL for p in forward) else len(params)
        # Trailing inputs that default to None may be left out (conv2d's bias b).
        cls.min_arity = cls.arity and sum(p.default is not None for p in forward if p.name in params)
        cls.input_names = tuple(params)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__  # messages and pictures name the op, never a bare "op"
        backward = inspect.signature(cls.backward).parameters.values()
        if not any(p.kind == p.VAR_POSITIONAL for p in backward):
            takes = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in backward) - 3  # self, ctx, g
            if takes != len(cls.saves) + len(cls.residuals):
                kept = f" and residuals = {tuple(cls.residuals)}" if cls.residuals else ""
                raise TypeError(
                    f"{cls.__name__}.backward(self, ctx, g, ...) takes {takes} saved value(s) after g, "
                    f"but saves = {tuple(cls.saves)}{kept} {'name' if kept else 'names'} {len(cls.saves) + len(cls.residuals)}"
                )
        if cls.residuals and not callable(getattr(cls, "forward_with_residuals", None)):
            raise TypeError(
                f"{cls.__name__} names residuals = {tuple(cls.residuals)} but defines no "
                "forward_with_residuals(self, *xs) returning (out, residuals)"
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
        cls.save_slots = tuple(slots)

    def forward(self, *arrays):  # pragma: no cover - every op overrides it
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def backward(self, ctx, g, *saved):  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} defines no backward")

    @classmethod
    def apply(cls, *inputs, **attrs):
        """Build the op with ``attrs`` and apply it to ``inputs`` (Tensors, arrays or numbers)."""
        return hooks.apply(cls(**attrs), *inputs)

    def __repr__(self):
        return f"<op {self.name}>"


class Leaf(Op):
    """The rule of a leaf node: a value that no op made (a parameter, an input, a constant)."""

    name = "leaf"

    def forward(self):  # pragma: no cover - leaves are made, not computed
        raise RuntimeError("leaf: a leaf has no forward")

    def backward(self, ctx, g):  # pragma: no cover - the pass never differentiates a leaf
        raise RuntimeError("leaf: a leaf has no backward")


LEAF = Leaf()


# ----------------------------------------------------------------- nodes


class Node:
    """One vertex of the graph: a leaf, or one application of an op.

    ``rule`` is the :class:`Op` (``LEAF`` for leaves); ``parents`` the input nodes in
    order; ``needs[i]`` whether parent ``i`` needs a gradient; ``saved`` the arrays the
    rule's backward reads (``RELEASED`` once backward freed them); ``shape`` and
    ``dtype`` describe the value; ``id`` orders nodes by creation.
    """

    __slots__ = ("rule", "parents", "needs", "saved", "shape", "dtype", "id", "__dict__", "__weakref__")
    # Set on few nodes, so they default here rather than being written for every op.
    #: The name scope the node was created in.
    scope = None
    #: A name given to the value (``t.name``), shown by messages and pictures.
    label = None
    #: Whether backward adds the gradient reaching this node to ``grad``: true for
    #: leaves that require grad and for results the user called ``retain_grad()`` on.
    keeps_grad = False
    #: The accumulated gradient (what the Tensor's ``.grad`` shows), when ``keeps_grad``.
    grad = None
    #: False only for constant leaves (inputs and numbers that need no gradient).
    requires_grad = True
    #: Where the op was built, ``(file, line, function)`` of the first frame outside
    #: tinygraph: recorded only under ``detect_anomaly`` (and by the checkers).
    site = None
    #: Functions ``Tensor.register_hook`` added: each sees the gradient reaching this node.
    hooks = None

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def is_leaf(self) -> bool:
        return not self.parents

    def __repr__(self):
        label = f" {self.label!r}" if self.label else ""
        return f"<{self.rule.name} node {self.id}{label} {fmt(self.shape)}>"


_new = object.__new__


def record(rule: Op, parents: tuple, needs: tuple, saved: tuple, out: np.ndarray) -> Node:
    """Make the node for one application of ``rule``: the only place nodes are made."""
    node = _new(Node)
    node.rule, node.parents, node.needs, node.saved = rule, parents, needs, saved
    node.shape, node.dtype, node.id = out.shape, out.dtype, next(_ids)
    scope = _state.scope
    if scope is not None:
        node.scope = scope
    return node


def leaf_node(value: np.ndarray, requires_grad: bool = False) -> Node:
    """The node of a leaf holding ``value``: a parameter that keeps its gradient, or a constant."""
    node = record(LEAF, (), (), (value,), value)
    if requires_grad:
        node.keeps_grad = True
    else:
        node.requires_grad = False
    return node


def topological_order(roots) -> list:
    """Every node reachable from ``roots``, outputs before inputs (iterative, no recursion)."""
    seen = set(roots)
    stack = list(seen)
    while stack:
        for parent in stack.pop().parents:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return sorted(seen, key=lambda node: node.id, reverse=True)


# ----------------------------------------------------------------- in-place writes

# Arrays written in place through a Tensor (``t.data *= 5``), by id: (stamp, weak
# reference, what to call it). A node recorded before such a write may have saved the
# old values, so backward checks it (only nodes older than the latest write pay).
_writes: dict = {}
# The stamp of the latest such write: arrays are shared between threads, so this is global.
_last_write = -1


def note_inplace_write(array: np.ndarray, name: str | None = None) -> None:
    """Remember that ``array`` (of the Tensor called ``name``) was changed in place, so older
    nodes that saved it refuse backward.

    The record is kept against the array that owns the memory, with the written
    array's own byte range: ``w[1:].data *= 5`` writes through a view that is gone by
    the time backward runs, while ``w``'s array and its saved copies live on.
    """
    global _last_write
    stamp = _last_write = next(_ids)
    if array.base is None:  # the common case, a parameter's own array: the update of every training step
        key = id(array)
        entry = _writes.get(key)
        if entry is not None and entry[1]() is array:
            entry[0], entry[4] = stamp, name  # and the Tensor's name now: it may have been named since
            return
        ref = weakref.ref(array, lambda _, key=key: _writes.pop(key, None))
        _writes[key] = [stamp, ref, ref, None, name, array.shape]
        return
    owner = array.base
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    bounds = _byte_bounds(array)
    key = (id(owner), *bounds)
    ref = weakref.ref(owner, lambda _, key=key: _writes.pop(key, None))
    # The written array itself while it lives (an exact overlap test), else its byte range.
    _writes[key] = [stamp, ref, weakref.ref(array), bounds, name, array.shape]


# numpy 2 moved byte_bounds to numpy.lib.array_utils.
_byte_bounds = getattr(getattr(np.lib, "array_utils", np), "byte_bounds", None) or np.byte_bounds


_TOO_HARD = getattr(np, "exceptions", np).TooHardError  # numpy < 1.25 kept it at the top level


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays share an element (bounds alone would accuse interleaved views)."""
    if not np.may_share_memory(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=100_000))
    except _TOO_HARD:  # pragma: no cover - exotic strides: assume the worst
        return True


def _check_not_written(node: Node, saved: tuple) -> None:
    for index, array in enumerate(saved):
        if not isinstance(array, np.ndarray):
            continue
        for stamp, owner_ref, written_ref, bounds, name, shape in list(_writes.values()):
            if stamp <= node.id or owner_ref() is None:
                continue
            written = written_ref()
            if written is not None:
                hit = _overlap(array, written)
            else:  # the view that was written is gone: compare the bytes it covered
                start, end = _byte_bounds(array)
                hit = start < bounds[1] and bounds[0] < end
            if hit:
                slots = node.rule.save_slots
                slot = slots[index] if index < len(slots) else None
                value = "a value it computed" if slot is None else "its output" if slot < 0 else f"its input {slot}"
                what = f"Tensor {name!r}" if name else f"a Tensor of shape {fmt(shape)}"
                raise RuntimeError(
                    f"backward: {what} was changed in place after '{node.name}' (node {node.id}) saved {value} "
                    f"of shape {fmt(array.shape)} for backward, so its gradient would be computed at the new values; "
                    "run the forward again after changing it, or change parameters after backward "
                    "(assign a new array, t.data = t.data - lr * t.grad, to keep a retained graph valid)"
                )


# ----------------------------------------------------------------- the reverse pass


def backward_pass(roots, seeds, *, retain_graph: bool, create_graph: bool, visit=None) -> None:
    """Reverse-mode accumulation from the ``roots`` nodes, seeded with dL/d(root).

    Each node is taken once, after every gradient reaching it has been summed. What
    happens to a node's total gradient is up to the sink: by default (``visit`` None)
    nodes that keep their gradient (leaves, retained results) add it to ``.grad``; else
    ``visit(node, g)`` receives it and returns whether to propagate it further.
    """
    grads: dict = {}
    heap: list = []
    for node, seed in zip(roots, seeds):
        _receive(grads, heap, node, seed)
    # Arrays already handed to a .grad in this pass: another tensor that receives the
    # same array object (add returns g for both inputs) must get its own copy.
    handed = {id(s) for s in seeds} | {id(s.data) for s in seeds if isinstance(s, hooks.tensor_type)}
    outer_mode = _state.grad_enabled
    _state.grad_enabled = create_graph
    try:
        while heap:
            node = heappop(heap)[1]
            g = grads.pop(node)
            if node.hooks is not None:
                g = _run_hooks(node, g, create_graph)
            if visit is None:
                if node.keeps_grad:
                    node.grad = owned(g, handed) if node.grad is None else node.grad + g
            elif not visit(node, g):
                continue
            if node.parents:
                _propagate(node, g, grads, heap, retain_graph, create_graph)
    finally:
        _state.grad_enabled = outer_mode


def _run_hooks(node: Node, g, create_graph: bool):
    """The gradient reaching ``node`` after each of its hooks saw it (and maybe replaced it)."""
    for hook in list(node.hooks):
        shown = g
        if type(g) is np.ndarray and g.flags.writeable:
            # The same array may be another node's gradient too (add hands g to both
            # inputs): a hook that writes into it gets an error, not a silent change.
            shown = g.view()
            shown.flags.writeable = False
        new = hook(shown)
        if new is None:
            continue
        name = getattr(hook, "__qualname__", type(hook).__name__)
        if isinstance(new, hooks.tensor_type):
            new = new if create_graph else new.data
        elif not isinstance(new, np.ndarray):
            try:
                new = np.asarray(new, dtype=node.dtype)
            except (TypeError, ValueError):
                raise TypeError(
                    f"register_hook: hook {name} returned a {type(new).__name__}; return an array of shape "
                    f"{fmt(node.shape)} (or None to keep the gradient)"
                ) from None
        if new.shape != node.shape:
            raise ValueError(
                f"register_hook: hook {name} returned a gradient of shape {fmt(new.shape)} for a tensor of shape "
                f"{fmt(node.shape)}; a replacement must have the tensor's shape"
            )
        if isinstance(new, np.ndarray):
            if new.dtype != node.dtype:
                new = new.astype(node.dtype)
            if create_graph:
                new = hooks.make_tensor(new, None)
        g = new
    return g


class HookHandle:
    """What ``Tensor.register_hook`` returns: ``remove()`` takes the hook off again."""

    __slots__ = ("_hooks", "_entry")

    def __init__(self, node: Node, entry):
        # The list, not the node: a leaf given a new value shares its hook list with its new node.
        self._hooks, self._entry = node.hooks, entry

    def remove(self) -> None:
        """Remove the hook (removing it twice does nothing)."""
        self._hooks[:] = [h for h in self._hooks if h is not self._entry]


def add_hook(node: Node, fn) -> HookHandle:
    """Run ``fn`` on the gradient reaching ``node`` in every backward pass, until removed."""
    # A wrapper per registration, so that one function registered twice runs twice
    # and each handle removes its own.
    def entry(g):
        return fn(g)

    entry.__qualname__ = getattr(fn, "__qualname__", type(fn).__name__)
    if node.hooks is None:
        node.hooks = [entry]
    else:  # in place: the list may be shared with the node of the same leaf's new value
        node.hooks.append(entry)
    return HookHandle(node, entry)


def _receive(grads: dict, heap: list, node: Node, g) -> None:
    """Add ``g`` to what ``node`` has received; a node's first gradient puts it in the heap."""
    prev = grads.get(node)
    if prev is None:
        grads[node] = g
        heappush(heap, (-node.id, node))
    else:
        grads[node] = prev + g


def _propagate(node: Node, g, grads: dict, heap: list, retain_graph: bool, create_graph: bool) -> None:
    """Run ``node``'s backward rule and pass each input's gradient to its parent node."""
    saved = node.saved
    if saved is RELEASED:
        raise RuntimeError(
            f"backward: the graph through '{node.name}' was already freed by an earlier backward(); "
            "pass retain_graph=True to the first backward() to backpropagate through it again"
        )
    if node.id < _last_write and saved:
        _check_not_written(node, saved)
    if create_graph:
        saved = _lift_saved(node)
    in_grads = node.rule.backward(node, g, *saved)
    if not retain_graph:
        node.saved = RELEASED
    parents = node.parents
    if type(in_grads) is not tuple or len(in_grads) != len(parents):
        in_grads = _as_gradient_tuple(node, in_grads)
    index = 0
    for parent, need, gi in zip(parents, node.needs, in_grads):
        if gi is not None and need:
            if type(gi) is not np.ndarray:
                gi = _as_gradient(gi, node, index, parent, create_graph)
            if gi.shape != parent.shape:
                gi = sum_to_shape(gi, parent.shape, op=node.name, index=index)
            dtype = parent.dtype
            if gi.dtype is not dtype and gi.dtype != dtype:
                gi = gi.astype(dtype)  # under create_graph a recorded cast, so float32 stays float32 there too
            prev = grads.get(parent)  # _receive, inline: this runs once per edge
            if prev is None:
                grads[parent] = gi
                heappush(heap, (-parent.id, parent))
            else:
                grads[parent] = prev + gi
        index += 1


def _lift_saved(node: Node) -> tuple:
    """For create_graph: the saved arrays as Tensors wired to the nodes that made them."""
    make = hooks.make_tensor
    lifted = tuple(
        make(array, node if slot < 0 else node.parents[slot]) for slot, array in zip(node.rule.save_slots, node.saved)
    )
    # Residuals are arrays with no graph behind them: backward recomputes them from the lifted values.
    return lifted + (None,) * len(node.rule.residuals)


def _as_gradient_tuple(node: Node, in_grads) -> tuple:
    """What backward returned, as one gradient per input, or an error naming the op."""
    if type(in_grads) is not tuple:
        # One bare gradient counts as one, however many rows it has.
        in_grads = tuple(in_grads) if type(in_grads) is list else (in_grads,)
    if len(in_grads) != len(node.parents):
        raise RuntimeError(
            f"{node.name}: backward returned {len(in_grads)} gradient(s) for {len(node.parents)} input(s)"
        )
    return in_grads


def _as_gradient(gi, node: Node, index: int, parent: Node, create_graph: bool):
    """A gradient that is not a plain array, as the pass needs it.

    A user's rule may call tinygraph functions on arrays (``g * tg.sigmoid(x)``) and so
    return a constant Tensor: outside create_graph its array is the gradient, so that
    ``.grad`` stays an array. Numbers and lists become arrays; anything else is refused.
    """
    if isinstance(gi, hooks.tensor_type):
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


# ----------------------------------------------------------------- sinks


def owned(g, handed: set):
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
        before, _state.grad_enabled = _state.grad_enabled, True
        try:
            g = g * 1.0 if g.requires_grad else hooks.make_tensor(np.array(data), None)
        finally:
            _state.grad_enabled = before
    handed.add(id(g))
    handed.add(id(g.data))
    return g


class Capture:
    """The sink of ``tg.grad``: the gradients of ``wanted`` nodes, and no ``.grad`` written.

    Only nodes between the roots and the wanted nodes run: the rest of the graph is
    neither computed nor freed (another loss may still need it).
    """

    def __init__(self, roots, wanted):
        self.got = {node: None for node in wanted}
        self.useful = set()
        # Oldest first: every parent is decided before the nodes that consume it.
        for node in reversed(topological_order(roots)):
            if any(p in self.got or p in self.useful for p in node.parents):
                self.useful.add(node)

    def __call__(self, node: Node, g) -> bool:
        if node in self.got:
            self.got[node] = g
        return node in self.useful


class EveryNode:
    """The sink of pictures: the gradient reaching every node that needs one."""

    def __init__(self):
        self.got = {}

    def __call__(self, node: Node, g) -> bool:
        self.got[node] = g
        return True


def node_gradients(root: Node, seed=None) -> dict:
    """dL/d(node) for every node below ``root`` that needs a gradient, without touching any ``.grad``.

    ``seed`` is dL/d(root), ones by default. Runs a backward pass that keeps the graph,
    so it needs the saved arrays: call it before ``backward()``, or after
    ``backward(retain_graph=True)``.
    """
    if seed is None:
        seed = np.ones(root.shape, dtype=root.dtype)
    sink = EveryNode()
    backward_pass([root], [seed], retain_graph=True, create_graph=False, visit=sink)
    return sink.got
