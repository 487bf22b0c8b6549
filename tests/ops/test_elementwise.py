"""Arithmetic and activations (tinygraph/_ops/elementwise.py): values, gradients, and the
compiled forms of the same ops, including graphs where only one operand needs a gradient."""

from __future__ import annotations


import numpy as np
import pytest

import tinygraph as tg


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
