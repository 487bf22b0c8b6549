"""One table of ops drives the forward, gradient, second-order and dtype property tests.

Every derivative is checked against central finite differences in float64
(tinygraph.testing.gradcheck), with Hypothesis drawing shapes (broadcasting included)
and values inside each op's domain.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph.testing import gradcheck, gradgradcheck
from tinygraph.testing import strategies as tgst


@dataclass(frozen=True)
class Case:
    name: str  # the op's registered name in tg.OPS
    fn: Callable  # (*Tensors, **params) -> Tensor
    reference: Callable  # (*arrays, **params) -> array: numpy's forward
    draw_inputs: Callable  # (small: bool) -> strategy of (arrays tuple, params dict)
    smooth: bool = True  # second derivatives exist where we draw
    tolerance: dict = field(default_factory=dict)


def unary(domain=tgst.REAL):
    def inputs(small):
        side = 3 if small else 4
        return tgst.arrays(tgst.shapes(max_side=side, max_dims=2 if small else 3), domain).map(lambda x: ((x,), {}))

    return inputs


def binary(left=tgst.REAL, right=tgst.REAL):
    @st.composite
    def pair(draw, small):
        shape_x, shape_y = draw(tgst.broadcastable_shapes(2, max_dims=2 if small else 3, max_side=3 if small else 4))
        return (draw(tgst.arrays(shape_x, left)), draw(tgst.arrays(shape_y, right))), {}

    return pair


@st.composite
def _matmul_inputs(draw, small):
    shape_x, shape_y = draw(tgst.matmul_shapes(max_side=3 if small else 5, batch=not small))
    return (draw(tgst.arrays(shape_x)), draw(tgst.arrays(shape_y))), {}


@st.composite
def _reduction_inputs(draw, small):
    x = draw(tgst.arrays(tgst.shapes(max_dims=2 if small else 3, max_side=3 if small else 4)))
    axis = draw(st.none() | st.sampled_from(range(-x.ndim, x.ndim)) if x.ndim else st.none())
    if x.ndim >= 2 and draw(st.booleans()):
        axis = tuple(draw(st.permutations(range(x.ndim)))[:2])
    return (x,), {"axis": axis, "keepdims": draw(st.booleans())}


@st.composite
def _reshape_inputs(draw, small):
    x = draw(tgst.arrays(tgst.shapes(max_dims=3, max_side=3 if small else 4)))
    shape = list(draw(st.permutations(x.shape)))
    if shape and draw(st.booleans()):
        shape[draw(st.integers(0, len(shape) - 1))] = -1
    return (x,), {"shape": tuple(shape)}


@st.composite
def _transpose_inputs(draw, small):
    x = draw(tgst.arrays(tgst.shapes(max_dims=3, max_side=3 if small else 4)))
    axes = draw(st.none() | st.permutations(range(x.ndim)).map(tuple))
    return (x,), {"axes": axes}


@st.composite
def _broadcast_inputs(draw, small):
    shape_in, shape_out = draw(
        tgst.broadcastable_shapes(2, max_dims=2 if small else 3, max_side=3).filter(
            lambda pair: np.broadcast_shapes(*pair) != pair[0]
        )
    )
    target = np.broadcast_shapes(shape_in, shape_out)
    return (draw(tgst.arrays(shape_in)),), {"shape": target}


@st.composite
def _pow_inputs(draw, small):
    p = draw(st.sampled_from([2.0, 3.0, 0.5, -1.0, -1.5, 1.7]))
    x = draw(tgst.arrays(tgst.shapes(max_dims=2, max_side=3 if small else 4), tgst.POSITIVE))
    return (x,), {"p": p}


@st.composite
def _exp_base_inputs(draw, small):
    base = draw(st.sampled_from([2.0, 10.0, 0.5, np.e]))
    return (draw(tgst.arrays(tgst.shapes(max_dims=2, max_side=3 if small else 4))),), {"base": base}


def _loss_inputs(prediction_domain):
    @st.composite
    def draw_pair(draw, small):
        shape = draw(tgst.shapes(min_dims=1, max_dims=2, max_side=3 if small else 5))
        return (draw(tgst.arrays(shape, prediction_domain)), draw(tgst.arrays(shape, tgst.PROBABILITY))), {}

    return draw_pair


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _bce(p, y):
    return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))


# --- inputs and numpy references: softmax family, multi-class losses, conv and pooling (issue 10, part B)


@st.composite
def _softmax_inputs(draw, small):
    x = draw(tgst.arrays(tgst.shapes(min_dims=1, max_dims=2 if small else 3, max_side=3 if small else 4)))
    return (x,), {"axis": draw(st.sampled_from(range(-x.ndim, x.ndim)))}


@st.composite
def _cross_entropy_inputs(draw, small):
    (z,), params = draw(_softmax_inputs(small))
    kind = draw(st.sampled_from(["labels", "probabilities", "any targets in [0, 1]"]))
    if kind == "labels":  # a constant passed by keyword, not a drawn input: labels have no gradient
        return (z,), {**params, "target": draw(tgst.class_labels(z.shape, params["axis"]))}
    if kind == "probabilities" and z.shape[params["axis"]] > 1:  # one class would make every target exactly 1
        return (z, draw(tgst.class_probabilities(z.shape, params["axis"]))), params
    return (z, draw(tgst.arrays(z.shape, tgst.PROBABILITY))), params


def _cross_entropy(z, target, axis):
    log_p = z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
    if target.dtype.kind == "i":
        target = np.moveaxis(np.eye(z.shape[axis])[target], -1, axis)  # labels, one-hot along the class axis
    return -np.sum(target * log_p) / (z.size // z.shape[axis])


def _pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


@st.composite
def _conv2d_inputs(draw, small):
    x_shape, w_shape, stride, padding = draw(tgst.conv2d_geometry(max_side=4 if small else 5, max_filters=2 if small else 3))
    arrays = (draw(tgst.arrays(x_shape)), draw(tgst.arrays(w_shape)))
    if draw(st.booleans()):
        arrays += (draw(tgst.arrays(w_shape[:1])),)
    return arrays, {"stride": stride, "padding": padding}


def _windows_loop(x, kernel_size, stride, padding):
    """(N, C, H', W', kh, kw) windows of the padded images, one window position at a time."""
    (kh, kw), (sh, sw), (ph, pw) = _pair(kernel_size), _pair(stride), _pair(padding)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    ho, wo = (xp.shape[2] - kh) // sh + 1, (xp.shape[3] - kw) // sw + 1
    out = np.zeros(x.shape[:2] + (ho, wo, kh, kw))
    for p in range(ho):
        for q in range(wo):
            out[:, :, p, q] = xp[:, :, p * sh : p * sh + kh, q * sw : q * sw + kw]
    return out


def _conv2d(x, w, *b, stride, padding):
    out = np.einsum("ncpqij,fcij->nfpq", _windows_loop(x, w.shape[2:], stride, padding), w)
    return out + b[0].reshape(1, -1, 1, 1) if b else out


@st.composite
def _im2col_inputs(draw, small):
    x_shape, w_shape, stride, padding = draw(tgst.conv2d_geometry(max_side=4 if small else 5))
    return (draw(tgst.arrays(x_shape)),), {"kernel_size": w_shape[2:], "stride": stride, "padding": padding}


@st.composite
def _col2im_inputs(draw, small):
    x_shape, w_shape, stride, padding = draw(tgst.conv2d_geometry(max_side=4 if small else 5))
    windows_shape = _windows_loop(np.zeros(x_shape), w_shape[2:], stride, padding).shape
    return (draw(tgst.arrays(windows_shape)),), {"image_size": x_shape[2:], "stride": stride, "padding": padding}


def _col2im(cols, image_size, stride, padding):
    """Each window added back onto its place, one window position at a time; padding cropped."""
    (h, w), (sh, sw), (ph, pw) = image_size, _pair(stride), _pair(padding)
    n, c, ho, wo, kh, kw = cols.shape
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw))
    for p in range(ho):
        for q in range(wo):
            out[:, :, p * sh : p * sh + kh, q * sw : q * sw + kw] += cols[:, :, p, q]
    return out[:, :, ph : ph + h, pw : pw + w]


@st.composite
def _max_pool_inputs(draw, small):
    x_shape, kernel_size, stride = draw(tgst.pool2d_geometry(max_side=4 if small else 5))
    # Values apart from one another: finite differences never cross a change of maximum.
    return (draw(tgst.distinct_arrays(x_shape)),), {"kernel_size": kernel_size, "stride": stride}


def _max_pool2d(x, kernel_size, stride):
    return _windows_loop(x, kernel_size, kernel_size if stride is None else stride, 0).max(axis=(4, 5))


# --- inputs and numpy references: indexing, selection, joins and shape ops (issue 10, part A)


def _sides(small):
    return {"max_dims": 2 if small else 3, "max_side": 3 if small else 4}


@st.composite
def _getitem_inputs(draw, small):
    x = draw(tgst.arrays(tgst.shapes(**_sides(small))))
    return (x,), {"index": draw(tgst.index_expressions(x.shape))}


@st.composite
def _scatter_add_inputs(draw, small):
    shape = draw(tgst.shapes(**_sides(small)))
    index = draw(tgst.index_expressions(shape))
    return (draw(tgst.arrays(np.zeros(shape)[index].shape)),), {"index": index, "shape": shape}


def _scatter_add(values, index, shape):
    out = np.zeros(shape)
    np.add.at(out, index, values)
    return out


def _distinct(shape):
    """Values at least 0.1 apart: finite differences never straddle a change of winner (no ties)."""
    size = int(np.prod(shape))
    return st.permutations(range(size)).map(lambda order: (np.array(order, dtype=float) - size / 2).reshape(shape) * 0.1)


@st.composite
def _extreme_inputs(draw, small):
    x = draw(tgst.shapes(**_sides(small)).flatmap(_distinct))
    return (x,), {"axis": draw(tgst.axes(x.ndim)), "keepdims": draw(st.booleans())}


@st.composite
def _spread_inputs(draw, small):
    # std has a kink where all values along the axis are equal: keep them apart.
    x = draw(tgst.shapes(**_sides(small)).flatmap(_distinct))
    axis = draw(tgst.axes(x.ndim))
    count = int(np.prod([x.shape[a] for a in np.atleast_1d(range(x.ndim) if axis is None else axis)]))
    return (x,), {"axis": axis, "keepdims": draw(st.booleans()), "ddof": draw(st.sampled_from([0, 1])) if count > 1 else 0}


@st.composite
def _pairwise_inputs(draw, small):
    # x on a grid of step 0.1, y on the same grid shifted by 0.05: never a tie (ties are tested on their own).
    shape_x, shape_y = draw(tgst.broadcastable_shapes(2, **_sides(small)))
    x = draw(tgst.arrays(shape_x, _GRID))
    y = draw(tgst.arrays(shape_y, _SHIFTED_GRID))
    return (x, y), {}


_GRID = tgst.Domain(values=tuple(k / 10 for k in range(-30, 31)))
_SHIFTED_GRID = tgst.Domain(values=tuple(k / 10 + 0.05 for k in range(-30, 30)))


@st.composite
def _clip_inputs(draw, small):
    lo, hi = draw(st.sampled_from([(-1.0, 1.0), (-1.0, None), (None, 1.0), (0.5, 0.5)]))
    x = draw(tgst.arrays(tgst.shapes(**_sides(small)), tgst.Domain(avoid=(-1.0, 0.5, 1.0))))
    return (x,), {"lo": lo, "hi": hi}


@st.composite
def _where_inputs(draw, small):
    shape_c, shape_x, shape_y = draw(tgst.broadcastable_shapes(3, **_sides(small)))
    condition = draw(tgst.arrays(shape_c, tgst.BINARY)).astype(bool)
    return (draw(tgst.arrays(shape_x)), draw(tgst.arrays(shape_y))), {"condition": condition}


@st.composite
def _astype_inputs(draw, small):
    # Casts there and back: longdouble holds float64 exactly, so finite differences stay exact
    # (float32 is checked on its own, in tests/test_ops_conventions.py).
    x = draw(tgst.arrays(tgst.shapes(**_sides(small))))
    return (x,), {"dtype": draw(st.sampled_from([np.float64, np.longdouble]))}


@st.composite
def _concatenate_inputs(draw, small):
    shapes, axis = draw(tgst.concatenate_shapes(draw(st.integers(2, 3)), max_dims=2 if small else 3, max_side=3))
    return tuple(draw(tgst.arrays(s)) for s in shapes), {"axis": axis}


@st.composite
def _stack_inputs(draw, small):
    shape = draw(tgst.shapes(max_dims=2, max_side=3))
    count = draw(st.integers(2, 3))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    return tuple(draw(tgst.arrays(shape)) for _ in range(count)), {"axis": axis}


@st.composite
def _expand_dims_inputs(draw, small):
    x = draw(tgst.arrays(tgst.shapes(**_sides(small))))
    count = draw(st.integers(1, 2))
    ndim = x.ndim + count
    positions = draw(st.lists(st.integers(0, ndim - 1), min_size=count, max_size=count, unique=True))
    axis = tuple(draw(st.sampled_from([p, p - ndim])) for p in positions)
    return (x,), {"axis": axis[0] if count == 1 and draw(st.booleans()) else axis}


@st.composite
def _squeeze_inputs(draw, small):
    x = draw(tgst.arrays(tgst.shapes(max_dims=3, max_side=2)))
    ones = [a for a, n in enumerate(x.shape) if n == 1]
    axis = draw(st.none() | st.lists(st.sampled_from(ones), unique=True).map(tuple)) if ones else None
    return (x,), {"axis": axis}


@st.composite
def _swapaxes_inputs(draw, small):
    x = draw(tgst.arrays(tgst.shapes(min_dims=1, **_sides(small))))
    axis = st.integers(-x.ndim, x.ndim - 1)
    return (x,), {"axis1": draw(axis), "axis2": draw(axis)}


# Operand-pair specs: products, contractions, outer products, implicit outputs, diagonals
# (a repeated letter within an operand), three operands, and broadcast axes under '...'.
_EINSUM_SPECS = [
    "ij,jk->ik", "ij,jk", "i,i->", "i,j->ij", "ij,ij->ij", "ij,ij", "bij,bjk->bik", "ij,kj->ki", "ijk,kj->i",
    "ba,ab->", "ii,i->i", "iij,jk->ik", "ii,jj->", "ij,jk,kl->il", "i,ij,j", "...ij,...jk->...ik", "...i,...i",
]  # fmt: skip


@st.composite
def _einsum_inputs(draw, small):
    spec = draw(st.sampled_from(_EINSUM_SPECS))
    terms = spec.split("->")[0].split(",")
    size = {c: draw(st.integers(1, 3)) for c in sorted(set("".join(terms)) - {"."})}
    batch = draw(tgst.broadcastable_shapes(len(terms), max_dims=2, max_side=3)) if "..." in spec else [()] * len(terms)
    arrays = []
    for term, lead in zip(terms, batch):
        named = term.replace("...", "")
        # Now and then a size-1 axis that broadcasts against the others (not on a diagonal letter).
        dims = tuple(1 if named.count(c) == 1 and draw(st.integers(0, 5)) == 0 else size[c] for c in named)
        arrays.append(draw(tgst.arrays(tuple(lead) + dims)))
    return tuple(arrays), {"subscripts": spec}


CASES = [
    Case("add", lambda x, y: x + y, np.add, binary()),
    Case("sub", lambda x, y: x - y, np.subtract, binary()),
    Case("mul", lambda x, y: x * y, np.multiply, binary()),
    Case("div", lambda x, y: x / y, np.divide, binary(right=tgst.Domain(0.3, 3.0))),
    Case("matmul", lambda x, y: x @ y, np.matmul, _matmul_inputs),
    Case("neg", lambda x: -x, np.negative, unary()),
    Case("pow", lambda x, p: x**p, lambda x, p: x**p, _pow_inputs),
    Case("exp_base", lambda x, base: base**x, lambda x, base: np.power(base, x), _exp_base_inputs),
    Case("exp", tg.exp, np.exp, unary()),
    Case("log", tg.log, np.log, unary(tgst.POSITIVE)),
    Case("relu", tg.relu, lambda x: np.maximum(x, 0), unary(tgst.AWAY_FROM_ZERO), smooth=False),
    Case("sigmoid", tg.sigmoid, _sigmoid, unary(tgst.Domain(-6, 6))),
    Case("tanh", tg.tanh, np.tanh, unary()),
    Case("sum", lambda x, **kw: x.sum(**kw), lambda x, **kw: np.sum(x, **kw), _reduction_inputs),
    Case("mean", lambda x, **kw: x.mean(**kw), lambda x, **kw: np.mean(x, **kw), _reduction_inputs),
    Case("reshape", lambda x, shape: x.reshape(shape), lambda x, shape: x.reshape(shape), _reshape_inputs),
    Case("transpose", lambda x, axes: x.transpose(axes), lambda x, axes: x.transpose(axes), _transpose_inputs),
    Case("broadcast_to", lambda x, shape: tg.broadcast_to(x, shape), np.broadcast_to, _broadcast_inputs),
    Case("binary_cross_entropy", tg.binary_cross_entropy, _bce, _loss_inputs(tgst.PROBABILITY)),
    Case(
        "binary_cross_entropy_with_logits",
        tg.binary_cross_entropy_with_logits,
        lambda z, y: _bce(_sigmoid(z), y),
        _loss_inputs(tgst.Domain(-5, 5)),
    ),
    Case("getitem", lambda x, index: x[index], lambda x, index: x[index], _getitem_inputs),
    Case("scatter_add", tg.scatter_add, _scatter_add, _scatter_add_inputs),
    Case("max", lambda x, **kw: tg.max(x, **kw), lambda x, **kw: np.max(x, **kw), _extreme_inputs),
    Case("min", lambda x, **kw: x.min(**kw), lambda x, **kw: np.min(x, **kw), _extreme_inputs),
    Case("maximum", tg.maximum, np.maximum, _pairwise_inputs),
    Case("minimum", tg.minimum, np.minimum, _pairwise_inputs),
    Case("where", lambda x, y, condition: tg.where(condition, x, y), lambda x, y, condition: np.where(condition, x, y), _where_inputs),
    Case("abs", abs, np.abs, unary(tgst.AWAY_FROM_ZERO)),
    Case("sqrt", lambda x: x.sqrt(), np.sqrt, unary(tgst.POSITIVE)),
    Case("square", tg.square, np.square, unary()),
    Case("clip", lambda x, lo, hi: x.clip(lo, hi), lambda x, lo, hi: np.clip(x, lo, hi), _clip_inputs),
    Case("var", lambda x, **kw: x.var(**kw), lambda x, **kw: np.var(x, **kw), _spread_inputs),
    Case("std", lambda x, **kw: tg.std(x, **kw), lambda x, **kw: np.std(x, **kw), _spread_inputs),
    Case("concatenate", lambda *xs, axis: tg.concatenate(xs, axis=axis), lambda *xs, axis: np.concatenate(xs, axis=axis), _concatenate_inputs),
    Case("stack", lambda *xs, axis: tg.stack(xs, axis=axis), lambda *xs, axis: np.stack(xs, axis=axis), _stack_inputs),
    Case("expand_dims", tg.expand_dims, np.expand_dims, _expand_dims_inputs),
    Case("squeeze", lambda x, axis: x.squeeze(axis=axis), lambda x, axis: np.squeeze(x, axis=axis), _squeeze_inputs),
    Case("swapaxes", tg.swapaxes, np.swapaxes, _swapaxes_inputs),
    Case("einsum", lambda *xs, subscripts: tg.einsum(subscripts, *xs), lambda *xs, subscripts: np.einsum(subscripts, *xs), _einsum_inputs),
    Case("astype", lambda x, dtype: x.astype(dtype).astype(x.dtype), lambda x, dtype: x.astype(dtype).astype(x.dtype), _astype_inputs),
    Case("copy", lambda x: x.copy(), np.copy, unary()),
    # --- rows: indexing, selection, joins and shape ops (issue 10, part A) ---
    Case("logsumexp", lambda x, **kw: tg.logsumexp(x, **kw), lambda x, **kw: np.log(np.sum(np.exp(x), **kw)), _reduction_inputs),
    Case(
        "softmax",
        tg.softmax,
        lambda x, axis: np.exp(x) / np.sum(np.exp(x), axis=axis, keepdims=True),
        _softmax_inputs,
    ),
    Case(
        "log_softmax",
        tg.log_softmax,
        lambda x, axis: x - np.log(np.sum(np.exp(x), axis=axis, keepdims=True)),
        _softmax_inputs,
    ),
    Case("cross_entropy", tg.cross_entropy, _cross_entropy, _cross_entropy_inputs),
    Case("mse_loss", tg.mse_loss, lambda p, y: np.mean((p - y) ** 2), _loss_inputs(tgst.REAL)),
    Case("conv2d", lambda x, w, *b, **kw: tg.conv2d(x, w, *b, **kw), _conv2d, _conv2d_inputs),
    Case("im2col", tg.im2col, _windows_loop, _im2col_inputs),
    Case("col2im", tg.col2im, _col2im, _col2im_inputs),
    Case("max_pool2d", tg.max_pool2d, _max_pool2d, _max_pool_inputs),
    # --- rows: softmax family, multi-class and regression losses, conv and pooling (issue 10, part B) ---
]
IDS = [case.name for case in CASES]


def _bind(case: Case, params: dict):
    return lambda *tensors: case.fn(*tensors, **params)


def test_table_covers_every_registered_op():
    assert sorted(IDS) == sorted(tg.OPS), "every op in tg.OPS needs a row in CASES (and no row may be stale)"


@pytest.mark.parametrize("case", CASES, ids=IDS)
@given(data=st.data())
def test_forward_matches_numpy(case, data):
    arrays, params = data.draw(case.draw_inputs(False))
    got = case.fn(*[tg.Tensor(a) for a in arrays], **params)
    np.testing.assert_allclose(got.data, case.reference(*arrays, **params), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@given(data=st.data())
def test_gradient_matches_finite_differences(case, data):
    arrays, params = data.draw(case.draw_inputs(False))
    gradcheck(_bind(case, params), *arrays)


@pytest.mark.parametrize("case", [c for c in CASES if c.smooth], ids=[c.name for c in CASES if c.smooth])
@settings(max_examples=15)
@given(data=st.data())
def test_second_derivative_matches_finite_differences(case, data):
    arrays, params = data.draw(case.draw_inputs(True))
    gradgradcheck(_bind(case, params), *arrays)


@pytest.mark.parametrize("case", CASES, ids=IDS)
@settings(max_examples=15)
@given(data=st.data())
def test_float32_stays_float32(case, data):
    arrays, params = data.draw(case.draw_inputs(True))
    tensors = [tg.Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out = case.fn(*tensors, **params)
    assert out.dtype == np.float32
    out.backward(np.ones(out.shape, dtype=np.float32))
    for t in tensors:
        assert t.grad.dtype == np.float32 and t.grad.shape == t.shape


# ----------------------------------------------------------------- the op declarations, column by column


# Ops whose function form spells its own call (they declare ``form``), as numpy orders the arguments.
_SPELLED = {
    "where": lambda f, xs, kw: f(kw["condition"], *xs),
    "einsum": lambda f, xs, kw: f(kw["subscripts"], *xs),
}


def _forms(op) -> dict:
    """Every public form an op declares, as a callable taking (inputs, params)."""
    forms = {}
    variadic = op.arity is None
    spelled = _SPELLED.get(op.name)
    if op.function:
        fn = getattr(tg, op.function)
        forms[f"tg.{op.function}"] = (lambda xs, kw: fn(list(xs), **kw)) if variadic else (lambda xs, kw: fn(*xs, **kw))
        if spelled:
            forms[f"tg.{op.function}"] = lambda xs, kw: spelled(fn, xs, kw)
    if op.method:
        forms[f"Tensor.{op.method}"] = lambda xs, kw: getattr(xs[0], op.method)(*xs[1:], **kw)
    if op.operator and op.arity == 2:
        forms[op.operator] = lambda xs, kw: getattr(xs[0], op.operator)(xs[1])
        if op.reflected:
            forms[op.reflected] = lambda xs, kw: getattr(xs[1], op.reflected)(xs[0])
    elif op.operator:  # one input: the parameter, if any, is the other operand (x ** p, p ** x)
        forms[op.operator] = lambda xs, kw: getattr(xs[0], op.operator)(*kw.values())
    for function in op.numpy:
        forms[f"np.{function.__name__}"] = (
            (lambda xs, kw, f=function: f(list(xs), **kw)) if variadic else (lambda xs, kw, f=function: f(*xs, **kw))
        )
        if spelled:
            forms[f"np.{function.__name__}"] = lambda xs, kw, f=function: spelled(f, xs, kw)
    return forms


def test_every_op_has_a_public_form_and_a_formula():
    for name, op in tg.OPS.items():
        assert _forms(op), f"{name} declares no method, function, operator or numpy form"
        assert op.formula, f"{name} has no formula text"
        formula = (op.formula,) if isinstance(op.formula, str) else op.formula
        assert op.arity is None or len(formula) in (1, op.arity), f"{name}: one formula line per input"


def test_function_forms_are_exported_and_documented():
    for name, op in tg.OPS.items():
        if op.function:
            assert op.function in tg.__all__, f"tg.{op.function} is not in tinygraph.__all__"
            assert getattr(tg, op.function).__doc__ == op.__doc__, f"tg.{op.function} lacks {name}'s docstring"
            assert ">>>" in (op.__doc__ or ""), f"{name}'s docstring has no example"


@pytest.mark.parametrize("case", CASES, ids=IDS)
@settings(max_examples=10)
@given(data=st.data())
def test_every_declared_form_records_the_op(case, data):
    """Method, function, operators and numpy forms all record this op and agree with the table's call."""
    op = tg.OPS[case.name]
    arrays, params = data.draw(case.draw_inputs(True))
    expected = case.fn(*[tg.Tensor(a) for a in arrays], **params).data
    for form_name, form in _forms(op).items():
        tensors = [tg.Tensor(a, requires_grad=True) for a in arrays]
        out = form(tensors, params)
        assert isinstance(out, tg.Tensor), form_name
        assert type(out.grad_fn.rule) is op, f"{form_name} recorded {out.grad_fn.name}, not {case.name}"
        np.testing.assert_array_equal(out.data, expected, err_msg=form_name)


@pytest.mark.parametrize("case", [c for c in CASES if tg.OPS[c.name].arity == 2 and tg.OPS[c.name].operator])
@settings(max_examples=15)
@given(data=st.data())
def test_binary_operators_take_any_operand_kind_on_either_side(case, data):
    """An array, a list or a Python number next to a Tensor, on either side, gives numpy's result."""
    op = tg.OPS[case.name]
    (a, b), params = data.draw(case.draw_inputs(True))
    expected = case.reference(a, b)
    apply = getattr(tg.Tensor, op.operator)
    for left, right in [
        (tg.Tensor(a), tg.Tensor(b)),
        (tg.Tensor(a), b),  # ndarray on the right
        (a, tg.Tensor(b)),  # ndarray on the left: numpy must hand the op to Tensor
        (a.tolist() if a.ndim else float(a), tg.Tensor(b)),  # list or Python number on the left
        (tg.Tensor(a), b.tolist() if b.ndim else float(b)),
    ]:
        if isinstance(left, tg.Tensor):
            out = apply(left, right)
        elif isinstance(left, np.ndarray):
            out = {"__add__": np.add, "__sub__": np.subtract, "__mul__": np.multiply, "__truediv__": np.divide,
                   "__matmul__": np.matmul}[op.operator](left, right)  # fmt: skip
        else:
            out = getattr(right, op.reflected)(left)
        assert isinstance(out, tg.Tensor), (case.name, type(left), type(right))
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-15, atol=0)


@pytest.mark.parametrize("case", [c for c in CASES if tg.OPS[c.name].arity != 1], ids=lambda c: c.name)
@settings(max_examples=15)
@given(data=st.data())
def test_gradients_with_constant_operands(case, data):
    """Each input in turn held constant: the others' gradients stay right and the constant gets none."""
    arrays, params = data.draw(case.draw_inputs(True))
    for constant in range(len(arrays) if len(arrays) > 1 else 0):  # one drawn input (labels by keyword): no others
        inputs = [tg.Tensor(a) if i == constant else a for i, a in enumerate(arrays)]
        gradcheck(_bind(case, params), *inputs)


@pytest.mark.parametrize("case", [c for c in CASES if c.smooth], ids=[c.name for c in CASES if c.smooth])
@settings(max_examples=10)
@given(data=st.data())
def test_backward_with_create_graph_matches_grad(case, data):
    """backward(create_graph=True) leaves Tensors in .grad equal to tg.grad's, and they differentiate again."""
    arrays, params = data.draw(case.draw_inputs(True))
    leaves = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = case.fn(*leaves, **params)
    weights = np.linspace(0.5, 1.5, out.size).reshape(out.shape)
    expected = tg.grad(out, leaves, grad_outputs=weights, retain_graph=True)
    out.backward(weights, create_graph=True)
    for leaf, want in zip(leaves, expected):
        assert isinstance(leaf.grad, tg.Tensor)
        np.testing.assert_allclose(leaf.grad.data, np.zeros_like(leaf.data) if want is None else want, rtol=1e-12, atol=1e-12)
    total = sum((leaf.grad * leaf.grad).sum() for leaf in leaves if leaf.grad.requires_grad)
    if isinstance(total, tg.Tensor):  # some rules are linear in g only: nothing to differentiate
        second = tg.grad(total, leaves)
        assert all(s is None or s.shape == leaf.shape for s, leaf in zip(second, leaves))
