"""tinygraph.nn.clip_grad_norm: the global norm over every gradient, scaled down to
max_norm exactly when above it, out of place, loud about nan and inf."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph import nn


def with_grads(*grads, dtype=np.float64):
    params = []
    for i, g in enumerate(grads):
        p = tg.Tensor(np.zeros(np.shape(g), dtype), requires_grad=True, name=f"p{i}")
        p.grad = np.asarray(g, dtype)
        params.append(p)
    return params


def global_norm(params):
    return math.hypot(*(float(x) for p in params if p.grad is not None for x in np.ravel(p.grad)))


def test_clipping_by_hand():
    a, b = with_grads([3.0, 4.0], [[12.0]])  # norm sqrt(9 + 16 + 144) = 13
    old_a = a.grad
    assert nn.clip_grad_norm([a, b], max_norm=6.5) == 13.0
    np.testing.assert_allclose(a.grad, [1.5, 2.0], rtol=1e-15)
    np.testing.assert_allclose(b.grad, [[6.0]], rtol=1e-15)
    assert global_norm([a, b]) == pytest.approx(6.5, rel=1e-15)
    assert old_a.tolist() == [3.0, 4.0] and a.grad is not old_a  # a new array, the old one untouched


def test_a_norm_below_max_norm_changes_nothing():
    a, b = with_grads([3.0, 4.0], [[12.0]])
    old = a.grad
    assert nn.clip_grad_norm([a, b], max_norm=13.0) == 13.0
    assert a.grad is old and a.grad.tolist() == [3.0, 4.0]


def test_parameters_without_a_gradient_are_skipped_and_duplicates_count_once():
    a, b = with_grads([3.0, 4.0], [1.0])
    b.grad = None
    assert nn.clip_grad_norm([a, b, a], max_norm=1.0) == 5.0
    np.testing.assert_allclose(a.grad, [0.6, 0.8], rtol=1e-15)
    assert b.grad is None
    assert nn.clip_grad_norm([b], max_norm=1.0) == 0.0  # nothing to clip
    zero = with_grads([0.0, 0.0])
    assert nn.clip_grad_norm(zero, max_norm=1.0) == 0.0 and zero[0].grad.tolist() == [0.0, 0.0]


def test_a_module_or_a_single_tensor_may_be_passed():
    net = nn.Sequential.mlp([3, 4, 1], rng=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for p in net.parameters():
        p.grad = rng.standard_normal(p.shape)
    norm = global_norm(net.parameters())
    assert nn.clip_grad_norm(net, 0.01) == pytest.approx(norm, rel=1e-14)
    assert global_norm(net.parameters()) == pytest.approx(0.01, rel=1e-14)
    (w,) = with_grads([6.0, 8.0])
    assert nn.clip_grad_norm(w, 5.0) == 10.0 and w.grad.tolist() == [3.0, 4.0]


def test_float32_gradients_stay_float32():
    (w,) = with_grads([3.0, 4.0], dtype=np.float32)
    nn.clip_grad_norm([w], 1.0)
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad, [0.6, 0.8], rtol=1e-7)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_gradient_is_an_error_and_nothing_changes(bad):
    a, b = with_grads([3.0, 4.0], [1.0, bad])
    with pytest.raises(ValueError, match=r"clip_grad_norm: the gradients' global norm is not finite: parameter 1 \(p1\) holds nan or inf"):
        nn.clip_grad_norm([a, b], 1.0)
    assert a.grad.tolist() == [3.0, 4.0]


@pytest.mark.parametrize("max_norm", [0, -1.0, math.nan, math.inf, True, "1"])
def test_max_norm_must_be_positive_and_finite(max_norm):
    with pytest.raises(ValueError, match="clip_grad_norm: max_norm must be a positive finite number"):
        nn.clip_grad_norm(with_grads([1.0]), max_norm)


def test_items_that_are_not_tensors_or_have_tensor_gradients_are_refused():
    with pytest.raises(TypeError, match="clip_grad_norm: item 1 is a ndarray, not a Tensor"):
        nn.clip_grad_norm([with_grads([1.0])[0], np.ones(2)], 1.0)
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    (x * x * x).sum().backward(create_graph=True)
    with pytest.raises(TypeError, match=r"parameter 0 \(unnamed\) has a Tensor gradient \(from create_graph=True\)"):
        nn.clip_grad_norm([x], 1.0)


@settings(max_examples=40, deadline=None)
@given(
    shapes=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3)), min_size=1, max_size=4),
    exponent=st.sampled_from([-200, -5, 0, 5, 200]),  # far beyond where naive squares under/overflow
    max_norm=st.floats(1e-3, 1e3),
    seed=st.integers(0, 2**16),
)
def test_the_global_norm_becomes_max_norm_exactly_and_directions_are_kept(shapes, exponent, max_norm, seed):
    rng = np.random.default_rng(seed)
    params = with_grads(*(rng.standard_normal(shape) * 10.0**exponent for shape in shapes))
    before = [p.grad for p in params]
    norm = global_norm(params)
    assert nn.clip_grad_norm(params, max_norm) == pytest.approx(norm, rel=1e-13)
    if norm > max_norm:
        assert global_norm(params) == pytest.approx(max_norm, rel=1e-13)
        for p, g in zip(params, before):
            np.testing.assert_allclose(p.grad, g * (max_norm / norm), rtol=1e-13)
    else:
        assert all(p.grad is g for p, g in zip(params, before))
