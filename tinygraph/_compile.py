"""``tg.compile``: the recorded graph written out as straight-line numpy, forward and backward.

The first call with given input shapes and dtypes runs ``fn`` eagerly and records its
graph, like any tinygraph computation. Every op of the graph then writes its own line
of numpy (its ``emit_forward`` and ``emit_backward``, declared next to its forward and
backward in the op table), and the lines become two plain Python functions: a forward
that returns the output and the arrays the backward needs, and a backward that turns
dL/d(output) into one gradient per input that requires one. Later calls with the same
shapes and dtypes run the generated forward and put ONE node in the caller's graph,
whose backward runs the generated backward; so a compiled function composes with
everything else (``backward()``, ``tg.grad``, ``nn``, the optimizers, outer graphs).

What is baked in at trace time, as in JAX's ``jit``:

* shapes, dtypes, which inputs require grad, and any argument that is not an array or
  a Tensor (numbers, strings, tuples of them): a new combination makes a new
  specialisation (cached);
* constants: numpy arrays and Tensors that do not require grad, captured from outside
  ``fn`` or made inside it, are embedded as they were when traced (a copy); pass data
  that changes as an argument;
* Python control flow: ``fn`` is run once, so its branches are taken once. Reading a
  traced value in Python (``bool(t)``, ``float(t)``, ``t.item()``, ``t.data``,
  ``t.numpy()``, comparisons, ``np.asarray(t)``), detaching it or running an op under
  ``tg.no_grad()`` raises, naming the line, rather than freezing the value silently.

Tensors that require grad and are captured from outside ``fn`` (a module's parameters)
are inputs too: each call reads their current value through their leaf node, and
backward fills their ``.grad``. Assigning their ``.data`` (what the optimizers do) is
seen; giving one a new shape or switching its ``requires_grad`` needs a new
``tg.compile``.

Ops skip their value checks in compiled code (numpy's warnings remain): a log of a
negative number is NaN there, not a ValueError. ``cross_entropy``'s class labels are the
exception, because a bad one would not show: a label that is not a whole number in
[0, C) would pick a wrong class, so the compiled line raises numpy's ValueError ("invalid
entry in coordinates array") for it. ``backward(create_graph=True)`` through
a compiled node runs ``fn`` again eagerly, so higher-order gradients stay exact.

The emitter protocol, which every op in the table follows, is described on :class:`tinygraph.Op`.
"""

from __future__ import annotations

import ast
import builtins
import functools
import inspect
import keyword
import linecache
import os
import re
import sys
import threading

import numpy as np

from tinygraph import _graph
from tinygraph._graph import Op, hooks, record
from tinygraph._shapes import fmt
from tinygraph.functional import grad as _grad
from tinygraph.tensor import Tensor

__all__ = ["compile", "CompiledFunction"]

#: Specialisations kept per compiled function; the oldest is dropped beyond this.
MAX_SPECIALISATIONS = 64

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# ----------------------------------------------------------------- the public function


def compile(fn):  # noqa: A001 - tg.compile, like jax.jit / torch.compile; shadows the builtin in tg's namespace only
    """Compile ``fn`` into straight-line numpy: one generated forward and backward per input signature.

    Parameters
    ----------
    fn : callable
        Takes Tensors and/or numpy arrays (plus any hashable static arguments, and lists,
        tuples or dicts of these) and returns one Tensor, often a scalar loss. It must
        be built from tinygraph ops.

    Returns
    -------
    CompiledFunction
        Called like ``fn``; returns a Tensor with the same value, whose ``backward()``
        fills the ``.grad`` of every input that requires grad. ``.source`` is the
        generated Python of the latest specialisation.

    Examples
    --------
    The document's logistic-regression cost; the generated backward is the hand-derived one.

    >>> import numpy as np
    >>> import tinygraph as tg
    >>> def cost(W, b, X, Y):
    ...     Z = (W @ X + b).named("Z")
    ...     return tg.binary_cross_entropy_with_logits(Z, Y)
    >>> step = tg.compile(cost)
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.standard_normal((3, 8)), (rng.random((1, 8)) > 0.5).astype(float)
    >>> W = tg.Tensor(np.zeros((1, 3)), requires_grad=True)
    >>> b = tg.Tensor(np.zeros((1, 1)), requires_grad=True)
    >>> loss = step(W, b, X, Y)
    >>> loss.backward()
    >>> bool(np.allclose(W.grad, (0.5 - Y) @ X.T / 8))     # dW = dZ Xᵀ / N at W = 0
    True
    >>> print(step.source.split("def backward")[1].split("return")[0])   # doctest: +NORMALIZE_WHITESPACE
    (dout, X, Y, Z):
        dZ = dout * (np.exp(-np.logaddexp(0.0, -Z)) - Y) / 8   # binary_cross_entropy_with_logits (1, 8)
        db = dZ.sum(axis=1, keepdims=True)                     # add, summed over broadcast axis 1 (1, 1)
        dW = dZ @ X.T                                          # matmul (1, 3)
    <BLANKLINE>
    """
    if not callable(fn):
        raise TypeError(f"compile: expected a function, got {type(fn).__name__}")
    return CompiledFunction(fn)


class CompiledFunction:
    """What :func:`compile` returns: call it like the function it compiles.

    Attributes
    ----------
    source : str
        The generated Python of the most recently generated specialisation.
    """

    def __init__(self, fn):
        self.fn = self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        self._specs: dict = {}
        self._latest = None
        try:
            parameters = inspect.signature(fn).parameters.values()
            self._arg_names = [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            self._arg_names = []

    @property
    def source(self) -> str:
        if self._latest is None:
            raise RuntimeError(f"compile: {self.__name__} has not been called yet, so no code was generated")
        return self._latest.source

    def __repr__(self):
        return f"<tg.compile of {self.__name__}: {len(self._specs)} specialisation(s)>"

    def __get__(self, instance, owner=None):
        # As a method decorator: the instance is a static argument, so each instance gets its own code.
        return self if instance is None else functools.partial(self, instance)

    def __call__(self, *args, **kwargs):
        if getattr(_local, "tracing", None) is not None:
            # Called while another function is traced: record its ops inline, into that graph.
            return self.fn(*args, **kwargs)
        grad_on = _graph._state.grad_enabled
        signature = []
        for a in args:  # the common call, Tensors and arrays only, takes no detour through _flatten
            if type(a) is Tensor:
                data = a._data
                signature.append((data.shape, data.dtype.char, a._rg and grad_on))
            elif type(a) is np.ndarray and a.dtype.kind == "f":
                signature.append((a.shape, a.dtype.char, False))
            else:
                break
        else:
            if not kwargs:
                leaves = args
                treedef = _FLAT.get(len(args)) or _FLAT.setdefault(len(args), (("tuple", (None,) * len(args)), None))
                key = (treedef, tuple(signature), grad_on)
                spec = self._specs.get(key)
                if spec is None:
                    spec = self._specialise(key, treedef, leaves, grad_on)
                return spec.run(leaves)
        leaves = []
        treedef = (_flatten(args, leaves, "args"), _flatten(kwargs, leaves, "kwargs") if kwargs else None)
        signature = []
        for leaf in leaves:
            data = leaf._data if isinstance(leaf, Tensor) else leaf
            signature.append((data.shape, data.dtype.char, isinstance(leaf, Tensor) and leaf._rg and grad_on))
        key = (treedef, tuple(signature), grad_on)
        spec = self._specs.get(key)
        if spec is None:
            spec = self._specialise(key, treedef, leaves, grad_on)
        return spec.run(leaves)

    # ----- tracing and code generation, once per signature

    def _specialise(self, key, treedef, leaves, grad_on):
        names = _input_names(self._arg_names, treedef, leaves)
        tracers = [Tensor(_data_of(leaf), requires_grad=True, name=name) for leaf, name in zip(leaves, names)]
        wants_input = [isinstance(leaf, Tensor) and leaf._rg and grad_on for leaf in leaves]
        graph = _trace(self, treedef, tracers)
        spec = _generate(self, graph, tracers, names, wants_input, grad_on)
        spec.treedef = treedef
        if len(self._specs) >= MAX_SPECIALISATIONS:
            self._specs.pop(next(iter(self._specs)))
        self._specs[key] = spec
        self._latest = spec
        return spec


# ----------------------------------------------------------------- arguments

#: The structure of n plain positional arguments, made once per n.
_FLAT: dict = {}


def _flatten(obj, leaves: list, where: str):
    """The structure of ``obj`` (hashable, for the cache key); arrays and Tensors go to ``leaves``."""
    if isinstance(obj, Tensor) or (type(obj) is np.ndarray and obj.dtype.kind == "f"):
        leaves.append(obj)
        return None
    kind = type(obj)
    if kind is tuple or kind is list:
        return (kind.__name__, tuple(_flatten(o, leaves, f"{where}[{i}]") for i, o in enumerate(obj)))
    if kind is dict:
        return ("dict", tuple((k, _flatten(v, leaves, f"{where}[{k!r}]")) for k, v in obj.items()))
    if isinstance(obj, np.ndarray):  # integer and boolean arrays are static, like indices
        return ("array", obj.dtype.str, obj.shape, obj.tobytes())
    try:
        hash(obj)
    except TypeError:
        raise TypeError(
            f"compile: {where} is a {kind.__name__}, which is neither a Tensor, a floating array, a list, tuple or "
            "dict of them, nor a hashable value that could be baked into the generated code"
        ) from None
    return ("static", kind, obj)


def _unflatten(node, leaves):
    """Rebuild the arguments from ``_flatten``'s structure, taking arrays from the iterator ``leaves``."""
    if node is None:
        return next(leaves)
    kind = node[0]
    if kind == "tuple":
        return tuple(_unflatten(n, leaves) for n in node[1])
    if kind == "list":
        return [_unflatten(n, leaves) for n in node[1]]
    if kind == "dict":
        return {k: _unflatten(n, leaves) for k, n in node[1]}
    if kind == "array":
        return np.frombuffer(node[3], dtype=node[1]).reshape(node[2]).copy()
    return node[2]


def _call(fn, treedef, leaves):
    args_def, kwargs_def = treedef
    it = iter(leaves)
    args = _unflatten(args_def, it)
    kwargs = _unflatten(kwargs_def, it) if kwargs_def is not None else {}
    return fn(*args, **kwargs)


def _data_of(leaf) -> np.ndarray:
    return leaf._data if isinstance(leaf, Tensor) else leaf


def _input_names(arg_names, treedef, leaves) -> list:
    """A variable name per array input: fn's parameter name for a top-level argument (what the
    user wrote in fn), the keyword, else the Tensor's name, else x0, x1, ..."""
    names = [leaf.name if isinstance(leaf, Tensor) else None for leaf in leaves]
    args_def, kwargs_def = treedef
    position = 0
    for i, node in enumerate(args_def[1]):
        if node is None and i < len(arg_names):
            names[position] = arg_names[i]
        position += _count_leaves(node)
    for key, node in kwargs_def[1] if kwargs_def is not None else ():
        if node is None:
            names[position] = str(key)
        position += _count_leaves(node)
    return [name if name else f"x{i}" for i, name in enumerate(names)]


def _count_leaves(node) -> int:
    if node is None:
        return 1
    if node[0] in ("tuple", "list"):
        return sum(_count_leaves(n) for n in node[1])
    if node[0] == "dict":
        return sum(_count_leaves(n) for _, n in node[1])
    return 0


# ----------------------------------------------------------------- tracing


class _Local(threading.local):
    tracing = None  # the CompiledFunction being traced in this thread


_local = _Local()
_patch_lock = threading.Lock()
_patch_count = 0
_originals: dict = {}


def _user_line() -> str:
    """Where the user's code is: the innermost frame outside tinygraph, as ' (at file:line: code)'."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return ""
    code = frame.f_code
    text = linecache.getline(code.co_filename, frame.f_lineno).strip()
    return f" (at {code.co_filename}:{frame.f_lineno}{': ' + text if text else ''})"


def _baked(what: str, hint: str) -> RuntimeError:
    traced = _local.tracing
    return RuntimeError(
        f"compile: {what} while tg.compile traces {traced.__name__!r}{_user_line()}: the function runs once per "
        "input signature and is then replayed as generated numpy code, so this value would stay frozen at what "
        f"it is now on every later call. {hint}"
    )


def refuse_while_tracing(what: str, hint: str) -> None:
    """Raise if ``tg.compile`` is tracing in this thread: for computations whose result must not be baked
    (a random draw, a mode that can change)."""
    if _local.tracing is not None:
        raise _baked(what, hint)


_READ_HINT = (
    "Read values outside the compiled function (on the Tensor it returns), or write the decision with "
    "tinygraph ops (e.g. relu instead of an if), or leave this function uncompiled."
)


def _guard_read(name: str, what: str, hint: str = _READ_HINT):
    original = getattr(Tensor, name)

    def guarded(self, *args, **kwargs):
        if self._rg and _local.tracing is not None:
            raise _baked(what, hint)
        return original(self, *args, **kwargs)

    guarded.__name__, guarded.__doc__ = original.__name__, original.__doc__
    return guarded


def _guarded_data():
    original = Tensor.data

    def fget(self):
        if self._rg and _local.tracing is not None:
            raise _baked("t.data reads a traced value", _READ_HINT)
        return original.fget(self)

    return property(fget, original.fset, original.fdel, original.__doc__)


def _guarded_init():
    original = Tensor.__init__

    def __init__(self, data, *args, **kwargs):
        if isinstance(data, Tensor) and data._rg and _local.tracing is not None:
            raise _baked(
                "Tensor(t) makes a constant of a traced value",
                "Use t itself (or t * 1.0); a stop-gradient has no compiled form.",
            )
        original(self, data, *args, **kwargs)

    return __init__


def _guarded_no_grad():
    original = _graph.no_grad.__enter__

    def __enter__(self):
        if _local.tracing is not None:
            raise _baked(
                "tg.no_grad() computes values without recording them",
                "Compute such values outside the compiled function and pass them in as arguments.",
            )
        return original(self)

    return __enter__


_READS = {
    "__bool__": "bool(t) reads a traced value",
    "__float__": "float(t) reads a traced value",
    "__int__": "int(t) reads a traced value",
    "item": "t.item() reads a traced value",
    "tolist": "t.tolist() reads a traced value",
    "numpy": "t.numpy() reads a traced value",
    "__array__": "np.asarray(t) reads a traced value",
    "__eq__": "t == ... compares traced values",
    "__ne__": "t != ... compares traced values",
    "__lt__": "t < ... compares traced values",
    "__le__": "t <= ... compares traced values",
    "__gt__": "t > ... compares traced values",
    "__ge__": "t >= ... compares traced values",
}


def _install_guards() -> None:
    """Make value reads of traced Tensors raise while this thread traces (other threads are untouched)."""
    global _patch_count
    with _patch_lock:
        _patch_count += 1
        if _patch_count > 1:
            return
        replacements = {name: _guard_read(name, what) for name, what in _READS.items() if hasattr(Tensor, name)}
        replacements["data"] = _guarded_data()
        replacements["__init__"] = _guarded_init()
        replacements["detach"] = _guard_read(
            "detach",
            "t.detach() makes a constant of a traced value",
            "A stop-gradient has no compiled form: compute that value outside and pass it in.",
        )
        for name, value in replacements.items():
            _originals[(Tensor, name)] = Tensor.__dict__[name]
            setattr(Tensor, name, value)
        _originals[(_graph.no_grad, "__enter__")] = _graph.no_grad.__dict__["__enter__"]
        _graph.no_grad.__enter__ = _guarded_no_grad()


def _remove_guards() -> None:
    global _patch_count
    with _patch_lock:
        _patch_count -= 1
        if _patch_count:
            return
        for (owner, name), value in _originals.items():
            setattr(owner, name, value)
        _originals.clear()


class _Graph:
    """What a trace found: the op nodes in creation order, and the leaves by kind."""

    def __init__(self, out, ops, params, constants):
        self.out = out  # the output node
        self.ops = ops  # op nodes, oldest first
        self.params = params  # captured leaves that require grad (lifted to inputs)
        self.constants = constants  # leaves that require no grad: embedded


def _trace(compiled: CompiledFunction, treedef, tracers) -> _Graph:
    """Run ``fn`` on ``tracers`` (leaves that require grad, so that every op is recorded)."""
    start = next(_graph._ids)
    before_grad, before_tracing = _graph._state.grad_enabled, _local.tracing
    _install_guards()
    _graph._state.grad_enabled = True
    _local.tracing = compiled
    try:
        out = _call(compiled.fn, treedef, tracers)
    finally:
        _local.tracing = before_tracing
        _graph._state.grad_enabled = before_grad
        _remove_guards()
    name = compiled.__name__
    if not isinstance(out, Tensor):
        raise TypeError(f"compile: {name} must return a Tensor, got {type(out).__name__}")
    root = out._node if out._node is not None else _graph.leaf_node(out._data)
    if out._node is None:
        root.label = out._name
    inputs = {t._node for t in tracers}
    ops, params, constants = [], [], []
    seen = {root}
    stack = [root]
    while stack:
        node = stack.pop()
        if node.parents:
            if node.id < start:
                raise RuntimeError(
                    f"compile: {name} uses a Tensor of shape {fmt(node.shape)} that '{node.name}' computed outside "
                    "it from values that require grad; its value would be frozen and its gradient lost, so pass it "
                    "in as an argument, or compute it inside the function"
                )
            if not hasattr(node.rule, "emit_forward") or not hasattr(node.rule, "emit_backward"):
                raise TypeError(
                    f"compile: op '{node.name}' ({type(node.rule).__name__}) has no code emitter; define its "
                    "emit_forward and emit_backward (see tinygraph.Op) to compile functions that use it"
                )
            ops.append(node)
            for parent in node.parents:
                if parent not in seen:
                    seen.add(parent)
                    stack.append(parent)
        elif node in inputs:
            continue
        elif node.requires_grad and node.id < start:
            params.append(node)
        else:
            constants.append(node)
    ops.sort(key=lambda n: n.id)
    params.sort(key=lambda n: n.id)
    constants.sort(key=lambda n: n.id)
    return _Graph(root, ops, params, constants)


# ----------------------------------------------------------------- code generation


class _Context:
    """What an emitter reads about one application: the node's facts, with this specialisation's ``needs``."""

    __slots__ = ("rule", "parents", "needs", "shape", "dtype", "label", "id", "residuals")

    def __init__(self, node, needs, residuals=None):
        self.rule, self.parents, self.needs = node.rule, node.parents, needs
        self.shape, self.dtype, self.label, self.id = node.shape, node.dtype, node.label, node.id
        #: name -> the variable holding it, for the values the op's emit_residuals declared.
        self.residuals = {} if residuals is None else residuals

    @property
    def name(self) -> str:
        return self.rule.name


class _Names:
    """Unique variable names, readable ones first: ``Z1``, then ``Z1_2`` on a clash."""

    def __init__(self):
        self.used = {"np"} | set(keyword.kwlist) | set(dir(builtins))

    def fresh(self, wanted: str) -> str:
        base = re.sub(r"\W", "_", wanted) or "v"
        if base[0].isdigit():
            base = "v" + base
        name, k = base, 1
        while name in self.used:
            k += 1
            name = f"{base}_{k}"
        self.used.add(name)
        return name


def _is_atom(text: str) -> bool:
    """Whether ``text`` can take a method call or an operator without parentheses."""
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError:  # pragma: no cover - emitters return expressions
        return False
    if isinstance(node, ast.Constant):
        return not text.startswith("-")
    return isinstance(node, (ast.Name, ast.Call, ast.Attribute, ast.Subscript))


def _paren(text: str) -> str:
    return text if _is_atom(text) else f"({text})"


def _float_text(value: np.ndarray) -> str:
    """A 0-d constant as the shortest Python literal that gives the same value in its dtype."""
    short = str(value.item()) if value.dtype == np.float64 else str(value[()])
    try:
        exact = value.dtype.type(float(short)) == value[()]
    except (ValueError, OverflowError):  # pragma: no cover - finite values only reach here
        exact = False
    text = short if exact else repr(float(value[()]))
    return f"({text})" if text.startswith("-") else text


class _Spec:
    """One specialisation: the generated functions, the fused op, and how to call them."""

    def __init__(self, compiled, source, forward, backward, n_values, params, wants, out_label):
        self.compiled, self.source = compiled, source
        self.forward, self.backward = forward, backward
        self.n_values = n_values  # arrays passed to forward: explicit inputs, then captured parameters
        self.params = params  # captured parameter nodes (their current value is node.saved[0])
        self.wants = wants  # per forward argument: does its gradient go back
        self.out_label = out_label
        self.rule = _FusedOp(self) if backward is not None else None
        self.treedef = None
        # The call's parents: the explicit inputs that want a gradient (by position), then the parameters.
        self._wanted = [i for i, want in enumerate(wants[: n_values - len(params)]) if want]
        self._param_parents = tuple(params)

    def run(self, leaves):
        values = [leaf._data if isinstance(leaf, Tensor) else leaf for leaf in leaves]
        if self.params:
            values += [node.saved[0] for node in self.params]
        out, saved = self.forward(*values)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        rule = self.rule
        if rule is None:
            t = Tensor(out)
            if self.out_label is not None:
                t.name = self.out_label
            return t
        parents = tuple([leaves[i]._node for i in self._wanted]) + self._param_parents
        node = record(rule, parents, rule.needs, (*values, *saved), out)
        t = hooks.make_tensor(out, node)
        if self.out_label is not None:
            node.label = t._name = self.out_label
        return t


class _FusedOp(Op):
    """The node a compiled call puts in the caller's graph: its backward is the generated backward."""

    name = "compiled"
    formula = "the generated backward (see .source of the compiled function)"
    check_output = False

    def __init__(self, spec):
        self.spec = spec
        self.name = f"compiled {spec.compiled.__name__}"
        self.needs = (True,) * (sum(spec.wants[: len(spec.wants) - len(spec.params)]) + len(spec.params))

    def forward(self, *xs):  # pragma: no cover - compiled calls run the generated forward themselves
        return self.spec.forward(*xs)[0]

    def backward(self, ctx, g, *saved):
        if isinstance(g, hooks.tensor_type):
            return _eager_backward(self.spec, ctx, g)
        return self.spec.backward(g, *saved[self.spec.n_values :])


def _eager_backward(spec, ctx, g):
    """``create_graph=True``: run ``fn`` again eagerly on the call's values, wired to the same
    parents, and differentiate that graph, so that gradients of gradients stay exact."""
    values = ctx.saved[: spec.n_values]
    n_explicit = spec.n_values - len(spec.params)
    parents = iter(ctx.parents)
    leaves, wanted = [], []
    for value, want in zip(values[:n_explicit], spec.wants):
        if want:
            t = hooks.make_tensor(value, next(parents))
            wanted.append(t)
        else:
            t = Tensor(value)  # what fn got when traced, for an array argument too
        leaves.append(t)
    for node in spec.params:
        next(parents)
        wanted.append(hooks.make_tensor(node.saved[0], node))
    out = _call(spec.compiled.fn, spec.treedef, leaves)
    return tuple(_grad(out, wanted, grad_outputs=g, create_graph=True, retain_graph=True))


def _generate(compiled, graph: _Graph, tracers, input_names, wants_input, grad_on) -> _Spec:
    """Write the forward and backward of ``graph`` as Python source, evaluating each line on the
    trace's values as it is written (the backward needs the shapes its gradients come out in), and exec it."""
    names = _Names()
    var: dict = {}  # node -> its variable name (or a literal)
    from_label: set = set()  # variables named after a tensor's name
    ns: dict = {"np": np}  # the values, line by line
    constants: dict = {}  # name -> array: the generated functions' globals besides np

    # Arguments: the explicit inputs, then the captured parameters.
    arg_nodes = [t._node for t in tracers] + graph.params
    args = []
    for node, wanted in zip(arg_nodes, input_names + [p.label for p in graph.params]):
        name = var[node] = names.fresh(wanted or "param")
        if wanted:
            from_label.add(name)
        args.append(name)
        ns[name] = node.saved[0]
    wants = {node: bool(w) for node, w in zip(arg_nodes, wants_input + [grad_on] * len(graph.params))}

    # Constants: Python literals where numpy reads a number the same way (arithmetic with operands
    # of the constant's dtype; an emitter may call methods on its inputs, so only these), else named arrays.
    consumers: dict = {}
    for node in graph.ops:
        for parent in node.parents:
            consumers.setdefault(parent, []).append(node)
    for node in graph.constants:
        value = node.saved[0]
        wants[node] = False
        if (
            node is not graph.out
            and value.ndim == 0
            and bool(np.isfinite(value))
            and all(c.rule.name in _ARITHMETIC for c in consumers.get(node, ()))
            and all(p.dtype == value.dtype for c in consumers.get(node, ()) for p in c.parents)
        ):
            var[node] = _float_text(value)
            continue
        name = var[node] = names.fresh(node.label or "c")
        from_label.add(name)
        array = np.array(value)  # a copy: later changes to the captured array are not seen
        array.flags.writeable = False
        constants[name] = ns[name] = array

    with np.errstate(all="ignore"):
        residuals: dict = {}  # node -> {name: variable}, for ops with emit_residuals
        forward_lines, forward_comments = _forward(graph, var, wants, names, ns, from_label, residuals)
        out_var = var[graph.out]
        outputs = [node for node in arg_nodes if wants[node]] if wants.get(graph.out, False) else []
        backward = None
        if outputs:
            seed = names.fresh(f"d{out_var}" if _IDENTIFIER.fullmatch(out_var) else "dout")
            ns[seed] = np.ones(graph.out.shape, graph.out.dtype)
            backward = _Backward(graph, var, wants, names, ns, residuals)
            returned = backward.run(seed, outputs)

    header = _header(compiled.__name__, args, arg_nodes, len(tracers), constants)
    saved: list = []
    if backward is not None:
        # What the forward computed, in order (an op's residuals come before it): what backward reads is kept.
        forward_names = dict.fromkeys([var[n] for n in arg_nodes] + [line.split(" = ", 1)[0] for line in forward_lines])
        used = _names_loaded(backward.lines + [r for r in returned if r])
        saved = [n for n in forward_names if n in used]
    forward_lines, forward_comments = _free_dead(forward_lines, forward_comments, {out_var, *saved}, ns)
    lines = header + [f"def forward({', '.join(args)}):"] + _with_comments(forward_lines, forward_comments)
    if backward is not None:
        lines.append(f"    return {out_var}, {_tuple_text(saved)}")
        lines += ["", "", f"def backward({', '.join([seed] + saved)}):"]
        lines += _with_comments(*_free_dead(backward.lines, backward.comments, set(returned), ns))
        grads = [r or "None" for r in returned]
        lines.append(f"    return {_tuple_text(grads) if len(grads) == 1 else ', '.join(grads)}")
    else:
        lines.append(f"    return {out_var}, ()")
        lines += ["", "", "# nothing to differentiate (no input that the output depends on requires grad): no backward"]
    source = "\n".join(lines) + "\n"

    filename = f"<tg.compile {compiled.__name__} #{next(_sources)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"np": np, **constants}
    exec(builtins.compile(source, filename, "exec"), namespace)  # noqa: S102 - the source was generated just above
    if backward is None:
        wants_none = [False] * len(arg_nodes)
        return _Spec(compiled, source, namespace["forward"], None, len(arg_nodes), graph.params, wants_none, graph.out.label)
    wants_args = [wants[n] for n in arg_nodes]
    return _Spec(compiled, source, namespace["forward"], namespace["backward"], len(arg_nodes), graph.params, wants_args, graph.out.label)


_sources = iter(range(1, 1 << 62))


def _header(name: str, args, arg_nodes, n_explicit: int, constants: dict) -> list:
    """Comment lines naming the specialisation: the inputs' shapes and dtypes, parameters, constants."""
    dtypes = {str(n.dtype) for n in arg_nodes} | {str(v.dtype) for v in constants.values()}
    one = len(dtypes) == 1

    def entries(pairs):
        return [f"{a} {fmt(shape)}" + ("" if one else f" {dtype}") for a, shape, dtype in pairs]

    explicit = entries((a, n.shape, n.dtype) for a, n in zip(args[:n_explicit], arg_nodes[:n_explicit]))
    words = [f"{name}(" + ", ".join(explicit) + ")" + (";" if len(arg_nodes) > n_explicit or constants or one else "")]
    groups = []
    if len(arg_nodes) > n_explicit:
        groups.append(("parameters", entries((a, n.shape, n.dtype) for a, n in zip(args[n_explicit:], arg_nodes[n_explicit:]))))
    if constants:
        groups.append(("constants", entries((k, v.shape, v.dtype) for k, v in constants.items())))
    for g, (title, items) in enumerate(groups):
        last = g == len(groups) - 1
        items = [f"{item}," for item in items[:-1]] + [items[-1] + ("" if last and not one else ";")]
        words += [f"{title} {items[0]}"] + items[1:]
    if one:
        words.append(dtypes.pop())
    lines, line = [], "#"
    for word in words:  # wrapped between entries, never inside a shape
        if len(line) + 1 + len(word) > 100 and line != "#":
            lines.append(line)
            line = "#  "
        line += " " + word
    return lines + [line]


#: Ops whose emitters use their inputs only as operands of + - * /, so a number can stand in for an array.
_ARITHMETIC = frozenset({"add", "sub", "mul", "div"})


def _tuple_text(items) -> str:
    return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"


#: Intermediates at least this large are deleted after their last use; so are all of them
#: when together they pass FREE_TOTAL (a long chain of small arrays). Small functions keep
#: theirs to the end, so that their listings read as plain algebra.
FREE_BYTES = 1 << 16
FREE_TOTAL = 1 << 20


def _free_dead(lines, comments, keep: set, ns: dict):
    """The lines with ``del`` after the last read of each large intermediate the function makes
    once and neither returns nor keeps: otherwise every one stays alive until the function returns."""
    targets = [line.split(" = ", 1)[0] for line in lines]
    assigned: dict = {}
    for target in targets:
        assigned[target] = assigned.get(target, 0) + 1
    last_read: dict = {}
    for i, line in enumerate(lines):
        for name in _READ_NAME.findall(line.split(" = ", 1)[1]):
            last_read[name] = i
    sizes = {t: getattr(ns.get(t), "nbytes", 0) if assigned[t] == 1 and t not in keep else -1 for t in targets}
    smallest = 0 if sum(n for n in sizes.values() if n > 0) >= FREE_TOTAL else FREE_BYTES
    dead_after: dict = {}
    for i, target in enumerate(targets):
        if sizes[target] >= smallest:
            dead_after.setdefault(max(i, last_read.get(target, i)), []).append(target)
    if not dead_after:
        return lines, comments
    out_lines, out_comments = [], []
    for i, (line, comment) in enumerate(zip(lines, comments)):
        out_lines.append(line)
        out_comments.append(comment)
        if i in dead_after:
            out_lines.append(f"del {', '.join(dead_after[i])}")
            out_comments.append("free: no later line reads it")
    return out_lines, out_comments


def _forward(graph, var, wants, names, ns, from_label, residuals):
    """One line per op node, oldest first (after the lines of its residuals, if it declares
    any); the same op on the same inputs is computed once."""
    lines, comments, cse, counters = [], [], {}, {}
    for node in graph.ops:
        wants[node] = any(wants[p] for p in node.parents)
        ctx = _Context(node, tuple(wants[p] for p in node.parents))
        inputs = [var[p] for p in node.parents]
        if getattr(node.rule, "emit_residuals", None) is not None:
            ctx.residuals = residuals[node] = _residual_lines(node, ctx, inputs, names, ns, cse, lines, comments)
        text = node.rule.emit_forward(ctx, *inputs)
        if not isinstance(text, str):
            raise RuntimeError(f"compile: the emit_forward of op '{node.name}' must return a str, got {text!r}")
        if text in cse:
            var[node] = cse[text]
            continue
        value = _evaluate(text, ns, node, "emit_forward")
        if np.shape(value) != tuple(node.shape) or np.asarray(value).dtype != node.dtype:
            raise RuntimeError(
                f"compile: the emit_forward of op '{node.name}' gives shape {fmt(np.shape(value))} and dtype "
                f"{np.asarray(value).dtype}, but the op's forward gives {fmt(node.shape)} and {node.dtype}: {text}"
            )
        name = var[node] = cse[text] = names.fresh(_forward_name(node, var, from_label, counters, graph.out))
        if node.label:
            from_label.add(name)
        ns[name] = value
        lines.append(f"{name} = {text}")
        comments.append(f"{node.name} {fmt(node.shape)}")
    return lines, comments


def _forward_name(node, var, from_label, counters, out) -> str:
    if node.label:
        return node.label
    if node is out:
        return "out"
    if node.rule.name == "matmul":  # the document's notation: W1X, W2A1
        left, right = (var[p] for p in node.parents)
        if left in from_label and right in from_label:
            return f"{left}{right}"
    counters[node.rule.name] = counters.get(node.rule.name, 0) + 1
    return f"{node.rule.name}_{counters[node.rule.name]}"


def _residual_lines(node, ctx, inputs, names, ns, cse, lines, comments) -> dict:
    """The lines of the values an op's forward and backward lines share (its ``emit_residuals``),
    each under a fresh variable; returns the op's names for them -> those variables."""
    # The op writes placeholders for its inputs, put in with its own names in one pass
    # over its text: a variable put in is never read again, so an input called like one
    # of the op's names (a Tensor named "total") or like another placeholder (a parameter
    # named "__input1__") is never mistaken for it.
    placeholders = [f"__input{i}__" for i in range(len(inputs))]
    declared = node.rule.emit_residuals(ctx, *placeholders)
    if not isinstance(declared, dict) or not all(
        isinstance(k, str) and _IDENTIFIER.fullmatch(k) and not k.startswith("__") and k != "np"
        and not keyword.iskeyword(k) and isinstance(v, str)
        for k, v in declared.items()
    ):
        raise RuntimeError(
            f"compile: the emit_residuals of op '{node.name}' must return a dict of names (identifiers, not "
            f"keywords, np or __...) to expressions (str), got {declared!r}"
        )
    held: dict = {}
    given = dict(zip(placeholders, inputs))  # no op name starts with "__", so the two never clash
    for local, text in declared.items():
        # Any other name would read whatever variable of the listing is called so (a Tensor named "e").
        stray = sorted(_loads(text) - {"np", *given, *held})
        if stray:
            raise RuntimeError(
                f"compile: the emit_residuals of op '{node.name}' reads {', '.join(stray)} in {local!r} ({text}): an "
                "expression may read np, the op's inputs (the names it was given) and the names declared before it"
            )
        text = _READ_NAME.sub(lambda m: held.get(m.group(0)) or given.get(m.group(0), m.group(0)), text)
        if text in cse:
            held[local] = cse[text]
            continue
        value = _evaluate(text, ns, node, "emit_residuals")
        name = held[local] = cse[text] = names.fresh(local)
        ns[name] = value
        lines.append(f"{name} = {text}")
        comments.append(f"{node.name}: {local} {fmt(np.shape(value))}")
    return held


def _loads(text: str) -> set:
    """The variables an expression reads (not attributes, not keyword arguments)."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:  # left to _evaluate, whose error shows the text
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _evaluate(text: str, ns: dict, node, what: str):
    try:
        return eval(text, ns)  # noqa: S307 - an op's emitted numpy expression
    except Exception as err:
        raise RuntimeError(f"compile: the {what} of op '{node.name}' wrote code that fails: {text}: {err}") from err


#: Names that are not attributes (``.T``): what a line may read. Keywords (``axis=``) match too,
#: which can only add a needless entry to the saved tuple, never drop a needed one.
_READ_NAME = re.compile(r"(?<![.\w])[A-Za-z_]\w*")


def _names_loaded(lines) -> set:
    return {name for line in lines for name in _READ_NAME.findall(line)}


def _with_comments(lines, comments) -> list:
    """Indented lines with their comments lined up (past long lines, at column 64)."""
    width = min(max((len(line) for line in lines), default=0), 60)
    return [f"    {line.ljust(width)}   # {comment}" for line, comment in zip(lines, comments)]


class _Backward:
    """The backward half: each op's emitted gradients in the engine's order (newest node
    first), summed back over broadcast axes and added up where a value has several consumers."""

    def __init__(self, graph, var, wants, names, ns, residuals):
        self.graph, self.var, self.wants, self.names, self.ns = graph, var, wants, names, ns
        self.residuals = residuals  # node -> {name: variable} of the ops that declared residuals
        self.lines, self.comments = [], []
        self.grad: dict = {}  # node -> the variable holding its gradient (so far)
        self.holders: dict = {}  # variable -> the nodes whose gradient it is
        self.owned: set = set()  # nodes whose gradient variable is their own, so it may be reassigned
        self.cse: dict = {}  # expression -> the variable holding its value
        self.mentions: dict = {}  # variable -> the expressions in cse that read it or are held in it

    def run(self, seed: str, outputs) -> list:
        graph, var = self.graph, self.var
        self._set(graph.out, seed)
        for node in reversed(graph.ops):
            g = self.grad.get(node)
            if g is None or not self.wants[node]:
                continue
            needs = tuple(self.wants[p] for p in node.parents)
            saved = [var[node] if slot < 0 else var[node.parents[slot]] for slot in node.rule.save_slots]
            texts = node.rule.emit_backward(_Context(node, needs, self.residuals.get(node)), g, *saved)
            if type(texts) is not tuple or len(texts) != len(node.parents):
                raise RuntimeError(
                    f"compile: the emit_backward of op '{node.name}' must return a tuple of one expression "
                    f"(or None) per input ({len(node.parents)}), got {texts!r}"
                )
            for index, (parent, text) in enumerate(zip(node.parents, texts)):
                if text is not None and needs[index]:
                    self._receive(parent, text, node, index)
        returned = []
        for node in outputs:
            g = self.grad.get(node)
            if g is not None and node not in self.owned:
                # The very array another value's gradient is (add passes g on): named for the reader.
                name = self.names.fresh(f"d{var[node]}")
                self._emit(name, g, self.ns[g], "the same gradient, passed on")
                g = name
            returned.append(g)
        return returned

    def _set(self, node, name: str) -> None:
        old = self.grad.get(node)
        if old is not None:
            self.holders[old].discard(node)
        self.grad[node] = name
        self.holders.setdefault(name, set()).add(node)

    def _emit(self, name: str, text: str, value, comment: str) -> None:
        self.ns[name] = value
        self.lines.append(f"{name} = {text}")
        self.comments.append(comment)
        # The name may have held another value: expressions that read it, or that it held, are stale.
        for stale in self.mentions.pop(name, ()):
            self.cse.pop(stale, None)

    def _remember(self, text: str, name: str) -> None:
        self.cse[text] = name
        for read in {name, *_READ_NAME.findall(text)}:
            self.mentions.setdefault(read, set()).add(text)

    def _fresh(self, node) -> str:
        own = self.var[node]
        return self.names.fresh(f"d{own}" if _IDENTIFIER.fullmatch(own) else "d")

    def _receive(self, parent, text: str, node, index: int) -> None:
        """Sum ``text`` (a gradient for ``parent``) back to its shape and dtype, then add it in."""
        value = _evaluate(text, self.ns, node, "emit_backward")
        comment = f"{node.name} {fmt(parent.shape)}"
        shape = tuple(np.shape(value))
        if shape != tuple(parent.shape):
            text, axes = _sum_to_shape_text(text, shape, tuple(parent.shape), node, index)
            comment = f"{node.name}, summed over broadcast axis{'es' if ',' in axes else ''} {axes} {fmt(parent.shape)}"
            value = eval(text, self.ns)  # noqa: S307 - generated numpy
        if np.asarray(value).dtype != parent.dtype:
            text = f"{_paren(text)}.astype(np.{np.dtype(parent.dtype).name})"
            value = eval(text, self.ns)  # noqa: S307 - generated numpy
        previous = self.grad.get(parent)
        if previous is None:
            if _IDENTIFIER.fullmatch(text) or text in self.cse:
                self._set(parent, self.cse.get(text, text))  # an array computed already: nothing to do
                return
            name = self._fresh(parent)
            self._emit(name, text, value, comment)
            self._remember(text, name)
            self.owned.add(parent)
            self._set(parent, name)
            return
        term = self.cse.get(text, text)
        total = self.ns[previous] + value
        if parent in self.owned and self.holders[previous] == {parent}:
            name = previous  # nobody else reads this variable: accumulate into it
        else:
            name = self._fresh(parent)
            self.owned.add(parent)
        self._emit(name, f"{previous} + {_paren(term)}", total, f"{comment}, added to the gradient so far")
        self._set(parent, name)


def _sum_to_shape_text(text: str, shape: tuple, target: tuple, node, index: int):
    """The text that sums a gradient of ``shape`` back to ``target``, as the engine's sum_to_shape does."""
    lead = len(shape) - len(target)
    if lead < 0 or any(n != 1 and shape[lead + i] != n for i, n in enumerate(target)):
        raise RuntimeError(
            f"compile: op '{node.name}' gives input {index} a gradient of shape {fmt(shape)}, which does not sum "
            f"back to the input's shape {fmt(target)}"
        )
    stretched = tuple(lead + i for i, n in enumerate(target) if n == 1 and shape[lead + i] != 1)
    axes = tuple(range(lead)) + stretched
    axes_text = str(axes[0]) if len(axes) == 1 else str(axes)
    base = _paren(text)
    if not target:
        return f"{base}.sum()", axes_text
    if not stretched:
        return f"{base}.sum(axis={axes_text})", axes_text
    if not lead:
        return f"{base}.sum(axis={axes_text}, keepdims=True)", axes_text
    return f"{base}.sum(axis={axes_text}, keepdims=True).reshape({target!r})", axes_text
