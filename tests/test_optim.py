"""tinygraph.optim: each update checked against its textbook formula, worked out by hand
in the test on a tiny problem, f(w) = sum(c * w**2) with gradient 2 c w."""

import math

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import optim

C = np.array([1.0, 3.0])


def gradient_step(opt, w):
    """Set w.grad to the gradient of f at w (through backward), then step."""
    opt.zero_grad()
    (tg.Tensor(C) * w * w).sum().backward()
    opt.step()


def test_gd_is_the_documents_rule():
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.GD([w], lr=0.1)
    # step 1: g = 2 c w = [2, -12]; w = [1 - 0.2, -2 + 1.2] = [0.8, -0.8]
    gradient_step(opt, w)
    np.testing.assert_allclose(w.data, [0.8, -0.8], rtol=1e-15)
    # step 2: g = [1.6, -4.8]; w = [0.8 - 0.16, -0.8 + 0.48] = [0.64, -0.32]
    gradient_step(opt, w)
    np.testing.assert_allclose(w.data, [0.64, -0.32], rtol=1e-15)


def test_momentum_averages_the_gradients():
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.Momentum([w], lr=0.1, beta=0.5)
    # step 1: g = [2, -12]; v = 0.5 * 0 + 0.5 * g = [1, -6]; w = [1 - 0.1, -2 + 0.6] = [0.9, -1.4]
    gradient_step(opt, w)
    np.testing.assert_allclose(opt.velocity[0], [1.0, -6.0], rtol=1e-15)
    np.testing.assert_allclose(w.data, [0.9, -1.4], rtol=1e-15)
    # step 2: g = [1.8, -8.4]; v = 0.5 * [1, -6] + 0.5 * g = [1.4, -7.2]; w = [0.9 - 0.14, -1.4 + 0.72]
    gradient_step(opt, w)
    np.testing.assert_allclose(opt.velocity[0], [1.4, -7.2], rtol=1e-15)
    np.testing.assert_allclose(w.data, [0.76, -0.68], rtol=1e-14)


def test_momentum_with_beta_zero_is_gd():
    a, b = tg.Tensor([1.0, -2.0], requires_grad=True), tg.Tensor([1.0, -2.0], requires_grad=True)
    gd, momentum = optim.GD([a], lr=0.05), optim.Momentum([b], lr=0.05, beta=0.0)
    for _ in range(5):
        gradient_step(gd, a)
        gradient_step(momentum, b)
    np.testing.assert_array_equal(a.data, b.data)


def test_adam_three_steps_by_hand():
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.Adam([w], lr=lr, beta1=b1, beta2=b2, eps=eps)
    expected, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for t in (1, 2, 3):
        g = 2 * C * expected
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        expected = expected - lr * m_hat / (np.sqrt(v_hat) + eps)
        gradient_step(opt, w)
        assert opt.t == t
        np.testing.assert_allclose(opt.m[0], m, rtol=1e-14)
        np.testing.assert_allclose(opt.v[0], v, rtol=1e-14)
        np.testing.assert_allclose(w.data, expected, rtol=1e-14)


def test_adam_bias_correction_makes_the_first_step_lr_in_every_coordinate():
    # Without correction the first step would be lr (1 - b1) / sqrt(1 - b2) ~ 3.16 lr,
    # with it exactly lr g / (|g| + eps), whatever the gradient's scale.
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.Adam([w], lr=0.01)
    gradient_step(opt, w)  # g = [2, -12]
    np.testing.assert_allclose(w.data, [1.0 - 0.01 * 2 / (2 + 1e-8), -2.0 + 0.01 * 12 / (12 + 1e-8)], rtol=1e-15)
    tiny = tg.Tensor([1e-6], requires_grad=True)
    opt = optim.Adam([tiny], lr=0.01, eps=1e-12)
    opt.zero_grad()
    (tiny * 1e-3).sum().backward()  # gradient 1e-3, far below lr
    opt.step()
    assert tiny.data[0] == pytest.approx(1e-6 - 0.01, rel=1e-6)


def test_optimizers_minimise_a_quadratic():
    for name, lr in (("gd", 0.1), ("momentum", 0.1), ("adam", 0.1)):
        w = tg.Tensor([1.0, -2.0], requires_grad=True)
        opt = optim.OPTIMIZERS[name]([w], lr=lr)
        for _ in range(300):
            gradient_step(opt, w)
        assert np.max(np.abs(w.data)) < 1e-3, name


def test_parameters_without_a_gradient_are_left_alone():
    used, unused = tg.Tensor([1.0], requires_grad=True), tg.Tensor([5.0], requires_grad=True)
    opt = optim.Adam([used, unused], lr=0.1)
    (used * used).sum().backward()
    opt.step()
    assert unused.data.tolist() == [5.0] and used.data[0] < 1.0
    assert opt.m[1].tolist() == [0.0]


def test_zero_grad_forgets_the_gradients():
    w = tg.Tensor([1.0], requires_grad=True)
    opt = optim.GD([w], lr=0.1)
    (w * w).sum().backward()
    opt.zero_grad()
    assert w.grad is None
    opt.step()
    assert w.data.tolist() == [1.0]


def test_a_read_only_parameter_array_is_not_written_through():
    source = np.array([1.0, 2.0])
    source.setflags(write=False)
    w = tg.Tensor(source, requires_grad=True)
    (w * w).sum().backward()
    optim.GD([w], lr=0.25).step()
    assert w.data.tolist() == [0.5, 1.0] and source.tolist() == [1.0, 2.0]


@pytest.mark.parametrize("name", sorted(optim.OPTIMIZERS))
def test_a_step_never_writes_into_arrays_a_graph_or_the_user_still_holds(name):
    array = np.array([1.0, 2.0])
    w = tg.Tensor(array, requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    first = w.grad.copy()
    optim.OPTIMIZERS[name]([w], lr=0.25).step()
    assert array.tolist() == [1.0, 2.0] and w.data is not array  # the user's array is untouched
    w.grad = None
    loss.backward()  # the retained graph saved the old w: its gradient is unchanged
    np.testing.assert_array_equal(w.grad, first)


def test_a_network_trains_with_each_optimizer():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 40))
    Y = (X[:1] * X[1:] > 0).astype(float)  # XOR-like: needs the hidden layer
    for name, lr in (("gd", 0.5), ("momentum", 0.5), ("adam", 0.05)):
        net = tg.nn.Sequential.mlp([2, 8, 1], rng=np.random.default_rng(1))
        opt = optim.OPTIMIZERS[name](net.parameters(), lr=lr)
        first = None
        for _ in range(300):
            opt.zero_grad()
            cost = tg.binary_cross_entropy_with_logits(net(X), Y)
            first = cost.item() if first is None else first
            cost.backward()
            opt.step()
        assert cost.item() < 0.6 * first, name


# --------------------------------------------------------------------------- refused settings


@pytest.mark.parametrize("lr", [0, 0.0, -0.1, math.nan, math.inf, True, "0.1", None])
@pytest.mark.parametrize("name", ["gd", "momentum", "adam"])
def test_bad_learning_rates_are_refused(name, lr):
    w = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match=f"{optim.OPTIMIZERS[name].__name__}: lr must be a positive finite number"):
        optim.OPTIMIZERS[name]([w], lr=lr)


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (optim.Momentum, {"beta": 1.0}, r"Momentum: beta must be in \[0, 1\), got 1.0"),
        (optim.Momentum, {"beta": -0.1}, r"Momentum: beta must be in \[0, 1\)"),
        (optim.Momentum, {"beta": math.nan}, r"Momentum: beta must be in \[0, 1\)"),
        (optim.Adam, {"beta1": 1.0}, r"Adam: beta1 must be in \[0, 1\)"),
        (optim.Adam, {"beta2": 1.5}, r"Adam: beta2 must be in \[0, 1\)"),
        (optim.Adam, {"eps": 0.0}, "Adam: eps must be a positive finite number"),
        (optim.Adam, {"eps": -1e-8}, "Adam: eps must be a positive finite number"),
    ],
)
def test_bad_hyper_parameters_are_refused(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls([tg.Tensor([1.0], requires_grad=True)], lr=0.1, **kwargs)


def test_bad_parameter_lists_are_refused():
    w = tg.Tensor([1.0], requires_grad=True, name="w")
    with pytest.raises(ValueError, match="GD: got no parameters to optimise"):
        optim.GD([], lr=0.1)
    with pytest.raises(ValueError, match=r"GD: parameter 1 \(w\) is listed twice"):
        optim.GD([w, w], lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 must be a leaf Tensor with requires_grad=True"):
        optim.GD([tg.Tensor([1.0])], lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 must be a leaf Tensor"):
        optim.GD([w, w * 2], lr=0.1)
    with pytest.raises(TypeError, match="parameter 0 must be a leaf Tensor"):
        optim.GD([np.ones(2)], lr=0.1)
