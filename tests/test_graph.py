"""Edge paths of the backward pass (tinygraph/_graph.py) that the rest of the suite let through.

Each test pins a behaviour that a deliberately broken engine got wrong while every other
test still passed (a mutation run, issue 13). Gradients are compared with central finite
differences of the same function, never only with another formula.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import numerical_gradient

A = np.array([0.3, -1.2, 2.0])


def _tanh_sum(v) -> float:
    return float(np.sum(np.tanh(v)))


# ----------------------------------------------------------------- several roots


def test_two_roots_that_are_the_same_tensor_count_twice():
    x = tg.Tensor(A, requires_grad=True)
    y = tg.tanh(x).sum()
    (twice,) = tg.grad([y, y], x)
    np.testing.assert_allclose(twice, 2 * numerical_gradient(_tanh_sum, A), rtol=1e-7)


def test_two_roots_on_the_same_tensor_add_their_seeds():
    x = tg.Tensor(A, requires_grad=True)
    y = tg.tanh(x)
    u, v = np.array([1.0, -2.0, 0.5]), np.array([0.25, 3.0, -1.0])
    (got,) = tg.grad([y, y], x, grad_outputs=[u, v])
    want = numerical_gradient(lambda p: float(np.sum((u + v) * np.tanh(p))), A)
    np.testing.assert_allclose(got, want, rtol=1e-7)


def test_a_leaf_given_twice_as_a_root_gets_both_seeds():
    x = tg.Tensor(A, requires_grad=True)
    u, v = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])
    (got,) = tg.grad([x, x], x, grad_outputs=[u, v])
    np.testing.assert_array_equal(got, u + v)


def test_two_different_roots_sum_their_gradients():
    x = tg.Tensor(A, requires_grad=True)
    first, second = tg.tanh(x).sum(), (x * x).sum()
    (got,) = tg.grad([first, second], x)
    want = numerical_gradient(lambda p: _tanh_sum(p) + float(np.sum(p * p)), A)
    np.testing.assert_allclose(got, want, rtol=1e-7)


# ----------------------------------------------------------------- retained non-leaves


def test_a_retained_non_leaf_accumulates_across_two_backward_calls():
    x = tg.Tensor(A, requires_grad=True)
    h = tg.tanh(x).retain_grad()
    loss = (h * h).sum()
    loss.backward(retain_graph=True)
    once = np.array(h.grad)
    loss.backward()
    dl_dh = numerical_gradient(lambda v: float(np.sum(v * v)), h.data)
    np.testing.assert_allclose(once, dl_dh, rtol=1e-7)
    np.testing.assert_allclose(h.grad, 2 * dl_dh, rtol=1e-7)
    # ...and the leaf below it too, as leaves always do.
    np.testing.assert_allclose(x.grad, 2 * numerical_gradient(lambda v: float(np.sum(np.tanh(v) ** 2)), A), rtol=1e-7)


def test_a_retained_non_leaf_used_twice_gets_the_sum_of_both_paths():
    x = tg.Tensor(A, requires_grad=True)
    h = (x * 2.0).retain_grad()
    (tg.tanh(h).sum() + (h * 3.0).sum()).backward()
    want = numerical_gradient(lambda v: _tanh_sum(v) + float(np.sum(3.0 * v)), h.data)
    np.testing.assert_allclose(h.grad, want, rtol=1e-7)


def test_a_retained_non_leaf_that_was_dropped_is_skipped():
    x = tg.Tensor(A, requires_grad=True)
    loss = (tg.tanh(x).retain_grad() * 2.0).sum()  # the retained tanh output is dropped at once
    gc.collect()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * (1 - np.tanh(A) ** 2), rtol=1e-12)


def test_retained_gradients_belong_to_their_tensor():
    x = tg.Tensor(A, requires_grad=True)
    h = (x + 0.0).retain_grad()
    h.sum().backward()  # add passes g through to x untouched: h and x must not share it
    h.grad += 100.0
    np.testing.assert_array_equal(x.grad, np.ones(3))


def test_tg_grad_leaves_retained_gradients_alone():
    x = tg.Tensor(A, requires_grad=True)
    h = tg.tanh(x).retain_grad()
    tg.grad((h * h).sum(), x)
    assert h.grad is None and x.grad is None


# ----------------------------------------------------------------- what backward writes and where


def test_backward_through_a_shared_subgraph_sums_every_path():
    x = tg.Tensor(A, requires_grad=True)
    h = tg.tanh(x)
    z = h * h + h.sigmoid() * h
    z.sum().backward()

    def f(v):
        t = np.tanh(v)
        return float(np.sum(t * t + t / (1 + np.exp(-t))))

    np.testing.assert_allclose(x.grad, numerical_gradient(f, A), rtol=1e-7)


def test_constants_get_no_gradient_and_their_inputs_are_untouched():
    x = tg.Tensor(A, requires_grad=True)
    c = tg.Tensor([1.0, 2.0, 3.0])
    (x * c + c * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, c.data)


def test_grad_of_an_input_that_the_outputs_do_not_depend_on_is_none():
    x = tg.Tensor(A, requires_grad=True)
    unused = tg.Tensor([1.0], requires_grad=True)
    gx, gu = tg.grad(tg.tanh(x).sum(), [x, unused])
    assert gu is None
    np.testing.assert_allclose(gx, numerical_gradient(_tanh_sum, A), rtol=1e-7)


def test_grad_with_respect_to_an_intermediate_and_a_leaf_at_once():
    x = tg.Tensor(A, requires_grad=True)
    h = x * 2.0
    gh, gx = tg.grad(tg.tanh(h).sum(), [h, x])
    np.testing.assert_allclose(gh, numerical_gradient(_tanh_sum, 2 * A), rtol=1e-7)
    np.testing.assert_allclose(gx, numerical_gradient(lambda v: _tanh_sum(2 * v), A), rtol=1e-7)


def test_a_second_backward_without_retain_graph_is_refused_naming_the_op():
    x = tg.Tensor(A, requires_grad=True)
    loss = tg.tanh(x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="backward: the graph through '(sum|tanh)' was already freed"):
        loss.backward()


def test_a_float32_leaf_gets_a_float32_gradient_from_float64_seeds():
    x = tg.Tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    (x * np.array([2.0, 3.0])).sum().backward()  # the product is float64, the leaf float32
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 3.0])
