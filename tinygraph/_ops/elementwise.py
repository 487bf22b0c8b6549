"""Elementwise ops: arithmetic with numpy broadcasting, and the activations."""

from __future__ import annotations

import numbers

import numpy as np

from tinygraph._ops._base import Primitive, broadcast_fail, positive_part, sigmoid, where_positive
from tinygraph._shapes import fmt

# ----------------------------------------------------------------- two inputs


class Add(Primitive):
    """x + y, with numpy broadcasting.

    Examples
    --------
    >>> import tinygraph as tg
    >>> (tg.Tensor([1.0, 2.0]) + 1).numpy().tolist()
    [2.0, 3.0]
    """

    name = "add"
    formula = ("dx = g", "dy = g")
    operator, reflected, function, numpy = "__add__", "__radd__", "add", (np.add,)
    commutative = True
    __slots__ = ()

    def forward(self, x, y):
        try:
            return x + y
        except ValueError:
            raise broadcast_fail(self.name, x, y) from None

    def backward(self, ctx, g):
        return g, g

    def emit_forward(self, ctx, x, y):
        return f"{x} + {y}"

    def emit_backward(self, ctx, g):
        return (g if ctx.needs[0] else None), (g if ctx.needs[1] else None)


class Sub(Primitive):
    """x - y, with numpy broadcasting.

    Examples
    --------
    >>> import tinygraph as tg
    >>> (1 - tg.Tensor([1.0, 2.0])).numpy().tolist()
    [0.0, -1.0]
    """

    name = "sub"
    formula = ("dx = g", "dy = -g")
    operator, reflected, function, numpy = "__sub__", "__rsub__", "subtract", (np.subtract,)
    __slots__ = ()

    def forward(self, x, y):
        try:
            return x - y
        except ValueError:
            raise broadcast_fail(self.name, x, y) from None

    def backward(self, ctx, g):
        return g, (-g if ctx.needs[1] else None)

    def emit_forward(self, ctx, x, y):
        return f"{x} - {y}"

    def emit_backward(self, ctx, g):
        return (g if ctx.needs[0] else None), (f"-{g}" if ctx.needs[1] else None)


class Mul(Primitive):
    """x * y, elementwise, with numpy broadcasting.

    Examples
    --------
    >>> import tinygraph as tg
    >>> (tg.Tensor([1.0, 2.0]) * 3).numpy().tolist()
    [3.0, 6.0]
    """

    name = "mul"
    formula = ("dx = g * y", "dy = g * x")
    saves = ("x", "y")
    operator, reflected, function, numpy = "__mul__", "__rmul__", "multiply", (np.multiply,)
    commutative = True
    __slots__ = ()

    def forward(self, x, y):
        try:
            return x * y
        except ValueError:
            raise broadcast_fail(self.name, x, y) from None

    def backward(self, ctx, g, x, y):
        needs = ctx.needs
        return (g * y if needs[0] else None), (g * x if needs[1] else None)

    def emit_forward(self, ctx, x, y):
        return f"{x} * {y}"

    def emit_backward(self, ctx, g, x, y):
        needs = ctx.needs
        return (f"{g} * {y}" if needs[0] else None), (f"{g} * {x}" if needs[1] else None)


class Div(Primitive):
    """x / y, elementwise, with numpy broadcasting.

    Examples
    --------
    >>> import tinygraph as tg
    >>> (tg.Tensor([1.0, 2.0]) / 4).numpy().tolist()
    [0.25, 0.5]
    """

    name = "div"
    formula = ("dx = g / y", "dy = -g * x / y**2")
    saves = ("x", "y")
    operator, reflected, function, numpy = "__truediv__", "__rtruediv__", "divide", (np.true_divide,)
    __slots__ = ()

    def forward(self, x, y):
        try:
            return x / y
        except ValueError:
            raise broadcast_fail(self.name, x, y) from None

    def backward(self, ctx, g, x, y):
        needs = ctx.needs
        dx = g / y if needs[0] else None
        dy = -(g / y) * (x / y) if needs[1] else None  # not x / y**2: y**2 overflows float32 sooner
        return dx, dy

    def emit_forward(self, ctx, x, y):
        return f"{x} / {y}"

    def emit_backward(self, ctx, g, x, y):
        needs = ctx.needs
        return (f"{g} / {y}" if needs[0] else None), (f"-({g} / {y}) * ({x} / {y})" if needs[1] else None)


# ----------------------------------------------------------------- one input


class Neg(Primitive):
    """-x.

    Examples
    --------
    >>> import tinygraph as tg
    >>> (-tg.Tensor([1.0, -2.0])).numpy().tolist()
    [-1.0, 2.0]
    """

    name = "neg"
    formula = "dx = -g"
    operator, function, numpy = "__neg__", "negative", (np.negative,)
    __slots__ = ()

    def forward(self, x):
        return -x

    def backward(self, ctx, g):
        return -g

    def emit_forward(self, ctx, x):
        return f"-{x}"

    def emit_backward(self, ctx, g):
        return (f"-{g}",)


def _real_number(value, what: str, hint: str):
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{what} must be a real number, got {type(value).__name__}; {hint}")
    return float(value)


class Pow(Primitive):
    """x ** p for a constant real exponent p.

    Examples
    --------
    >>> import tinygraph as tg
    >>> (tg.Tensor([2.0, 3.0]) ** 2).numpy().tolist()
    [4.0, 9.0]
    >>> tg.power([4.0], 0.5).numpy().tolist()
    [2.0]
    """

    name = "pow"
    formula = "dx = g * p * x**(p - 1)"
    saves = ("x",)
    operator, function = "__pow__", "power"  # np.power: see tensor.py, it spans pow and exp_base
    __slots__ = ("p",)

    def __init__(self, p):
        self.p = _real_number(p, "pow: the exponent", "for a Tensor exponent write exp(y * log(x))")

    def forward(self, x):
        p = self.p
        if not p.is_integer() and (x < 0).any():
            raise ValueError(
                f"pow: input of shape {fmt(x.shape)} has negative values (min {x.min():.6g}), and a negative base "
                f"with the non-integer exponent {p} has no real value"
            )
        if p < 0 and (x == 0).any():
            raise ValueError(
                f"pow: input of shape {fmt(x.shape)} has zeros, and zero to the negative power {p} is infinite"
            )
        return x**p if p != 2.0 else x * x

    def backward(self, ctx, g, x):
        p = self.p
        if p == 2.0:
            return g * 2.0 * x
        if p == 0.0:  # x**0 is constant; x**-1 would make 0 * inf = nan at x = 0
            return g * 0.0
        return g * p * x ** (p - 1.0)

    def emit_forward(self, ctx, x):
        return f"{x} * {x}" if self.p == 2.0 else f"{x} ** {self.p!r}"

    def emit_backward(self, ctx, g, x):
        p = self.p
        if p == 2.0:
            return (f"{g} * 2.0 * {x}",)
        if p == 0.0:
            return (f"{g} * 0.0",)
        return (f"{g} * {p!r} * {x} ** {p - 1.0!r}",)


class ExpBase(Primitive):
    """base ** x for a constant positive base (``2 ** t``): exact where numpy's power is.

    Examples
    --------
    >>> import tinygraph as tg
    >>> (2 ** tg.Tensor([3.0, -1.0])).numpy().tolist()
    [8.0, 0.5]
    """

    name = "exp_base"
    formula = "dx = g * out * log(base)"
    saves = ("out",)
    operator = "__rpow__"
    __slots__ = ("base", "log_base")

    def __init__(self, base):
        if isinstance(base, np.ndarray) and base.ndim == 0:
            base = base.item()
        if not isinstance(base, numbers.Real) or isinstance(base, bool) or not base > 0:
            raise TypeError(f"exp_base: the base of a power with a Tensor exponent must be a positive number, got {base!r}")
        self.base, self.log_base = float(base), float(np.log(base))

    def forward(self, x):
        return np.power(np.asarray(self.base, dtype=x.dtype), x)

    def backward(self, ctx, g, out):
        return g * out * self.log_base

    def emit_forward(self, ctx, x):
        return f"np.power(np.{np.dtype(ctx.parents[0].dtype).name}({self.base!r}), {x})"

    def emit_backward(self, ctx, g, out):
        return (f"{g} * {out} * {self.log_base!r}",)


class Exp(Primitive):
    """e ** x, elementwise.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.exp([0.0]).item()
    1.0
    """

    name = "exp"
    formula = "dx = g * out"
    saves = ("out",)
    method, function, numpy = "exp", "exp", (np.exp,)
    __slots__ = ()

    def forward(self, x):
        return np.exp(x)

    def backward(self, ctx, g, out):
        return g * out

    def emit_forward(self, ctx, x):
        return f"np.exp({x})"

    def emit_backward(self, ctx, g, out):
        return (f"{g} * {out}",)


class Log(Primitive):
    """Natural logarithm, elementwise, defined for x >= 0 (log 0 = -inf); negatives are refused.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.log([1.0]).item()
    0.0
    """

    name = "log"
    formula = "dx = g / x"
    saves = ("x",)
    method, function, numpy = "log", "log", (np.log,)
    __slots__ = ()

    def forward(self, x):
        if (x < 0).any():
            raise ValueError(f"log: input of shape {fmt(x.shape)} has negative values (min {x.min():.6g})")
        return np.log(x)

    def backward(self, ctx, g, x):
        return g / x

    def emit_forward(self, ctx, x):
        return f"np.log({x})"

    def emit_backward(self, ctx, g, x):
        return (f"{g} / {x}",)


class ReLU(Primitive):
    """max(0, x), elementwise; relu'(0) = 0, PyTorch's choice of subgradient.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.relu([-1.0, 0.0, 2.0]).numpy().tolist()
    [0.0, 0.0, 2.0]
    """

    name = "relu"
    formula = "dx = g * (x > 0)"
    saves = ("out",)
    method, function = "relu", "relu"
    __slots__ = ()

    def forward(self, x):
        return positive_part(x)

    def backward(self, ctx, g, out):
        # out > 0 exactly where x > 0, so the kink at 0 gets slope 0.
        return g * where_positive(out, 0.0)

    def emit_forward(self, ctx, x):
        return f"np.maximum({x}, 0.0)"

    def emit_backward(self, ctx, g, out):
        return (f"{g} * ({out} > 0.0)",)


class Sigmoid(Primitive):
    """1 / (1 + e^-x), elementwise, computed without overflow.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.sigmoid([0.0, 1000.0, -1000.0]).numpy().tolist()
    [0.5, 1.0, 0.0]
    """

    name = "sigmoid"
    formula = "dx = g * out * (1 - out)"
    saves = ("out",)
    method, function = "sigmoid", "sigmoid"
    __slots__ = ()

    def forward(self, x):
        return sigmoid(x)

    def backward(self, ctx, g, out):
        return g * out * (1.0 - out)

    def emit_forward(self, ctx, x):
        return f"np.exp(-np.logaddexp(0.0, -{x}))"

    def emit_backward(self, ctx, g, out):
        return (f"{g} * {out} * (1.0 - {out})",)


class Tanh(Primitive):
    """Hyperbolic tangent, elementwise.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.tanh([0.0]).item()
    0.0
    """

    name = "tanh"
    formula = "dx = g * (1 - out**2)"
    saves = ("out",)
    method, function, numpy = "tanh", "tanh", (np.tanh,)
    __slots__ = ()

    def forward(self, x):
        return np.tanh(x)

    def backward(self, ctx, g, out):
        return g * (1.0 - out * out)

    def emit_forward(self, ctx, x):
        return f"np.tanh({x})"

    def emit_backward(self, ctx, g, out):
        return (f"{g} * (1.0 - {out} * {out})",)
