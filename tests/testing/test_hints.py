"""The hints of gradcheck and check_graph: which wrong derivative each pattern names, word for word.

``diagnose(analytic, numeric)`` is the part of a failure report a user reads first, so the
whole sentence is pinned for each pattern (the tests in test_gradcheck_messages.py check
that the hints reach the reports), and so are the edges of each pattern: what is *not*
recognised must give no hint rather than a wrong one.
"""

from __future__ import annotations

import numpy as np
import pytest

from tinygraph.testing._hints import diagnose, sizes_of

# A numeric gradient with no special element: distinct magnitudes, five negative entries.
N = np.array([[0.8, -1.2, 0.6, 1.4], [-0.7, 1.1, -0.9, 0.55], [1.3, -0.65, 0.95, -1.05]])
# The sizes check_graph offers for a node of input (3, 4) and output (3, 4).
SIZES = sizes_of(("input 0", (3, 4)), ("the output", (3, 4)))
# A second input's gradients, for the swapped / misplaced patterns.
OTHER = np.array([[0.3, 0.45, -1.25, 0.7], [1.15, -0.35, 0.85, -0.6], [-1.4, 0.5, 0.75, 1.05]])

FACTOR_2 = ("a factor of 2: analytic = 2 x numeric at every element "
            "(a derivative such as 2x applied twice, or g + g where g belongs)")

# (id, analytic, numeric, keyword arguments of diagnose, the whole hint)
HINTS = [
    ("factor 2", 2 * N, N, {}, FACTOR_2),
    ("factor 2 within 0.1%", 2.0015 * N, N, {},
     "a factor of 2: analytic = 2.002 x numeric at every element "
     "(a derivative such as 2x applied twice, or g + g where g belongs)"),
    ("factor -2", -2 * N, N, {},
     "a flipped sign and a factor of 2: analytic = -2 x numeric at every element "
     "(a derivative such as 2x applied twice, or g + g where g belongs)"),
    ("factor 1/2", N / 2, N, {},
     "a factor of 1/2: analytic = 0.5 x numeric at every element (a 2 missing, e.g. d(x^2) written as x)"),
    ("factor -1/2", -N / 2, N, {},
     "a flipped sign and a factor of 1/2: analytic = -0.5 x numeric at every element "
     "(a 2 missing, e.g. d(x^2) written as x)"),
    ("sign", -N, N, {},
     "a flipped sign: analytic = -numeric at every element (a minus sign missing or one too many)"),
    ("factor N, the size", 12 * N, N, {"sizes": SIZES},
     "a factor of N = 12 (the size of the output): analytic = 12 x numeric at every element "
     "(a mean's backward that forgets to divide by N)"),
    ("factor -N, an axis", -3 * N, N, {"sizes": SIZES},
     "a flipped sign and a factor of N = 3 (axis 0 of input 0): analytic = -3 x numeric at every element "
     "(a mean's backward that forgets to divide by N)"),
    ("factor 1/N", N / 4, N, {"sizes": SIZES},
     "a factor of 1/N, N = 4 (axis 1 of input 0): analytic = numeric x 0.25 at every element "
     "(a division by N that does not belong, e.g. a sum's gradient divided like a mean's)"),
    ("whole factor, no sizes", 3 * N, N, {},
     "a factor of 3: analytic = 3 x numeric at every element "
     "(a gradient counted 3 times, e.g. a broadcast copy summed too often)"),
    ("whole factor that is no size", 7 * N, N, {"sizes": SIZES},
     "a factor of 7: analytic = 7 x numeric at every element "
     "(a gradient counted 7 times, e.g. a broadcast copy summed too often)"),
    ("N at the edge of 0.1%", 1001.0 * np.ones(3), np.ones(3), {"sizes": {1000: "the size of input 0"}},
     "a factor of N = 1000 (the size of input 0): analytic = 1001 x numeric at every element "
     "(a mean's backward that forgets to divide by N)"),
    ("constant factor", 1.7 * N, N, {},
     "a constant factor: analytic = 1.7 x numeric at every element (a wrong constant in the formula)"),
    ("constant factor near a whole number", 3.4 * N, N, {},
     "a constant factor: analytic = 3.4 x numeric at every element (a wrong constant in the formula)"),
    ("negative constant factor", -1.7 * N, N, {},
     "a flipped sign and a constant factor: analytic = -1.7 x numeric at every element "
     "(a wrong constant in the formula)"),
    ("factor 2 of large values, to 1e-4 relative", 2 * np.array([1000.0, -2000.0, 3000.0]) + [0.05, -0.05, 0.1],
     np.array([1000.0, -2000.0, 3000.0]), {}, FACTOR_2),
    ("factor 2 with an unrelated other input", 2 * N, N, {"others": [("input 1", OTHER, OTHER)]}, FACTOR_2),
    ("transposed shape", N.T, N, {"what": "input 1"},
     "transposed: the gradient has shape (4, 3) for input 1 of shape (3, 4) "
     "(a .T missing, or the operands of a matmul in the wrong order)"),
    ("numeric zero", N, 0 * N, {"what": "input 2"},
     "numeric is zero at every element but analytic is not: the output does not depend on input 2, "
     "yet the backward returns a gradient for it"),
    ("numeric zero, default words", N, 0 * N, {},
     "numeric is zero at every element but analytic is not: the output does not depend on input, "
     "yet the backward returns a gradient for it"),
    ("analytic zero", 0 * N, N, {"what": "input 0"},
     "analytic is zero everywhere, numeric is not: the backward returns zeros (or None) for input 0, ignores "
     "ctx.needs, or the gradient never reaches it (a value taken out with .data or np.asarray)"),
    ("swapped", OTHER, N, {"others": [("input 1", N, OTHER)], "what": "input 0"},
     "the gradients of input 0 and input 1 are swapped: each equals the other's numeric gradient "
     "(return them in the order of forward's parameters)"),
    ("in the wrong place", OTHER, N, {"others": [("input 1", OTHER, OTHER)], "what": "input 0"},
     "analytic for input 0 equals the numeric gradient of input 1: a gradient returned in the wrong place"),
    ("absolute value", np.abs(N), N, {},
     "right magnitudes, wrong signs at 5 of 12 elements (an abs(), a sign() or a mask on the wrong side)"),
    ("mask", N * (N > 0), N, {},
     "analytic is zero at 5 of 12 elements where numeric is not, and right elsewhere: "
     "a mask that cuts too much (x > 0 where x >= 0 belongs?)"),
    ("square transpose", N[:, :3].T, N[:, :3], {},
     "analytic is the transpose of numeric: a .T missing or one too many"),
    ("reversed", N[::-1], N, {},
     "the right values at the wrong elements: the gradient is reordered "
     "(reversed, transposed or reshaped along the wrong axis)"),
    ("two elements swapped", np.array([2.0, 1.0]), np.array([1.0, 2.0]), {},
     "the right values at the wrong elements: the gradient is reordered "
     "(reversed, transposed or reshaped along the wrong axis)"),
    ("axes of a 3-d gradient reversed", np.arange(1.0, 9.0).reshape(2, 2, 2).T, np.arange(1.0, 9.0).reshape(2, 2, 2),
     {}, "the right values at the wrong elements: the gradient is reordered "
     "(reversed, transposed or reshaped along the wrong axis)"),
]


@pytest.mark.parametrize("analytic, numeric, kwargs, hint", [case[1:] for case in HINTS], ids=[c[0] for c in HINTS])
def test_each_pattern_is_named_in_full(analytic, numeric, kwargs, hint):
    assert diagnose(analytic, numeric, atol=1e-6, **kwargs) == hint


# (id, analytic, numeric, keyword arguments): nothing recognisable, so no hint at all.
NO_HINT = [
    ("noise", N + np.random.default_rng(0).normal(0, 0.3, N.shape), N, {}),
    ("a nan in analytic", np.array([np.nan, 1.0]), np.zeros(2), {}),
    ("a nan in numeric", np.zeros(2), np.array([np.nan, 1.0]), {}),
    ("shapes that are not a transpose", np.ones((2, 3)), np.ones((2, 4)), {}),
    ("1-d shapes that differ", np.ones(3), np.ones(4), {}),
    # A mask that cuts and a wrong factor elsewhere is not "a mask that cuts too much".
    ("mask and a wrong factor", 1.7 * N * (N > 0), N, {}),
    # 0.05% too large: the check fails it, but no pattern fits (it is no flipped sign).
    ("ratio just above 1", 1.0005 * N, N, {}),
    ("gradients that agree", N.copy(), N, {}),
]


@pytest.mark.parametrize("analytic, numeric, kwargs", [case[1:] for case in NO_HINT], ids=[c[0] for c in NO_HINT])
def test_no_hint_where_no_pattern_fits(analytic, numeric, kwargs):
    assert diagnose(analytic, numeric, atol=1e-6, **kwargs) is None


def test_values_count_as_zero_up_to_ten_times_atol_inclusive():
    # atol 0.5: |x| <= 5 is zero, for numeric and analytic alike.
    fives, nines = np.full(3, 5.0), np.full(3, 9.0)
    assert diagnose(nines, fives, atol=0.5).startswith("numeric is zero at every element but analytic is not")
    assert diagnose(fives, nines, atol=0.5).startswith("analytic is zero everywhere, numeric is not")
    # Just above 10 x atol a numeric derivative is not zero: a factor is recognised.
    small = np.full(3, 1.05e-5)
    assert diagnose(2 * small, small, atol=1e-6) == FACTOR_2


def test_magnitudes_agree_up_to_the_tolerance_inclusive():
    # The third element: numeric 0, analytic 5 = 10 x atol exactly, still "the right magnitude".
    analytic, numeric = np.array([10.0, 10.0, 5.0]), np.array([10.0, -10.0, 0.0])
    assert diagnose(analytic, numeric, atol=0.5) == (
        "right magnitudes, wrong signs at 2 of 3 elements (an abs(), a sign() or a mask on the wrong side)"
    )


@pytest.mark.parametrize(
    "shapes, sizes",
    [
        ([("input 0", (3, 4)), ("the output", (3, 4))],
         {3: "axis 0 of input 0", 4: "axis 1 of input 0", 12: "the size of the output"}),
        ([("input 0", (2, 3, 1))], {3: "axis 1 of input 0", 6: "the size of input 0"}),
        ([("x", (2,)), ("y", (1, 2)), ("z", ())], {}),  # 1 and 2 are no candidate N
        ([("x", (3,))], {3: "the size of x"}),
        ([("x", (2, 2)), ("out", (4,))], {4: "the size of out"}),  # the last shape names a size
    ],
)
def test_sizes_of_offers_every_axis_and_size_above_two(shapes, sizes):
    assert sizes_of(*shapes) == sizes
