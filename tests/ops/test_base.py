"""What every built-in op shares (tinygraph/_ops/_base.py): the registry of primitives and
the helpers that let one backward rule run on arrays (the fast path) and on Tensors
(``create_graph=True``), where it must give the same values and be differentiable itself.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygraph as tg
from tinygraph._ops import OPS
from tinygraph._ops._base import (
    Primitive,
    broadcast_fail,
    clamp_min,
    is_array,
    sigmoid,
    swap_last,
    takes_parameters,
    where_positive,
)
from tinygraph.testing import numerical_gradient

# ----------------------------------------------------------------- the registry


@pytest.fixture
def registry():
    """OPS as it was before the test: the op table is read by the docs, pictures and other tests."""
    before = dict(OPS)
    yield OPS
    OPS.clear()
    OPS.update(before)


def test_a_new_primitive_is_registered_under_its_name(registry):
    class Cube(Primitive):
        name = "cube_of_the_registry_test"

        def forward(self, x):
            return x**3

        def backward(self, ctx, g):
            return None

    assert registry["cube_of_the_registry_test"] is Cube


def test_a_class_that_only_shares_code_is_not_registered_but_its_subclasses_are(registry):
    class _Family(Primitive):
        shared = True
        name = "family_of_the_registry_test"

        def forward(self, x):
            return x

        def backward(self, ctx, g):
            return g

    class Member(_Family):  # shared is read from the class itself: a member is an op
        name = "member_of_the_registry_test"

    assert "family_of_the_registry_test" not in registry
    assert registry["member_of_the_registry_test"] is Member


def test_a_second_op_of_a_registered_name_is_refused_and_the_first_kept(registry):
    exp = registry["exp"]
    with pytest.raises(TypeError) as info:

        class MyExp(Primitive):
            name = "exp"

            def forward(self, x):
                return np.exp(x)

            def backward(self, ctx, g):
                return g

    assert str(info.value) == "MyExp: an op named 'exp' is already registered (Exp)"
    assert registry["exp"] is exp


def test_ops_built_with_parameters_are_told_apart_from_shared_rules():
    # sum, reshape and pow are built with an axis, a shape, an exponent; exp and add are one rule each.
    assert takes_parameters(OPS["sum"]) and takes_parameters(OPS["reshape"]) and takes_parameters(OPS["pow"])
    assert not takes_parameters(OPS["exp"]) and not takes_parameters(OPS["add"])


# ----------------------------------------------------------------- helpers on arrays and on Tensors


def test_is_array_is_true_for_arrays_and_numpy_scalars_only():
    assert is_array(np.ones(2)) and is_array(np.float64(1.0))
    assert not is_array(tg.Tensor([1.0])) and not is_array(1.0)


def test_sigmoid_of_an_array_is_stable_and_exact_near_zero():
    x = np.array([-800.0, -1.0, 0.0, 1e-10, 1.0, 800.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow on the way
        got = sigmoid(x)
    np.testing.assert_allclose(got, [0.0, 1 / (1 + np.e), 0.5, 0.5 + 0.25e-10, 1 / (1 + np.exp(-1.0)), 1.0], rtol=1e-15)


def test_sigmoid_of_a_tensor_is_recorded_and_differentiable():
    x = tg.Tensor([-2.0, 0.5], requires_grad=True)
    s = sigmoid(x)
    assert isinstance(s, tg.Tensor)
    np.testing.assert_allclose(s.data, 1 / (1 + np.exp(-x.data)), rtol=1e-15)
    s.sum().backward()
    np.testing.assert_allclose(x.grad, s.data * (1 - s.data), rtol=1e-12)


def test_clamp_min_of_an_array_is_the_elementwise_maximum():
    np.testing.assert_array_equal(clamp_min(np.array([-1.0, 0.25, 3.0]), 0.25), [0.25, 0.25, 3.0])


def test_clamp_min_of_a_tensor_has_derivative_one_above_the_floor_and_zero_at_or_below_it():
    low = 0.125
    x = tg.Tensor([-1.0, low, 0.5, 2.0], requires_grad=True)
    out = clamp_min(x, low)
    assert isinstance(out, tg.Tensor) and out.dtype == np.float64
    np.testing.assert_array_equal(out.data, [low, low, 0.5, 2.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 1.0, 1.0])
    inside = np.array([-1.0, 0.5, 2.0])  # away from the kink: the same as finite differences
    v = tg.Tensor(inside, requires_grad=True)
    (got,) = tg.grad(clamp_min(v * 3.0, low).sum(), v)
    want = numerical_gradient(lambda p: float(np.sum(np.maximum(3.0 * p, low))), inside)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_clamp_min_of_a_float32_tensor_stays_float32():
    x = tg.Tensor(np.array([-1.0, 2.0], dtype=np.float32), requires_grad=True)
    out = clamp_min(x, 0.5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.data, np.array([0.5, 2.0], dtype=np.float32))


@pytest.mark.parametrize("wrap", [np.asarray, tg.Tensor], ids=["array", "Tensor"])
def test_where_positive_is_a_strict_mask_and_a_plain_array(wrap):
    mask = where_positive(wrap(np.array([-1.0, 0.5, 0.75, 2.0])), 0.5)
    assert type(mask) is np.ndarray and mask.dtype == np.bool_
    np.testing.assert_array_equal(mask, [False, False, True, True])


def test_swap_last_transposes_the_last_two_axes():
    m = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(swap_last(m), m.T)
    stack = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(swap_last(stack), np.swapaxes(stack, -1, -2))
    four = np.arange(48.0).reshape(2, 2, 3, 4)
    assert swap_last(four).shape == (2, 2, 4, 3)
    np.testing.assert_array_equal(swap_last(four), np.swapaxes(four, -1, -2))
    t = tg.Tensor(stack)
    np.testing.assert_array_equal(swap_last(t).data, np.swapaxes(stack, -1, -2))


def test_broadcast_fail_names_the_op_and_both_shapes():
    err = broadcast_fail("add", np.ones((2, 3)), np.ones(4))
    assert isinstance(err, ValueError)
    assert str(err) == "add: cannot broadcast shapes (2, 3) and (4,) together"
