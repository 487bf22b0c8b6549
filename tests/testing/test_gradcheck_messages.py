"""What gradcheck says when it fails: the ratio, a hint for a familiar mistake, and the op to blame.

The wrong derivatives are those of tests/testing/test_checkers.py's table, plus a few
this file adds (a transpose, a mask that cuts too much).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck, gradgradcheck
from tinygraph.testing._hints import diagnose, sizes_of


def _load(path: Path, name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


T = _load(Path(__file__).resolve().parent / "test_checkers.py", "_check_graph_checker_table")
CASES = {case.name: case for case in T.CASES}


def failure(checker, case_name: str) -> str:
    case = CASES[case_name]
    with pytest.raises(AssertionError) as info:
        checker(case.fn, *case.inputs)
    return str(info.value)


HINTS = {
    "wrong factor 2": "a factor of 2: analytic = 2 x numeric at every element",
    "wrong factor 1/N": "a factor of 1/N, N = 4",
    "mean without 1/N": "a factor of N = 4 (the size of input 0)",
    "wrong sign": "a flipped sign: analytic = -numeric at every element",
    "zero gradient": "analytic is zero everywhere, numeric is not",
    "second input's gradient dropped": "analytic is zero everywhere, numeric is not: the backward returns zeros (or None) for input 1",
    "absolute gradient |g|": "right magnitudes, wrong signs at 1 of 4 elements",
    "gradients swapped between two inputs": "the gradients of input 0 and input 1 are swapped",
}
BLAMED = {
    "wrong factor 2": "cube_twice", "wrong factor 1/N": "cube_over_n", "mean without 1/N": "forgetful_mean",
    "wrong sign": "cube_negated", "zero gradient": "cube_zero", "second input's gradient dropped": "product_dropped",
    "absolute gradient |g|": "cube_abs", "gradients swapped between two inputs": "product_swapped",
    "reversed gradient g[::-1]": "cube_reversed", "wrong by rows summing to zero": "cube_plus_m",
}


@pytest.mark.parametrize("name", sorted(BLAMED))
def test_first_order_failures_give_ratio_hint_and_blame(name):
    message = failure(gradcheck, name)
    first, *rest = message.splitlines()
    assert first.startswith("gradcheck: input ") and "analytic " in first and "numeric " in first
    assert rest[0].startswith("  ratio analytic/numeric ")
    if name in HINTS:
        assert f"  hint: {HINTS[name]}" in message
    else:
        assert "hint:" not in message  # no pattern claimed where there is none
    blame = [line for line in rest if line.startswith("  blame: ")]
    assert blame == [line for line in rest if "blame" in line] and len(blame) == 1
    assert blame[0].startswith(f"  blame: check_graph finds the wrong backward in '{BLAMED[name]}'")
    assert "built at tests/testing/test_" in blame[0]  # where the op was applied: the table's lambda, or here


def test_the_ratio_line_says_when_it_is_the_same_everywhere():
    assert "ratio analytic/numeric 2 at this element, the same at all 4 elements that differ" in failure(gradcheck, "wrong factor 2")
    assert "from " in failure(gradcheck, "reversed gradient g[::-1]").splitlines()[1]


@pytest.mark.parametrize(
    "name, op",
    [("second derivative twice", "slope_twice"), ("second derivative negated", "slope_negated"),
     ("second derivative over N", "slope_over_n"), ("second derivative zero", "slope_zero")],
)
def test_second_order_failures_blame_the_op_whose_backward_is_wrong(name, op):
    message = failure(gradgradcheck, name)
    assert message.startswith("gradgradcheck (second order): input 0")
    assert f"blame: check_graph finds the wrong backward in '{op}'" in message


def test_a_backward_that_is_not_differentiable_is_explained():
    message = failure(gradgradcheck, "backward not differentiable")
    assert "blame: fn's result has no recorded path to its inputs" in message and ".data" in message


def test_a_transposed_gradient_of_a_square_input():
    class Transposing(tg.Op):
        name = "transposing"

        def forward(self, x):
            return 2.0 * x

        def backward(self, ctx, g):
            return 2.0 * g.T

    with pytest.raises(AssertionError) as info:
        gradcheck(Transposing.apply, np.arange(9.0).reshape(3, 3) / 7)
    assert "hint: analytic is the transpose of numeric" in str(info.value)
    assert "blame: check_graph finds the wrong backward in 'transposing'" in str(info.value)


def test_a_mask_that_cuts_too_much():
    class Clipped(tg.Op):
        name = "clipped_square"
        saves = ("x",)

        def forward(self, x):
            return x * x

        def backward(self, ctx, g, x):
            return g * 2.0 * x * (x > 0.5)  # drops the slope below 0.5

    with pytest.raises(AssertionError, match="zero at 2 of 4 elements where numeric is not, and right elsewhere"):
        gradcheck(Clipped.apply, np.array([0.2, 0.9, -0.7, 1.3]))


def test_a_right_function_with_a_kink_in_reach_is_not_blamed_on_an_op():
    # relu 3e-7 from its kink: central differences over eps = 1e-6 straddle it, so
    # gradcheck fails; every op's backward is right, and check_graph says so.
    with pytest.raises(AssertionError) as info:
        gradcheck(lambda x: tg.relu(x) * 2.0, np.array([3e-7, 1.0]))
    assert "check_graph finds every recorded op's backward consistent with its own forward" in str(info.value)
    assert "a kink lies within eps of the point" in str(info.value)


# ----------------------------------------------------------------- the hints on their own


def test_diagnose_recognises_each_pattern_and_nothing_else():
    rng = np.random.default_rng(0)
    n = rng.uniform(0.5, 1.5, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    sizes = sizes_of(("input 0", (3, 4)))
    assert "factor of 2" in diagnose(2 * n, n, atol=1e-6)
    assert "factor of 1/2" in diagnose(n / 2, n, atol=1e-6)
    assert "flipped sign and a factor of 2" in diagnose(-2 * n, n, atol=1e-6)
    assert "N = 12 (the size of input 0)" in diagnose(12 * n, n, atol=1e-6, sizes=sizes)
    assert "1/N, N = 4 (axis 1 of input 0)" in diagnose(n / 4, n, atol=1e-6, sizes=sizes)
    assert "a factor of 3" in diagnose(3 * n, n, atol=1e-6)
    assert "constant factor: analytic = 1.7" in diagnose(1.7 * n, n, atol=1e-6)
    assert "right values at the wrong elements" in diagnose(n[::-1], n, atol=1e-6)
    assert "transposed: the gradient has shape (4, 3)" in diagnose(n.T, n, atol=1e-6)
    assert "numeric is zero at every element" in diagnose(n, 0 * n, atol=1e-6)
    noise = n + rng.normal(0, 0.3, n.shape)
    assert diagnose(noise, n, atol=1e-6) is None
    assert diagnose(np.full(n.shape, np.nan), n, atol=1e-6) is None
