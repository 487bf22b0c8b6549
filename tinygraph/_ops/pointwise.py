"""Elementwise ops beyond arithmetic: abs, sqrt, square, clip, maximum, minimum, where,
and the two copies (astype, copy). Kinks follow one rule: where a function has two
one-sided slopes, the gradient is a stated subgradient, never NaN."""

from __future__ import annotations

import numbers

import numpy as np

from tinygraph._graph import hooks
from tinygraph._ops._base import Primitive, broadcast_fail
from tinygraph._ops._parts import literal, value_of
from tinygraph._shapes import fmt


class Abs(Primitive):
    """|x|, elementwise; abs'(0) = 0 (the subgradient in the middle of [-1, 1]).

    Examples
    --------
    >>> import tinygraph as tg
    >>> x = tg.Tensor([-2.0, 0.0, 3.0], requires_grad=True)
    >>> abs(x).numpy().tolist()
    [2.0, 0.0, 3.0]
    >>> tg.abs(x).sum().backward()
    >>> x.grad.tolist()
    [-1.0, 0.0, 1.0]
    """

    name = "abs"
    formula = "dx = g * sign(x)"
    saves = ("x",)
    operator, method, function, numpy = "__abs__", "abs", "abs", (np.abs,)
    __slots__ = ()

    def forward(self, x):
        return np.abs(x)

    def backward(self, ctx, g, x):
        return g * np.sign(value_of(x))

    def emit_forward(self, ctx, x):
        return f"np.abs({x})"

    def emit_backward(self, ctx, g, x):
        return (f"{g} * np.sign({x})",)


class Sqrt(Primitive):
    """Square root, elementwise, for x >= 0; negatives are refused when the op is built.

    At 0 the derivative is +inf, as 1 / (2 sqrt(x)) says (numpy warns of the division).

    Examples
    --------
    >>> import tinygraph as tg
    >>> x = tg.Tensor([4.0, 9.0], requires_grad=True)
    >>> x.sqrt().numpy().tolist()
    [2.0, 3.0]
    >>> tg.sqrt(x).sum().backward()
    >>> x.grad.tolist()
    [0.25, 0.16666666666666666]
    """

    name = "sqrt"
    formula = "dx = g / (2 * out)"
    saves = ("out",)
    method, function, numpy = "sqrt", "sqrt", (np.sqrt,)
    __slots__ = ()

    def forward(self, x):
        if (x < 0).any():
            raise ValueError(
                f"sqrt: input of shape {fmt(x.shape)} has negative values (min {x.min():.6g}); "
                "the square root is real only for x >= 0"
            )
        return np.sqrt(x)

    def backward(self, ctx, g, out):
        return g / (out * 2.0)

    def emit_forward(self, ctx, x):
        return f"np.sqrt({x})"

    def emit_backward(self, ctx, g, out):
        return (f"{g} / ({out} * 2.0)",)


class Square(Primitive):
    """x * x, elementwise.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.square([-3.0, 0.5]).numpy().tolist()
    [9.0, 0.25]
    """

    name = "square"
    formula = "dx = g * 2 * x"
    saves = ("x",)
    method, function, numpy = "square", "square", (np.square,)
    __slots__ = ()

    def forward(self, x):
        return x * x

    def backward(self, ctx, g, x):
        return g * (x * 2.0)

    def emit_forward(self, ctx, x):
        return f"np.square({x})"

    def emit_backward(self, ctx, g, x):
        return (f"{g} * ({x} * 2.0)",)


def _constant_bound(value, what: str):
    """A clip bound as a constant array (or None); a Tensor that requires grad is refused."""
    if value is None:
        return None
    if isinstance(value, hooks.tensor_type):
        if value.requires_grad:
            raise TypeError(
                f"clip: the bounds are constants, but {what} is a Tensor that requires grad; "
                "for a learned bound write tg.maximum(tg.minimum(x, hi), lo)"
            )
        value = value.data
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        array = np.asarray(float(value))
    else:
        array = np.asarray(value)
        if array.dtype.kind not in "iuf":
            raise TypeError(f"clip: {what} must be a number or an array of numbers, got {array.dtype} {value!r}")
        array = np.array(array, dtype=np.float64)  # a copy: the caller may change theirs after the forward
    if np.isnan(array).any():
        raise ValueError(f"clip: {what} is NaN")
    array.flags.writeable = False
    return array


class Clip(Primitive):
    """Limit values to ``[lo, hi]``, like ``np.clip``; either bound may be None (no limit on that side).

    The bounds are constants (numbers or arrays that broadcast with ``x``). The gradient
    is 1 where ``lo <= x <= hi``, bounds included (PyTorch's ``clamp`` choice: a value
    sitting exactly on a bound still learns), and 0 outside.

    Examples
    --------
    >>> import tinygraph as tg
    >>> x = tg.Tensor([-2.0, 0.0, 1.0, 3.0], requires_grad=True)
    >>> x.clip(0.0, 1.0).numpy().tolist()
    [0.0, 0.0, 1.0, 1.0]
    >>> tg.clip(x, 0.0, 1.0).sum().backward()
    >>> x.grad.tolist()
    [0.0, 1.0, 1.0, 0.0]
    """

    name = "clip"
    formula = "dx = g * (lo <= x <= hi)"
    saves = ("x",)
    method, function, numpy = "clip", "clip", (np.clip,)
    __slots__ = ("lo", "hi")

    def __init__(self, lo=None, hi=None, **numpy_names):
        # numpy spells the bounds a_min/a_max (np.clip) or min/max (ndarray.clip, numpy 2).
        for key, value in numpy_names.items():
            if key in ("a_min", "min") and lo is None:
                lo = value
            elif key in ("a_max", "max") and hi is None:
                hi = value
            else:
                raise TypeError(f"clip: unexpected argument {key}={value!r}; the bounds are lo and hi")
        if lo is None and hi is None:
            raise ValueError("clip: give lo, hi or both")
        self.lo, self.hi = _constant_bound(lo, "lo"), _constant_bound(hi, "hi")
        if self.lo is not None and self.hi is not None:
            try:
                lo, hi = np.broadcast_arrays(self.lo, self.hi)
            except ValueError:
                raise ValueError(
                    f"clip: lo of shape {fmt(self.lo.shape)} and hi of shape {fmt(self.hi.shape)} do not broadcast together"
                ) from None
            above = lo > hi
            if above.any():
                raise ValueError(f"clip: lo is above hi ({lo[above][0]:g} > {hi[above][0]:g})")

    def _bounds(self, dtype):
        # Bounds take the input's dtype, so a float32 Tensor stays float32 (numbers do too in numpy).
        return tuple(None if b is None else b.astype(dtype, copy=False) for b in (self.lo, self.hi))

    def forward(self, x):
        lo, hi = self._bounds(x.dtype)
        try:
            return np.clip(x, lo, hi)
        except ValueError:
            shapes = ", ".join(fmt(b.shape) for b in (lo, hi) if b is not None)
            raise ValueError(f"clip: bounds of shape {shapes} do not broadcast with x of shape {fmt(x.shape)}") from None

    def backward(self, ctx, g, x):
        return g * self._inside(value_of(x))

    def _inside(self, x):
        lo, hi = self._bounds(x.dtype)
        if lo is None:
            return x <= hi
        if hi is None:
            return x >= lo
        return (x >= lo) & (x <= hi)

    def emit_forward(self, ctx, x):
        lo, hi = self._bounds(ctx.dtype)
        return f"np.clip({x}, {literal(lo if lo is None or lo.ndim else lo.item())}, {literal(hi if hi is None or hi.ndim else hi.item())})"

    def emit_backward(self, ctx, g, x):
        lo, hi = self._bounds(ctx.dtype)
        tests = []
        if lo is not None:
            tests.append(f"({x} >= {literal(lo if lo.ndim else lo.item())})")
        if hi is not None:
            tests.append(f"({x} <= {literal(hi if hi.ndim else hi.item())})")
        return (f"{g} * ({' & '.join(tests)})",)


class _Pairwise:
    """What maximum and minimum share: a broadcasting forward and the half-and-half tie rule."""

    __slots__ = ()
    pick = None  # np.maximum or np.minimum
    wins = None  # np.greater or np.less: where x is the one picked

    def forward(self, x, y):
        try:
            return type(self).pick(x, y)
        except ValueError:
            raise broadcast_fail(self.name, x, y) from None

    def backward(self, ctx, g, x, y):
        xv, yv = value_of(x), value_of(y)
        # x's share: 1 where it wins, 1/2 where it ties, 0 where it loses; y takes the rest.
        share = (type(self).wins(xv, yv) + (xv == yv) * 0.5).astype(np.result_type(xv, yv))
        needs = ctx.needs
        return (g * share if needs[0] else None), (g * (1.0 - share) if needs[1] else None)

    def emit_forward(self, ctx, x, y):
        return f"np.{self.name}({x}, {y})"

    def emit_backward(self, ctx, g, x, y):
        share = f"(np.{type(self).wins.__name__}({x}, {y}) + ({x} == {y}) * 0.5)"
        return (
            f"{g} * {share}" if ctx.needs[0] else None,
            f"{g} * (1.0 - {share})" if ctx.needs[1] else None,
        )


class Maximum(_Pairwise, Primitive):
    """The larger of x and y, elementwise, with broadcasting, like ``np.maximum``.

    Where x == y the gradient is split half and half (the mean of the two one-sided
    derivatives, which is what central differences measure at a tie).

    Examples
    --------
    >>> import tinygraph as tg
    >>> x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> tg.maximum(x, 2.0).numpy().tolist()
    [2.0, 2.0, 3.0]
    >>> tg.maximum(x, 2.0).sum().backward()
    >>> x.grad.tolist()
    [0.0, 0.5, 1.0]
    """

    name = "maximum"
    formula = ("dx = g * ((x > y) + (x == y) / 2)", "dy = g * ((y > x) + (x == y) / 2)")
    saves = ("x", "y")
    function, numpy = "maximum", (np.maximum,)
    commutative = True
    pick, wins = np.maximum, np.greater
    __slots__ = ()


class Minimum(_Pairwise, Primitive):
    """The smaller of x and y, elementwise, with broadcasting, like ``np.minimum``.

    Where x == y the gradient is split half and half.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.minimum([1.0, 5.0], [[3.0], [0.0]]).numpy().tolist()
    [[1.0, 3.0], [0.0, 0.0]]
    """

    name = "minimum"
    formula = ("dx = g * ((x < y) + (x == y) / 2)", "dy = g * ((y < x) + (x == y) / 2)")
    saves = ("x", "y")
    function, numpy = "minimum", (np.minimum,)
    commutative = True
    pick, wins = np.minimum, np.less
    __slots__ = ()


def _condition(condition) -> np.ndarray:
    """A where-condition as a read-only boolean array: booleans, or numbers that are all 0 or 1."""
    if isinstance(condition, hooks.tensor_type):
        condition = condition.data  # a 0/1 Tensor is a mask; it gets no gradient
    array = np.array(condition)  # a copy: the caller may change theirs after the forward
    if array.dtype.kind != "b":
        if array.dtype.kind not in "iuf":
            raise TypeError(f"where: the condition must be boolean, got {array.dtype}")
        bad = (array != 0) & (array != 1)
        if bad.any():
            raise ValueError(
                f"where: the condition must be boolean (or hold only 0 and 1), got {array[bad][:3].tolist()} "
                f"in a {array.dtype} array of shape {fmt(array.shape)}; compare explicitly, e.g. where(c > 0, x, y)"
            )
        array = array.astype(bool)
    array.flags.writeable = False
    return array


class Where(Primitive):
    """``x`` where ``condition`` holds, else ``y``, with broadcasting, like ``np.where(condition, x, y)``.

    ``condition`` is a boolean array (e.g. ``t > 0``), or a Tensor or array of 0s and 1s;
    it gets no gradient. x receives g where the condition holds, y where it does not.

    Examples
    --------
    >>> import tinygraph as tg
    >>> x = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    >>> y = tg.where(x > 0, x, 0.1 * x)
    >>> y.numpy().tolist()
    [1.0, -0.2, 3.0]
    >>> y.sum().backward()
    >>> x.grad.tolist()
    [1.0, 0.1, 1.0]
    """

    name = "where"
    formula = ("dx = g * condition", "dy = g * ~condition")
    function, numpy = "where", (np.where,)
    __slots__ = ("condition",)

    def __init__(self, condition):
        self.condition = _condition(condition)

    @staticmethod
    def form(condition, x=None, y=None):
        # numpy's order, condition first: the inputs come after it, so the declared form
        # (inputs, then parameters) cannot spell this call.
        if x is None and y is None:  # np.where(c): the positions where c holds, no gradient
            return np.nonzero(_condition(condition))
        if x is None or y is None:
            raise TypeError("where: give both x and y, or neither (where(condition) lists positions)")
        return hooks.apply(Where(condition), x, y)

    def forward(self, x, y):
        try:
            return np.where(self.condition, x, y)
        except ValueError:
            raise ValueError(
                f"where: cannot broadcast the condition {fmt(self.condition.shape)}, x {fmt(x.shape)} and y "
                f"{fmt(y.shape)} together"
            ) from None

    def backward(self, ctx, g):
        needs = ctx.needs
        return (g * self.condition if needs[0] else None), (g * ~self.condition if needs[1] else None)

    def emit_forward(self, ctx, x, y):
        return f"np.where({literal(self.condition)}, {x}, {y})"

    def emit_backward(self, ctx, g):
        condition = literal(self.condition)
        return (
            f"{g} * {condition}" if ctx.needs[0] else None,
            f"{g} * np.logical_not({condition})" if ctx.needs[1] else None,
        )


class AsType(Primitive):
    """The values in another floating dtype, like ``ndarray.astype``; the gradient is cast back.

    Only floating dtypes: a Tensor holds floats (an integer or boolean copy off the graph
    is ``t.data.astype(int)``).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> x = tg.Tensor([1.5, 2.5], requires_grad=True)
    >>> y = x.astype(np.float32)
    >>> y.dtype
    dtype('float32')
    >>> y.sum().backward()
    >>> x.grad.dtype
    dtype('float64')
    """

    name = "astype"
    formula = "dx = g.astype(x.dtype)"
    method = "astype"
    __slots__ = ("dtype", "copy")

    def __init__(self, dtype, copy=True):
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"astype: {dtype!r} is not a dtype") from None
        if self.dtype.kind != "f":
            raise TypeError(
                f"astype: a Tensor holds floats, so it cannot become {self.dtype}; "
                f"for an array off the graph use t.data.astype({self.dtype.name!r})"
            )
        self.copy = bool(copy)

    def forward(self, x):
        return x.astype(self.dtype, copy=self.copy)

    def backward(self, ctx, g):
        return g.astype(ctx.parents[0].dtype)

    def emit_forward(self, ctx, x):
        return f"{x}.astype(np.{self.dtype.name})"

    def emit_backward(self, ctx, g):
        return (f"{g}.astype(np.{np.dtype(ctx.parents[0].dtype).name})",)


class Copy(Primitive):
    """A new Tensor with its own copy of the values, like ``ndarray.copy`` and ``np.copy``; the gradient passes through.

    Examples
    --------
    >>> import tinygraph as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> y = x.copy()
    >>> y.data is x.data, y.tolist()
    (False, [1.0, 2.0])
    """

    name = "copy"
    formula = "dx = g"
    method, numpy = "copy", (np.copy,)
    __slots__ = ("order",)

    def __init__(self, order="K"):
        if order not in ("K", "A", "C", "F"):
            raise ValueError(f"copy: order must be 'K', 'A', 'C' or 'F', got {order!r}")
        self.order = order

    def forward(self, x):
        return np.array(x, order=self.order, copy=True)

    def backward(self, ctx, g):
        return g

    def emit_forward(self, ctx, x):
        return f"np.array({x}, copy=True)"

    def emit_backward(self, ctx, g):
        return (g,)
