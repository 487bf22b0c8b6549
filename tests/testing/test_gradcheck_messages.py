"""What gradcheck says when it fails: the ratio, a hint for a familiar mistake, and the op to blame.

The wrong derivatives are those of tests/testing/test_checkers.py's table, plus a few
this file adds (a transpose, a mask that cuts too much).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import _gradcheck, gradcheck, gradgradcheck
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


# ----------------------------------------------------------------- whole messages, pinned
#
# The report is the contract: each line below is compared whole. The ops are linear and the
# point is 0 with a power-of-two step, so the central differences are exact (3 w for 3 x) and
# the numbers are those of the fixed weights w (seed 20240229: for shape (3,) they are
# -0.798, -1.261, -1.281). Only the file:line where each op was built is cut out.

STEP = 2.0**-20


def linear(op_name: str, slope, wrong_slope):
    """x -> slope * x (elementwise) whose backward returns wrong_slope * g."""
    slope, wrong_slope = np.asarray(slope, dtype=np.float64), np.asarray(wrong_slope, dtype=np.float64)

    class Linear(tg.Op):
        name = op_name

        def forward(self, x):
            return slope * x

        def backward(self, ctx, g):
            return wrong_slope * g

    return Linear.apply


def chain(length: int):
    """``length`` ops in a row, each with its derivative twice too large."""
    ops = [linear(f"scale_{k}", [1.5, 1.5], [3.0, 3.0]) for k in range(1, length + 1)]

    def fn(x):
        for op in ops:
            x = op(x)
        return x

    return fn


def without_sites(text: str) -> str:
    return re.sub(r" \(built at [^)]*\)", "", text)


def message_of(checker, fn, *inputs, **options) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a report is made without numpy warnings (0/0, x/0)
        with pytest.raises(AssertionError) as info:
            checker(fn, *inputs, **options)
    return without_sites(str(info.value))


PREFIX = "dL/dx of L = sum(w * fn(...)) with fixed random weights w:"
FACTOR_2_HINT = (
    "  hint: a factor of 2: analytic = 2 x numeric at every element "
    "(a derivative such as 2x applied twice, or g + g where g belongs)"
)

MESSAGES = {
    "every element twice, a named 2-d input": (
        lambda: (linear("three_x_twice", 3.0, 6.0), tg.Tensor(np.zeros((2, 3)), requires_grad=True, name="x")),
        f"gradcheck: input 0 ('x'), shape (2, 3), element (0, 0): {PREFIX} analytic 4.78864208, numeric 2.39432104, "
        "|difference| 2.39 > tolerance 2.49e-05 (6 of 6 elements differ)\n"
        "  ratio analytic/numeric 2 at this element, the same at all 6 elements that differ\n"
        f"{FACTOR_2_HINT}\n"
        "  blame: check_graph finds the wrong backward in 'three_x_twice', input 0 'x', element (1, 2): "
        "analytic 8.39017, numeric 4.19509, ratio 2",
    ),
    "one element off: no range of ratios": (
        lambda: (linear("one_off", 3.0, [3.0, 4.5, 3.0]), np.zeros(3)),
        f"gradcheck: input 0, shape (3,), element (1,): {PREFIX} analytic -5.676190022, numeric -3.784126681, "
        "|difference| 1.89 > tolerance 3.88e-05 (1 of 3 elements differ)\n"
        "  ratio analytic/numeric 1.5 at this element\n"
        "  blame: check_graph finds the wrong backward in 'one_off', input 0, element (1,): "
        "analytic -5.67619, numeric -3.78413, ratio 1.5",
    ),
    "two elements off by different factors": (
        lambda: (linear("two_off", 3.0, [3.0, 6.0, 7.5, 3.0]), np.zeros(4)),
        f"gradcheck: input 0, shape (4,), element (1,): {PREFIX} analytic 7.568253363, numeric 3.784126681, "
        "|difference| 3.78 > tolerance 3.88e-05 (2 of 4 elements differ)\n"
        "  ratio analytic/numeric 2 at this element, from 2 to 2.5 over the elements that differ\n"
        "  blame: check_graph finds the wrong backward in 'two_off', input 0, element (2,): "
        "analytic 9.61003, numeric 3.84401, ratio 2.5",
    ),
    "ratios that differ in the sixth digit are not called the same": (
        lambda: (linear("nearly_same", 3.0, [3.0, 6.0, 6.0 * (1 + 3e-6)]), np.zeros(3)),
        f"gradcheck: input 0, shape (3,), element (1,): {PREFIX} analytic -7.568253363, numeric -3.784126681, "
        "|difference| 3.78 > tolerance 3.88e-05 (2 of 3 elements differ)\n"
        "  ratio analytic/numeric 2 at this element, from 2 to 2 over the elements that differ\n"
        "  blame: check_graph finds the wrong backward in 'nearly_same', input 0, element (2,): "
        "analytic -7.68805, numeric -3.84401, ratio 2",
    ),
    "ratios 0 and 5e-9 are not the same: no absolute slack": (
        lambda: (linear("nearly_zero", 3.0, [0.0, 1.5e-8]), np.zeros(2)),
        f"gradcheck: input 0, shape (2,), element (0,): {PREFIX} analytic 0, numeric 2.39432104, "
        "|difference| 2.39 > tolerance 2.49e-05 (2 of 2 elements differ)\n"
        "  ratio analytic/numeric 0 at this element, from 0 to 5e-09 over the elements that differ\n"
        "  hint: analytic is zero everywhere, numeric is not: the backward returns zeros (or None) for input 0, "
        "ignores ctx.needs, or the gradient never reaches it (a value taken out with .data or np.asarray)\n"
        "  blame: check_graph finds the wrong backward in 'nearly_zero', input 0, element (1,): "
        "analytic 1.89206e-08, numeric 3.78413, ratio 5e-09",
    ),
    "numeric 0 where analytic is not: no ratio, and no claim about the others": (
        lambda: (linear("zero_numeric", [0.0, 3.0, 3.0], [1.0, 3.0, 6.0]), np.zeros(3)),
        f"gradcheck: input 0, shape (3,), element (0,): {PREFIX} analytic -0.7981070133, numeric 0, "
        "|difference| 0.798 > tolerance 1e-06 (2 of 3 elements differ)\n"
        "  numeric is 0 at this element\n"
        "  blame: check_graph finds the wrong backward in 'zero_numeric', input 0, element (0,): "
        "analytic -0.798107, numeric 0, ratio nan",
    ),
    "a zero gradient: the ratio is 0, never -0": (
        lambda: (linear("zero_analytic", -3.0, 0.0), np.zeros(3)),
        f"gradcheck: input 0, shape (3,), element (0,): {PREFIX} analytic -0, numeric 2.39432104, "
        "|difference| 2.39 > tolerance 2.49e-05 (3 of 3 elements differ)\n"
        "  ratio analytic/numeric 0 at this element, the same at all 3 elements that differ\n"
        "  hint: analytic is zero everywhere, numeric is not: the backward returns zeros (or None) for input 0, "
        "ignores ctx.needs, or the gradient never reaches it (a value taken out with .data or np.asarray)\n"
        "  blame: check_graph finds the wrong backward in 'zero_analytic', input 0, element (2,): "
        "analytic 0, numeric 3.84401, ratio -0",
    ),
    "no pattern in fn's gradient: the blamed op's own hint is given": (
        lambda: (lambda x: linear("six_x", 3.0, 6.0)(x) + x * x, np.array([0.5, -0.25, 1.0])),
        f"gradcheck: input 0, shape (3,), element (0,): {PREFIX} analytic -5.586749093, numeric -3.192428053, "
        "|difference| 2.39 > tolerance 3.29e-05 (3 of 3 elements differ)\n"
        "  ratio analytic/numeric 1.75 at this element, from 1.6 to 2.2 over the elements that differ\n"
        "  blame: check_graph finds the wrong backward in 'six_x', input 0, element (2,): "
        "analytic -7.68802, numeric -3.84401, ratio 2\n"
        f"{FACTOR_2_HINT}",
    ),
    "a factor of the input's size": (
        lambda: (T.ForgetfulMean.apply, np.zeros(4)),
        f"gradcheck: input 0, shape (4,), element (0,): {PREFIX} analytic -0.7981070133, numeric -0.1995267533, "
        "|difference| 0.599 > tolerance 3e-06 (4 of 4 elements differ)\n"
        "  ratio analytic/numeric 4 at this element, the same at all 4 elements that differ\n"
        "  hint: a factor of N = 4 (the size of input 0): analytic = 4 x numeric at every element "
        "(a mean's backward that forgets to divide by N)\n"
        "  blame: check_graph finds the wrong backward in 'forgetful_mean', input 0, element (0,): "
        "analytic -0.798107, numeric -0.199527, ratio 4",
    ),
    "a factor of the output's size": (
        lambda: (Tiled.apply, np.zeros(2)),
        f"gradcheck: input 0, shape (2,), element (0,): {PREFIX} analytic 20.49377851, numeric 3.415629752, "
        "|difference| 17.1 > tolerance 3.52e-05 (2 of 2 elements differ)\n"
        "  ratio analytic/numeric 6 at this element, the same at all 2 elements that differ\n"
        "  hint: a factor of N = 6 (the size of the output): analytic = 6 x numeric at every element "
        "(a mean's backward that forgets to divide by N)\n"
        "  blame: check_graph finds the wrong backward in 'tile_thrice', input 0, element (0,): "
        "analytic 20.4938, numeric 3.41563, ratio 6",
    ),
    "six wrong ops: the first is blamed, the other five are named": (
        lambda: (chain(6), np.zeros(2)),
        f"gradcheck: input 0, shape (2,), element (0,): {PREFIX} analytic 581.8200127, numeric 9.090937698, "
        "|difference| 573 > tolerance 9.19e-05 (2 of 2 elements differ)\n"
        "  ratio analytic/numeric 64 at this element, the same at all 2 elements that differ\n"
        "  hint: a factor of 64: analytic = 64 x numeric at every element "
        "(a gradient counted 64 times, e.g. a broadcast copy summed too often)\n"
        "  blame: check_graph finds the wrong backward in 'scale_1', input 0, element (1,): "
        "analytic 3.78413, numeric 1.89206, ratio 2\n"
        "  also failing: 'scale_2', 'scale_3', 'scale_4', 'scale_5', 'scale_6'",
    ),
    "seven wrong ops: five named, and a count of the rest": (
        lambda: (chain(7), np.zeros(2)),
        f"gradcheck: input 0, shape (2,), element (0,): {PREFIX} analytic 1745.460038, numeric 13.63640655, "
        "|difference| 1.73e+03 > tolerance 0.000137 (2 of 2 elements differ)\n"
        "  ratio analytic/numeric 128 at this element, the same at all 2 elements that differ\n"
        "  hint: a factor of 128: analytic = 128 x numeric at every element "
        "(a gradient counted 128 times, e.g. a broadcast copy summed too often)\n"
        "  blame: check_graph finds the wrong backward in 'scale_1', input 0, element (1,): "
        "analytic 3.78413, numeric 1.89206, ratio 2\n"
        "  also failing: 'scale_2', 'scale_3', 'scale_4', 'scale_5', 'scale_6' and 1 more",
    ),
}


class Tiled(tg.Op):
    """np.tile(x, 3), whose backward multiplies by the output's size 6 on top of the right sum."""

    name = "tile_thrice"

    def forward(self, x):
        return np.tile(x, 3)

    def backward(self, ctx, g):
        return 6.0 * g.reshape(3, -1).sum(axis=0)


@pytest.mark.parametrize("case", sorted(MESSAGES))
def test_the_whole_report_of_a_wrong_gradient(case):
    make, expected = MESSAGES[case]
    fn, x = make()
    assert message_of(gradcheck, fn, x, eps=STEP) == expected


class CubePlusLine(tg.Op):
    """x**3 + 1000 x, right. At 0 the steps of size eps are off by eps**2 (1e-8 for eps = 1e-4)
    on a derivative of 1000: only a strict atol, a zero rtol and a large step all show it."""

    name = "cube_plus_line"
    saves = ("x",)

    def forward(self, x):
        return x * x * x + 1000.0 * x

    def backward(self, ctx, g, x):
        return g * (3.0 * x * x + 1000.0)


def test_the_blame_checks_each_op_with_the_step_and_tolerances_gradcheck_was_given():
    # check_graph with its own defaults would find this op consistent (and say so);
    # with gradcheck's settings it sees what gradcheck saw, and names the op.
    assert message_of(gradcheck, CubePlusLine.apply, np.zeros(3), eps=1e-4, atol=1e-10, rtol=0.0) == (
        f"gradcheck: input 0, shape (3,), element (0,): {PREFIX} analytic -798.1070133, numeric -798.1070133, "
        "|difference| 7.98e-09 > tolerance 1e-10 (3 of 3 elements differ)\n"
        "  ratio analytic/numeric 1 at this element, the same at all 3 elements that differ\n"
        "  blame: check_graph finds the wrong backward in 'cube_plus_line', input 0, element (2,): "
        "analytic -1281.34, numeric -1281.34, ratio 1"
    )


def _failing_first_then(last):
    """A wrong op the first 1 + 2 * 3 calls (gradcheck's at a (3,) point); then ``last(x)``."""
    calls = []
    wrong = linear("three_x_twice_again", 3.0, 6.0)

    def fn(x):
        calls.append(1)
        return wrong(x) if len(calls) <= 7 else last(x)

    return fn


def test_a_blame_that_cannot_be_made_is_said_so_or_left_out():
    def refuse(x):
        raise RuntimeError("fn refuses a second look")

    first = (
        f"gradcheck: input 0, shape (3,), element (0,): {PREFIX} analytic -4.78864208, numeric -2.39432104, "
        "|difference| 2.39 > tolerance 2.49e-05 (3 of 3 elements differ)\n"
        "  ratio analytic/numeric 2 at this element, the same at all 3 elements that differ\n"
        f"{FACTOR_2_HINT}"
    )
    assert message_of(gradcheck, _failing_first_then(refuse), np.zeros(3), eps=STEP) == (
        first + "\n  blame: check_graph could not run (RuntimeError: fn refuses a second look)"
    )
    # fn no longer returns a Tensor: there is no graph, and no blame line at all.
    assert message_of(gradcheck, _failing_first_then(lambda x: x.data), np.zeros(3), eps=STEP) == first


def test_the_second_order_report_replaces_only_the_checkers_own_name():
    # The input's name happens to contain "gradcheck:": it is shown as it is.
    bad = T.cube_through(T.slope_op("slope_twice_again", lambda g, x: g * 12.0 * x))
    x = tg.Tensor(np.array([0.5, -0.25]), requires_grad=True, name="gradcheck: w")
    assert message_of(gradgradcheck, bad, x) == (
        "gradgradcheck (second order): input 0 ('gradcheck: w'), shape (2,), element (0,): "
        f"{PREFIX} analytic -4.299944791, numeric -2.149972395, |difference| 2.15 > tolerance 0.000225 "
        "(2 of 2 elements differ)\n"
        "  ratio analytic/numeric 2 at this element, the same at all 2 elements that differ\n"
        f"{FACTOR_2_HINT}\n"
        "  blame: check_graph finds the wrong backward in 'slope_twice_again', input 0 'gradcheck: w', element (0,): "
        "analytic 4.78864, numeric 2.39432, ratio 2"
    )


def test_an_analytic_gradient_of_the_transposed_shape_is_named_as_such(monkeypatch):
    # The engine itself refuses a gradient of the wrong shape; gradcheck must not rely on
    # it (a custom engine path could return one): it compares shapes first, and says why,
    # with the hint once (it used to be printed twice). The ops' own backwards are right
    # here, which the blame line says.
    honest = _gradcheck._grad

    def transposing(*args, **kwargs):
        return [None if g is None else np.asarray(g).T for g in honest(*args, **kwargs)]

    monkeypatch.setattr(_gradcheck, "_grad", transposing)
    with pytest.raises(AssertionError) as info:
        gradcheck(lambda x: x * 2.0, np.ones((2, 3)))
    assert str(info.value) == (
        "gradcheck: input 0 has shape (2, 3) but its analytic gradient has shape (3, 2)\n"
        "  hint: transposed: the gradient has shape (3, 2) for input 0 of shape (2, 3) "
        "(a .T missing, or the operands of a matmul in the wrong order)\n"
        "  blame: check_graph finds every recorded op's backward consistent with its own forward here, so fn reaches "
        "its inputs through something the graph did not record (an array taken out with .data, np.asarray or "
        ".detach(), e.g. inside a backward under create_graph), or a kink lies within eps of the point"
    )


def test_the_whole_report_when_no_op_is_to_blame():
    # relu 3e-7 from its kink: the central difference straddles it (numeric 1.04 where the
    # slope is 2 w = 1.60), every op's own backward is right, and the report says both.
    assert message_of(gradcheck, lambda x: tg.relu(x) * 2.0, np.array([3e-7, 1.0])) == (
        f"gradcheck: input 0, shape (2,), element (0,): {PREFIX} analytic 1.596214027, numeric 1.037539117, "
        "|difference| 0.559 > tolerance 1.14e-05 (1 of 2 elements differ)\n"
        "  ratio analytic/numeric 1.53846 at this element\n"
        "  blame: check_graph finds every recorded op's backward consistent with its own forward here, so fn "
        "reaches its inputs through something the graph did not record (an array taken out with .data, "
        "np.asarray or .detach(), e.g. inside a backward under create_graph), or a kink lies within eps of the point"
    )


def test_the_whole_report_of_two_inputs_gradients_swapped():
    # Only another input's numeric gradient can reveal a swap: the hint compares input 0's
    # analytic gradient with input 1's numeric one (and never with its own).
    swapped = T.product_op("product_swapped_again", lambda ctx, g, x, y: (g * x, g * y))
    assert message_of(gradcheck, swapped, np.array([0.5, -1.0]), np.array([2.0, 0.25])) == (
        f"gradcheck: input 0, shape (2,), element (0,): {PREFIX} analytic 0.3990535067, numeric 1.596214027, "
        "|difference| 1.2 > tolerance 1.7e-05 (2 of 2 elements differ)\n"
        "  ratio analytic/numeric 0.25 at this element, from -4 to 0.25 over the elements that differ\n"
        "  hint: the gradients of input 0 and input 1 are swapped: each equals the other's numeric gradient "
        "(return them in the order of forward's parameters)\n"
        "  blame: check_graph finds the wrong backward in 'product_swapped_again', input 0, element (1,): "
        "analytic -1.26138, numeric 0.315344, ratio -4"
    )


def test_the_second_order_report_near_zero_keeps_its_digits():
    # Near 0 the first derivative 3 x^2 is ~1e-6: gradgradcheck's H = sum_i <dL/dx_i, u_i>
    # starts from exactly 0, so its finite differences keep all their digits.
    bad = T.cube_through(T.slope_op("slope_twice_small", lambda g, x: g * 12.0 * x))
    assert message_of(gradgradcheck, bad, np.array([1e-3, -2e-3])) == (
        f"gradgradcheck (second order): input 0, shape (2,), element (0,): {PREFIX} analytic -0.008599889581, "
        "numeric -0.004299944791, |difference| 0.0043 > tolerance 1.04e-05 (2 of 2 elements differ)\n"
        "  ratio analytic/numeric 2 at this element, the same at all 2 elements that differ\n"
        f"{FACTOR_2_HINT}\n"
        "  blame: check_graph finds the wrong backward in 'slope_twice_small', input 0, element (1,): "
        "analytic -0.030273, numeric -0.0151365, ratio 2"
    )
