"""max, min, var and std (tinygraph/_ops/reductions.py): axes, keepdims, ddof, the tie and
zero-spread rules of the gradients, dtypes, and the error messages."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck

X = tg.Tensor([[1.0, 2.0], [3.0, 4.0]])

ERRORS = [
    (lambda: tg.max(np.zeros((2, 0)), axis=1), ValueError, "max: the max over an empty axis of shape (2, 0) is undefined"),
    (lambda: tg.min(np.zeros((0, 3))), ValueError, "min: the min over an empty axis of shape (0, 3) is undefined"),
    (lambda: tg.max(X, axis=2), ValueError, "max: axis 2 is out of range for shape (2, 2)"),
    (
        lambda: tg.var(X, ddof=2, axis=0),
        ValueError,
        "var: 2 value(s) per result (axis=0, shape (2, 2)) leave no degrees of freedom with ddof=2",
    ),
    (
        lambda: tg.std(X, ddof=4),
        ValueError,
        "std: 4 value(s) per result (axis=None, shape (2, 2)) leave no degrees of freedom with ddof=4",
    ),
    (
        lambda: tg.var(X, axis=(0, 1), correction=5),
        ValueError,
        "var: 4 value(s) per result (axis=(0, 1), shape (2, 2)) leave no degrees of freedom with ddof=5",
    ),
    (lambda: tg.var(X, ddof="a"), TypeError, "var: ddof must be a number, got 'a'"),
    (lambda: tg.std(X, ddof=True), TypeError, "std: ddof must be a number, got True"),
    (lambda: tg.var(X, axis=3), ValueError, "var: axis 3 is out of range for shape (2, 2)"),
    (lambda: tg.std(X, axis=-3), ValueError, "std: axis -3 is out of range for shape (2, 2)"),
]


@pytest.mark.parametrize(("make", "kind", "message"), ERRORS, ids=[row[2][:50] for row in ERRORS])
def test_reduction_errors_say_exactly_what_is_wrong(make, kind, message):
    with pytest.raises(kind) as err:
        make()
    assert str(err.value) == message


A = np.array([[1.0, 5.0, 2.0, 7.5], [0.5, -3.0, 4.0, 1.0], [2.0, 2.5, -1.0, 0.0]])


@pytest.mark.parametrize("ddof", [0, 1, 2.5])
@pytest.mark.parametrize("axis", [None, 0, -1, (1, 0)])
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize(("ours", "numpys"), [(tg.var, np.var), (tg.std, np.std)])
def test_var_and_std_match_numpy_and_finite_differences(ours, numpys, axis, keepdims, ddof):
    n = A.size if axis is None else (A.shape[axis] if isinstance(axis, int) else A.size)
    if n - ddof <= 0:
        pytest.skip("no degrees of freedom")
    out = ours(A, axis=axis, keepdims=keepdims, ddof=ddof)
    want = numpys(A, axis=axis, keepdims=keepdims, ddof=ddof)
    assert out.shape == want.shape
    np.testing.assert_allclose(out.data, want, rtol=1e-13)
    assert gradcheck(lambda t: ours(t, axis=axis, keepdims=keepdims, ddof=ddof), A)


def test_correction_is_numpys_other_name_for_ddof():
    np.testing.assert_allclose(tg.var(A, axis=1, correction=1).data, np.var(A, axis=1, ddof=1))
    np.testing.assert_allclose(tg.std(A, correction=1.5).data, np.std(A, ddof=1.5))
    # ddof as the third positional argument, as in ndarray.var(axis, dtype, out, ddof) it is not:
    # here the signature is (axis, keepdims, ddof)
    np.testing.assert_allclose(tg.var(A, 0, True, 1).data, np.var(A, axis=0, keepdims=True, ddof=1))


def test_std_gradient_where_the_spread_is_zero_is_zero():
    t = tg.Tensor([[1.0, 3.0], [2.0, 2.0], [5.0, 5.0]], requires_grad=True)
    tg.std(t, axis=1).sum().backward()
    assert t.grad.tolist() == [[-0.5, 0.5], [0.0, 0.0], [0.0, 0.0]]
    u = tg.Tensor([4.0, 4.0, 4.0], requires_grad=True)
    (tg.std(u, ddof=1) * 3.0).backward()
    assert u.grad.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("fn", [tg.max, tg.min])
def test_extreme_gradients_keep_float32_and_share_ties(fn):
    t = tg.Tensor(np.array([[1.0, 5.0, 5.0], [2.0, -1.0, -1.0]], dtype=np.float32), requires_grad=True)
    out = fn(t, axis=1, keepdims=True)
    assert out.shape == (2, 1) and out.dtype == np.float32
    out.sum().backward()
    assert t.grad.dtype == np.float32
    want = [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]] if fn is tg.max else [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5]]
    assert t.grad.tolist() == want


@pytest.mark.parametrize("fn", [tg.max, tg.min, tg.var, tg.std])
@pytest.mark.parametrize("axis", [None, 0, (0, 1), -1])
def test_compiled_reductions_match_eager(fn, axis):
    step = tg.compile(lambda t: fn(t, axis=axis))
    a, b = tg.Tensor(A, requires_grad=True), tg.Tensor(A, requires_grad=True)
    eager, compiled = fn(a, axis=axis), step(b)
    np.testing.assert_allclose(compiled.data, eager.data, rtol=1e-13)
    seed = np.linspace(0.5, 1.5, eager.size).reshape(eager.shape)
    eager.backward(seed)
    compiled.backward(seed)
    np.testing.assert_allclose(b.grad, a.grad, rtol=1e-12)
