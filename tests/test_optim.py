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


# --------------------------------------------------------------------------- weight decay


def test_gd_weight_decay_adds_lambda_w_to_the_gradient():
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.GD([w], lr=0.1, weight_decay=0.1)
    # g = 2 c w = [2, -12]; g + 0.1 w = [2.1, -12.2]; w = [1 - 0.21, -2 + 1.22]
    gradient_step(opt, w)
    np.testing.assert_allclose(w.data, [0.79, -0.78], rtol=1e-15)
    # g = [1.58, -4.68]; g + 0.1 w = [1.659, -4.758]; w = [0.79 - 0.1659, -0.78 + 0.4758]
    gradient_step(opt, w)
    np.testing.assert_allclose(w.data, [0.6241, -0.3042], rtol=1e-14)


def test_momentum_weight_decay_enters_the_average():
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.Momentum([w], lr=0.1, beta=0.5, weight_decay=0.1)
    # g + 0.1 w = [2.1, -12.2]; v = 0.5 * that = [1.05, -6.1]; w = [1 - 0.105, -2 + 0.61]
    gradient_step(opt, w)
    np.testing.assert_allclose(opt.velocity[0], [1.05, -6.1], rtol=1e-15)
    np.testing.assert_allclose(w.data, [0.895, -1.39], rtol=1e-15)


@pytest.mark.parametrize("make", [
    lambda ps: optim.GD(ps, lr=0.1, weight_decay=0.5),
    lambda ps: optim.SGD(ps, lr=0.1, weight_decay=0.5),
    lambda ps: optim.Adam(ps, lr=0.1, weight_decay=0.5),
])
def test_decay_alone_shrinks_weights_by_one_minus_lr_lambda_per_step(make):
    # With a zero gradient, L2 decay in GD is w (1 - α λ); decoupled decay in Adam too
    # (Adam's direction m / (sqrt(v) + eps) is 0), where an L2 term would move Adam by about α.
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    opt = make([w])
    for _ in range(3):
        w.grad = np.zeros(2)
        opt.step()
    np.testing.assert_allclose(w.data, np.array([1.0, -2.0]) * 0.95**3, rtol=1e-15)


def test_adam_decay_is_decoupled_from_the_moments():
    b1, b2, eps, lr, wd = 0.9, 0.999, 1e-8, 0.01, 0.3
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.Adam([w], lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd)
    expected, m, v = np.array([1.0, -2.0]), np.zeros(2), np.zeros(2)
    for t in (1, 2, 3):
        g = 2 * C * expected  # the loss's gradient only: the decay never enters m and v
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        expected = expected - lr * (m_hat / (np.sqrt(v_hat) + eps) + wd * expected)
        gradient_step(opt, w)
        np.testing.assert_allclose(opt.m[0], m, rtol=1e-14)
        np.testing.assert_allclose(opt.v[0], v, rtol=1e-14)
        np.testing.assert_allclose(w.data, expected, rtol=1e-14)


def test_adamw_is_adam_with_decay_on_by_default():
    a, b = tg.Tensor([1.0, -2.0], requires_grad=True), tg.Tensor([1.0, -2.0], requires_grad=True)
    adamw, adam = optim.AdamW([a], lr=0.05), optim.Adam([b], lr=0.05, weight_decay=0.01)
    assert isinstance(adamw, optim.Adam) and adamw.weight_decay == 0.01
    for _ in range(4):
        gradient_step(adamw, a)
        gradient_step(adam, b)
    np.testing.assert_array_equal(a.data, b.data)


def test_decay_regularises_a_fit():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((3, 20)), rng.standard_normal((1, 20))
    fitted = []
    for wd in (0.0, 1.0):
        W = tg.Tensor(np.zeros((1, 3)), requires_grad=True)
        opt = optim.GD([W], lr=0.1, weight_decay=wd)
        for _ in range(500):
            opt.zero_grad()
            ((W @ tg.Tensor(X) - tg.Tensor(y)) ** 2).mean().backward()
            opt.step()
        fitted.append(np.linalg.norm(W.data))
    # the fixed point of decay is ridge regression: (2 X Xᵀ / N + λ I) W = 2 X yᵀ / N
    assert fitted[1] < 0.9 * fitted[0]
    ridge = np.linalg.solve(2 * X @ X.T / 20 + np.eye(3), 2 * X @ y.T / 20)
    np.testing.assert_allclose(np.linalg.norm(ridge), fitted[1], rtol=1e-10)


# --------------------------------------------------------------------------- SGD


def test_sgd_without_momentum_is_gd():
    a, b = tg.Tensor([1.0, -2.0], requires_grad=True), tg.Tensor([1.0, -2.0], requires_grad=True)
    sgd, gd = optim.SGD([a], lr=0.05, weight_decay=0.2), optim.GD([b], lr=0.05, weight_decay=0.2)
    assert sgd.velocity is None  # no buffer to keep
    for _ in range(5):
        gradient_step(sgd, a)
        gradient_step(gd, b)
    np.testing.assert_array_equal(a.data, b.data)


def test_sgd_momentum_is_pytorchs_heavy_ball():
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.1)
    # step 1: g = [2, -12] + 0.1 w = [2.1, -12.2]; v = g; w = [1 - 0.21, -2 + 1.22] = [0.79, -0.78]
    gradient_step(opt, w)
    np.testing.assert_allclose(opt.velocity[0], [2.1, -12.2], rtol=1e-15)
    np.testing.assert_allclose(w.data, [0.79, -0.78], rtol=1e-15)
    # step 2: g = [1.58, -4.68] + [0.079, -0.078] = [1.659, -4.758]
    # v = 0.9 [2.1, -12.2] + g = [3.549, -15.738]; w = [0.79 - 0.3549, -0.78 + 1.5738]
    gradient_step(opt, w)
    np.testing.assert_allclose(opt.velocity[0], [3.549, -15.738], rtol=1e-14)
    np.testing.assert_allclose(w.data, [0.4351, 0.7938], rtol=1e-14)


def test_sgd_and_momentum_differ_by_one_minus_beta():
    a, b = tg.Tensor([1.0, -2.0], requires_grad=True), tg.Tensor([1.0, -2.0], requires_grad=True)
    sgd, course = optim.SGD([a], lr=0.01, momentum=0.8), optim.Momentum([b], lr=0.05, beta=0.8)
    for _ in range(5):  # v_sgd = v_course / (1 - β), so α_sgd = (1 - β) α_course gives the same steps
        gradient_step(sgd, a)
        gradient_step(course, b)
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12)


@pytest.mark.parametrize("momentum", [1.0, -0.5, math.nan, "0.9"])
def test_sgd_refuses_momentum_outside_0_1(momentum):
    with pytest.raises(ValueError, match=r"SGD: momentum must be in \[0, 1\)"):
        optim.SGD([tg.Tensor([1.0], requires_grad=True)], lr=0.1, momentum=momentum)


@pytest.mark.parametrize("cls", [optim.GD, optim.SGD, optim.Momentum, optim.Adam, optim.AdamW])
@pytest.mark.parametrize("weight_decay", [-0.1, math.nan, math.inf, True, "0.1", None])
def test_bad_weight_decays_are_refused(cls, weight_decay):
    with pytest.raises(ValueError, match=f"{cls.__name__}: weight_decay must be a finite number >= 0"):
        cls([tg.Tensor([1.0], requires_grad=True)], lr=0.1, weight_decay=weight_decay)


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.25, momentum=0.9, weight_decay=0.1),
    lambda ps: optim.Momentum(ps, lr=0.25, weight_decay=0.1),
    lambda ps: optim.AdamW(ps, lr=0.25),
])
def test_decaying_steps_stay_out_of_place(make):
    array = np.array([1.0, 2.0])
    w = tg.Tensor(array, requires_grad=True)
    (w * w).sum().backward()
    make([w]).step()
    assert array.tolist() == [1.0, 2.0] and w.data is not array


# --------------------------------------------------------------------------- schedules


def an_optimizer(lr=1.0):
    return optim.GD([tg.Tensor([1.0], requires_grad=True)], lr=lr)


def test_step_lr_values_and_what_step_sets():
    opt = an_optimizer(0.8)
    schedule = optim.StepLR(opt, step_size=3, gamma=0.5)
    assert [schedule(t) for t in range(8)] == [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2]
    assert opt.lr == 0.8  # calling the schedule changes nothing
    seen = [schedule.step() for _ in range(7)]
    assert seen == [0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2] and opt.lr == 0.2 and schedule.t == 7


def test_cosine_lr_values_by_hand():
    schedule = optim.CosineLR(an_optimizer(1.0), total_steps=4)
    expected = [1.0, (1 + math.cos(math.pi / 4)) / 2, 0.5, (1 + math.cos(3 * math.pi / 4)) / 2, 0.0, 0.0]
    np.testing.assert_allclose([schedule(t) for t in range(6)], expected, rtol=1e-15, atol=1e-16)
    assert schedule(0) == 1.0 and schedule(4) == 0.0 and schedule(100) == 0.0  # exact ends
    floored = optim.CosineLR(an_optimizer(0.1), total_steps=2, min_lr=0.02)
    assert [floored(t) for t in (0, 2, 3)] == [0.1, 0.02, 0.02]
    assert floored(1) == pytest.approx(0.06, rel=1e-15)


def test_a_schedule_changes_the_steps_the_optimizer_takes():
    w = tg.Tensor([1.0, -2.0], requires_grad=True)
    opt = optim.GD([w], lr=0.1)
    schedule = optim.StepLR(opt, step_size=1, gamma=0.5)
    gradient_step(opt, w)  # lr 0.1: [0.8, -0.8]
    schedule.step()
    gradient_step(opt, w)  # lr 0.05: g = [1.6, -4.8]; w = [0.8 - 0.08, -0.8 + 0.24]
    np.testing.assert_allclose(w.data, [0.72, -0.56], rtol=1e-15)
    adam = optim.Adam([tg.Tensor([1.0], requires_grad=True)], lr=0.01)
    cosine = optim.CosineLR(adam, total_steps=10)
    for _ in range(10):
        cosine.step()
    assert adam.lr == 0.0


@pytest.mark.parametrize(
    "make, error, message",
    [
        (lambda: optim.StepLR([], step_size=1), TypeError, "StepLR: expected a tinygraph Optimizer, got list"),
        (lambda: optim.StepLR(an_optimizer(), step_size=0), ValueError, "StepLR: step_size must be a positive integer, got 0"),
        (lambda: optim.StepLR(an_optimizer(), step_size=1.5), ValueError, "step_size must be a positive integer, got 1.5"),
        (lambda: optim.StepLR(an_optimizer(), step_size=2, gamma=0), ValueError, "StepLR: gamma must be a positive finite"),
        (lambda: optim.StepLR(an_optimizer(), step_size=2, gamma=math.nan), ValueError, "gamma must be a positive finite"),
        (lambda: optim.CosineLR(an_optimizer(), total_steps=0), ValueError, "CosineLR: total_steps must be a positive integer"),
        (lambda: optim.CosineLR(an_optimizer(), total_steps=True), ValueError, "total_steps must be a positive integer"),
        (lambda: optim.CosineLR(an_optimizer(0.1), 5, min_lr=0.2), ValueError, r"CosineLR: min_lr must be in \[0, 0.1\]"),
        (lambda: optim.CosineLR(an_optimizer(0.1), 5, min_lr=-0.01), ValueError, "min_lr must be in"),
        (lambda: optim.StepLR(an_optimizer(), 2)(-1), ValueError, "StepLR: the step t must be >= 0, got -1"),
        (lambda: optim.CosineLR(an_optimizer(), 2)(1.0), TypeError, "CosineLR: the step t must be a whole number, got float"),
    ],
)
def test_schedules_refuse_bad_settings(make, error, message):
    with pytest.raises(error, match=message):
        make()
