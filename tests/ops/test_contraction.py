"""einsum (tinygraph/_ops/contraction.py): values as numpy gives them, gradients against
finite differences (diagonals, traces, letters only one operand has, broadcasting), the
dtype kept, second derivatives, compiled code agreeing with the eager op, when numpy is
left to pick the contraction order, and the exact messages of its refusals."""

from __future__ import annotations

import string

import numpy as np
import pytest

import tinygraph as tg
from tinygraph._ops.contraction import _OPTIMIZE_ABOVE, Einsum, _optimize
from tinygraph.testing import gradcheck, gradgradcheck

# (subscripts, operand shapes). Repeated letters within an operand take diagonals; the
# letters of the diagonal operand and the other one are chosen so that the fresh letters
# the backward ties a diagonal with ('a', 'b', ...) are also used elsewhere in the spec.
CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("i,i->", [(3,), (3,)]),
    ("i,j->ij", [(2,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("iij->j", [(2, 2, 3)]),
    ("ii,ab->", [(2, 2), (3, 4)]),
    ("aa,b->", [(3, 3), (2,)]),
    ("aa,b->ab", [(3, 3), (2,)]),
    ("ij,ab->ia", [(2, 3), (2, 4)]),
    ("ii,i->i", [(3, 3), (3,)]),
    ("i,jj->ij", [(2,), (3, 3)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 4)]),
    ("ij,...j->...i", [(2, 3), (4, 1, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("ij,j,k->ik", [(2, 3), (3,), (4,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("i,i,i->", [(3,), (3,), (3,)]),
]


def _operands(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) for s in shapes]


@pytest.mark.parametrize(("spec", "shapes"), CASES)
def test_einsum_value_is_numpys(spec, shapes):
    xs = _operands(shapes)
    out = tg.einsum(spec, *[tg.Tensor(x) for x in xs])
    want = np.einsum(spec, *xs)
    assert out.shape == np.shape(want)
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("spec", "shapes"), CASES)
def test_einsum_gradients_match_finite_differences(spec, shapes):
    assert gradcheck(lambda *ts: tg.einsum(spec, *ts), *_operands(shapes, seed=1))


@pytest.mark.parametrize(("spec", "shapes"), [c for c in CASES if len(c[1]) == 2])
@pytest.mark.parametrize("which", [0, 1])
def test_einsum_gradient_of_one_operand_alone(spec, shapes, which):
    # Only one operand requires grad: its gradient is the same as when both do, the other gets none.
    xs = _operands(shapes, seed=2)
    seed = None
    ts = [tg.Tensor(x, requires_grad=(i == which)) for i, x in enumerate(xs)]
    out = tg.einsum(spec, *ts)
    seed = np.random.default_rng(3).uniform(0.5, 1.5, out.shape)
    out.backward(seed)
    both = [tg.Tensor(x, requires_grad=True) for x in xs]
    tg.einsum(spec, *both).backward(seed)
    np.testing.assert_allclose(ts[which].grad, both[which].grad, rtol=1e-12)
    assert ts[1 - which].grad is None


@pytest.mark.parametrize(
    ("spec", "shapes"),
    [("ii->i", [(3, 3)]), ("ii,ab->", [(2, 2), (3, 4)]), ("ij,jk->ik", [(2, 3), (3, 2)]), ("aa,b->ab", [(2, 2), (2,)])],
)
def test_einsum_second_derivatives_match_finite_differences(spec, shapes):
    # backward(create_graph=True) records the gradient's own einsum, identity matrices included.
    assert gradgradcheck(lambda *ts: tg.einsum(spec, *ts) * tg.einsum(spec, *ts), *_operands(shapes, seed=4))


@pytest.mark.parametrize(("spec", "shapes"), [("ii,ab->", [(2, 2), (3, 4)]), ("aa,b->ab", [(2, 2), (2,)])])
def test_einsum_second_derivative_with_one_operand_held_constant(spec, shapes):
    # Under create_graph the saved operand that needs no gradient may be a plain array.
    x, y = _operands(shapes, seed=5)
    assert gradgradcheck(lambda a: tg.einsum(spec, a, tg.Tensor(y)) ** 2, x)
    assert gradgradcheck(lambda b: tg.einsum(spec, tg.Tensor(x), b) ** 2, y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("spec", "shapes"), [("ii->i", [(3, 3)]), ("ii,ab->", [(2, 2), (3, 4)]), ("ij,jk->ik", [(2, 3), (3, 2)])]
)
def test_einsum_keeps_the_dtype_in_value_and_gradients(spec, shapes, dtype):
    # The identity matrices tying a diagonal are made in the gradient's dtype, not float64.
    ts = [tg.Tensor(x.astype(dtype), requires_grad=True) for x in _operands(shapes, seed=6)]
    out = tg.einsum(spec, *ts)
    assert out.dtype == dtype
    out.sum().backward()
    for t in ts:
        assert t.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("spec", "shapes"), [c for c in CASES if len(c[1]) <= 2])
def test_compiled_einsum_gives_the_eager_value_and_gradients(spec, shapes, dtype):
    xs = [x.astype(dtype) for x in _operands(shapes, seed=7)]
    step = tg.compile(lambda *ts: tg.einsum(spec, *ts))
    eager = [tg.Tensor(x, requires_grad=True) for x in xs]
    compiled = [tg.Tensor(x, requires_grad=True) for x in xs]
    want, got = tg.einsum(spec, *eager), step(*compiled)
    assert got.shape == want.shape and got.dtype == want.dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=tol, atol=tol)
    seed = np.random.default_rng(8).uniform(0.5, 1.5, want.shape).astype(dtype)
    want.backward(seed)
    got.backward(seed)
    for e, c in zip(eager, compiled):
        assert c.grad.shape == e.grad.shape and c.grad.dtype == e.grad.dtype, step.source
        np.testing.assert_allclose(c.grad, e.grad, rtol=tol, atol=tol, err_msg=step.source)


@pytest.mark.parametrize(
    ("spec", "shapes"),
    [("i->", [(1,)]), ("i,j->", [(1,), (3,)]), ("ij,j->", [(1, 1), (2,)]), ("ij,j->j", [(1, 2), (2,)])],
)
def test_einsum_gradient_of_a_size_one_letter_summed_away_keeps_the_operands_shape(spec, shapes):
    # A letter of size 1 that only this operand has is summed away like any other: its
    # gradient still has the operand's shape (once a () gradient, which the engine refused).
    xs = _operands(shapes, seed=9)
    assert gradcheck(lambda *ts: tg.einsum(spec, *ts), *xs)
    ts = [tg.Tensor(x, requires_grad=True) for x in xs]
    tg.compile(lambda *ts: tg.einsum(spec, *ts))(*ts).sum().backward()
    assert [t.grad.shape for t in ts] == list(shapes)


def test_einsum_gradient_when_the_subscripts_use_every_letter():
    # 52 letters, none repeated: the backward needs no fresh letter for a diagonal.
    spec = f"{string.ascii_lowercase},{string.ascii_uppercase}->{string.ascii_letters}"
    x, y = np.full((1,) * 26, 2.0), np.full((1,) * 26, 3.0)
    a, b = tg.Tensor(x, requires_grad=True), tg.Tensor(y, requires_grad=True)
    out = tg.einsum(spec, a, b)
    assert out.shape == (1,) * 52
    out.backward(np.full(out.shape, 5.0))
    np.testing.assert_array_equal(a.grad, np.full(x.shape, 15.0))
    np.testing.assert_array_equal(b.grad, np.full(y.shape, 10.0))


@pytest.mark.parametrize(("spec", "shapes"), [c for c in CASES if len(c[1]) == 2])
@pytest.mark.parametrize("which", [0, 1])
def test_compiled_einsum_gradient_of_one_operand_alone(spec, shapes, which):
    xs = _operands(shapes, seed=10)
    step = tg.compile(lambda a, b: tg.einsum(spec, a, b))
    eager = [tg.Tensor(x, requires_grad=(i == which)) for i, x in enumerate(xs)]
    compiled = [tg.Tensor(x, requires_grad=(i == which)) for i, x in enumerate(xs)]
    want, got = tg.einsum(spec, *eager), step(*compiled)
    seed = np.random.default_rng(11).uniform(0.5, 1.5, want.shape)
    want.backward(seed)
    got.backward(seed)
    np.testing.assert_allclose(compiled[which].grad, eager[which].grad, rtol=1e-12, err_msg=step.source)
    assert compiled[1 - which].grad is None


def test_einsum_takes_nested_lists_as_operands():
    # Operands without a shape or dtype (lists) are read as float64 arrays, one operand too.
    assert tg.einsum("ij,j->i", [[1.0, 2.0], [3.0, 4.0]], [1.0, 1.0]).numpy().tolist() == [3.0, 7.0]
    trace = tg.einsum("ii", [[1, 2], [3, 4]])
    assert trace.item() == 5.0 and trace.dtype == np.float64
    assert tg.einsum("i->", [1.0, 2.0, 4.0]).item() == 7.0


def test_numpy_picks_the_contraction_order_only_above_the_threshold():
    # The full sum has prod(sizes of the distinct letters) terms; letters with no size count 1.
    side = round(_OPTIMIZE_ABOVE ** (1 / 3))
    assert side**3 == _OPTIMIZE_ABOVE
    at = {"i": side, "j": side, "k": side}
    assert _optimize("ij,jk->ik", at) is False
    assert _optimize("ij,jk->ik", {**at, "k": side + 1}) is True
    assert _optimize("ij,jk->ik,", {**at, "l": 2}) is False  # 'l' is in no subscript
    assert _optimize("ij,jk->ik", {"i": side, "j": side}) is False  # 'k' without a size counts 1
    assert _optimize("iX,Xk->ik", {"i": side, "X": side, "k": side + 1}) is True
    assert _optimize("i,i->", {"i": _OPTIMIZE_ABOVE + 1}) is True
    assert _optimize("i,i->", {"i": _OPTIMIZE_ABOVE}) is False
    assert _optimize("i,i->", {"i": 1}) is False
    assert _optimize("ij,j->i", {"i": _OPTIMIZE_ABOVE}) is False  # 'j' without a size counts 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"out": np.zeros(())}, "einsum: out=, dtype=, order= and casting= are not supported on Tensors"),
        ({"dtype": np.float64}, "einsum: out=, dtype=, order= and casting= are not supported on Tensors"),
        ({"order": "C"}, "einsum: out=, dtype=, order= and casting= are not supported on Tensors"),
        ({"casting": "unsafe"}, "einsum: out=, dtype=, order= and casting= are not supported on Tensors"),
    ],
)
def test_einsum_refuses_numpys_output_options(kwargs, message):
    with pytest.raises(TypeError) as err:
        tg.einsum("i,i->", tg.Tensor([1.0, 2.0]), tg.Tensor([3.0, 4.0]), **kwargs)
    assert str(err.value) == message
    # The defaults, spelled out, are accepted.
    assert tg.einsum("i,i->", [1.0, 2.0], [3.0, 4.0], optimize=True, order="K", casting="safe").item() == 11.0


def test_einsum_without_operands_says_where_they_go():
    with pytest.raises(TypeError) as err:
        tg.einsum("i->")
    assert str(err.value) == "einsum: give the operands after the subscripts, e.g. einsum('ij,jk->ik', a, b)"


@pytest.mark.parametrize("spec", ["ij->i", "ij,jk", "i,j,k->ijk", "ij", "i->j,k->l"])
def test_einsum_op_takes_explicit_subscripts_for_two_operands(spec):
    # tg.einsum writes each pairwise step explicitly; the op refuses anything else.
    with pytest.raises(ValueError) as err:
        Einsum(spec)
    assert str(err.value) == f"einsum: the op takes explicit subscripts for two operands ('ij,jk->ik'), got {spec!r}"


def test_einsum_op_reads_its_subscripts():
    op = Einsum("ij,jk->ik")
    assert (op.spec, op.terms, op.out) == ("ij,jk->ik", ("ij", "jk"), "ik")
