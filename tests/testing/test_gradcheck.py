"""The checkers must catch wrong derivatives, and say where."""

import numpy as np
import pytest
from hypothesis import given

import tinygraph as tg
from tinygraph.testing import gradcheck, gradgradcheck, numerical_gradient
from tinygraph.testing import strategies as tgst


class WrongSlopeSquare(tg.Op):
    """x**2 with the derivative off by 1% on element 1 only: a subtle bug."""

    name = "wrong_square"
    formula = "dx = 2 x (wrong)"
    saves = ("x",)

    def forward(self, x):
        return x * x

    def backward(self, ctx, g, x):
        scale = np.ones(x.shape)
        scale.reshape(-1)[min(1, x.size - 1)] = 1.01
        return g * 2.0 * x * scale


class FrozenSigmoid(tg.Op):
    """Right first derivative, but computed from raw arrays: no second derivative under create_graph."""

    name = "frozen_sigmoid"
    formula = "dx = g * s (1 - s)"
    saves = ("x",)

    def forward(self, x):
        return 1.0 / (1.0 + np.exp(-x))

    def backward(self, ctx, g, x):
        raw = x.data if isinstance(x, tg.Tensor) else x
        s = 1.0 / (1.0 + np.exp(-raw))
        return g * (s * (1.0 - s))


def test_gradcheck_names_input_element_and_values():
    x = np.array([0.5, -2.0, 3.0])
    with pytest.raises(AssertionError) as info:
        gradcheck(lambda a, b: WrongSlopeSquare.apply(b) + a, np.zeros(3), tg.Tensor(x, requires_grad=True, name="w"))
    message = str(info.value)
    assert "input 1 ('w')" in message and "element (1,)" in message
    # The values are of the randomly weighted sum; the planted 1% error must show as their ratio.
    analytic = float(message.split("analytic ")[1].split(",")[0])
    numeric = float(message.split("numeric ")[1].split(",")[0])
    assert analytic / numeric == pytest.approx(1.01, rel=1e-6)


def test_gradcheck_passes_correct_and_skips_constants():
    y = tg.Tensor([1.0, 2.0])  # a constant: not differentiated
    assert gradcheck(lambda x, y: x * y, np.array([0.3, 0.4]), y)


def test_gradcheck_refuses_nothing_to_check():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda y: y * 2, tg.Tensor([1.0]))


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    x = np.array([0.3, -1.0, 2.0])
    assert gradcheck(FrozenSigmoid.apply, x)  # first order is right...
    with pytest.raises(AssertionError, match="second order"):
        gradgradcheck(FrozenSigmoid.apply, x)  # ...but the backward is a constant to the engine


@given(tgst.arrays(tgst.shapes(max_dims=2), tgst.REAL))
def test_numerical_gradient_of_a_known_function(x):
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(np.sin(v)), x), np.cos(x), atol=1e-8)


@given(tgst.broadcastable_shapes(3))
def test_broadcastable_shapes_broadcast(shapes):
    np.broadcast_shapes(*shapes)


@given(tgst.matmul_shapes())
def test_matmul_shapes_are_accepted_by_numpy(pair):
    np.matmul(np.ones(pair[0]), np.ones(pair[1]))


@given(tgst.arrays(tgst.shapes(min_dims=1), tgst.AWAY_FROM_ZERO))
def test_domains_keep_away_from_kinks(x):
    assert np.all(np.abs(x) >= tgst.AWAY_FROM_ZERO.margin)


@given(tgst.arrays(tgst.shapes(min_dims=1), tgst.POSITIVE))
def test_positive_domain(x):
    assert np.all(x > 0)


def test_gradcheck_accepts_an_input_the_function_ignores():
    # The ignored input's derivative is zero, analytically and numerically.
    assert gradcheck(lambda x, y: x * 2, np.array([1.0]), np.array([2.0]))
    assert gradcheck(lambda x, y: y.exp().sum() + 0 * x.sum(), np.array([1.0, 3.0]), np.array([2.0]))


# ----------------------------------------------------------------- what gradcheck checks, exactly


class FastPathWrong(tg.Op):
    """3 x, whose backward is right on Tensors (create_graph) and twice too large on arrays."""

    name = "fast_path_wrong"

    def forward(self, x):
        return 3.0 * x

    def backward(self, ctx, g):
        return 3.0 * g if isinstance(g, tg.Tensor) else 6.0 * g


def test_gradcheck_checks_the_backward_that_backward_runs_not_the_create_graph_one():
    # An ordinary backward() runs the array path; gradcheck must check that path.
    with pytest.raises(AssertionError, match=r"ratio analytic/numeric 2 at this element"):
        gradcheck(FastPathWrong.apply, np.array([0.5, -1.0]))
    # gradgradcheck differentiates the Tensor path, which is right (and linear).
    assert gradgradcheck(FastPathWrong.apply, np.array([0.5, -1.0]))


def test_a_float32_result_is_weighted_in_float32_for_backward():
    # The weights w are cast to the output's dtype before backward: the analytic side is
    # the float32 computation, 3 w rounded to float32, not 3 w in float64 (2.39432104).
    with pytest.raises(AssertionError) as info:
        gradcheck(lambda x: (x * 3.0).astype(np.float32), np.array([0.5, -0.5]), atol=1e-3, rtol=1e-3)
    assert str(info.value).startswith(
        "gradcheck: input 0, shape (2,), element (0,): dL/dx of L = sum(w * fn(...)) with fixed random weights w: "
        "analytic 2.394321084, numeric 2.378544251, |difference| 0.0158 > tolerance 0.00338 (2 of 2 elements differ)\n"
    )


def test_fn_sees_float64_tensors_whatever_it_was_given():
    # Arrays, Tensors that require grad and constant Tensors: all copied to float64,
    # on every call (the analytic pass and each finite difference).
    seen = []

    def fn(x, t, c):
        seen.append((x.dtype, t.dtype, c.dtype, x.requires_grad, c.requires_grad))
        return x * t * c

    x = np.array([0.5, -1.0], dtype=np.float32)
    t = tg.Tensor(np.array([2.0, 3.0], dtype=np.float32), requires_grad=True)
    c = tg.Tensor(np.array([1.5, 0.25], dtype=np.float32))
    assert gradcheck(fn, x, t, c)
    assert len(seen) == 1 + 2 * 2 + 2 * 2  # once, then two calls per element of each input
    assert seen[0] == (np.float64, np.float64, np.float64, True, False)
    assert {s[:3] for s in seen} == {(np.dtype(np.float64),) * 3}
    assert t.dtype == np.float32 and c.dtype == np.float32 and x.dtype == np.float32  # the caller's are untouched


def test_gradcheck_reduces_the_output_in_float64_even_when_fn_computes_in_long_double():
    # Each value of fn is rounded to float64 before it is weighted and summed (the
    # docstring's promise: everything in float64). Near 1e8 float64's ulp is 1.5e-8, which
    # a step of 1e-6 does not dwarf: the numeric side is off by 0.2%, and by exactly the
    # amount that rounding gives (rounding after the long-double sum gives another number).
    far = lambda x: x.astype(np.longdouble) * 3.0 + 1e8  # noqa: E731
    with pytest.raises(AssertionError) as info:
        gradcheck(far, np.array([0.5, 0.3]))
    assert str(info.value).splitlines()[0] == (
        "gradcheck: input 0, shape (2,), element (0,): dL/dx of L = sum(w * fn(...)) with fixed random weights w: "
        "analytic 2.39432104, numeric 2.399086952, |difference| 0.00477 > tolerance 2.5e-05 (2 of 2 elements differ)"
    )
    assert gradcheck(far, np.array([0.5, 0.3]), eps=1e-2)  # a step well above the rounding is fine
