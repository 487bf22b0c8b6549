"""What a picture says about the engine's numbers (tinygraph.viz._annotate): gradients after backward, values."""

from __future__ import annotations

import re

import numpy as np
import pytest
from viz_helpers import Picture, needs_dot, two_layer

import tinygraph as tg


class Blend(tg.Op):
    """A user op with two named operands and a setting: t * a + (1 - t) * b."""

    name = "blend"
    formula = ("da = g * t", "db = g * (1 - t)")

    def __init__(self, t):
        self.t = t

    def forward(self, a, b):
        return self.t * a + (1 - self.t) * b

    def backward(self, ctx, g):
        return g * self.t, g * (1 - self.t)


def test_show_grads_before_backward_says_to_call_backward():
    t = two_layer()
    with pytest.raises(RuntimeError, match=r"backward\(\)"):
        tg.draw(t["cost"], show_grads=True)


@needs_dot
def test_gradients_appear_only_when_asked_and_after_backward():
    t = two_layer(logits=True)
    t["cost"].backward(retain_graph=True)
    plain = Picture(tg.draw(t["cost"])).all_text()
    assert "dW1" not in plain and "dZ2" not in plain

    picture = Picture(tg.draw(t["cost"], show_grads=True))
    z2 = picture.nodes[picture.one("Z2")]
    # The document's dZ = (A - Y), averaged over the N samples by the mean in the cost.
    A2 = 1 / (1 + np.exp(-t["Z2"].data))
    expected = (A2 - t["Y"].data) / t["Y"].data.size
    shown = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", z2[-1])]
    np.testing.assert_allclose(shown, expected.ravel(), rtol=1e-3)
    assert z2[-2] == "dZ2"
    w1 = picture.nodes[picture.one("W1")]
    assert w1[-2] == "dW1" and "norm" in w1[-1]
    norm = float(re.search(r"norm (\S+)", w1[-1]).group(1))
    assert norm == pytest.approx(np.linalg.norm(t["W1"].grad), rel=1e-2)
    # Tensors that need no gradient show none.
    assert not any(text.startswith(("dX", "dY")) for text in picture.texts)


@needs_dot
def test_after_a_freeing_backward_only_leaves_and_retained_results_show_gradients():
    t = two_layer()
    t["Z1"].retain_grad()
    t["cost"].backward()
    picture = Picture(tg.draw(t["cost"], show_grads=True))
    text = picture.all_text()
    assert "dW1" in text and "db2" in text and "dZ1" in text
    assert "dZ2" not in text and "dA1" not in text
    assert any("freed by backward()" in line for line in picture.texts)


@needs_dot
def test_show_values_summarises_every_tensor():
    t = two_layer(n_1=2, N=2, n_x=2)
    picture = Picture(tg.draw(t["cost"], show_values=True))
    # Z1 is saved by no op (relu keeps its output), so its value is recomputed.
    z1 = picture.nodes[picture.one("Z1")]
    shown = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", z1[2])]
    np.testing.assert_allclose(shown, t["Z1"].data.ravel(), rtol=1e-3)
    big = two_layer()
    x = Picture(tg.draw(big["cost"], show_values=True)).nodes
    x_texts = next(texts for texts in x.values() if texts[0] == "X")
    assert x_texts[2] == f"min {big['X'].data.min():.3g} · mean {big['X'].data.mean():.3g} · max {big['X'].data.max():.3g}"
    assert len(Picture(tg.draw(big["cost"])).nodes["leaf0"]) == 2  # no values unless asked


@needs_dot
def test_user_ops_get_ports_named_after_forward_and_are_never_re_run():
    a = tg.Tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True, name="a")
    b = tg.Tensor([5.0, 4.0, 3.0, 2.0, 1.0], name="b")
    blended = Blend.apply(a, b, t=0.25)
    picture = Picture(tg.draw(tg.tanh(blended).sum(), show_formulas=True, show_values=True))
    node = picture.one("blend")
    assert picture.ports[node] == ["b", "a"]  # left to right, the first operand is the lowest port
    assert "da = g * t" in picture.nodes[node] and "db = g * (1 - t)" not in picture.nodes[node]
    # No op saved blend's result (tanh keeps its output) and user ops are not re-run,
    # so it shows no values; tanh's result, saved by tanh itself, does.
    assert picture.nodes[picture.one("blend out")] == ["blend out", "(5,) float64"]
    expected = np.tanh(0.25 * a.data + 0.75 * b.data)
    assert picture.nodes[picture.one("tanh out")][2] == (
        f"min {expected.min():.3g} · mean {expected.mean():.3g} · max {expected.max():.3g}"
    )


def test_gradients_of_a_root_with_several_elements():
    w = tg.Tensor([1.0, 2.0], requires_grad=True, name="w")
    y = (w * 3.0).named("y")
    y.backward(np.ones(2), retain_graph=True)
    source = tg.draw(y, show_grads=True).source
    assert "dw</B> [3.0, 3.0]" in source and "need a one-element root" in source
