"""matmul (tinygraph/_ops/linalg.py): numpy's product rules for every operand rank, the
gradient of each operand against finite differences, the compiled code agreeing with the
eager op, and the messages of its three refusals."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck, gradgradcheck

# (x shape, y shape): vectors on either side, plain matrices, stacks, and stacks that broadcast.
SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3, 4)),
    ((3,), (3, 4)),
    ((2, 3), (3,)),
    ((2, 2, 3), (3, 4)),
    ((2, 3), (2, 3, 4)),
    ((3,), (2, 3, 4)),
    ((2, 4, 3), (3,)),
    ((2, 1, 2, 3), (3, 3, 2)),
    ((3, 1, 3), (2, 1, 3, 2)),
    ((3,), (2, 3, 3, 4)),
    ((2, 3, 4, 3), (3,)),
]
# Which operands require grad: both, only x, only y.
NEEDS = [(True, True), (True, False), (False, True)]


def _operands(xs, ys, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=xs), rng.normal(size=ys)


@pytest.mark.parametrize(("xs", "ys"), SHAPES)
def test_matmul_value_is_numpys_for_every_operand_rank(xs, ys):
    x, y = _operands(xs, ys)
    out = tg.matmul(x, y)
    want = np.matmul(x, y)
    assert out.shape == want.shape
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12)


@pytest.mark.parametrize(("xs", "ys"), SHAPES)
def test_matmul_gradients_match_finite_differences(xs, ys):
    x, y = _operands(xs, ys, seed=1)
    assert gradcheck(tg.matmul, x, y)


@pytest.mark.parametrize(("xs", "ys"), SHAPES)
@pytest.mark.parametrize("needs", NEEDS)
def test_matmul_gradient_of_one_operand_alone_has_its_shape_and_values(xs, ys, needs):
    # The backward computes only the gradients asked for; each must still be the full one.
    x, y = _operands(xs, ys, seed=2)
    a = tg.Tensor(x, requires_grad=needs[0])
    b = tg.Tensor(y, requires_grad=needs[1])
    out = a @ b
    seed = np.random.default_rng(3).uniform(0.5, 1.5, out.shape)
    out.backward(seed)
    both_a, both_b = tg.Tensor(x, requires_grad=True), tg.Tensor(y, requires_grad=True)
    (both_a @ both_b).backward(seed)
    for t, full, need in ((a, both_a, needs[0]), (b, both_b, needs[1])):
        if need:
            assert t.grad.shape == t.shape
            np.testing.assert_allclose(t.grad, full.grad, rtol=1e-12)
        else:
            assert t.grad is None


def _relative_error(got, want) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300))


@pytest.mark.parametrize(("xs", "ys"), SHAPES)
@pytest.mark.parametrize("needs", NEEDS)
def test_compiled_matmul_gives_the_eager_value_and_gradients(xs, ys, needs):
    # The emitters write backward's reshapes with the shapes spelled out: every rank
    # combination, and each operand's gradient on its own, must come out as the eager one.
    x, y = _operands(xs, ys, seed=4)
    step = tg.compile(lambda a, b: a @ b)
    eager = [tg.Tensor(x, requires_grad=needs[0]), tg.Tensor(y, requires_grad=needs[1])]
    compiled = [tg.Tensor(x, requires_grad=needs[0]), tg.Tensor(y, requires_grad=needs[1])]
    want = eager[0] @ eager[1]
    got = step(*compiled)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert _relative_error(got.numpy(), want.numpy()) <= 1e-12
    seed = np.random.default_rng(5).uniform(0.5, 1.5, want.shape)
    want.backward(seed)
    got.backward(seed)
    for e, c in zip(eager, compiled):
        if e.grad is None:
            assert c.grad is None
        else:
            assert c.grad.shape == e.grad.shape and c.grad.dtype == e.grad.dtype
            assert _relative_error(c.grad, e.grad) <= 1e-12, step.source


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_keeps_the_operands_dtype_in_value_and_gradients(dtype):
    a = tg.Tensor(np.ones((2, 3), dtype=dtype), requires_grad=True)
    b = tg.Tensor(np.ones((3,), dtype=dtype), requires_grad=True)
    out = a @ b
    assert out.dtype == dtype
    out.sum().backward()
    assert a.grad.dtype == dtype and b.grad.dtype == dtype
    np.testing.assert_array_equal(a.grad, np.ones((2, 3)))
    np.testing.assert_array_equal(b.grad, np.full(3, 2.0))


@pytest.mark.parametrize(
    ("xs", "ys", "message"),
    [
        (
            (),
            (3,),
            "matmul: cannot multiply () by (3,): matmul needs at least 1-D operands (use * for a scalar)",
        ),
        (
            (2, 3),
            (),
            "matmul: cannot multiply (2, 3) by (): matmul needs at least 1-D operands (use * for a scalar)",
        ),
        ((2, 3), (4, 5), "matmul: cannot multiply (2, 3) by (4, 5): inner dimensions 3 != 4"),
        ((2, 3), (4,), "matmul: cannot multiply (2, 3) by (4,): inner dimensions 3 != 4"),
        ((3,), (2, 5), "matmul: cannot multiply (3,) by (2, 5): inner dimensions 3 != 2"),
        (
            (2, 2, 3),
            (3, 3, 4),
            "matmul: cannot multiply (2, 2, 3) by (3, 3, 4): the stack (batch) dimensions (2,) and (3,) do not broadcast",
        ),
    ],
)
def test_matmul_refuses_operands_it_cannot_multiply_naming_both_shapes(xs, ys, message):
    with pytest.raises(ValueError) as err:
        tg.matmul(np.ones(xs), np.ones(ys))
    assert str(err.value) == message


@pytest.mark.parametrize(("xs", "ys"), SHAPES)
def test_matmul_second_derivatives_match_finite_differences(xs, ys):
    # backward(create_graph=True) runs the same reshapes on Tensors, recorded.
    x, y = _operands(xs, ys, seed=6)
    assert gradgradcheck(lambda a, b: (a @ b) * (a @ b), x, y)
