"""Random graphs: compositions of the op table's ops over drawn broadcasting shapes, compiled
and eager, must agree to 1e-12 relative in float64 (forward and every gradient), and a
float32 graph must stay float32."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph.testing import strategies as tgst


def _safe(v):
    return v * v + 0.5  # positive and away from 0: a domain for log, 1/x and fractional powers


#: (name, arity, how it is applied to Tensors, given drawn parameters)
STEPS = {
    "add": (2, lambda a, b: a + b),
    "sub": (2, lambda a, b: a - b),
    "mul": (2, lambda a, b: a * b),
    "div": (2, lambda a, b: a / _safe(b)),
    "add_number": (1, lambda a, c: a + c),
    "number_minus": (1, lambda a, c: c - a),
    "times_array": (1, lambda a, C: a * C),
    "times_parameter": (1, lambda a, P: a * P),  # a captured Tensor that requires grad: an input of its own
    "neg": (1, lambda a: -a),
    "exp": (1, lambda a: tg.exp(tg.tanh(a))),
    "log": (1, lambda a: tg.log(_safe(a))),
    "relu": (1, tg.relu),
    "sigmoid": (1, tg.sigmoid),
    "tanh": (1, tg.tanh),
    "pow": (1, lambda a, p: _safe(a) ** p),
    "exp_base": (1, lambda a, base: base ** tg.tanh(a)),
    "sum": (1, lambda a, axis, keepdims: a.sum(axis=axis, keepdims=keepdims)),
    "mean": (1, lambda a, axis, keepdims: a.mean(axis=axis, keepdims=keepdims)),
    "reshape": (1, lambda a, shape: a.reshape(shape)),
    "transpose": (1, lambda a, axes: a.transpose(axes)),
    "broadcast_to": (1, lambda a, shape: tg.broadcast_to(a, shape)),
    "matmul": (2, lambda a, b: a @ b),
    "matmul_array": (1, lambda a, M: a @ M),
    "bce_logits": (1, lambda a, T: tg.binary_cross_entropy_with_logits(a, T)),
    "bce": (1, lambda a, T: tg.binary_cross_entropy(tg.sigmoid(a), T)),
}


def _draw_params(draw, kind, shape, dtype):
    if kind in ("add_number", "number_minus"):
        return {"c": draw(st.sampled_from([0.5, -1.25, 2.0, 3.0]))}
    if kind == "times_array":
        return {"C": draw(tgst.arrays(draw(st.sampled_from([shape, shape[1:] or shape]))).map(lambda a: a.astype(dtype)))}
    if kind == "times_parameter":
        return {"P": tg.Tensor(draw(tgst.arrays(draw(st.sampled_from([shape, shape[1:] or shape])))).astype(dtype), requires_grad=True)}
    if kind == "pow":
        return {"p": draw(st.sampled_from([2.0, 3.0, 0.5, -1.5, 0.0]))}
    if kind == "exp_base":
        return {"base": draw(st.sampled_from([2.0, 0.5, 10.0]))}
    if kind in ("sum", "mean"):
        axes = list(range(len(shape)))
        axis = draw(st.none() | st.sampled_from(axes) | st.permutations(axes).map(lambda p: tuple(p[:2]))) if axes else None
        return {"axis": axis, "keepdims": draw(st.booleans())}
    if kind == "reshape":
        size = int(np.prod(shape))
        return {"shape": draw(st.sampled_from([(size,), tuple(reversed(shape)), (1, size), (-1, 1)]))}
    if kind == "transpose":
        return {"axes": draw(st.none() | st.permutations(range(len(shape))).map(tuple))}
    if kind == "broadcast_to":
        return {"shape": (2,) + tuple(shape)}
    if kind == "matmul_array":
        return {"M": draw(tgst.arrays((shape[-1], draw(st.integers(1, 3))))).astype(dtype)}
    if kind in ("bce_logits", "bce"):
        return {"T": draw(tgst.arrays(shape, tgst.Domain(0.0, 1.0))).astype(dtype)}
    return {}


def _shape_of(kind, operand_shapes, params, dtype):
    """The result's shape, from the step run on zeros (eager, no gradient): None if it does not apply."""
    try:
        zeros = [tg.Tensor(np.zeros(s, dtype=dtype)) for s in operand_shapes]
        return STEPS[kind][1](*zeros, **params).shape
    except (ValueError, TypeError):
        return None


@st.composite
def programs(draw, dtype=np.float64):
    """(input arrays, which require grad, which are passed as Tensors, steps): a random graph."""
    n_inputs = draw(st.integers(1, 3))
    shapes = list(draw(tgst.broadcastable_shapes(n_inputs, max_dims=3, max_side=3)))
    inputs = [draw(tgst.arrays(shape, tgst.Domain(-2.0, 2.0))).astype(dtype) for shape in shapes]
    requires = draw(st.lists(st.booleans(), min_size=n_inputs, max_size=n_inputs))
    as_tensor = [r or draw(st.booleans()) for r in requires]
    steps = []
    for _ in range(draw(st.integers(1, 7))):
        kind = draw(st.sampled_from(sorted(STEPS)))
        arity = STEPS[kind][0]
        operands = [draw(st.integers(0, len(shapes) - 1)) for _ in range(arity)]
        first = shapes[operands[0]]
        if kind in ("matmul", "matmul_array", "transpose", "reshape") and not first:
            continue
        params = _draw_params(draw, kind, first, dtype)
        shape = _shape_of(kind, [shapes[i] for i in operands], params, dtype)
        if shape is None:
            continue
        steps.append((kind, operands, params))
        shapes.append(shape)
    return inputs, requires, as_tensor, steps


def run(steps, *inputs):
    values = list(inputs)
    for kind, operands, params in steps:
        values.append(STEPS[kind][1](*[values[i] for i in operands], **params))
    # Every value feeds the output, so gradients from several consumers add up.
    total = values[-1].sum()
    for i, v in enumerate(values[len(inputs) : -1]):
        total = total + v.mean() * (0.5 + 0.25 * i)
    return total


def _arguments(inputs, requires, as_tensor):
    return [tg.Tensor(x.copy(), requires_grad=r) if t else x.copy() for x, r, t in zip(inputs, requires, as_tensor)]


def _relative_error(got, want) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = np.linalg.norm(want)
    return float(np.linalg.norm(got - want) / scale) if scale > 0 else float(np.linalg.norm(got))


def _both(program):
    """Eager and compiled runs of a program: (eager output, compiled output, eager gradients,
    compiled gradients, the compiled function); gradients of the inputs that require grad,
    then of the captured parameters."""
    inputs, requires, as_tensor, steps = program
    eager_args = _arguments(inputs, requires, [True] * len(inputs))  # arrays as constant Tensors
    compiled_args = _arguments(inputs, requires, as_tensor)
    parameters = [params["P"] for _, _, params in steps if "P" in params]

    def fn(*xs):
        return run(steps, *xs)

    def gradients(args):
        grads = [a.grad for a in args if isinstance(a, tg.Tensor) and a.requires_grad] + [p.grad for p in parameters]
        for p in parameters:
            p.grad = None
        return grads

    eager = fn(*eager_args)
    step = tg.compile(fn)
    compiled = step(*compiled_args)
    assert compiled.requires_grad == eager.requires_grad
    if eager.requires_grad:
        eager.backward()
    eager_grads = gradients(eager_args)
    if compiled.requires_grad:
        compiled.backward()
    return eager, compiled, eager_grads, gradients(compiled_args), step


@settings(max_examples=150)
@given(programs())
def test_random_graphs_equal_eager_float64(program):
    eager, compiled, eager_grads, compiled_grads, step = _both(program)
    assert compiled.dtype == eager.dtype and compiled.shape == eager.shape
    assert _relative_error(compiled.data, eager.data) <= 1e-12, step.source
    for a, b in zip(eager_grads, compiled_grads):
        if a is None:
            assert b is None
            continue
        assert b.shape == a.shape and b.dtype == a.dtype
        assert _relative_error(b, a) <= 1e-12, step.source
    assert "tinygraph" not in step.source


@settings(max_examples=60)
@given(programs(dtype=np.float32))
def test_random_graphs_stay_float32(program):
    eager, compiled, eager_grads, compiled_grads, step = _both(program)
    assert compiled.dtype == eager.dtype == np.float32
    assert _relative_error(compiled.data, eager.data) <= 1e-5
    for a, b in zip(eager_grads, compiled_grads):
        if a is not None:
            assert b.dtype == np.float32
            assert _relative_error(b, a) <= 1e-5


@settings(max_examples=40)
@given(programs())
def test_random_graphs_generate_the_same_text_every_time(program):
    inputs, requires, as_tensor, steps = program
    texts = set()
    for _ in range(2):
        step = tg.compile(lambda *xs: run(steps, *xs))
        step(*_arguments(inputs, requires, as_tensor))
        texts.add(step.source)
    assert len(texts) == 1
