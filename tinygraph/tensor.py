"""Tensor: a numpy array that knows the node of the graph that made it, and ``apply``,
the one function through which every op runs and is recorded.

The Tensor's methods, operators and numpy interop are built here from the op table's
declarations (``tinygraph._ops``): an op names its public forms once, in its class.
"""

from __future__ import annotations

import inspect

import numpy as np

from tinygraph import _graph
from tinygraph._graph import _state, backward_pass, leaf_node, note_inplace_write, record
from tinygraph._ops import OPS, takes_parameters
from tinygraph._ops.joins import split
from tinygraph._shapes import as_float_array, as_operand, fmt, normalize_axes

# ----------------------------------------------------------------- applying an op


def apply(rule, *inputs):
    """Run ``rule`` forward on ``inputs`` and, when any of them requires grad, record it.

    Inputs that are not Tensors (arrays, Python numbers) become constants next to the
    first Tensor among them. ``apply1`` and ``apply2`` are the same for one and two
    inputs, without the tuple handling (they are the hot path of every op).
    """
    n = len(inputs)
    if rule.arity is not None and not rule.min_arity <= n <= rule.arity:
        raise TypeError(f"{rule.name}: takes {rule.arity} input(s), got {n}")
    if n == 1:
        return apply1(rule, inputs[0])
    if n == 2:
        return apply2(rule, inputs[0], inputs[1])
    like = next((t for t in inputs if isinstance(t, Tensor)), None)
    inputs = tuple(_coerce(t, like, rule.name) for t in inputs)
    recording = _state.grad_enabled and any(t._rg for t in inputs)
    arrays = [t._data for t in inputs]
    out, kept = _forward_keeping(rule, *arrays) if recording and rule.residuals else (rule.forward(*arrays), ())
    if type(out) is not np.ndarray or rule.check_output:
        out = _checked_output(rule, out)
    if recording:
        needs = tuple([t._rg for t in inputs])
        saved = _saved(rule, inputs, out)
        if kept:
            saved += kept
        return _make(out, record(rule, tuple([_node_of(t) for t in inputs]), needs, saved, out))
    return _make(out, None)


def apply1(rule, a):
    """``apply`` for one input."""
    if not isinstance(a, Tensor):
        a = _coerce(a, None, rule.name)
    recording = a._rg and _state.grad_enabled
    if recording and rule.residuals:
        out, kept = _forward_keeping(rule, a._data)
    else:
        out, kept = rule.forward(a._data), ()
    if type(out) is not np.ndarray or rule.check_output:
        # ufuncs on 0-d arrays return numpy scalars; user ops may return lists or integers.
        out = _checked_output(rule, out)
    t = _new(Tensor)
    t._data = out
    if recording:
        slots = rule.save_slots
        saved = () if not slots else ((out,) if slots == _OUT else _saved(rule, (a,), out))
        if kept:
            saved += kept
        t._node, t._rg = record(rule, (a._node,), _ONE, saved, out), True
    else:
        t._node, t._rg = None, False
    return t


def apply2(rule, a, b):
    """``apply`` for two inputs; a non-Tensor side becomes a constant of the other's dtype."""
    if not isinstance(b, Tensor):
        b = _constant(b, a, rule) if isinstance(a, Tensor) else _coerce(b, None, rule.name)
    if not isinstance(a, Tensor):
        a = _constant(a, b, rule)
    ga, gb = a._rg, b._rg
    recording = (ga or gb) and _state.grad_enabled
    if recording and rule.residuals:
        out, kept = _forward_keeping(rule, a._data, b._data)
    else:
        out, kept = rule.forward(a._data, b._data), ()
    if type(out) is not np.ndarray or rule.check_output:
        out = _checked_output(rule, out)
    t = _new(Tensor)
    t._data = out
    if recording:
        slots = rule.save_slots
        saved = () if not slots else ((a._data, b._data) if slots == _BOTH else _saved(rule, (a, b), out))
        if kept:
            saved += kept
        # Constant tuples, not a new one per op (a tuple made per op is also one freed per op).
        needs = _BOTH_NEED if ga and gb else (_FIRST if ga else _SECOND)
        parents = (a._node or _node_of(a), b._node or _node_of(b))
        t._node, t._rg = record(rule, parents, needs, saved, out), True
    else:
        t._node, t._rg = None, False
    return t


_OUT, _BOTH = (-1,), (0, 1)
_ONE, _BOTH_NEED, _FIRST, _SECOND = (True,), (True, True), (True, False), (False, True)


def _forward_keeping(rule, *arrays) -> tuple:
    """``(out, residuals)`` from an op that declares residuals, for a node being recorded."""
    result = rule.forward_with_residuals(*arrays)
    if type(result) is not tuple or len(result) != 2 or type(result[1]) is not tuple or len(result[1]) != len(rule.residuals):
        raise TypeError(
            f"{rule.name}: forward_with_residuals must return (out, residuals) with a tuple of "
            f"{len(rule.residuals)} residual(s) {tuple(rule.residuals)}, got {type(result).__name__}"
        )
    return result


def _saved(rule, inputs, out) -> tuple:
    """The arrays a rule's ``saves`` names: input ``i`` for slot i, the output for -1."""
    return tuple([out if i < 0 else inputs[i]._data for i in rule.save_slots])


def _node_of(t: "Tensor"):
    """The node an input is recorded under; a constant gets its leaf node on first use."""
    node = t._node
    if node is None:
        node = t._node = leaf_node(t._data)
        if t._name is not None:
            node.label = t._name
        # The scope the constant was made in, not the one it is used in.
        node.scope = t._scope
    return node


# Python numbers next to a Tensor (``1 - a``, ``x / N``) become read-only 0-d constants,
# made once per (value, dtype) with their leaf node and shared: converting a number
# costs more than most ops on small arrays. Zero is not cached, so -0.0 keeps its sign.
_CONSTANTS: dict = {}
_CONSTANTS_MAX = 4096


def _constant(value, like, rule):
    kind = type(value)
    if (kind is float or kind is int) and value == value and value:  # not NaN, not zero
        dtype = like._data.dtype
        key = (value, kind, dtype.str)  # dtype.str: hashing a dtype object is slow
        t = _CONSTANTS.get(key)
        if t is None:
            if len(_CONSTANTS) >= _CONSTANTS_MAX:
                _CONSTANTS.clear()
            array = as_operand(value, dtype, what=rule.name)
            array.flags.writeable = False
            t = _CONSTANTS[key] = _make(array, None)
            t._node = leaf_node(array)
        return t
    return _coerce(value, like, rule.name)


def _coerce(value, like, op_name: str):
    if isinstance(value, Tensor):
        return value
    if like is None:
        return _make(as_float_array(value, what=op_name), None)
    return _make(as_operand(value, like.dtype, what=op_name), None)


def _checked_output(rule, out) -> np.ndarray:
    array = np.asarray(out)
    if array.dtype.kind != "f":
        raise TypeError(f"{rule.name}: forward must return a floating array, got dtype {array.dtype}")
    return array


_new = object.__new__


def _make(data: np.ndarray, node) -> "Tensor":
    """A Tensor around an already coerced array; made by op ``node``, or a constant if None."""
    t = _new(Tensor)
    t._data = data
    t._rg = node is not None
    t._node = node
    return t


def _make_on(data: np.ndarray, node) -> "Tensor":
    """A Tensor around ``data`` whose gradient flows to ``node`` (any node: leaf, constant or op)."""
    t = _new(Tensor)
    t._data = data
    t._rg = node is not None and node.requires_grad
    t._node = node
    return t


# ----------------------------------------------------------------- Tensor


class Tensor:
    """A numpy array in a computation graph.

    Parameters
    ----------
    data : array_like, Tensor or number
        Floating arrays keep their dtype (and are not copied); bools, integers, lists
        and Python numbers become float64; strings, objects and complex are refused.
    requires_grad : bool
        Record the ops applied to this Tensor so that ``backward`` can fill ``.grad``.
    name : str, optional
        Shown by ``repr`` and by ``tg.draw``.

    Notes
    -----
    Tensors compare elementwise (``==`` gives a boolean array, like numpy) and hash by
    identity, so they work as dict keys and set members but not with ``list.index``.

    Changing ``t.data`` in place (``t.data *= 5``) while a recorded graph still holds
    that array for its backward makes that backward raise, naming the tensor, rather
    than return gradients computed at values the forward never saw. Assigning a new
    array (``t.data = t.data - lr * t.grad``, what the optimizers do) leaves recorded
    graphs valid. Writes that bypass the Tensor (through another view of the array, or
    ``out=``) cannot be seen.

    Examples
    --------
    The document's logistic-regression step, X (features, samples), W (out, in), b (out, 1):

    >>> import numpy as np
    >>> import tinygraph as tg
    >>> X = tg.Tensor(np.array([[0.5, -1.0, 2.0], [1.0, 0.0, -0.5]]), name="X")
    >>> Y = tg.Tensor([[1.0, 0.0, 1.0]], name="Y")
    >>> W = tg.Tensor(np.zeros((1, 2)), requires_grad=True, name="W")
    >>> b = tg.Tensor(np.zeros((1, 1)), requires_grad=True, name="b")
    >>> cost = tg.binary_cross_entropy(tg.sigmoid(W @ X + b), Y)
    >>> cost.backward()
    >>> W.grad.shape, b.grad.shape
    ((1, 2), (1, 1))
    """

    # Rarely set attributes live in the instance dict (created on first use) behind
    # class-level defaults, so that making a Tensor, done once per op, sets only three.
    __slots__ = ("_data", "_rg", "_node", "__dict__", "__weakref__")
    _name = None
    _scope = None
    # Make numpy defer to Tensor in mixed expressions (array + Tensor, np.exp(Tensor)).
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, name: str | None = None):
        if isinstance(data, Tensor):
            data = data._data
        self._data = as_float_array(data)
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(f"Tensor: requires_grad must be a bool, got {type(requires_grad).__name__}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Tensor: name must be a string, got {type(name).__name__}")
        self._rg = bool(requires_grad)
        self._node = None
        if name is not None:
            self._name = name
        scope = _state.scope
        if scope is not None:
            self._scope = scope
        if self._rg:
            self._new_leaf_node()

    def _new_leaf_node(self) -> None:
        before = self._node
        node = self._node = leaf_node(self._data, requires_grad=True)
        node.label = self._name
        node.scope = self._scope
        if before is not None and before.hooks is not None:  # a new value keeps the tensor's hooks
            node.hooks = before.hooks
        if before is not None and before.grad is not None and before.grad.shape == node.shape:
            node.grad = before.grad.astype(node.dtype)  # a new dtype keeps the gradient, cast (as PyTorch's .data)

    @property
    def grad(self):
        """dL/d(this Tensor) accumulated by backward: for leaves that require grad, and
        for results ``retain_grad()`` was called on (None until then)."""
        node = self._node
        return node.grad if node is not None else None

    @grad.setter
    def grad(self, value):
        node = self._node
        if node is None or not node.requires_grad:
            if value is None:
                return
            raise RuntimeError("grad: this Tensor does not require grad, so it holds no gradient")
        if value is not None:
            if not isinstance(value, (np.ndarray, Tensor)):
                value = np.asarray(value, dtype=node.dtype)
            if value.shape != node.shape:  # the next backward would broadcast into it silently
                raise ValueError(
                    f"grad: a gradient of shape {fmt(value.shape)} cannot belong to a Tensor of shape {fmt(node.shape)}"
                )
        node.grad = value

    # ----- the value and the flag -----
    @property
    def data(self) -> np.ndarray:
        """The array (shared, not copied). Assigning a new array keeps recorded graphs valid;
        changing it in place (``t.data *= 5``) makes graphs that saved it refuse backward."""
        return self._data

    @data.setter
    def data(self, value):
        if value is self._data:  # t.data op= ...: the array was changed in place
            note_inplace_write(value, self._name)
            return
        node = self._node
        value = as_float_array(value, what="data")
        if node is not None and (value.shape != node.shape or value.dtype != node.dtype):
            if node.parents:
                raise ValueError(
                    f"data: this Tensor was made by '{node.name}' with shape {fmt(node.shape)} and dtype {node.dtype}; "
                    f"an array of shape {fmt(value.shape)} and dtype {value.dtype} cannot take its place"
                )
            self._data = value
            if self._rg:
                self._new_leaf_node()
            else:
                self._node = None  # a constant's node is made again, holding the new value, when next used
            return
        if node is not None and not node.parents:
            if node.requires_grad:
                node.saved = (value,)  # the leaf's current value, for pictures
            else:
                self._node = None
        self._data = value

    @property
    def requires_grad(self) -> bool:
        """Whether ops on this Tensor are recorded for backward. Only a leaf's flag can be changed."""
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"requires_grad must be a bool, got {type(value).__name__}")
        node = self._node
        if node is not None and node.parents:
            raise RuntimeError(
                f"requires_grad: only a leaf's flag can change; this Tensor was made by '{node.name}' "
                "(use .detach() for a leaf with the same values)"
            )
        if bool(value) != self._rg:
            self._rg = bool(value)
            if self._rg:
                self._new_leaf_node()
            else:
                self._node = None

    # ----- array-like attributes -----
    @property
    def shape(self) -> tuple:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def T(self) -> "Tensor":
        """The transpose (all axes reversed), like ``ndarray.T``."""
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        """True for Tensors the user made (and for results of ops that recorded nothing)."""
        return self._node is None or not self._node.parents

    @property
    def grad_fn(self):
        """The node of the graph that produced this Tensor, or None for a leaf."""
        node = self._node
        return node if node is not None and node.parents else None

    @property
    def node(self):
        """This Tensor's node in the graph (a leaf node for a leaf that requires grad), or None."""
        return self._node

    @property
    def name(self):
        return self._name

    @name.setter
    def name(self, value):
        if value is not None and not isinstance(value, str):
            raise TypeError(f"Tensor: name must be a string, got {type(value).__name__}")
        self._name = value
        if self._node is not None:
            self._node.label = value

    @property
    def scope(self):
        """The ``name_scope`` this Tensor (or the op that made it) was created in."""
        return self._node.scope if self._node is not None and self._node.parents else self._scope

    def named(self, name: str) -> "Tensor":
        """Set ``name`` and return ``self``, to name results inline: ``(W @ X + b).named("Z1")``."""
        self.name = name
        return self

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self._data

    def item(self) -> float:
        """The value of a one-element Tensor as a Python float."""
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element Tensor has an item; this one has shape {fmt(self.shape)}")
        return self._data.item()

    def tolist(self):
        """The values as nested Python lists, like ``ndarray.tolist``."""
        return self._data.tolist()

    def flatten(self) -> "Tensor":
        """The values along one axis, like ``ndarray.flatten``: ``reshape(-1)``, recorded."""
        return self.reshape(-1)

    def argmax(self, axis=None, keepdims=False):
        """Positions of the largest values, as ``ndarray.argmax`` gives them (integers, no gradient)."""
        return self._arg("argmax", axis, keepdims)

    def argmin(self, axis=None, keepdims=False):
        """Positions of the smallest values, as ``ndarray.argmin`` gives them (integers, no gradient)."""
        return self._arg("argmin", axis, keepdims)

    def _arg(self, which: str, axis, keepdims: bool):
        shape = self._data.shape
        if axis is not None:
            if isinstance(axis, (tuple, list)):
                raise TypeError(f"{which}: axis must be an int or None, got {axis!r} for shape {fmt(shape)}")
            (axis,) = normalize_axes(axis, len(shape), op=which, shape=shape)
        if self._data.size == 0:
            raise ValueError(f"{which}: a Tensor of shape {fmt(shape)} is empty, so it has no {which[3:]}")
        return getattr(self._data, which)(axis=axis, keepdims=keepdims)

    def detach(self) -> "Tensor":
        """A new leaf sharing this Tensor's data, cut from the graph."""
        t = _make(self._data, None)
        if self._name is not None:
            t._name = self._name
        return t

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this non-leaf Tensor after backward (leaves always keep it)."""
        if not self._rg:
            raise RuntimeError("retain_grad: this Tensor does not require grad, so it will never have one")
        self._node.keeps_grad = True
        return self

    def register_hook(self, fn):
        """Call ``fn(grad)`` with the gradient reaching this Tensor in each backward pass.

        ``grad`` is dL/d(this Tensor), summed over every use, before it goes on to the ops
        that made this Tensor (or, for a leaf, before it is added to ``.grad``). ``fn`` may
        return a replacement of the same shape, which is what flows on (and what ``.grad``
        receives); ``None`` keeps the gradient. It is an array (read-only: return a new
        one rather than writing into it), a Tensor under ``create_graph=True``. Hooks run in
        the order they were registered, in ``tg.grad`` too.

        Returns
        -------
        A handle whose ``remove()`` takes the hook off.

        Examples
        --------
        >>> import tinygraph as tg
        >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
        >>> h = x * 3
        >>> handle = h.register_hook(lambda g: g * 10)      # scale what reaches h
        >>> h.sum().backward()
        >>> x.grad.tolist()
        [30.0, 30.0]
        >>> handle.remove()
        """
        if not callable(fn):
            raise TypeError(f"register_hook: expected a function of the gradient, got {type(fn).__name__}")
        if not self._rg:
            raise RuntimeError("register_hook: this Tensor does not require grad, so no gradient will ever reach it")
        return _graph.add_hook(self._node, fn)

    def backward(self, grad=None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Fill ``.grad`` of every leaf this Tensor depends on, by reverse-mode accumulation.

        Parameters
        ----------
        grad : array_like or Tensor, optional
            dL/dself. Needed unless this Tensor has one element.
        retain_graph : bool
            Keep the arrays saved for backward, to backpropagate through the graph again.
        create_graph : bool
            Record the backward pass itself, for gradients of gradients. ``.grad`` then
            holds Tensors.
        """
        if not self._rg:
            raise RuntimeError(
                "backward: this Tensor does not require grad: no input of the ops that made it has requires_grad=True"
            )
        seed = _seed(self, grad, create_graph=create_graph)
        backward_pass([self._node], [seed], retain_graph=retain_graph or create_graph, create_graph=create_graph)

    # ----- numpy interop -----
    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self._data, dtype=dtype, copy=True)
        if copy is False:  # (numpy >= 2) numpy casts what it gets, and refuses a cast that would copy, as for arrays
            return self._data
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        function = _UFUNCS.get(ufunc)
        if method == "__call__" and not kwargs and function is not None:
            return function(*inputs)
        if (_any_requires_grad(inputs) or _any_requires_grad(kwargs.values())) and not (
            method == "__call__" and "out" not in kwargs and ufunc in _PREDICATES
        ):
            call = f"np.{ufunc.__name__}{'' if method == '__call__' else '.' + method}"
            raise TypeError(
                f"{call} is not differentiable in tinygraph and would cut the graph; "
                "use a tinygraph op, define an Op, or leave the graph with .detach().numpy()"
            )
        # On Tensors that need no gradient, numpy answers as it would on the arrays.
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_raw(o) for o in out)
        result = getattr(ufunc, method)(*_raw_all(inputs), **kwargs)
        for o in out or ():
            if isinstance(o, Tensor):  # np.multiply(X, 5, out=X): graphs that saved X's array must know
                note_inplace_write(o._data, o._name)
        return result

    def __array_function__(self, func, types, args, kwargs):
        # numpy functions that are not ufuncs (np.dot, np.sum, ...): the document's own
        # np.dot(W, X) must record a matmul, not silently return an array off the graph.
        function = _ARRAY_FUNCTIONS.get(func)
        if function is not None:
            try:
                return function(*args, **kwargs)
            except TypeError as err:
                if "argument" not in str(err):
                    raise
                raise TypeError(f"np.{func.__name__} on a Tensor: {err}") from None
        if (_any_requires_grad(args) or _any_requires_grad(kwargs.values())) and func not in _PREDICATES:
            raise TypeError(
                f"np.{func.__name__} is not differentiable in tinygraph and would cut the graph; "
                "use a tinygraph op, define an Op, or leave the graph with .detach().numpy()"
            )
        return func(*_raw_all(args), **{k: _raw_all(v) if isinstance(v, (list, tuple)) else _raw(v) for k, v in kwargs.items()})

    def __repr__(self):
        body = np.array2string(self._data, prefix="Tensor(", separator=", ", precision=4, threshold=20)
        extra = ""
        if self._data.dtype != np.float64:
            extra += f", dtype={self._data.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self._node.name}>"
        elif self._rg:
            extra += ", requires_grad=True"
        if self._name is not None:
            extra += f", name={self._name!r}"
        return f"Tensor({body}{extra})"

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        # Like an array: the items along the first axis, each t[i] (recorded, so gradients flow).
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d Tensor")
        return (self[i] for i in range(len(self._data)))

    def __bool__(self):
        return bool(self._data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    # Comparisons give plain boolean arrays, elementwise like numpy's: they are not
    # differentiable. Hashing stays by identity (PyTorch's choice), so a Tensor can be a
    # dict key or a set member.
    def __eq__(self, other):
        return self._data == _raw(other)

    def __ne__(self, other):
        return self._data != _raw(other)

    def __lt__(self, other):
        return self._data < _raw(other)

    def __le__(self, other):
        return self._data <= _raw(other)

    def __gt__(self, other):
        return self._data > _raw(other)

    def __ge__(self, other):
        return self._data >= _raw(other)

    __hash__ = object.__hash__

    def __pos__(self):
        return self


# ----------------------------------------------------------------- seeds


def _seed(root: Tensor, grad, *, create_graph: bool, what: str = "backward"):
    """The gradient that starts backward at ``root``: ones for a one-element root, else ``grad`` checked.

    ``what`` is the caller's name in messages: ``backward`` (argument ``grad=``) or ``grad`` (``grad_outputs=``).
    """
    argument = "grad=" if what == "backward" else "grad_outputs="
    if grad is None:
        if root._data.size != 1:
            raise ValueError(
                f"{what}: the output has shape {fmt(root.shape)}; without {argument} it must be a scalar "
                f"(one-element) Tensor, so reduce it first (e.g. .sum() or .mean()) or pass {argument[:-1]} of that shape"
            )
        seed = np.ones(root.shape, dtype=root.dtype)
    else:
        seed = grad._data if isinstance(grad, Tensor) and not create_graph else grad
        if not isinstance(seed, Tensor):
            seed = np.asarray(seed, dtype=root.dtype)
        if seed.shape != root.shape:
            raise ValueError(
                f"{what}: {argument[:-1]} has shape {fmt(seed.shape)} but the output has shape {fmt(root.shape)}; "
                "they must match"
            )
    if create_graph and not isinstance(seed, Tensor):
        seed = _make(seed, None)
    return seed


# ----------------------------------------------------------------- public forms from the op table


def public_form(rule_class):
    """The function that builds ``rule_class`` from a call's extra arguments and applies it.

    ``form(*inputs, *parameters, **parameters)``: the first ``arity`` arguments are the
    inputs, the rest build the op (an axis, an exponent). Ops without parameters share
    one rule instance.
    """
    arity, least = rule_class.arity, rule_class.min_arity
    shared = None if takes_parameters(rule_class) else rule_class()
    name = rule_class.function or rule_class.method or rule_class.name
    custom = getattr(rule_class, "form", None)
    if custom is not None:  # the op spells its own call: where(condition, x, y), einsum(subscripts, *operands)
        custom.__name__ = custom.__qualname__ = name
        custom.__doc__, custom.op = rule_class.__doc__, rule_class
        return custom
    if shared is not None and arity == 1 == least:  # tg.relu(x): the hot path, without argument handling

        def unary_form(x):
            return apply1(shared, x)

        return _named_form(unary_form, rule_class, name)
    if shared is not None and arity == 2 == least:

        def binary_form(x, y):
            return apply2(shared, x, y)

        return _named_form(binary_form, rule_class, name)

    def form(*args, **kwargs):
        if arity is None:  # variadic ops take their inputs as one sequence
            if not args:
                raise TypeError(f"{name}: missing the sequence of inputs")
            inputs, params = tuple(args[0]), args[1:]
        else:
            if len(args) < arity:  # inputs may also come by keyword (target=..., b=...), optional ones not at all
                given = len(args)
                args += tuple(kwargs.pop(p, None) for p in rule_class.input_names[given:])
                if any(a is None for a in args[:least]):
                    raise TypeError(f"{name}: takes {arity} input(s), got {sum(a is not None for a in args)}")
            inputs, params = args[:arity], args[arity:]
            while len(inputs) > least and inputs[-1] is None:
                inputs = inputs[:-1]
        rule = shared if shared is not None and not params and not kwargs else rule_class(*params, **kwargs)
        return apply(rule, *inputs)

    return _named_form(form, rule_class, name)


def _named_form(form, rule_class, name: str):
    """Give a generated function form its public name, docstring and signature."""
    form.__name__ = form.__qualname__ = name
    form.__doc__ = rule_class.__doc__
    form.op = rule_class
    least = rule_class.min_arity
    inputs = [
        inspect.Parameter(p, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None if least is not None and i >= least else inspect.Parameter.empty)
        for i, p in enumerate(rule_class.input_names)
    ]
    if takes_parameters(rule_class):
        params = list(inspect.signature(rule_class.__init__).parameters.values())[1:]
    else:
        params = []
    try:
        form.__signature__ = inspect.Signature(inputs + params)
    except ValueError:  # e.g. *shape after named inputs: keep the plain (*args, **kwargs)
        pass
    return form


def _method(rule_class):
    """``t.name(...)``: the op applied to ``t`` (and the other inputs given)."""
    form = public_form(rule_class)
    if rule_class.arity == 1 and not takes_parameters(rule_class):
        shared = rule_class()

        def method(self):
            return apply1(shared, self)

    else:

        def method(self, *args, **kwargs):
            return form(self, *args, **kwargs)

    method.__name__ = method.__qualname__ = rule_class.method
    method.__doc__ = rule_class.__doc__
    return method


def _operators(rule_class) -> dict:
    """``x op y`` and its reflected ``y op x`` for two inputs; ``op x`` or ``x ** p`` for one."""
    forms = {}
    if rule_class.arity == 2:
        shared = rule_class()

        def operator(self, other):
            return apply2(shared, self, other)

        def reflected(self, other):
            return apply2(shared, other, self)

        forms[rule_class.operator] = operator
        if rule_class.reflected:
            forms[rule_class.reflected] = reflected
    elif takes_parameters(rule_class):  # x ** p, p ** x: the other side builds the op

        def with_parameter(self, parameter):
            return apply1(rule_class(parameter), self)

        forms[rule_class.operator] = with_parameter
    else:
        shared = rule_class()

        def unary(self):
            return apply1(shared, self)

        forms[rule_class.operator] = unary
    return forms


#: The function form of every op that has one, by its public name (functional.py exports them).
FUNCTIONS: dict = {}
_UFUNCS: dict = {}
_ARRAY_FUNCTIONS: dict = {}

for _rule in OPS.values():
    if _rule.method:
        setattr(Tensor, _rule.method, _method(_rule))
    if _rule.operator:
        for _dunder, _fn in _operators(_rule).items():
            setattr(Tensor, _dunder, _fn)
    if _rule.function:
        FUNCTIONS[_rule.function] = public_form(_rule)
    for _numpy_function in _rule.numpy:
        table = _UFUNCS if isinstance(_numpy_function, np.ufunc) else _ARRAY_FUNCTIONS
        table[_numpy_function] = public_form(_rule)


def _raw(value):
    return value._data if isinstance(value, Tensor) else value


def _raw_all(values):
    return type(values)(_raw_all(v) if isinstance(v, (list, tuple)) else _raw(v) for v in values)


def _any_requires_grad(values) -> bool:
    for v in values:
        if isinstance(v, Tensor) and v._rg:
            return True
        if isinstance(v, (list, tuple)) and _any_requires_grad(v):
            return True
    return False


# Two numpy functions span two ops each, so they dispatch on their operands here.


def _np_dot(a, b, out=None):
    """np.dot: matmul for 1-D and 2-D operands, mul when one side is a scalar."""
    if out is not None or np.ndim(_raw(a)) > 2 or np.ndim(_raw(b)) > 2:
        raise TypeError("np.dot on Tensors takes 1-D or 2-D operands and no out=; use @ (np.matmul) for stacks")
    if np.ndim(_raw(a)) == 0 or np.ndim(_raw(b)) == 0:
        return apply2(OPS["mul"](), a, b)
    return apply2(OPS["matmul"](), a, b)


def _np_power(a, b):
    """np.power with a Tensor on either side: a constant exponent, or a constant positive base."""
    if isinstance(a, Tensor):
        return apply1(OPS["pow"](b), a)
    return apply1(OPS["exp_base"](a), b)


# Questions about values (is it finite? are two arrays close?) have boolean answers with no
# gradient to lose, so numpy answers them on any Tensor, like the comparison operators.
_PREDICATES = frozenset(
    [f for f in vars(np).values() if isinstance(f, np.ufunc) and f.types and all(t.endswith("->?") for t in f.types)]
    + [np.allclose, np.isclose, np.array_equal, np.array_equiv, np.shape, np.ndim, np.size, np.count_nonzero]
)

_ARRAY_FUNCTIONS[np.dot] = _np_dot
# split makes one indexing op per piece; argmax and argmin give integers, with no gradient to lose.
FUNCTIONS["split"] = _ARRAY_FUNCTIONS[np.split] = split
_ARRAY_FUNCTIONS[np.argmax] = lambda a, axis=None, out=None, *, keepdims=False: np.argmax(_raw(a), axis, out, keepdims=keepdims)
_ARRAY_FUNCTIONS[np.argmin] = lambda a, axis=None, out=None, *, keepdims=False: np.argmin(_raw(a), axis, out, keepdims=keepdims)
_UFUNCS[np.power] = _np_power
# Comparisons are not differentiable: they give boolean arrays, as the operators do.
_UFUNCS.update(
    {
        np.equal: lambda a, b: _raw(a) == _raw(b),
        np.not_equal: lambda a, b: _raw(a) != _raw(b),
        np.less: lambda a, b: _raw(a) < _raw(b),
        np.less_equal: lambda a, b: _raw(a) <= _raw(b),
        np.greater: lambda a, b: _raw(a) > _raw(b),
        np.greater_equal: lambda a, b: _raw(a) >= _raw(b),
    }
)

_graph.hooks.tensor_type = Tensor
_graph.hooks.make_tensor = _make_on
_graph.hooks.apply = apply
