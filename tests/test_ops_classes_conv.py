"""The softmax family, the multi-class losses, conv2d and max_pool2d beyond the op table:
stability at extreme logits, the exact fused gradient, the tie rule, bad input refused when
the op is built (naming the op and the shapes or values), and the code emitters."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph._compile import _Context
from tinygraph.testing import gradcheck
from tinygraph.testing import strategies as tgst

# ----------------------------------------------------------------- softmax family


def test_softmax_family_is_finite_for_logits_of_1e4():
    z = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, 0.0], [0.0, 0.0, -1e4]])
    assert np.isfinite(tg.logsumexp(z, axis=0).data).all()
    np.testing.assert_allclose(tg.logsumexp(z, axis=0).data, [1e4 + np.log(2), 1e4, np.log(2)], rtol=1e-15)
    np.testing.assert_allclose(tg.softmax(z).data[:, 1], [0.0, 1.0, 0.0])
    assert np.isfinite(tg.log_softmax(z).data).all()
    np.testing.assert_allclose(tg.log_softmax(z).data[:, 0], [-np.log(2), -np.log(2), -1e4 - np.log(2)])
    t = tg.Tensor(z, requires_grad=True)
    tg.cross_entropy(t, np.array([2, 0, 1])).backward()
    assert np.isfinite(t.grad).all()


def test_logsumexp_of_minus_infinity_is_minus_infinity():
    out = tg.logsumexp(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]), axis=1)
    assert out.data.tolist() == [-np.inf, 0.0]


@given(tgst.arrays(tgst.shapes(min_dims=1, max_dims=3)), st.data())
def test_softmax_sums_to_one_and_log_softmax_is_its_log(x, data):
    axis = data.draw(st.sampled_from(range(-x.ndim, x.ndim)))
    p = tg.softmax(x, axis=axis).data
    np.testing.assert_allclose(p.sum(axis=axis), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(tg.log_softmax(x, axis=axis).data), p, rtol=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: tg.softmax(np.ones((2, 3)), axis=2), "softmax: axis 2 is out of range for shape (2, 3)"),
        (lambda: tg.log_softmax(np.ones((2, 3)), axis=(0, 1)), "log_softmax: axis must be an int"),
        (lambda: tg.softmax(np.float64(1.0)), "softmax: axis 0 is out of range for shape ()"),
        (lambda: tg.logsumexp(np.ones((0, 3)), axis=0), "logsumexp: cannot reduce the empty axis of shape (0, 3)"),
    ],
)
def test_softmax_family_refuses_bad_axes(call, message):
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        call()


# ----------------------------------------------------------------- cross-entropy


@given(st.data())
def test_cross_entropy_gradient_is_exactly_softmax_minus_onehot_over_n(data):
    shape = data.draw(tgst.shapes(min_dims=1, max_dims=3))
    axis = data.draw(st.sampled_from(range(-len(shape), len(shape))))
    z = tg.Tensor(data.draw(tgst.arrays(shape, tgst.Domain(-30, 30))), requires_grad=True)
    labels = data.draw(tgst.class_labels(shape, axis))
    tg.cross_entropy(z, labels, axis=axis).backward()
    onehot = np.moveaxis(np.eye(shape[axis])[labels], -1, axis)
    n = z.size // shape[axis]
    assert np.array_equal(z.grad, (tg.softmax(z, axis=axis).data - onehot) / n)


def test_cross_entropy_in_the_documents_layout_ten_classes():
    rng = np.random.default_rng(0)
    Z = rng.standard_normal((10, 32))  # (classes, samples)
    Y = rng.integers(0, 10, size=32)
    log_p = Z - np.log(np.exp(Z).sum(axis=0))
    np.testing.assert_allclose(tg.cross_entropy(Z, Y).item(), -log_p[Y, np.arange(32)].mean(), rtol=1e-14)


def test_labels_and_one_hot_probabilities_give_the_same_loss_and_gradient():
    rng = np.random.default_rng(1)
    Z, labels = rng.standard_normal((4, 6)), rng.integers(0, 4, size=6)
    a, b = tg.Tensor(Z, requires_grad=True), tg.Tensor(Z, requires_grad=True)
    la, lb = tg.cross_entropy(a, labels), tg.cross_entropy(b, np.eye(4)[labels].T)
    la.backward()
    lb.backward()
    assert la.item() == pytest.approx(lb.item(), rel=1e-15)
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-15, atol=1e-17)


def test_labels_may_come_as_whole_floats_by_keyword_and_get_no_gradient():
    z = np.array([[1.0, 2.0], [0.5, -1.0]])
    expected = tg.cross_entropy(z, np.array([1, 0])).item()
    assert tg.cross_entropy(z, target=np.array([1.0, 0.0])).item() == expected
    labels = tg.Tensor([1.0, 0.0], requires_grad=True)
    logits = tg.Tensor(z, requires_grad=True)
    tg.cross_entropy(logits, labels).backward()
    assert logits.grad is not None and labels.grad is None


@given(tgst.arrays((3, 4)), tgst.arrays((3, 4), tgst.PROBABILITY))
def test_cross_entropy_probability_targets_gradcheck_in_both(z, p):
    gradcheck(lambda z, p: tg.cross_entropy(z, p, axis=1), z, p)


@pytest.mark.parametrize(
    "logits_shape, target, axis, message",
    [
        ((3, 4), np.array([0, 1, 3, 2]), 0, "cross_entropy: class labels must be whole numbers in [0, 3)"),
        ((3, 4), np.array([0, -1, 2, 2]), 0, "got -1"),
        ((3, 4), np.array([0, 1, 7, 3]), 0, "got 3, 7"),
        ((3, 4), np.array([0.0, 1.5, 2.0, np.nan]), 0, "got 1.5, nan"),
        ((3, 4), np.array([[0, 1, 2, 1]]), 0, "cross_entropy: target has shape (1, 4), but logits of shape (3, 4) with "
         "classes on axis 0 take class labels of shape (4,) or probabilities of shape (3, 4)"),
        ((3, 4), np.full((3, 4), 1.5), 0, "cross_entropy: target probabilities must lie in [0, 1]"),
        ((3, 4), np.array([0, 1, 2, 3]), 1, "classes on axis 1 take class labels of shape (3,)"),
        ((), np.array(0), 0, "cross_entropy: the logits are a 0-d value"),
        ((0, 4), np.zeros(4, dtype=int), 0, "hold no classes or no samples"),
        ((3, 4), np.zeros(3, dtype=int), 2, "cross_entropy: axis 2 is out of range for shape (3, 4)"),
    ],
)
def test_cross_entropy_refuses_bad_targets_when_built(logits_shape, target, axis, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        tg.cross_entropy(tg.Tensor(np.zeros(logits_shape), requires_grad=True), target, axis=axis)


def test_mse_loss_refuses_shapes_that_would_broadcast():
    with pytest.raises(ValueError, match=re.escape("mse_loss: pred has shape (1, 3) but target has shape (3,)")):
        tg.mse_loss(np.ones((1, 3)), np.ones(3))


# ----------------------------------------------------------------- conv2d and max_pool2d


def test_max_pool2d_ties_share_the_gradient_equally():
    x = tg.Tensor(np.array([[[[1.0, 1.0, 0.0], [1.0, 0.0, 2.0], [2.0, 2.0, 2.0]]]]), requires_grad=True)
    out = tg.max_pool2d(x, 2, stride=1)  # overlapping windows: shares add up
    assert out.data.tolist() == [[[[1.0, 2.0], [2.0, 2.0]]]]
    out.sum().backward()
    third = 1.0 / 3.0
    # windows: top-left ties three 1s, top-right has one 2, bottom-left ties two 2s, bottom-right three 2s
    expected = [[third, third, 0.0], [third, 0.0, 1.0 + third], [0.5, 0.5 + third, third]]
    np.testing.assert_allclose(x.grad[0, 0], expected, rtol=1e-15)


def test_max_pool2d_of_a_constant_image_spreads_evenly():
    x = tg.Tensor(np.ones((1, 2, 4, 4)), requires_grad=True)
    tg.max_pool2d(x, 2).sum().backward()
    assert (x.grad == 0.25).all()


def test_pooling_drops_the_rows_a_window_does_not_fill():
    x = tg.Tensor(np.arange(25.0).reshape(1, 1, 5, 5), requires_grad=True)
    out = tg.max_pool2d(x, 2)
    assert out.shape == (1, 1, 2, 2)
    out.sum().backward()
    assert x.grad[0, 0, 4].tolist() == [0.0] * 5 and x.grad[0, 0, :, 4].tolist() == [0.0] * 5


@settings(max_examples=20)
@given(tgst.conv2d_geometry(max_side=6, max_kernel=4, max_stride=3, max_padding=2), st.data())
def test_conv2d_is_the_windows_contracted_with_the_filters(geometry, data):
    """conv2d = im2col then a contraction; its gradient w.r.t. x is col2im of the contraction with w."""
    x_shape, w_shape, stride, padding = geometry
    x, w = data.draw(tgst.arrays(x_shape)), data.draw(tgst.arrays(w_shape))
    windows = tg.im2col(x, w_shape[2:], stride, padding).data
    np.testing.assert_allclose(
        tg.conv2d(x, w, stride=stride, padding=padding).data, np.einsum("ncpqij,fcij->nfpq", windows, w), atol=1e-12
    )


def test_conv2d_bias_by_keyword_or_position_or_none():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    with_b = tg.conv2d(x, w, b, padding=1).data
    assert np.array_equal(tg.conv2d(x, w, b=b, padding=1).data, with_b)
    assert np.array_equal(tg.conv2d(x, w, None, padding=1).data + b.reshape(1, 4, 1, 1), with_b)
    node = tg.conv2d(tg.Tensor(x), tg.Tensor(w, requires_grad=True), padding=1).node
    assert len(node.parents) == 2


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: tg.conv2d(np.ones((3, 8)), np.ones((2, 1, 3, 3))), ValueError,
         "conv2d: x must be a batch of images (N, C, H, W), got shape (3, 8)"),
        (lambda: tg.conv2d(np.ones((1, 1, 8, 8)), np.ones((2, 3, 3))), ValueError,
         "conv2d: w must be filters (F, C, kh, kw), got shape (2, 3, 3)"),
        (lambda: tg.conv2d(np.ones((1, 3, 8, 8)), np.ones((2, 1, 3, 3))), ValueError,
         "conv2d: x has 3 channels (shape (1, 3, 8, 8)) but the filters w expect 1 (shape (2, 1, 3, 3))"),
        (lambda: tg.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 5, 5)), padding=0), ValueError,
         "conv2d: the kernel (5, 5) is larger than the padded input (4, 4) (x of shape (1, 1, 4, 4), padding (0, 0))"),
        (lambda: tg.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), np.ones((2, 1))), ValueError,
         "conv2d: b must have shape (F,) = (2,) for w of shape (2, 1, 3, 3), got (2, 1)"),
        (lambda: tg.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), stride=0), ValueError,
         "conv2d: stride must be positive, got 0"),
        (lambda: tg.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), padding=(1, -1)), ValueError,
         "conv2d: padding must be non-negative, got (1, -1)"),
        (lambda: tg.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), stride=1.5), TypeError,
         "conv2d: stride must be an int or a pair of ints, got 1.5"),
        (lambda: tg.max_pool2d(np.ones((1, 1, 3, 3)), 4), ValueError,
         "max_pool2d: the kernel (4, 4) is larger than the padded input (3, 3)"),
        (lambda: tg.max_pool2d(np.ones((3, 3)), 2), ValueError,
         "max_pool2d: x must be a batch of images (N, C, H, W), got shape (3, 3)"),
        (lambda: tg.max_pool2d(np.ones((1, 1, 4, 4)), 2, stride=(1, 0)), ValueError,
         "max_pool2d: stride must be positive, got (1, 0)"),
        (lambda: tg.max_pool2d(np.ones((1, 1, 4, 4)), (2, 2, 2)), TypeError,
         "max_pool2d: kernel_size must be an int or a pair of ints, got (2, 2, 2)"),
        (lambda: tg.col2im(np.ones((1, 1, 3, 3, 2, 2)), image_size=(3, 3)), ValueError,
         "col2im: windows of shape (1, 1, 3, 3, 2, 2) do not come from images of size (3, 3)"),
    ],
)
def test_conv_and_pool_refuse_bad_input_when_built(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()


def test_conv2d_float32_stays_float32_through_padding_and_stride():
    x = tg.Tensor(np.ones((2, 1, 5, 5), dtype=np.float32), requires_grad=True)
    w = tg.Tensor(np.ones((3, 1, 2, 2), dtype=np.float32), requires_grad=True)
    out = tg.max_pool2d(tg.conv2d(x, w, stride=2, padding=1), 2)
    out.sum().backward()
    assert out.dtype == x.grad.dtype == w.grad.dtype == np.float32


# ----------------------------------------------------------------- code emitters


def _evaluate_emitters(out):
    """Run the op's emitted forward and backward text with numpy on its recorded inputs."""
    node = out.node
    names = [f"x{i}" for i in range(len(node.parents))]
    space = {"np": np, **{name: parent.saved[0] for name, parent in zip(names, node.parents)}}
    # The values the op's forward and backward lines share, each under its own name, as tg.compile runs them.
    shared = node.rule.emit_residuals(node, *names) if getattr(node.rule, "emit_residuals", None) else {}
    for name, text in shared.items():
        space[name] = eval(text, space)
    ctx = _Context(node, node.needs, {name: name for name in shared})
    forward = eval(node.rule.emit_forward(ctx, *names), space)
    g = np.linspace(-1.0, 1.0, out.size).reshape(out.shape).astype(out.dtype)
    saved = [f"s{i}" for i in range(len(node.rule.saves))]  # the eager residuals are not the emitters'
    space.update(zip(saved, node.saved), g=g)
    texts = node.rule.emit_backward(ctx, "g", *saved)
    expected = node.rule.backward(node, g, *node.saved)
    expected = expected if isinstance(expected, tuple) else (expected,)
    return forward, [(None if t is None else eval(t, space)) for t in texts], expected


EMITTED = {
    # name: the op applied to leaves made by leaf(shape, kind), Tensors that require grad
    "logsumexp": lambda leaf: tg.logsumexp(leaf((3, 4)), axis=1, keepdims=True),
    "logsumexp all": lambda leaf: tg.logsumexp(leaf((3, 4))),
    "softmax": lambda leaf: tg.softmax(leaf((3, 4))),
    "log_softmax": lambda leaf: tg.log_softmax(leaf((2, 3, 4)), axis=-1),
    "cross_entropy labels": lambda leaf: tg.cross_entropy(leaf((3, 4)), np.array([0, 2, 1, 1])),
    "cross_entropy probabilities": lambda leaf: tg.cross_entropy(leaf((4, 3)), leaf((4, 3), "probabilities"), axis=1),
    "mse_loss": lambda leaf: tg.mse_loss(leaf((3, 4)), leaf((3, 4))),
    "conv2d": lambda leaf: tg.conv2d(leaf((2, 2, 5, 6)), leaf((3, 2, 3, 2)), leaf((3,)), stride=(2, 1), padding=(1, 2)),
    "conv2d without bias": lambda leaf: tg.conv2d(leaf((2, 1, 4, 4)), leaf((2, 1, 2, 2))),
    "max_pool2d": lambda leaf: tg.max_pool2d(leaf((2, 2, 5, 6)), 2),
    "max_pool2d with ties": lambda leaf: tg.max_pool2d(leaf((2, 2, 5, 6), "ties"), 3, (1, 2)),
    "im2col": lambda leaf: tg.im2col(leaf((2, 2, 5, 6)), (2, 3), stride=2, padding=1),
    "col2im": lambda leaf: tg.col2im(leaf((2, 2, 3, 3, 2, 3)), image_size=(5, 6), stride=2, padding=1),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(EMITTED))
def test_emitted_numpy_computes_what_the_op_computes(name, dtype):
    rng = np.random.default_rng(3)

    def leaf(shape, kind="real"):
        values = {"real": rng.standard_normal, "ties": lambda s: np.round(rng.standard_normal(s)), "probabilities": rng.random}
        return tg.Tensor(values[kind](shape).astype(dtype), requires_grad=True)

    out = EMITTED[name](leaf)
    forward, grads, expected = _evaluate_emitters(out)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    assert np.asarray(forward).dtype == dtype
    np.testing.assert_allclose(forward, out.data, **tol)
    for got, want in zip(grads, expected):
        assert (got is None) == (want is None)
        if got is not None:
            assert np.asarray(got).dtype == dtype
            np.testing.assert_allclose(np.broadcast_to(got, want.shape), want, **tol)
