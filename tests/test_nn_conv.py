"""nn's layers for images and ten classes: Conv2d, MaxPool2d, Flatten, Softmax/LogSoftmax and
Sequential.mlp's output heads (issue 10, part B)."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import nn
from tinygraph.testing import gradcheck


def small_cnn(rng, *, pool: bool = True):
    """conv 3x3 -> tanh -> max-pool 2 -> conv -> tanh -> flatten -> linear: the issue's CNN, small."""
    layers = [nn.Conv2d(1, 3, 3, padding=1, rng=rng), nn.Activation("tanh")]
    layers += [nn.MaxPool2d(2)] if pool else []
    layers += [nn.Conv2d(3, 2, 2, stride=2, rng=rng), nn.Activation("tanh"), nn.Flatten()]
    side = 1 if pool else 2
    layers += [nn.Linear(2 * side * side, 4, rng=rng)]
    return nn.Sequential(*layers)


def test_a_small_cnn_runs_and_names_its_parameters():
    net = small_cnn(np.random.default_rng(0))
    X = np.random.default_rng(1).standard_normal((5, 1, 4, 4))
    assert net(X).shape == (4, 5)  # (classes, samples), ready for cross_entropy
    assert [name for name, _ in net.named_parameters()] == ["0.W", "0.b", "3.W", "3.b", "6.W", "6.b"]


def test_gradients_through_the_layers_match_finite_differences():
    rng = np.random.default_rng(2)
    net = small_cnn(rng, pool=False)  # no kink: finite differences are exact everywhere
    X = rng.standard_normal((3, 1, 4, 4))
    labels = np.array([0, 3, 1])
    params = net.parameters()

    # gradcheck hands in fresh leaves: put them in the layers' places for the call.
    def through(*leaves):
        originals = [(layer, dict(vars(layer))) for layer in net.layers]
        try:
            i = 0
            for layer in net.layers:
                for key in ("W", "b"):
                    if isinstance(getattr(layer, key, None), tg.Tensor):
                        setattr(layer, key, leaves[i])
                        i += 1
            return tg.cross_entropy(net(X), labels)
        finally:
            for layer, saved in originals:
                vars(layer).update(saved)

    gradcheck(through, *[p.data.copy() for p in params])


def test_conv2d_layer_options():
    rng = np.random.default_rng(3)
    layer = nn.Conv2d(2, 4, (3, 2), stride=(2, 1), padding=(1, 0), bias=False, rng=rng, index=1)
    assert [name for name, _ in layer.named_parameters()] == ["W1"]
    assert layer.b is None
    out = layer(np.ones((1, 2, 5, 5)))
    assert out.shape == (1, 4, 3, 4) and out.name == "Z1"
    np.testing.assert_array_equal(out.data, tg.conv2d(np.ones((1, 2, 5, 5)), layer.W.data, stride=(2, 1), padding=(1, 0)).data)


@pytest.mark.parametrize("init, variance", [("he", 2.0 / 27), ("xavier", 2.0 / (27 + 64 * 9))])
def test_conv2d_initialisers_scale_with_the_fans(init, variance):
    W = nn.Conv2d(3, 64, 3, init=init, rng=np.random.default_rng(4)).W.data  # fan_in 27, fan_out 576
    assert W.var() == pytest.approx(variance, rel=0.1)
    assert nn.Conv2d(3, 64, 3, init="document", rng=np.random.default_rng(4)).W.data.max() < 0.01


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: nn.Conv2d(0, 4, 3), ValueError, "Conv2d: in_channels must be a positive integer, got 0"),
        (lambda: nn.Conv2d(1, 4, 3, init="lecun"), ValueError, "Conv2d: unknown init 'lecun'"),
        (lambda: nn.Conv2d(1, 4, 3, stride=0), ValueError, "conv2d: stride must be positive, got 0"),
        (lambda: nn.Conv2d(1, 4, 0), ValueError, "im2col: kernel_size must be positive, got 0"),
        (lambda: nn.MaxPool2d((2, 2, 2)), TypeError, "max_pool2d: kernel_size must be an int or a pair of ints"),
        (lambda: nn.Softmax(axis=0.5), TypeError, "Softmax: axis must be an int, got 0.5"),
        (lambda: nn.Sequential.mlp([4, 10], output="sofmax"), ValueError,
         "Sequential.mlp: unknown output 'sofmax'; choose None (logits) or one of"),
    ],
)
def test_layers_refuse_bad_arguments_when_built(build, error, message):
    with pytest.raises(error, match=re.escape(message)):
        build()


def test_conv2d_layer_refuses_images_of_the_wrong_channel_count():
    with pytest.raises(ValueError, match=re.escape("conv2d: x has 3 channels (shape (2, 3, 8, 8))")):
        nn.Conv2d(1, 4, 3)(np.ones((2, 3, 8, 8)))


def test_flatten_puts_samples_in_columns():
    X = np.arange(2 * 3 * 2 * 2, dtype=float).reshape(2, 3, 2, 2)
    A = nn.Flatten()(X)
    assert A.shape == (12, 2)
    np.testing.assert_array_equal(A.data[:, 1], X[1].ravel())
    with pytest.raises(ValueError, match=re.escape("Flatten: expects samples first")):
        nn.Flatten()(np.ones(3))


def test_mlp_ten_class_heads():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((8, 6))
    logits = nn.Sequential.mlp([8, 16, 10], rng=np.random.default_rng(6))
    probs = nn.Sequential.mlp([8, 16, 10], output="softmax", rng=np.random.default_rng(6))
    logs = nn.Sequential.mlp([8, 16, 10], output="log_softmax", rng=np.random.default_rng(6))
    Z = logits(X)
    np.testing.assert_allclose(probs(X).data, tg.softmax(Z).data, rtol=1e-15)
    np.testing.assert_allclose(logs(X).data, tg.log_softmax(Z).data, rtol=1e-15)
    assert probs(X).name == "A2" and [n for n, _ in probs.named_parameters()] == ["W1", "b1", "W2", "b2"]
    assert repr(probs.layers[-1]) == "Softmax(axis=0)"
    # The document's binary heads are unchanged.
    assert repr(nn.Sequential.mlp([8, 4, 1], output="sigmoid").layers[-1]) == "Activation('sigmoid')"


def test_a_ten_class_mlp_learns_with_cross_entropy():
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((10, 5)) * 3
    labels = rng.integers(0, 10, size=200)
    X = (centres[labels] + rng.standard_normal((200, 5)) * 0.3).T  # (features, samples)
    net = nn.Sequential.mlp([5, 32, 10], rng=np.random.default_rng(8))
    opt = tg.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(60):
        net.zero_grad()
        loss = tg.cross_entropy(net(X), labels)
        loss.backward()
        opt.step()
    assert (net(X).data.argmax(axis=0) == labels).mean() > 0.95


def test_cnn_state_dict_round_trip():
    a, b = small_cnn(np.random.default_rng(9)), small_cnn(np.random.default_rng(10))
    file = io.BytesIO()
    np.savez(file, **a.state_dict())
    file.seek(0)
    b.load_state_dict(np.load(file))
    X = np.random.default_rng(11).standard_normal((2, 1, 4, 4))
    np.testing.assert_array_equal(a(X).data, b(X).data)
