"""logsumexp, softmax and log_softmax (tinygraph/_ops/softmax.py): the class axis and its
checks, stability for logits of any size (eager and compiled), and the gradients."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck, gradgradcheck

X = tg.Tensor([[1.0, 2.0], [3.0, 4.0]])

ERRORS = [
    (lambda: tg.logsumexp(X, axis=5), ValueError, "logsumexp: axis 5 is out of range for shape (2, 2)"),
    (lambda: tg.logsumexp(X, axis=(0, -3)), ValueError, "logsumexp: axis -3 is out of range for shape (2, 2)"),
    (
        lambda: tg.logsumexp(np.zeros((2, 0)), axis=1),
        ValueError,
        "logsumexp: cannot reduce the empty axis of shape (2, 0) (axis 1)",
    ),
    (lambda: tg.softmax(X, axis=5), ValueError, "softmax: axis 5 is out of range for shape (2, 2)"),
    (lambda: tg.log_softmax(X, axis=-3), ValueError, "log_softmax: axis -3 is out of range for shape (2, 2)"),
    (
        lambda: tg.softmax(X, axis=1.0),
        TypeError,
        "softmax: axis must be an int (the class axis), got 1.0 for shape (2, 2)",
    ),
    (
        lambda: tg.softmax(X, axis=None),
        TypeError,
        "softmax: axis must be an int (the class axis), got None for shape (2, 2)",
    ),
    (
        lambda: tg.log_softmax(X, axis=True),
        TypeError,
        "log_softmax: axis must be an int (the class axis), got True for shape (2, 2)",
    ),
    (
        lambda: tg.softmax(X, axis=np.bool_(False)),
        TypeError,
        "softmax: axis must be an int (the class axis), got np.False_ for shape (2, 2)",
    ),
]


@pytest.mark.parametrize(("make", "kind", "message"), ERRORS, ids=[row[2][:48] for row in ERRORS])
def test_softmax_family_errors_say_exactly_what_is_wrong(make, kind, message):
    with pytest.raises(kind) as err:
        make()
    assert str(err.value) == message


@pytest.mark.parametrize("axis", [1, -1, np.int64(1), np.int32(-1)])
@pytest.mark.parametrize("fn", [tg.softmax, tg.log_softmax])
def test_any_integer_spelling_of_the_class_axis_is_the_same_axis(fn, axis):
    z = np.array([[0.0, 1.0, 3.0], [2.0, -1.0, 0.5]])
    want = fn(z, axis=1).data
    np.testing.assert_array_equal(fn(z, axis=axis).data, want)
    assert np.allclose(np.exp(fn(z, axis=axis).data).sum(axis=1) if fn is tg.log_softmax else want.sum(axis=1), 1.0)


def test_softmax_defaults_to_the_first_axis_the_class_axis():
    z = np.array([[0.0, 5.0], [0.0, 1.0], [0.0, -2.0]])
    np.testing.assert_allclose(tg.softmax(z).data.sum(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(np.exp(tg.log_softmax(z).data).sum(axis=0), [1.0, 1.0])
    np.testing.assert_allclose(tg.softmax(z).data[:, 0], [1 / 3] * 3)


# Slices of very different sizes: each must be shifted by its own maximum, not the global one.
WIDE = np.array([[0.0, 1000.0, -5.0], [1.0, 999.0, -1000.0]])


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: tg.softmax(t, axis=0),
        lambda t: tg.log_softmax(t, axis=0),
        lambda t: tg.softmax(t.T, axis=1),
        lambda t: tg.log_softmax(t.T, axis=-1),
        lambda t: tg.logsumexp(t, axis=0),
        lambda t: tg.logsumexp(t.T, axis=1, keepdims=True),
    ],
)
def test_softmax_family_is_finite_per_slice_eager_and_compiled(fn):
    eager_x, compiled_x = tg.Tensor(WIDE, requires_grad=True), tg.Tensor(WIDE, requires_grad=True)
    eager = fn(eager_x)
    compiled = tg.compile(fn)(compiled_x)
    assert np.isfinite(eager.data).all()
    np.testing.assert_allclose(compiled.data, eager.data, rtol=1e-12)
    seed = np.linspace(0.5, 1.5, eager.size).reshape(eager.shape)
    eager.backward(seed)
    compiled.backward(seed)
    assert np.isfinite(eager_x.grad).all()
    np.testing.assert_allclose(compiled_x.grad, eager_x.grad, rtol=1e-12, atol=1e-300)


def test_softmax_of_large_logits_matches_the_shifted_formula():
    z = np.array([[1e4, 0.0], [1e4 + 1.0, 1.0]])
    e = np.exp(z - z.max(axis=0))
    np.testing.assert_allclose(tg.softmax(z).data, e / e.sum(axis=0), rtol=1e-15)
    np.testing.assert_allclose(tg.log_softmax(z).data, np.log(e / e.sum(axis=0)), rtol=1e-15)


def test_slices_of_infinities():
    # A slice of -inf logits: its logsumexp is -inf, quietly (log 0 is expected there), and its
    # softmax 0 / 0 is nan; a slice holding +inf has logsumexp +inf; finite slices next to
    # them are unaffected (the shift of a non-finite maximum is 0, not inf).
    z = np.array([[-np.inf, 0.0, 1.0], [-np.inf, 0.0, np.inf]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = tg.logsumexp(z, axis=0).data
    with np.errstate(invalid="ignore"):
        soft = tg.softmax(z, axis=0).data
    assert out[0] == -np.inf and out[2] == np.inf
    np.testing.assert_allclose(out[1], np.log(2.0))
    np.testing.assert_allclose(soft[:, 1], [0.5, 0.5])
    assert np.isnan(soft[:, 0]).all()


def test_logsumexp_of_an_all_minus_infinity_row_is_minus_infinity_without_a_warning():
    z = np.array([[-np.inf, -np.inf], [0.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = tg.logsumexp(z, axis=1).data
    with np.errstate(invalid="ignore"):
        logp = tg.log_softmax(z, axis=1).data
    assert out[0] == -np.inf
    np.testing.assert_allclose(out[1], np.log(2.0))
    np.testing.assert_allclose(logp[1], [-np.log(2.0)] * 2)


def test_log_softmax_of_a_minus_infinity_slice_warns_only_that_its_result_is_nan():
    # log(0) on the way is expected (logsumexp is -inf there, quietly); the nan it then
    # gives, -inf - (-inf), is what the one warning is about.
    z = np.array([[-np.inf, 1.0], [-np.inf, 2.0]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = tg.log_softmax(z, axis=0).data
    assert [str(w.message) for w in caught] == ["invalid value encountered in subtract"]
    assert np.isnan(out[:, 0]).all() and np.isfinite(out[:, 1]).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fn", [tg.softmax, tg.log_softmax])
def test_softmax_keeps_the_dtype_with_infinite_maxima(fn, dtype):
    z = np.array([[-np.inf, 0.5], [-np.inf, 1.5]], dtype=dtype)
    with np.errstate(invalid="ignore"):
        out = fn(z, axis=0)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data[:, 1], fn(np.array([0.5, 1.5]), axis=0).data, rtol=1e-6)


def test_softmax_of_an_empty_class_axis_is_empty():
    out = tg.softmax(np.zeros((0, 3)), axis=0)
    assert out.shape == (0, 3)
    assert tg.log_softmax(np.zeros((2, 0)), axis=1).shape == (2, 0)


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("fn", [tg.softmax, tg.log_softmax])
def test_softmax_gradients_match_finite_differences(fn, axis):
    z = np.array([[0.3, -1.2, 2.0], [1.1, 0.4, -0.7]])
    assert gradcheck(lambda t: fn(t, axis=axis), z)
    assert gradgradcheck(lambda t: fn(t, axis=axis), z)


@pytest.mark.parametrize(("axis", "keepdims"), [(None, False), (0, True), ((0, 1), False), (-1, False)])
def test_logsumexp_value_and_gradient(axis, keepdims):
    z = np.array([[0.3, -1.2, 2.0], [1.1, 0.4, -0.7]])
    want = np.log(np.exp(z).sum(axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(tg.logsumexp(z, axis=axis, keepdims=keepdims).data, want, rtol=1e-14)
    assert gradcheck(lambda t: tg.logsumexp(t, axis=axis, keepdims=keepdims), z)


@pytest.mark.parametrize("fn", [tg.softmax, tg.log_softmax, lambda z, axis: tg.logsumexp(z, axis=axis)])
def test_a_slice_of_minus_infinities_leaves_large_finite_slices_shifted_by_their_own_maximum(fn):
    # Only the non-finite maximum is replaced by 0; the finite slice next to it is still
    # shifted by 1000, so nothing overflows there.
    z = np.array([[-np.inf, 1000.0], [-np.inf, 999.0]])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = fn(z, axis=0).data
    want = fn(np.array([[1000.0], [999.0]]), axis=0).data
    np.testing.assert_allclose(out[..., 1], want[..., 0], rtol=1e-15)
    assert np.isfinite(out[..., 1]).all()
