"""Arithmetic and activations (tinygraph/_ops/elementwise.py): values, gradients, and the
compiled forms of the same ops, including graphs where only one operand needs a gradient."""

from __future__ import annotations


import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck


def _grads(fn, arrays, wants):
    """Eager and compiled gradients of sum(fn(*inputs)) for the inputs flagged in ``wants``."""
    results = []
    for run in (fn, tg.compile(fn)):
        inputs = [tg.Tensor(a.copy(), requires_grad=w) for a, w in zip(arrays, wants)]
        out = run(*inputs)
        out.backward(np.ones(out.shape, dtype=out.dtype))
        results.append((out, [t.grad for t in inputs]))
    return results


@pytest.mark.parametrize(
    ("fn", "wants"),
    [
        (lambda x, c: x - c, (True, False)),
        (lambda c, x: c - x, (False, True)),
        (lambda x, c: x / c, (True, False)),
        (lambda c, x: c / x, (False, True)),
        (lambda x, c: x + c, (True, False)),
        (lambda c, x: c * x, (False, True)),
    ],
    ids=["x-c", "c-x", "x/c", "c/x", "x+c", "c*x"],
)
def test_compiled_binary_op_gives_the_one_operand_that_needs_it_its_gradient(fn, wants):
    # A constant operand (requires_grad=False) gets no gradient; the other must still get its own.
    arrays = [np.array([1.5, -2.0, 4.0]), np.array([2.0, 0.5, -3.0])]
    (eager, eager_grads), (compiled, compiled_grads) = _grads(fn, arrays, wants)
    np.testing.assert_allclose(compiled.data, eager.data, rtol=1e-12)
    for want, a, b in zip(wants, eager_grads, compiled_grads):
        if not want:
            assert a is None and b is None
        else:
            assert b is not None
            np.testing.assert_allclose(b, a, rtol=1e-12)


def test_power_of_one_and_of_zero_have_slopes_one_and_zero_eager_and_compiled():
    x = np.array([0.0, 2.0, -3.0])
    for p, slope in ((1.0, np.ones(3)), (0.0, np.zeros(3))):
        (_, (eager,)), (_, (compiled,)) = _grads(lambda t, p=p: tg.power(t, p), [x], (True,))
        # x**0 is constant: its slope is 0 even at x = 0, where p * x**(p - 1) would be 0 * inf = nan.
        np.testing.assert_array_equal(eager, slope)
        np.testing.assert_array_equal(compiled, slope)


def test_compiled_exp_base_keeps_float32():
    x = np.array([0.5, -1.25, 3.0], dtype=np.float32)
    step = tg.compile(lambda t: 3.0 ** t)
    out = step(tg.Tensor(x))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, (3.0 ** tg.Tensor(x)).data)


X = tg.Tensor([1.0, 2.0])

ERRORS = [
    (lambda: tg.power(X, "a"), TypeError, "pow: the exponent must be a real number, got str; for a Tensor exponent write exp(y * log(x))"),
    (lambda: tg.power(X, True), TypeError, "pow: the exponent must be a real number, got bool; for a Tensor exponent write exp(y * log(x))"),
    (
        lambda: tg.power(X, np.array([2.0])),
        TypeError,
        "pow: the exponent must be a real number, got ndarray; for a Tensor exponent write exp(y * log(x))",
    ),
    (
        lambda: tg.power([-1.0, 4.0], 0.5),
        ValueError,
        "pow: input of shape (2,) has negative values (min -1), and a negative base with the non-integer exponent 0.5 "
        "has no real value",
    ),
    (
        lambda: tg.power([0.0, 4.0], -1.0),
        ValueError,
        "pow: input of shape (2,) has zeros, and zero to the negative power -1.0 is infinite",
    ),
    (lambda: tg.log([-2.0, 1.0]), ValueError, "log: input of shape (2,) has negative values (min -2)"),
    (
        lambda: (-2.0) ** X,
        TypeError,
        "exp_base: the base of a power with a Tensor exponent must be a positive number, got -2.0",
    ),
    (lambda: True ** X, TypeError, "exp_base: the base of a power with a Tensor exponent must be a positive number, got True"),
]


@pytest.mark.parametrize(("make", "kind", "message"), ERRORS, ids=[row[2][:50] for row in ERRORS])
def test_elementwise_errors_say_exactly_what_is_wrong(make, kind, message):
    with pytest.raises(kind) as err:
        make()
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("x", "p", "want"),
    [
        ([0.0, 2.0], np.array(3.0), [0.0, 8.0]),  # a 0-d array exponent is a number
        ([0.0, 2.0], 0.0, [1.0, 1.0]),  # 0 ** 0 = 1: no error at zero for p = 0
        ([-2.0, 2.0], 3, [-8.0, 8.0]),  # a negative base with a whole exponent is real
        ([0.0, 1.0, 4.0], 0.5, [0.0, 1.0, 2.0]),  # zero to a positive power is fine
        ([-3.0, 0.5], 2, [9.0, 0.25]),
        ([1.0, 4.0], -0.5, [1.0, 0.5]),
    ],
)
def test_power_domain_edges(x, p, want):
    assert tg.power(x, p).tolist() == want


def test_power_gradient_matches_finite_differences():
    for p in (2.0, 3.0, -1.5, 0.5, 1.0):
        assert gradcheck(lambda t, p=p: tg.power(t, p), np.array([0.5, 1.5, 2.25]))


def test_log_of_zero_is_minus_infinity_and_a_zero_d_array_base_is_a_number():
    with np.errstate(divide="ignore"):
        assert tg.log([0.0, 1.0]).tolist() == [-np.inf, 0.0]
    assert (np.array(4.0) ** tg.Tensor([0.5])).tolist() == [2.0]


# ----------------------------------------------------------------- relu's fast forward


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("size", [8191, 8192, 8193, 1024 * 9 + 5, 40_000])
def test_relu_forward_equals_numpy_maximum_on_both_sides_of_the_fast_path(size, dtype):
    # The fast path compares rows against a zero row and the tail against a scalar; the
    # sizes straddle where it starts and put values in the tail.
    rng = np.random.default_rng(size)
    x = rng.standard_normal(size).astype(dtype)
    x[[0, size // 2, -1]] = [np.nan, -0.0, -np.inf]
    x[[1, -2]] = [np.inf, 0.0]
    want = np.maximum(x, 0.0)
    got = tg.relu(x).data
    assert got.dtype == dtype
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))  # -0.0 stays what numpy gives


@pytest.mark.parametrize("make", [
    lambda a: a[: 128 * 256].reshape(128, 256),
    lambda a: np.asfortranarray(a[: 128 * 256].reshape(128, 256)),
    lambda a: a.reshape(256, 256)[:, ::2],
    lambda a: a.reshape(16, 32, 8, 16),
    lambda a: a[: 128 * 256].reshape(128, 256).astype(">f8"),
    lambda a: a[: 100 * 97].reshape(100, 97),  # C order, a size that is no multiple of the rows compared
], ids=["C", "F", "strided", "4-D", "big-endian", "C, ragged"])
def test_relu_of_large_arrays_in_any_layout_equals_numpy_maximum_and_leaves_the_input(make):
    x = make(np.random.default_rng(0).standard_normal(256 * 256))
    x_before = x.copy()
    t = tg.Tensor(x, requires_grad=True)
    out = tg.relu(t)
    assert np.array_equal(out.data, np.maximum(x_before, 0.0))
    assert out.data.dtype == np.maximum(x_before, 0.0).dtype  # native byte order, as numpy gives
    assert np.array_equal(x, x_before)
    out.backward(np.ones(x.shape))
    assert np.array_equal(t.grad, (x_before > 0).astype(float))
