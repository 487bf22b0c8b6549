"""The op table: every primitive, its forward, its backward and its formula side by side.

Conventions of every backward rule:
- ``g`` is dL/d(out); return one gradient per input, ``None`` for inputs that need none
  (``self.needs[i]`` says which do). Gradients may keep the broadcast shape: the engine
  sums them back to each input's shape, once, in ``run_backward``.
- Rules use only operators, ``.T``/``.transpose``/``.reshape``/``.sum`` and numpy ufuncs
  (``np.exp``, ``np.log``, ``np.tanh``), so they run on arrays in the fast path and on
  Tensors under ``create_graph=True`` (Tensor implements those ufuncs).
- Build-time checks raise ValueError/TypeError that start with the op's name and give
  every shape involved, so the user sees the mistake where it is made.

This module never imports Tensor.
"""

from __future__ import annotations

import numbers

import numpy as np

from tinygraph._graph import Op
from tinygraph._shapes import broadcast_to, fmt, normalize_axes

# ----------------------------------------------------------------- helpers


def _broadcast_fail(name: str, x: np.ndarray, y: np.ndarray):
    return ValueError(f"{name}: cannot broadcast shapes {fmt(x.shape)} and {fmt(y.shape)} together")


def _sigmoid(x):
    """Sigmoid of an array (numerically stable) or of a Tensor (recorded)."""
    if isinstance(x, np.ndarray):
        # exp(-log(1 + e^-x)): no overflow for large |x|, full relative precision near 0.
        return np.exp(-np.logaddexp(0.0, -x))
    return x.sigmoid()


def _clamp_min(v, low: float):
    """max(v, low) for arrays; for Tensors the same as a masked blend, whose derivative
    is 1 above ``low`` and 0 below it."""
    if isinstance(v, (np.ndarray, np.generic)):
        return np.maximum(v, low)
    above = v.data > low
    return v * above + (~above).astype(v.dtype) * low


def _where_positive(x, cut):
    """Mask of ``x > cut`` as a constant (its derivative is zero almost everywhere)."""
    return (x > cut) if isinstance(x, np.ndarray) else (x.data > cut)


def _swap_last(a):
    """Swap the last two axes (matrix transpose of a stack of matrices)."""
    if a.ndim == 2:
        return a.T
    axes = list(range(a.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return a.transpose(*axes)


# ----------------------------------------------------------------- elementwise, two inputs


class Add(Op):
    """x + y, with numpy broadcasting."""

    name = "add"
    formula = ("dx = g", "dy = g")
    __slots__ = ()

    def forward(self, x, y):
        try:
            return x + y
        except ValueError:
            raise _broadcast_fail(self.name, x, y) from None

    def backward(self, g):
        return g, g


class Sub(Op):
    """x - y, with numpy broadcasting."""

    name = "sub"
    formula = ("dx = g", "dy = -g")
    __slots__ = ()

    def forward(self, x, y):
        try:
            return x - y
        except ValueError:
            raise _broadcast_fail(self.name, x, y) from None

    def backward(self, g):
        return g, (-g if self.needs[1] else None)


class Mul(Op):
    """x * y, elementwise, with numpy broadcasting."""

    name = "mul"
    formula = ("dx = g * y", "dy = g * x")
    saves = ("x", "y")
    __slots__ = ()

    def forward(self, x, y):
        try:
            return x * y
        except ValueError:
            raise _broadcast_fail(self.name, x, y) from None

    def backward(self, g, x, y):
        needs = self.needs
        return (g * y if needs[0] else None), (g * x if needs[1] else None)


class Div(Op):
    """x / y, elementwise, with numpy broadcasting."""

    name = "div"
    formula = ("dx = g / y", "dy = -g * x / y**2")
    saves = ("x", "y")
    __slots__ = ()

    def forward(self, x, y):
        try:
            return x / y
        except ValueError:
            raise _broadcast_fail(self.name, x, y) from None

    def backward(self, g, x, y):
        needs = self.needs
        dx = g / y if needs[0] else None
        dy = -(g / y) * (x / y) if needs[1] else None  # not x / y**2: y**2 overflows float32 sooner
        return dx, dy


class MatMul(Op):
    """x @ y: matrix product, numpy's rules (1-D operands, stacks of matrices)."""

    name = "matmul"
    formula = ("dx = g @ y.T", "dy = x.T @ g")
    saves = ("x", "y")
    __slots__ = ()

    def forward(self, x, y):
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(
                f"matmul: cannot multiply {fmt(x.shape)} by {fmt(y.shape)}: matmul needs at least 1-D operands "
                "(use * for a scalar)"
            )
        inner_x, inner_y = x.shape[-1], y.shape[0] if y.ndim == 1 else y.shape[-2]
        if inner_x != inner_y:
            raise ValueError(
                f"matmul: cannot multiply {fmt(x.shape)} by {fmt(y.shape)}: inner dimensions {inner_x} != {inner_y}"
            )
        try:
            return np.matmul(x, y)
        except ValueError:
            raise ValueError(
                f"matmul: cannot multiply {fmt(x.shape)} by {fmt(y.shape)}: the stack (batch) dimensions "
                f"{fmt(x.shape[:-2])} and {fmt(y.shape[:-2])} do not broadcast"
            ) from None

    def backward(self, g, x, y):
        if x.ndim == 2 and y.ndim == 2:  # the common case, kept plain
            dx = g @ y.T if self.needs[0] else None
            dy = x.T @ g if self.needs[1] else None
            return dx, dy
        # Treat vectors as matrices (x as a row, y as a column), then drop those axes again.
        x2 = x.reshape(1, -1) if x.ndim == 1 else x
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        g2 = g
        if x.ndim == 1:
            g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:]) if y.ndim > 1 else g2.reshape(1, -1)
        if y.ndim == 1:
            g2 = g2.reshape(g2.shape + (1,))
        dx = dy = None
        if self.needs[0]:
            dx = g2 @ _swap_last(y2)
            if x.ndim == 1:
                dx = dx.reshape(dx.shape[:-2] + dx.shape[-1:])
        if self.needs[1]:
            dy = _swap_last(x2) @ g2
            if y.ndim == 1:
                dy = dy.reshape(dy.shape[:-1])
        return dx, dy


# ----------------------------------------------------------------- elementwise, one input


class Neg(Op):
    """-x."""

    name = "neg"
    formula = "dx = -g"
    __slots__ = ()

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


class Pow(Op):
    """x ** p for a constant real exponent p."""

    name = "pow"
    formula = "dx = g * p * x**(p - 1)"
    saves = ("x",)
    __slots__ = ("p",)

    def __init__(self, p):
        if isinstance(p, np.ndarray) and p.ndim == 0:
            p = p.item()
        if not isinstance(p, numbers.Real) or isinstance(p, bool):
            raise TypeError(
                f"pow: the exponent must be a real number, got {type(p).__name__}; "
                "for a Tensor exponent write exp(y * log(x))"
            )
        self.p = float(p)

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

    def backward(self, g, x):
        p = self.p
        if p == 2.0:
            return g * 2.0 * x
        if p == 0.0:  # x**0 is constant; x**-1 would make 0 * inf = nan at x = 0
            return g * 0.0
        return g * p * x ** (p - 1.0)


class ExpBase(Op):
    """base ** x for a constant positive base (``2 ** t``): exact where numpy's power is."""

    name = "exp_base"
    formula = "dx = g * out * log(base)"
    saves = ("out",)
    __slots__ = ("base", "log_base")

    def __init__(self, base):
        if isinstance(base, np.ndarray) and base.ndim == 0:
            base = base.item()
        if not isinstance(base, numbers.Real) or isinstance(base, bool) or not base > 0:
            raise TypeError(f"exp_base: the base of a power with a Tensor exponent must be a positive number, got {base!r}")
        self.base, self.log_base = float(base), float(np.log(base))

    def forward(self, x):
        return np.power(np.asarray(self.base, dtype=x.dtype), x)

    def backward(self, g, out):
        return g * out * self.log_base


class Exp(Op):
    """e ** x."""

    name = "exp"
    formula = "dx = g * out"
    saves = ("out",)
    __slots__ = ()

    def forward(self, x):
        return np.exp(x)

    def backward(self, g, out):
        return g * out


class Log(Op):
    """Natural logarithm, defined for x >= 0 (log 0 = -inf)."""

    name = "log"
    formula = "dx = g / x"
    saves = ("x",)
    __slots__ = ()

    def forward(self, x):
        if (x < 0).any():
            raise ValueError(f"log: input of shape {fmt(x.shape)} has negative values (min {x.min():.6g})")
        return np.log(x)

    def backward(self, g, x):
        return g / x


class ReLU(Op):
    """max(0, x); relu'(0) = 0, PyTorch's choice of subgradient."""

    name = "relu"
    formula = "dx = g * (x > 0)"
    saves = ("out",)
    __slots__ = ()

    def forward(self, x):
        return np.maximum(x, 0.0)

    def backward(self, g, out):
        # out > 0 exactly where x > 0, so the kink at 0 gets slope 0.
        return g * _where_positive(out, 0.0)


class Sigmoid(Op):
    """1 / (1 + e^-x), computed without overflow."""

    name = "sigmoid"
    formula = "dx = g * out * (1 - out)"
    saves = ("out",)
    __slots__ = ()

    def forward(self, x):
        return _sigmoid(x)

    def backward(self, g, out):
        return g * out * (1.0 - out)


class Tanh(Op):
    """Hyperbolic tangent."""

    name = "tanh"
    formula = "dx = g * (1 - out**2)"
    saves = ("out",)
    __slots__ = ()

    def forward(self, x):
        return np.tanh(x)

    def backward(self, g, out):
        return g * (1.0 - out * out)


# ----------------------------------------------------------------- reductions and shape


class Sum(Op):
    """Sum over axes, like ``ndarray.sum(axis, keepdims)``."""

    name = "sum"
    formula = "dx = broadcast(g)"
    __slots__ = ("axis", "keepdims", "in_shape", "kept_shape")

    def __init__(self, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, bool(keepdims)

    def _reduced_axes(self, x) -> tuple:
        axes = normalize_axes(self.axis, x.ndim, op=self.name, shape=x.shape)
        self.in_shape = x.shape
        self.kept_shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape))
        return axes

    def forward(self, x):
        return x.sum(axis=self._reduced_axes(x), keepdims=self.keepdims)

    def backward(self, g):
        return broadcast_to(g.reshape(self.kept_shape), self.in_shape)


class Mean(Sum):
    """Mean over axes, like ``ndarray.mean(axis, keepdims)``."""

    name = "mean"
    formula = "dx = broadcast(g) / n"
    __slots__ = ("count",)

    def forward(self, x):
        axes = self._reduced_axes(x)
        self.count = int(np.prod([x.shape[a] for a in axes]))
        if self.count == 0:
            raise ValueError(f"mean: the mean over an empty axis of shape {fmt(x.shape)} is undefined")
        return x.sum(axis=axes, keepdims=self.keepdims) / self.count

    def backward(self, g):
        return broadcast_to(g.reshape(self.kept_shape) / self.count, self.in_shape)


class Reshape(Op):
    """The same elements in another shape."""

    name = "reshape"
    formula = "dx = g.reshape(x.shape)"
    __slots__ = ("new_shape", "in_shape")

    def __init__(self, shape):
        self.new_shape = tuple(shape)

    def forward(self, x):
        self.in_shape = x.shape
        try:
            return x.reshape(self.new_shape)
        except (ValueError, TypeError):
            raise ValueError(
                f"reshape: cannot reshape {fmt(x.shape)} ({x.size} elements) into {fmt(self.new_shape)}"
            ) from None

    def backward(self, g):
        return g.reshape(self.in_shape)


class Transpose(Op):
    """Permute axes (reverse them when ``axes`` is None)."""

    name = "transpose"
    formula = "dx = g.transpose(inverse(axes))"
    __slots__ = ("axes", "inverse")

    def __init__(self, axes=None):
        self.axes = None if axes is None else tuple(axes)

    def forward(self, x):
        axes = tuple(reversed(range(x.ndim))) if self.axes is None else self.axes
        if not all(isinstance(a, numbers.Integral) for a in axes):
            raise TypeError(f"transpose: axes must be ints, got {self.axes!r} for shape {fmt(x.shape)}")
        if sorted(a % x.ndim if -x.ndim <= a < x.ndim else -1 for a in axes) != list(range(x.ndim)):
            raise ValueError(f"transpose: axes {self.axes} are not a permutation of the axes of {fmt(x.shape)}")
        self.inverse = tuple(np.argsort([a % x.ndim for a in axes]).tolist())
        return x.transpose(axes)

    def backward(self, g):
        return g.transpose(*self.inverse) if self.inverse else g


class BroadcastTo(Op):
    """Repeat along broadcast axes, like ``np.broadcast_to`` (the result is a read-only view)."""

    name = "broadcast_to"
    formula = "dx = sum_to_shape(g, x.shape)"
    __slots__ = ("target",)

    def __init__(self, shape):
        self.target = tuple(shape)

    def forward(self, x):
        try:
            return np.broadcast_to(x, self.target)
        except ValueError:
            raise ValueError(f"broadcast_to: cannot broadcast {fmt(x.shape)} to {fmt(self.target)}") from None

    def backward(self, g):
        return g  # the engine sums it back to the input's shape


# ----------------------------------------------------------------- losses (fused and stable)

# PyTorch's bounds: log is clipped at -100 and the denominator y_hat(1 - y_hat) at 1e-12,
# so y_hat of exactly 0 or 1 gives a finite loss and a finite gradient.
_LOG_FLOOR = -100.0
_DENOMINATOR_FLOOR = 1e-12
_SMALLEST_LOG_ARGUMENT = float(np.exp(_LOG_FLOOR))


def _check_targets(name: str, pred: np.ndarray, y: np.ndarray, pred_name: str):
    if pred.shape != y.shape:
        raise ValueError(
            f"{name}: {pred_name} has shape {fmt(pred.shape)} but the targets y have shape {fmt(y.shape)}; "
            "they must match (the document's Y is (1, N) like A)"
        )
    if pred.size == 0:
        raise ValueError(f"{name}: the inputs are empty (shape {fmt(pred.shape)})")
    if not (y.min() >= 0 and y.max() <= 1):  # written so that NaN fails too
        outside = ~((y >= 0) & (y <= 1))
        raise ValueError(f"{name}: targets must lie in [0, 1]; got {y[outside][:3].tolist()}")


def _clipped_log(v):
    """log(v) clipped below at -100, as the forward of the cross-entropy computes it."""
    if isinstance(v, (np.ndarray, np.generic)):  # 0-d arithmetic gives numpy scalars
        with np.errstate(divide="ignore"):
            return np.maximum(np.log(v), _LOG_FLOOR)
    # Clamp the argument, not the log: log(0) = -inf times a zero mask would be NaN.
    return np.log(_clamp_min(v, _SMALLEST_LOG_ARGUMENT))


class BinaryCrossEntropy(Op):
    """mean(-(y log y_hat + (1 - y) log(1 - y_hat))) for probabilities y_hat."""

    name = "binary_cross_entropy"
    formula = ("dy_hat = g * (y_hat - y) / (y_hat * (1 - y_hat)) / N", "dy = g * (log(1 - y_hat) - log(y_hat)) / N")
    saves = ("y_hat", "y")
    __slots__ = ()

    def forward(self, y_hat, y):
        _check_targets(self.name, y_hat, y, "y_hat")
        if not (y_hat.min() >= 0 and y_hat.max() <= 1):  # written so that NaN fails too
            raise ValueError(
                f"{self.name}: y_hat must be probabilities in [0, 1] (got min {y_hat.min():.6g}, max {y_hat.max():.6g}); "
                "for raw scores use binary_cross_entropy_with_logits"
            )
        losses = y * _clipped_log(y_hat) + (1.0 - y) * _clipped_log(1.0 - y_hat)
        return np.asarray(-losses.mean(), dtype=y_hat.dtype)

    def backward(self, g, y_hat, y):
        n = y_hat.size
        dy_hat = dy = None
        if self.needs[0]:
            spread = _clamp_min(y_hat * (1.0 - y_hat), _DENOMINATOR_FLOOR)
            dy_hat = g * (y_hat - y) / spread / n
        if self.needs[1]:
            dy = g * (_clipped_log(1.0 - y_hat) - _clipped_log(y_hat)) / n
        return dy_hat, dy


class BinaryCrossEntropyWithLogits(Op):
    """binary_cross_entropy(sigmoid(z), y), computed from z without overflow."""

    name = "binary_cross_entropy_with_logits"
    formula = ("dz = g * (sigmoid(z) - y) / N", "dy = -g * z / N")
    saves = ("z", "y")
    __slots__ = ()

    def forward(self, z, y):
        _check_targets(self.name, z, y, "z")
        # max(z, 0) - z y + log(1 + e^-|z|): each term is bounded, so nothing overflows.
        losses = np.maximum(z, 0.0) - z * y + np.log1p(np.exp(-np.abs(z)))
        return np.asarray(losses.mean(), dtype=z.dtype)

    def backward(self, g, z, y):
        n = z.size
        dz = g * (_sigmoid(z) - y) / n if self.needs[0] else None
        dy = -g * z / n if self.needs[1] else None
        return dz, dy


#: Every primitive, by name: the table the docs, the renderer and the tests read.
OPS: dict[str, type[Op]] = {
    op.name: op
    for op in (
        Add, Sub, Mul, Div, MatMul, Neg, Pow, ExpBase, Exp, Log, ReLU, Sigmoid, Tanh,
        Sum, Mean, Reshape, Transpose, BroadcastTo, BinaryCrossEntropy, BinaryCrossEntropyWithLogits,
    )
}  # fmt: skip

for _op in OPS.values():
    _op.check_output = False  # their forwards are numpy functions of float arrays
