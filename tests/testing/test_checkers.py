"""Meta-tests of the checkers: deliberately wrong derivatives that each checker must
reject, and right ones it must accept.

``CASES`` is one table: a case is a function of Tensors built from a (possibly broken)
op, the point to check it at, and each checker's verdict. A checker a case does not name
makes no claim about it (gradgradcheck, for one, checks the backward of the backward and
says nothing about a first derivative). ``check_graph`` (every node's
backward against that node's own forward) has its column too; a new checker joins the
same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import _gradcheck, check_graph, gradcheck, gradgradcheck, numerical_gradient

ACCEPT, REJECT = "accept", "reject"

# The point: distinct magnitudes and signs, no zeros, and no symmetry a reversal could hide in.
X = np.array([0.4, -1.3, 0.9, 2.1])
X.flags.writeable = False  # Tensors made from it share it: no test may change it for the others
Y = np.array([1.7, 0.6, -0.8, -1.1])
Y.flags.writeable = False  # Tensors made from it share it: no test may change it for the others
N = X.size
# Rows summing to zero: M @ g vanishes for a uniform g, so only non-uniform weights or
# directions show an error of this form.
ZERO_ROW_SUMS = np.array(
    [[1.0, -1.0, 0.0, 0.0], [0.0, 2.0, -1.0, -1.0], [-0.5, 0.0, 0.0, 0.5], [1.0, 1.0, -1.0, -1.0]]
)
assert np.allclose(ZERO_ROW_SUMS.sum(axis=1), 0.0)


def cube_op(op_name: str, dx: Callable) -> Callable:
    """x**3 as an op whose backward returns ``dx(g, x)``: right when that is g * 3 x**2."""

    class Cube(tg.Op):
        name = op_name
        saves = ("x",)

        def forward(self, x):
            return x * x * x

        def backward(self, ctx, g, x):
            return dx(g, x)

    return Cube.apply


def slope_op(op_name: str, d2x: Callable) -> Callable:
    """3 x**2, the derivative of x**3, as an op whose own backward is ``d2x(g, x)``."""

    class CubeSlope(tg.Op):
        name = op_name
        saves = ("x",)

        def forward(self, x):
            return 3.0 * x * x

        def backward(self, ctx, g, x):
            return d2x(g, x)

    return CubeSlope.apply


def cube_through(slope: Callable) -> Callable:
    """x**3 whose backward is g * slope(x): its first derivative is right whenever slope's
    forward is, and its second derivative is slope's backward, right or wrong."""
    return cube_op("cube_through_slope", lambda g, x: g * slope(x))


def product_op(op_name: str, dxy: Callable) -> Callable:
    """x * y as an op whose backward returns ``dxy(ctx, g, x, y)``."""

    class Product(tg.Op):
        name = op_name
        saves = ("x", "y")

        def forward(self, x, y):
            return x * y

        def backward(self, ctx, g, x, y):
            return dxy(ctx, g, x, y)

    return Product.apply


class ForgetfulMean(tg.Op):
    """The mean whose backward forgets to divide by N."""

    name = "forgetful_mean"
    saves = ("x",)

    def forward(self, x):
        return np.asarray(x.mean())

    def backward(self, ctx, g, x):
        return g * np.ones(x.shape)


def frozen_slope(g, x):
    """The right numbers from raw arrays: under create_graph the engine sees a constant."""
    raw = x.data if isinstance(x, tg.Tensor) else x
    return g * (3.0 * raw * raw)


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable  # Tensors -> Tensor
    inputs: tuple  # the point (arrays)
    verdicts: dict = field(default_factory=dict)  # checker name -> ACCEPT or REJECT


def first_order_bug(name, fn, *inputs):
    return Case(name, fn, inputs or (X,), {"gradcheck": REJECT, "check_graph": REJECT})


def second_order_bug(name, fn, *inputs):
    # check_graph checks each node's first derivative, which is right here.
    return Case(name, fn, inputs or (X,), {"gradcheck": ACCEPT, "gradgradcheck": REJECT, "check_graph": ACCEPT})


def correct(name, fn, *inputs):
    return Case(name, fn, inputs or (X,), {"gradcheck": ACCEPT, "gradgradcheck": ACCEPT, "check_graph": ACCEPT})


_right_cube = cube_op("cube", lambda g, x: g * 3.0 * x * x)
_right_slope = slope_op("cube_slope", lambda g, x: g * 6.0 * x)

CASES = [
    # ---- right derivatives: every checker accepts them
    correct("cube", _right_cube),
    correct("cube, summed", lambda x: _right_cube(x).sum()),
    correct("cube through a right slope op", cube_through(_right_slope)),
    correct("product", product_op("product", lambda ctx, g, x, y: (g * y, g * x)), X, Y),
    correct("tanh(x) * x", lambda x: tg.tanh(x) * x),
    correct("matmul and mean", lambda a, b: (a.reshape(2, 2) @ b.reshape(2, 2)).mean(axis=0), X, Y),
    correct("logits loss", lambda z: tg.binary_cross_entropy_with_logits(z, (Y > 0) * 1.0)),
    # ---- wrong first derivatives: gradcheck rejects them
    first_order_bug("reversed gradient g[::-1]", cube_op("cube_reversed", lambda g, x: g[::-1] * 3.0 * x * x)),
    first_order_bug("absolute gradient |g|", cube_op("cube_abs", lambda g, x: np.abs(g) * 3.0 * x * x)),
    first_order_bug("wrong factor 2", cube_op("cube_twice", lambda g, x: 2.0 * g * 3.0 * x * x)),
    first_order_bug("wrong factor 1/N", cube_op("cube_over_n", lambda g, x: g * 3.0 * x * x / N)),
    first_order_bug("wrong sign", cube_op("cube_negated", lambda g, x: -g * 3.0 * x * x)),
    first_order_bug("zero gradient", cube_op("cube_zero", lambda g, x: g * 0.0)),
    first_order_bug("wrong by rows summing to zero", cube_op("cube_plus_m", lambda g, x: g * 3 * x * x + ZERO_ROW_SUMS @ g)),
    first_order_bug("mean without 1/N", ForgetfulMean.apply),
    first_order_bug(
        "gradients swapped between two inputs", product_op("product_swapped", lambda ctx, g, x, y: (g * x, g * y)), X, Y
    ),
    first_order_bug(
        "second input's gradient dropped", product_op("product_dropped", lambda ctx, g, x, y: (g * y, None)), X, Y
    ),
    # ---- right first derivative, wrong second: gradcheck accepts, gradgradcheck rejects
    second_order_bug("second derivative twice", cube_through(slope_op("slope_twice", lambda g, x: g * 12.0 * x))),
    second_order_bug("second derivative negated", cube_through(slope_op("slope_negated", lambda g, x: -g * 6.0 * x))),
    second_order_bug("second derivative zero", cube_through(slope_op("slope_zero", lambda g, x: g * 0.0))),
    second_order_bug("second derivative over N", cube_through(slope_op("slope_over_n", lambda g, x: g * 6.0 * x / N))),
    second_order_bug("backward not differentiable", cube_op("cube_frozen", frozen_slope)),
    second_order_bug(
        "second derivative wrong by rows summing to zero",
        lambda x: cube_through(slope_op("slope_plus_m", lambda g, x: g * 6.0 * x + g @ ZERO_ROW_SUMS.T))(x).sum(),
    ),
    second_order_bug(
        "second derivative wrong by rows summing to zero, vector output",
        cube_through(slope_op("slope_plus_m_vector", lambda g, x: g * 6.0 * x + g @ ZERO_ROW_SUMS.T)),
    ),
]

def check_graph_of(fn, *inputs) -> bool:
    """check_graph on the loss sum(fn(*inputs)), as a verdict like the other checkers'."""
    leaves = [tg.Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in inputs]
    report = check_graph(fn(*leaves).sum())
    if report.first_failure is not None:
        raise AssertionError(f"check_graph: {report.first_failure.op} fails\n{report}")
    return True


CHECKERS = {"gradcheck": gradcheck, "gradgradcheck": gradgradcheck, "check_graph": check_graph_of}
CLAIMS = [(case, checker) for case in CASES for checker in case.verdicts if checker in CHECKERS]


def test_the_table_has_bugs_of_every_kind_for_each_checker():
    for checker in CHECKERS:
        verdicts = [case.verdicts.get(checker) for case in CASES]
        assert verdicts.count(ACCEPT) >= 3 and verdicts.count(REJECT) >= 6, checker
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case, checker", CLAIMS, ids=[f"{checker}: {case.name}" for case, checker in CLAIMS])
def test_checker_verdict(case, checker):
    check = CHECKERS[checker]
    if case.verdicts[checker] == ACCEPT:
        assert check(case.fn, *case.inputs) is True
    else:
        with pytest.raises(AssertionError, match="second order" if checker == "gradgradcheck" else checker):
            check(case.fn, *case.inputs)


# ----------------------------------------------------------------- what a rejection says


def test_a_swapped_gradient_is_reported_at_the_first_input_with_both_values():
    swapped = product_op("swapped_again", lambda ctx, g, x, y: (g * x, g * y))
    with pytest.raises(AssertionError, match=r"gradcheck: input 0, shape \(4,\), element \(\d,\)") as info:
        gradcheck(swapped, X, Y)
    assert "analytic" in str(info.value) and "numeric" in str(info.value)


def test_gradcheck_refuses_an_analytic_gradient_of_another_shape(monkeypatch):
    # The engine sums every gradient to its input's shape; the checker must not trust
    # that: a (1, 4) gradient for a (4,) input broadcasts in the comparison, and would
    # pass element by element if the shapes were not compared first.
    honest = _gradcheck._grad

    def one_axis_too_many(*args, **kwargs):
        return [None if g is None else np.asarray(g)[None] for g in honest(*args, **kwargs)]

    monkeypatch.setattr(_gradcheck, "_grad", one_axis_too_many)
    with pytest.raises(AssertionError, match=r"input 0 has shape \(4,\) but its analytic gradient has shape \(1, 4\)"):
        gradcheck(lambda x: x * x, X)


def test_gradcheck_refuses_functions_that_do_not_return_a_tensor():
    with pytest.raises(TypeError, match="fn must return a Tensor, got ndarray"):
        gradcheck(lambda x: x.data * 2, X)


def test_checkers_accept_a_function_that_ignores_its_input():
    assert gradcheck(lambda x, y: y * 2.0, X, tg.Tensor(Y))  # dx is zero, and zero is right
    assert gradgradcheck(lambda x: x * 2.0, X)  # the second derivative is zero


def test_gradgradcheck_reports_the_input_whose_second_derivative_is_wrong():
    bad = cube_through(slope_op("slope_for_y", lambda g, x: g * 12.0 * x))
    with pytest.raises(AssertionError, match=r"^gradgradcheck \(second order\): input 1"):
        gradgradcheck(lambda a, b: a * 2.0 + bad(b), X, Y)


def test_a_tolerance_loose_enough_accepts_a_small_error():
    slightly = cube_op("cube_slightly_off", lambda g, x: g * 3.0 * x * x * (1 + 1e-4))
    with pytest.raises(AssertionError):
        gradcheck(slightly, X)
    assert gradcheck(slightly, X, rtol=1e-3)


# ----------------------------------------------------------------- the finite-difference oracle


@pytest.mark.parametrize("layout", ["C", "transposed", "strided"])
def test_numerical_gradient_of_any_memory_layout(layout):
    base = np.arange(1.0, 13.0).reshape(3, 4) / 4.0
    x = {"C": base, "transposed": base.T, "strided": base[:, ::2]}[layout]
    before = x.copy()
    got = numerical_gradient(lambda v: float(np.sum(np.sin(v) * np.arange(v.size).reshape(v.shape))), x)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, np.cos(x) * np.arange(x.size).reshape(x.shape), atol=1e-8)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_steps_by_eps():
    # A step that is too large shows in the truncation error of a cubic: ((x+e)^3 - (x-e)^3) / 2e = 3x^2 + e^2.
    np.testing.assert_allclose(numerical_gradient(lambda v: float(np.sum(v**3)), np.array([1.0]), eps=0.1), [3.01])
    np.testing.assert_allclose(numerical_gradient(lambda v: float(np.sum(v**3)), np.array(2.0)), 12.0, rtol=1e-9)


def test_numerical_gradient_of_integer_inputs_steps_in_floats():
    np.testing.assert_allclose(numerical_gradient(lambda v: float(np.sum(v**2)), np.array([1, 2])), [2.0, 4.0])


def test_numerical_gradient_never_moves_the_callers_array():
    x = np.array([1.0, 2.0, 3.0])
    # f reads x itself: stepping x in place instead of a copy would change the function.
    got = numerical_gradient(lambda v: float(np.sum(v * x)), x)
    np.testing.assert_allclose(got, x, rtol=1e-6)  # sum(v * v) would give 2 x


# ----------------------------------------------------------------- the checkers' own settings


def test_gradcheck_works_in_float64_whatever_the_inputs_dtype():
    x32 = np.array([0.3, -1.2, 2.0], dtype=np.float32)
    assert gradcheck(lambda x: x**3 * 10.0, x32)  # in float32 the differences would be off by ~1e-3
    assert gradcheck(lambda x: x**3 * 10.0, tg.Tensor(x32, requires_grad=True))
    assert gradgradcheck(lambda x: x**3 * 10.0, x32)


def test_gradcheck_and_gradgradcheck_use_the_step_they_are_given():
    # Central differences of x**3 and x**4 are off by eps**2 terms: visible at eps = 0.1.
    with pytest.raises(AssertionError):
        gradcheck(lambda x: x**3, np.array([1.0]), eps=0.1)
    with pytest.raises(AssertionError):
        gradgradcheck(lambda x: x**4, np.array([1.0]), eps=0.1)
    assert gradcheck(lambda x: x**3, np.array([1.0]), eps=1e-6)


def test_a_tolerance_of_zero_accepts_an_exact_match():
    # At x = 0 with a power-of-two step, the central difference of a linear function is exact.
    assert gradcheck(lambda x: x * 1.0, np.zeros(3), eps=2.0**-20, atol=0.0, rtol=0.0)


def test_weights_have_both_signs_and_no_small_magnitude():
    w = _gradcheck._weights(np.random.default_rng(0), (200,))
    assert (w > 0).any() and (w < 0).any()
    assert np.all(np.abs(w) >= 0.5) and np.all(np.abs(w) <= 1.5)
    assert len(np.unique(np.abs(w))) == 200  # no two elements weighted alike


def test_nothing_to_check_is_refused_with_the_reason():
    with pytest.raises(ValueError) as info:
        gradcheck(lambda x: x * 2.0, tg.Tensor([1.0]))
    assert str(info.value) == "gradcheck: no input requires grad, so there is nothing to check"


# ----------------------------------------------------------------- the checkers' contract, pinned
# (Written for the mutation run: each test states one promise of gradcheck, gradgradcheck
# or numerical_gradient that no other test held them to.)


def test_numerical_gradient_puts_each_element_back_before_stepping_the_next():
    # f couples the elements: a step left behind in one element would change the
    # differences measured in the next. d/dv (sum v)^2 = 2 sum v at every element.
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    np.testing.assert_allclose(numerical_gradient(lambda v: float(np.sum(v) ** 2), x), np.full((2, 2), 3.5), rtol=1e-8)
    got = numerical_gradient(lambda v: float(np.prod(v)), np.array([2.0, 3.0, 4.0]))
    np.testing.assert_allclose(got, [12.0, 8.0, 6.0], rtol=1e-8)


def test_numerical_gradient_returns_float64_of_the_points_shape_and_steps_each_element():
    x = np.array([[1, 2, 3]], dtype=np.int32)  # an integer point is stepped in float64
    got = numerical_gradient(lambda v: float(np.sum(v * np.array([[1.0, 10.0, 100.0]]))), x)
    assert got.dtype == np.float64 and got.shape == (1, 3)
    np.testing.assert_allclose(got, [[1.0, 10.0, 100.0]], rtol=1e-7)
    assert numerical_gradient(lambda v: 1.0, np.zeros((0, 2))).shape == (0, 2)


def test_gradgradcheck_rejects_a_second_derivative_off_by_a_thousandth():
    # Its default rtol is 1e-4: an error of 1e-3 in the second derivative shows.
    slightly = cube_through(slope_op("slope_slightly_off", lambda g, x: g * 6.0 * x * 1.001))
    with pytest.raises(AssertionError, match=r"^gradgradcheck \(second order\): input 0"):
        gradgradcheck(slightly, X)
    assert gradgradcheck(slightly, X, rtol=1e-2)


def test_gradcheck_differentiates_a_constant_tensor_input_that_requires_grad_and_keeps_its_name():
    t = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True, name="t")
    wrong = cube_op("cube_twice_named", lambda g, x: 2.0 * g * 3.0 * x * x)
    with pytest.raises(AssertionError, match=r"^gradcheck: input 1 \('t'\), shape \(2,\)"):
        gradcheck(lambda c, t: wrong(t) * c, tg.Tensor([1.0, 1.0]), t)
    assert t.dtype == np.float32  # the caller's Tensor is left as it was


def test_gradcheck_of_a_function_of_two_inputs_compares_each_with_its_own_differences():
    # y's gradient is right and x's is not: the report names input 0 only, with its values.
    bad = product_op("product_bad_x", lambda ctx, g, x, y: (g * y * 1.5, g * x))
    with pytest.raises(AssertionError, match=r"^gradcheck: input 0, shape \(4,\), element \(0,\):") as info:
        gradcheck(bad, X, Y)
    assert "ratio analytic/numeric 1.5 at this element, the same at all 4 elements that differ" in str(info.value)
    good_x = product_op("product_bad_y", lambda ctx, g, x, y: (g * y, g * x * 1.5))
    with pytest.raises(AssertionError, match=r"^gradcheck: input 1, shape \(4,\)"):
        gradcheck(good_x, X, Y)
