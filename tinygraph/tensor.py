"""Tensor: a numpy array that remembers the op that made it, and ``apply``, the one
function through which every op runs and is recorded."""

from __future__ import annotations

import weakref

import numpy as np

from tinygraph import _graph, _ops
from tinygraph._graph import SAVES_BOTH, SAVES_OUT, Op, _ids, _state, check_seed, record, run_backward, saved_arrays
from tinygraph._shapes import as_float_array, as_operand, fmt


def apply(op: Op, *inputs):
    """Run ``op`` forward on ``inputs`` and, when any of them requires grad, record it.

    Inputs that are not Tensors (arrays, Python numbers) become constants next to the
    first Tensor among them. This and its one- and two-input forms below are the only
    places where graph nodes are made.
    """
    n = len(inputs)
    if n != op.arity:
        raise TypeError(f"{op.name}: takes {op.arity} input(s), got {n}")
    if n == 1:
        return apply1(op, inputs[0])
    if n == 2:
        return apply2(op, inputs[0], inputs[1])
    like = next((t for t in inputs if isinstance(t, Tensor)), None)
    inputs = tuple(_coerce(t, like, op.name) for t in inputs)
    out = op.forward(*[t.data for t in inputs])
    if type(out) is not np.ndarray or op.check_output:
        out = _checked_output(op, out)
    if _state.grad_enabled and any(t.requires_grad for t in inputs):
        record(op, inputs, out)
        return _make(out, op)
    return _make(out, None)


# apply1 and apply2 are the hot path of every op: on small arrays a Python function call
# costs a fair part of a numpy op, so they record the node inline instead of calling
# helpers (record() is the general form of the same steps).


def apply1(op: Op, a):
    """``apply`` for one input."""
    if not isinstance(a, Tensor):
        a = _coerce(a, None, op.name)
    out = op.forward(a.data)
    if type(out) is not np.ndarray or op.check_output:
        # ufuncs on 0-d arrays return numpy scalars; user ops may return lists or integers.
        out = _checked_output(op, out)
    t = _new(Tensor)
    t.data = out
    if a.requires_grad and _state.grad_enabled:
        node = a._node
        op.parents = (a if node is None else node,)
        op.needs = (True,)
        slots = op._save_slots
        if slots is SAVES_OUT:
            op.saved = (out,)
        else:
            op.saved = saved_arrays(slots, (a,), out) if slots else ()
        op.shape, op.dtype, op.id = out.shape, out.dtype, next(_ids)
        if _state.scope is not None:
            op.scope = _state.scope
        t.requires_grad, t._node = True, op
    else:
        t.requires_grad, t._node = False, None
    return t


def apply2(op: Op, a, b):
    """``apply`` for two inputs; a non-Tensor side becomes a constant of the other's dtype."""
    if not isinstance(b, Tensor):
        b = _constant(b, a, op) if isinstance(a, Tensor) else _coerce(b, None, op.name)
    if not isinstance(a, Tensor):
        a = _constant(a, b, op)
    out = op.forward(a.data, b.data)
    if type(out) is not np.ndarray or op.check_output:
        out = _checked_output(op, out)
    t = _new(Tensor)
    t.data = out
    if (a.requires_grad or b.requires_grad) and _state.grad_enabled:
        na, nb = a._node, b._node
        op.parents = (a if na is None else na, b if nb is None else nb)
        # Constant tuples, not a new one per op (a tuple made per op is also one freed per op).
        op.needs = _BOTH if a.requires_grad and b.requires_grad else (_FIRST if a.requires_grad else _SECOND)
        slots = op._save_slots
        if slots is SAVES_BOTH:
            op.saved = (a.data, b.data)
        else:
            op.saved = saved_arrays(slots, (a, b), out) if slots else ()
        op.shape, op.dtype, op.id = out.shape, out.dtype, next(_ids)
        if _state.scope is not None:
            op.scope = _state.scope
        t.requires_grad, t._node = True, op
    else:
        t.requires_grad, t._node = False, None
    return t


_BOTH, _FIRST, _SECOND = (True, True), (True, False), (False, True)


# Python numbers next to a Tensor (``1 - a``, ``x / N``) become read-only 0-d constant
# arrays, made once per (value, dtype) and shared: converting a number costs more than
# most ops on small arrays. Zero is not cached, so -0.0 keeps its sign.
_CONSTANTS: dict = {}
_CONSTANTS_MAX = 4096


def _constant(value, like, op: Op):
    kind = type(value)
    if (kind is float or kind is int) and value == value and value:  # not NaN, not zero
        dtype = like.data.dtype
        key = (value, kind, dtype.str)  # dtype.str: hashing a dtype object is slow
        array = _CONSTANTS.get(key)
        if array is None:
            if len(_CONSTANTS) >= _CONSTANTS_MAX:
                _CONSTANTS.clear()
            array = _CONSTANTS[key] = as_operand(value, dtype, what=op.name)
            array.flags.writeable = False
        # A fresh Tensor around the shared read-only array: a Tensor reachable through
        # .grad_fn.parents can be changed by its finder, the array cannot.
        return _make(array, None)
    return _coerce(value, like, op.name)


def _coerce(value, like, op_name: str):
    if isinstance(value, Tensor):
        return value
    if like is None:
        return _make(as_float_array(value, what=op_name), None)
    return _make(as_operand(value, like.dtype, what=op_name), None)


def _checked_output(op: Op, out) -> np.ndarray:
    array = np.asarray(out)
    if array.dtype.kind != "f":
        raise TypeError(f"{op.name}: forward must return a floating array, got dtype {array.dtype}")
    return array


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
    __slots__ = ("data", "requires_grad", "_node", "__dict__", "__weakref__")
    grad = None
    _name = None
    _scope = None
    # Make numpy defer to Tensor in mixed expressions (array + Tensor, np.exp(Tensor)).
    __array_priority__ = 1000

    def __init__(self, data, requires_grad: bool = False, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = as_float_array(data)
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(f"Tensor: requires_grad must be a bool, got {type(requires_grad).__name__}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"Tensor: name must be a string, got {type(name).__name__}")
        self.requires_grad = bool(requires_grad)
        self._node = None
        if name is not None:
            self._name = name
        scope = _state.scope
        if scope is not None:
            self._scope = scope

    @staticmethod
    def _make(data: np.ndarray, node):
        """A Tensor around an array already coerced, made by ``node`` (or a constant)."""
        return _make(data, node)

    # ----- array-like attributes -----
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> "Tensor":
        """The transpose (all axes reversed), like ``ndarray.T``."""
        return self.transpose()

    @property
    def is_leaf(self) -> bool:
        """True for Tensors the user made (and for results of ops that recorded nothing)."""
        return self._node is None

    @property
    def grad_fn(self):
        """The node (an ``Op``) that produced this Tensor, or None for a leaf."""
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
        return self._scope if self._node is None else self._node.scope

    def named(self, name: str) -> "Tensor":
        """Set ``name`` and return ``self``, to name results inline: ``(W @ X + b).named("Z1")``."""
        self.name = name
        return self

    def numpy(self) -> np.ndarray:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> float:
        """The value of a one-element Tensor as a Python float."""
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element Tensor has an item; this one has shape {fmt(self.shape)}")
        return self.data.item()

    def detach(self) -> "Tensor":
        """A new leaf sharing this Tensor's data, cut from the graph."""
        t = _make(self.data, None)
        if self._name is not None:
            t._name = self._name
        return t

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this non-leaf Tensor after backward (leaves always keep it)."""
        if self._node is None:
            if not self.requires_grad:
                raise RuntimeError("retain_grad: this Tensor does not require grad, so it will never have one")
            return self
        self._node.retained = weakref.ref(self)
        return self

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
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this Tensor does not require grad: no input of the ops that made it has requires_grad=True"
            )
        seed = check_seed(self, grad, create_graph=create_graph)
        run_backward([self], [seed], retain_graph=retain_graph or create_graph, create_graph=create_graph)

    # ----- numpy interop -----
    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.data, dtype=dtype, copy=True)
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        function = _UFUNCS.get(ufunc)
        if method != "__call__" or kwargs or function is None:
            raise TypeError(
                f"np.{ufunc.__name__}{'' if method == '__call__' else '.' + method} is not differentiable in tinygraph; "
                "use a tinygraph op, define an Op, or leave the graph with .numpy()"
            )
        return function(*inputs)

    def __array_function__(self, func, types, args, kwargs):
        # numpy functions that are not ufuncs (np.dot, np.sum, ...): the document's own
        # np.dot(W, X) must record a matmul, not silently return an array off the graph.
        function = _ARRAY_FUNCTIONS.get(func)
        if function is not None:
            return function(*args, **kwargs)
        if _any_requires_grad(args) or _any_requires_grad(kwargs.values()):
            raise TypeError(
                f"np.{func.__name__} is not differentiable in tinygraph and would cut the graph; "
                "use a tinygraph op, define an Op, or leave the graph with .detach().numpy()"
            )
        return func(*_raw_all(args), **{k: _raw_all(v) if isinstance(v, (list, tuple)) else _raw(v) for k, v in kwargs.items()})

    def __repr__(self):
        body = np.array2string(self.data, prefix="Tensor(", separator=", ", precision=4, threshold=20)
        extra = ""
        if self.data.dtype != np.float64:
            extra += f", dtype={self.data.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._node.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        if self._name is not None:
            extra += f", name={self._name!r}"
        return f"Tensor({body}{extra})"

    def __len__(self):
        return len(self.data)

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    # Comparisons give plain boolean arrays: they are not differentiable.
    def __lt__(self, other):
        return self.data < _raw(other)

    def __le__(self, other):
        return self.data <= _raw(other)

    def __gt__(self, other):
        return self.data > _raw(other)

    def __ge__(self, other):
        return self.data >= _raw(other)

    # ----- arithmetic (binary operators are made by _binary_operators below the class) -----
    def __neg__(self):
        return apply1(_ops.Neg(), self)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        return apply1(_ops.Pow(exponent), self)

    def __rpow__(self, base):
        return apply1(_ops.ExpBase(base), self)

    # ----- methods -----
    def sum(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Sum over ``axis`` (all axes by default), like ``ndarray.sum``."""
        return apply1(_ops.Sum(axis, keepdims), self)

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        """Mean over ``axis`` (all axes by default), like ``ndarray.mean``."""
        return apply1(_ops.Mean(axis, keepdims), self)

    def reshape(self, *shape) -> "Tensor":
        """A Tensor of the same data in ``shape`` (one entry may be -1)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return apply1(_ops.Reshape(shape), self)

    def transpose(self, *axes) -> "Tensor":
        """Permute the axes (reverse them when none are given), like ``ndarray.transpose``."""
        if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
            axes = () if axes[0] is None else tuple(axes[0])
        return apply1(_ops.Transpose(axes or None), self)

    def broadcast_to(self, shape) -> "Tensor":
        """Repeat along broadcast axes to ``shape``, like ``np.broadcast_to``."""
        return apply1(_ops.BroadcastTo(tuple(shape)), self)

    def exp(self) -> "Tensor":
        return apply1(_ops.Exp(), self)

    def log(self) -> "Tensor":
        return apply1(_ops.Log(), self)

    def relu(self) -> "Tensor":
        return apply1(_ops.ReLU(), self)

    def sigmoid(self) -> "Tensor":
        return apply1(_ops.Sigmoid(), self)

    def tanh(self) -> "Tensor":
        return apply1(_ops.Tanh(), self)

    __hash__ = object.__hash__


def _binary_operators(op_class):
    """``x <op> y`` and its reflected form ``y <op> x`` for one op class."""

    def operator(self, other):
        return apply2(op_class(), self, other)

    def reflected(self, other):
        return apply2(op_class(), other, self)

    return operator, reflected


Tensor.__add__, Tensor.__radd__ = _binary_operators(_ops.Add)
Tensor.__sub__, Tensor.__rsub__ = _binary_operators(_ops.Sub)
Tensor.__mul__, Tensor.__rmul__ = _binary_operators(_ops.Mul)
Tensor.__truediv__, Tensor.__rtruediv__ = _binary_operators(_ops.Div)
Tensor.__matmul__, Tensor.__rmatmul__ = _binary_operators(_ops.MatMul)


def _raw(value):
    return value.data if isinstance(value, Tensor) else value


def _raw_all(values):
    return type(values)(_raw_all(v) if isinstance(v, (list, tuple)) else _raw(v) for v in values)


def _any_requires_grad(values) -> bool:
    for v in values:
        if isinstance(v, Tensor) and v.requires_grad:
            return True
        if isinstance(v, (list, tuple)) and _any_requires_grad(v):
            return True
    return False


def _np_dot(a, b, out=None):
    if out is not None or np.ndim(_raw(a)) > 2 or np.ndim(_raw(b)) > 2:
        raise TypeError("np.dot on Tensors takes 1-D or 2-D operands and no out=; use @ (np.matmul) for stacks")
    if np.ndim(_raw(a)) == 0 or np.ndim(_raw(b)) == 0:
        return apply2(_ops.Mul(), a, b)
    return apply2(_ops.MatMul(), a, b)


def _reduction(method: str):
    def reduce(a, axis=None, dtype=None, out=None, keepdims=False, **unsupported):
        if dtype is not None or out is not None or unsupported:
            raise TypeError(f"np.{method} on a Tensor takes axis= and keepdims= only")
        return getattr(_tensor(a), method)(axis=axis, keepdims=keepdims)

    return reduce


def _tensor(value) -> "Tensor":
    return value if isinstance(value, Tensor) else Tensor(value)


_ARRAY_FUNCTIONS = {
    np.dot: _np_dot,
    np.sum: _reduction("sum"),
    np.mean: _reduction("mean"),
    np.transpose: lambda a, axes=None: _tensor(a).transpose(axes),
    np.reshape: lambda a, shape=None, **kw: _tensor(a).reshape(kw.get("newshape", shape)),
    np.broadcast_to: lambda a, shape, subok=False: _tensor(a).broadcast_to(shape),
}


def _power(a, b):
    """np.power with a Tensor on either side: a constant exponent, or a constant positive base."""
    if isinstance(a, Tensor):
        return apply1(_ops.Pow(b), a)
    return apply1(_ops.ExpBase(a), b)


_UFUNCS = {
    np.add: lambda a, b: apply2(_ops.Add(), a, b),
    np.subtract: lambda a, b: apply2(_ops.Sub(), a, b),
    np.multiply: lambda a, b: apply2(_ops.Mul(), a, b),
    np.true_divide: lambda a, b: apply2(_ops.Div(), a, b),
    np.matmul: lambda a, b: apply2(_ops.MatMul(), a, b),
    np.negative: lambda a: apply1(_ops.Neg(), a),
    np.exp: lambda a: apply1(_ops.Exp(), a),
    np.log: lambda a: apply1(_ops.Log(), a),
    np.tanh: lambda a: apply1(_ops.Tanh(), a),
    np.power: _power,
    # Comparisons are not differentiable: they give boolean arrays, as the operators do.
    np.less: lambda a, b: _raw(a) < _raw(b),
    np.less_equal: lambda a, b: _raw(a) <= _raw(b),
    np.greater: lambda a, b: _raw(a) > _raw(b),
    np.greater_equal: lambda a, b: _raw(a) >= _raw(b),
}


_new = object.__new__


def _make(data: np.ndarray, node) -> Tensor:
    """A Tensor around an already coerced array; made by ``node``, or a constant if None."""
    t = _new(Tensor)
    t.data = data
    t.requires_grad = node is not None
    t._node = node
    return t
