"""Optimizer details the rest of the suite let through (a mutation run, issue 13):
documented defaults, the edges of their argument checks and the text of their errors."""

from __future__ import annotations

import pytest

import tinygraph as tg


def _params():
    return [tg.Tensor([1.0, 2.0], requires_grad=True, name="W"), tg.Tensor([0.5], requires_grad=True)]


@pytest.mark.parametrize("optimizer", [tg.optim.Adam, tg.optim.AdamW])
def test_adam_defaults_to_the_usual_learning_rate(optimizer):
    assert optimizer(_params()).lr == 0.001


def test_step_lr_defaults_to_a_tenth_per_step_size():
    schedule = tg.optim.StepLR(tg.optim.GD(_params(), lr=1.0), step_size=1)
    assert [schedule.step() for _ in range(2)] == pytest.approx([0.1, 0.01])


def test_cosine_lr_may_end_at_the_starting_rate():
    schedule = tg.optim.CosineLR(tg.optim.GD(_params(), lr=0.5), total_steps=4, min_lr=0.5)
    assert schedule.step() == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"^CosineLR: min_lr must be in \[0, 0.5\]"):
        tg.optim.CosineLR(tg.optim.GD(_params(), lr=0.5), total_steps=4, min_lr=0.6)


def test_parameter_errors_name_the_optimizer_and_the_parameter():
    w, b = _params()
    with pytest.raises(TypeError) as info:
        tg.optim.SGD([w, tg.Tensor([1.0])], lr=0.1)
    assert str(info.value) == "SGD: parameter 1 must be a leaf Tensor with requires_grad=True"
    with pytest.raises(ValueError) as info:
        tg.optim.Adam([w, b, w], lr=0.1)
    assert str(info.value) == "Adam: parameter 2 (W) is listed twice"
    with pytest.raises(ValueError) as info:
        tg.optim.Adam([b, b], lr=0.1)
    assert str(info.value) == "Adam: parameter 1 (unnamed) is listed twice"
