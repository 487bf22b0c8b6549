"""check_graph names the op whose backward is wrong, and only that op; every built-in op passes.

The built-in ops come from the op table of tests/test_ops.py (whose own meta-test makes
it cover every registered op, so ops added later are checked here too); the wrong
derivatives from the table of tests/testing/test_checkers.py.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph import nn
from tinygraph.testing import GraphCheck, check_graph, gradcheck

TESTS = Path(__file__).resolve().parents[1]


def _load(path: Path, name: str):
    """A test module loaded by path (tests/ is not a package), registered as ``name``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


op_table = _load(TESTS / "test_ops.py", "_check_graph_op_table")
checker_table = _load(TESTS / "testing" / "test_checkers.py", "_check_graph_checker_table")


def weighted_loss(out: tg.Tensor, seed: int = 0) -> tg.Tensor:
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, out.shape) * rng.choice([-1.0, 1.0], out.shape)
    return (out * w).sum()


# ----------------------------------------------------------------- every built-in op passes


@pytest.mark.parametrize("case", op_table.CASES, ids=op_table.IDS)
@settings(max_examples=25)
@given(data=st.data())
def test_every_builtin_op_passes(case, data):
    arrays, params = data.draw(case.draw_inputs(False))
    leaves = [tg.Tensor(a, requires_grad=True) for a in arrays]
    report = check_graph(weighted_loss(case.fn(*leaves, **params)))
    assert report.passed, str(report)
    assert case.name in [r.op for r in report]


@pytest.mark.parametrize("case", op_table.CASES, ids=op_table.IDS)
@settings(max_examples=10)
@given(data=st.data())
def test_every_builtin_op_passes_in_float32(case, data):
    arrays, params = data.draw(case.draw_inputs(True))
    leaves = [tg.Tensor(a.astype(np.float32), requires_grad=True) for a in arrays]
    out = case.fn(*leaves, **params)
    report = check_graph(weighted_loss(out))  # checked in float64 at the float32 point
    assert report.passed, str(report)


# ----------------------------------------------------------------- kinks are not false alarms


NEAR_KINK = np.array([0.0, 3e-7, -3e-7, 1e-6, -1e-6, 2e-6, 0.5, -0.5])


def test_relu_at_and_around_zero():
    x = tg.Tensor(NEAR_KINK, requires_grad=True)
    report = check_graph(weighted_loss(tg.relu(x)))
    assert report.passed, str(report)
    relu = next(r for r in report if r.op == "relu")
    assert relu.one_sided >= 3  # 0 and +-3e-7: the central difference straddles the kink


@given(st.lists(st.sampled_from([0.0, 1e-7, -1e-7, 5e-7, 1.0, -2.0]), min_size=1, max_size=6))
def test_relu_in_a_network_with_exact_zeros(values):
    x = tg.Tensor(np.array(values), requires_grad=True)
    w = tg.Tensor(np.array([[1.0], [-1.0]]), requires_grad=True)
    report = check_graph(weighted_loss(tg.relu(w * x) * 2.0))
    assert report.passed, str(report)


class Abs(tg.Op):
    """|x| with sign(0) = 0 as its derivative at the kink."""

    name = "abs"
    saves = ("x",)

    def forward(self, x):
        return np.abs(x)

    def backward(self, ctx, g, x):
        return g * np.sign(x)


def _max_op(convention: str):
    class Max(tg.Op):
        """max over the last axis; at a tie the gradient goes to the first maximum, or is split."""

        name = f"max_{convention}"
        saves = ("x", "out")

        def forward(self, x):
            return x.max(axis=-1)

        def backward(self, ctx, g, x, out):
            ties = (x == out[..., None]).astype(float)
            if convention == "first":
                ties = (np.cumsum(ties, axis=-1) == 1) * ties
            else:
                ties = ties / ties.sum(axis=-1, keepdims=True)
            return g[..., None] * ties

    return Max.apply


@pytest.mark.parametrize("convention", ["first", "split"])
def test_ties_of_max_under_either_convention(convention):
    x = np.array([[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 2.0], [0.5, -0.5, 0.1, 0.4]])
    report = check_graph(weighted_loss(_max_op(convention)(tg.Tensor(x, requires_grad=True))))
    assert report.passed, str(report)


class GuardedSquare(tg.Op):
    """x**2 that refuses negative inputs, as ops with a domain do (log, pow with p = 0.5)."""

    name = "guarded_square"
    saves = ("x",)

    def forward(self, x):
        if (x < 0).any():
            raise ValueError("guarded_square: negative input")
        return x * x

    def backward(self, ctx, g, x):
        return g * 2.0 * x


def test_abs_at_zero_and_domain_edges():
    x = tg.Tensor(np.array([0.0, -2e-7, 1.5]), requires_grad=True)
    y = tg.Tensor(np.array([3e-7, 0.0, 2.0]), requires_grad=True)  # x - eps is refused: a smaller step
    report = check_graph(weighted_loss(Abs.apply(x) + GuardedSquare.apply(y)))
    assert report.passed, str(report)


def test_log_closer_to_its_pole_than_eps():
    # log(5e-7 - 1e-6) is refused: the step shrinks, and log's slope, which changes
    # ~20% over one step there, lies between the one-sided differences.
    y = tg.Tensor(np.array([5e-7, 1.0]), requires_grad=True)
    report = check_graph(weighted_loss(tg.log(y)))
    assert report.passed, str(report)


def test_a_wrong_slope_at_a_kink_is_still_caught():
    class WrongAbs(Abs):
        name = "wrong_abs"

        def backward(self, ctx, g, x):
            return g * 0.5 * np.sign(x)  # wrong at every element, kink or not

    report = check_graph(weighted_loss(WrongAbs.apply(tg.Tensor(NEAR_KINK, requires_grad=True))))
    assert [r.op for r in report.failures] == ["wrong_abs"]


class HalfPrecisionTwice(tg.Op):
    """2x, computed and returned in float32 whatever the input; ``factor`` scales its backward."""

    name = "float32_twice"

    def __init__(self, factor: float = 1.0):
        self.factor = factor

    def forward(self, x):
        return (2.0 * x).astype(np.float32)

    def backward(self, ctx, g):
        return self.factor * 2.0 * g


def test_an_op_whose_forward_rounds_to_float32_is_checked_at_that_precision():
    x = tg.Tensor(np.linspace(-3.0, 3.0, 7), requires_grad=True)
    right = check_graph(weighted_loss(tg.tanh(HalfPrecisionTwice.apply(x) * 1.0)))
    assert right.passed, str(right)
    assert right[0].precision == "float32" and "float32 forward" in str(right)
    assert right[1].precision is None
    wrong = check_graph(weighted_loss(HalfPrecisionTwice.apply(x, factor=1.01) * 1.0))
    assert [r.op for r in wrong.failures] == ["float32_twice"]


# ----------------------------------------------------------------- a wrong op buried in a deep network


def _wrong_tanh(kind: str):
    class BuriedTanh(tg.Op):
        name = f"tanh_{kind}"
        saves = ("out",)

        def forward(self, x):
            return np.tanh(x)

        def backward(self, ctx, g, out):
            right = g * (1.0 - out * out)
            return {
                "right": right,
                "twice": 2.0 * right,
                "negated": -right,
                "zero": 0.0 * right,
                "over_n": right / out.shape[-1],
                "no_chain": 1.0 - out * out,  # forgot to multiply by g
                "transposed_slope": g * (1.0 - out.T.reshape(out.shape) ** 2),
            }[kind]

    return BuriedTanh


BUGS = ["twice", "negated", "zero", "over_n", "no_chain", "transposed_slope"]
HINTS = {"twice": "factor of 2", "negated": "flipped sign", "zero": "zero everywhere", "over_n": "1/N"}


def deep_net_with(op, *, init: str = "he", seed: int = 0):
    """The document's deep net [4, 5, 5, 5, 3, 1] on 6 samples, ``op`` after layer 3's ReLU."""
    rng = np.random.default_rng(seed)
    net = nn.Sequential.mlp([4, 5, 5, 5, 3, 1], init=init, rng=rng)
    X = tg.Tensor(rng.standard_normal((4, 6)), name="X")
    Y = tg.Tensor((rng.random((1, 6)) > 0.5) * 1.0, name="Y")
    with tg.detect_anomaly():  # records where each op was built
        A = X
        for layer in net.layers:
            A = layer(A)
            if getattr(layer, "kind", None) and layer.index == 3:
                with tg.name_scope("layer3"):
                    A = op.apply(A)  # BURIED-OP
        return tg.binary_cross_entropy_with_logits(A, Y)


def test_the_deep_net_with_a_right_custom_op_passes():
    report = check_graph(deep_net_with(_wrong_tanh("right")))
    assert report.passed and report.first_failure is None, str(report)
    assert len(report) == 16 and "all pass" in str(report)


@pytest.mark.parametrize("bug", BUGS)
def test_a_wrong_op_buried_in_the_deep_net_is_named_and_only_it(bug):
    op = _wrong_tanh(bug)
    report = check_graph(deep_net_with(op))
    assert [r.op for r in report.failures] == [op.name], str(report)
    first = report.first_failure
    assert first.op == op.name and first.scope == "layer3" and not first.passed
    line = next(i for i, text in enumerate(inspect.getsource(deep_net_with).splitlines()) if "BURIED-OP" in text)
    assert first.built_at.endswith(f"test_check_graph.py:{deep_net_with.__code__.co_firstlineno + line}")
    assert "FAIL" in str(report) and f"first failure (nearest the leaves): '{op.name}'" in str(report)
    if bug in HINTS:
        assert HINTS[bug] in first.hint


def test_a_monkeypatched_builtin_backward_is_named(monkeypatch):
    tanh = tg.OPS["tanh"]
    right = tanh.backward
    monkeypatch.setattr(tanh, "backward", lambda self, ctx, g, out: 1.01 * right(self, ctx, g, out))
    x = tg.Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    W = tg.Tensor(np.eye(3) + 0.1, requires_grad=True)
    loss = tg.sigmoid(tg.tanh(tg.tanh(x) @ W) * 2.0).mean()
    report = check_graph(loss)
    assert {r.op for r in report.failures} == {"tanh"} and len(report.failures) == 2
    assert report.first_failure is report.failures[0]  # the one nearer the leaves


def test_gradcheck_names_the_buried_op_too():
    op = _wrong_tanh("twice")

    def fn(W):
        A = tg.relu(W @ np.array([[0.5, -1.0, 2.0], [1.0, 0.3, -0.2]]))
        return tg.sigmoid(op.apply(A * 1.5) + 0.1).sum(axis=0)

    with pytest.raises(AssertionError) as info:
        gradcheck(fn, np.array([[0.4, -0.3], [1.1, 0.2], [-0.5, 0.9]]))
    message = str(info.value)
    assert f"blame: check_graph finds the wrong backward in '{op.name}'" in message
    assert "test_check_graph.py:" in message  # the line that built it
    assert "also failing" not in message


# ----------------------------------------------------------------- the checkers' table of wrong derivatives

FIRST_ORDER = [case for case in checker_table.CASES if "gradcheck" in case.verdicts]


@pytest.mark.parametrize("case", FIRST_ORDER, ids=[case.name for case in FIRST_ORDER])
def test_check_graph_agrees_with_gradcheck_on_the_checkers_table(case):
    leaves = [tg.Tensor(np.array(x, dtype=np.float64), requires_grad=True) for x in case.inputs]
    report = check_graph(weighted_loss(case.fn(*leaves)))
    if case.verdicts["gradcheck"] == checker_table.ACCEPT:
        assert report.passed, str(report)
    else:
        assert report.failures and all(r.op not in tg.OPS for r in report.failures), str(report)


def test_swapped_gradients_are_recognised():
    swapped = checker_table.product_op("swapped_here", lambda ctx, g, x, y: (g * x, g * y))
    x = tg.Tensor(checker_table.X, requires_grad=True)
    y = tg.Tensor(checker_table.Y, requires_grad=True)
    first = check_graph(weighted_loss(swapped(x, y))).first_failure
    assert first.op == "swapped_here" and "swapped" in first.hint


# ----------------------------------------------------------------- the report, and what it refuses


def test_a_backward_that_raises_or_returns_a_transposed_gradient_fails_its_node():
    class Raises(tg.Op):
        name = "raises"

        def forward(self, x):
            return x * 2.0

        def backward(self, ctx, g):
            raise ZeroDivisionError("on purpose")

    class Transposed(Raises):
        name = "transposed"

        def backward(self, ctx, g):
            return 2.0 * g.T

    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    report = check_graph(weighted_loss(Transposed.apply(Raises.apply(x))))
    raises, transposed = report.failures
    assert "its backward raised ZeroDivisionError: on purpose" in raises.problem
    assert "does not reduce to the input's shape (2, 3)" in transposed.problem
    assert transposed.hint.startswith("transposed")
    assert report.first_failure is raises
    assert "FAIL (see below)" in str(report)


def test_report_iterates_in_creation_order_with_numbers():
    x = tg.Tensor([0.3, -0.2], requires_grad=True, name="x")
    with tg.name_scope("block"):
        loss = (tg.tanh(x) * 3.0).sum()
    report = check_graph(loss)
    assert [r.op for r in report] == ["tanh", "mul", "sum"] and len(report) == 3
    assert [r.number for r in report] == [1, 2, 3] and report[0].scope == "block"
    assert report[0].input == 0 and report[0].input_name == "x"
    assert report[0].built_at is None  # not recorded outside detect_anomaly
    table = str(report).splitlines()
    assert table[0].startswith("check_graph: 3 op nodes") and table[0].endswith("all pass")
    assert table[1].split() == ["#", "op", "scope", "built", "at", "input", "element", "analytic", "numeric", "result"]
    assert table[2].split()[:5] == ["1", "tanh", "block", "-", "0"]
    assert repr(report) == "<GraphCheck: 3 op nodes, 0 failed>"


def test_after_backward_with_retain_graph_and_not_after_a_plain_one():
    x = tg.Tensor([0.3, -0.2], requires_grad=True)
    loss = tg.sigmoid(x * x).sum()
    loss.backward(retain_graph=True)
    before = x.grad.copy()
    assert check_graph(loss).passed
    np.testing.assert_array_equal(x.grad, before)  # no .grad touched
    loss.backward()
    with pytest.raises(RuntimeError, match=r"check_graph: the graph was freed by backward\(\)"):
        check_graph(loss)


def test_bad_roots_and_settings_are_refused():
    x = tg.Tensor([0.3, -0.2], requires_grad=True)
    with pytest.raises(TypeError, match="check_graph: root must be a Tensor, got ndarray"):
        check_graph(np.ones(1))
    with pytest.raises(ValueError, match=r"check_graph: the root must have one element \(a loss\), got shape \(2,\)"):
        check_graph(x * 2)
    with pytest.raises(RuntimeError, match="check_graph: the root does not require grad"):
        check_graph(tg.Tensor(1.0))
    with pytest.raises(ValueError, match="check_graph: eps must be a finite number > 0, got 0"):
        check_graph((x * 2).sum(), eps=0)
    with pytest.raises(ValueError, match="check_graph: rtol must be a finite number >= 0"):
        check_graph((x * 2).sum(), rtol=-1)


def test_draw_highlights_the_failing_nodes():
    if "highlight" not in inspect.signature(tg.draw).parameters:
        pytest.skip("tg.draw does not take highlight= yet")
    op = _wrong_tanh("twice")
    report = check_graph(deep_net_with(op))
    dot = report.draw().source
    assert op.name in dot


# ----------------------------------------------------------------- the report word for word, and its numbers
#
# check_graph's report is read by people hunting a wrong backward: which node, which input and
# element, the two derivatives, the ratio, and why a node passed (one-sided at a kink, elements
# skipped, a float32 forward). The tables below pin it line by line for representative graphs,
# right and wrong; the weights v are drawn from a fixed seed, so the numbers are reproducible.


class IntegerOnly(tg.Op):
    """3x, defined at whole numbers only (nan elsewhere): no finite difference exists, every element is skipped."""

    name = "integer_only"

    def forward(self, x):
        return np.where(x == np.round(x), 3.0 * x, np.nan)

    def backward(self, ctx, g):
        return 3.0 * g


class Flat(tg.Op):
    """A constant output whose backward returns -0.0 (as g * 0 does for a negative g): the report shows 0, not -0."""

    name = "flat"

    def forward(self, x):
        return np.zeros_like(x)

    def backward(self, ctx, g):
        return -(0.0 * np.abs(g))


def right_graph():
    x = tg.Tensor(np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]), requires_grad=True, name="x")
    W = tg.Tensor(np.array([[0.3], [-0.6], [0.9]]), requires_grad=True, name="W")
    z = tg.Tensor(np.array([0.0, 0.5, -0.5]), requires_grad=True, name="z")  # relu's kink at z[0]
    k = tg.Tensor(np.array([1.0, -2.0]), requires_grad=True, name="k")
    empty = tg.Tensor(np.zeros(0), requires_grad=True, name="empty")
    with tg.name_scope("block"):
        h = tg.tanh(x @ W)
    return ((h * 3.0).sum() + tg.relu(z).sum() + IntegerOnly.apply(k).sum() + HalfPrecisionTwice.apply(z).sum()
            + Flat.apply(k).sum() + empty.sum())


RIGHT_REPORT = """\
check_graph: 18 op nodes, each backward against central differences of its own forward (float64, eps=1e-06, atol=1e-06, rtol=1e-05): all pass
 #  op             scope  built at  input  element   analytic    numeric  result
 1  matmul         block  -         0 'x'  (1, 0)    0.378413   0.378413  ok
 2  tanh           block  -         0      (0, 0)   0.0155504  0.0155504  ok
 3  mul            -      -         0      (1, 0)     4.12572    4.12572  ok
 4  sum            -      -         0      (0, 0)    0.561674   0.561674  ok
 5  relu           -      -         0 'z'  (1,)       0.88405    0.88405  ok, one-sided at 1
 6  sum            -      -         0      (0,)      0.768249   0.768249  ok
 7  add            -      -         0      ()        -1.18194   -1.18194  ok
 8  integer_only   -      -         0 'k'  (0,)      -1.63214          -  ok, 2 skipped
 9  sum            -      -         0      (0,)      0.786782   0.786782  ok
10  add            -      -         0      ()       -0.725297  -0.725297  ok
11  float32_twice  -      -         0 'z'  (1,)       1.29483    1.29483  ok, float32 forward
12  sum            -      -         0      (0,)       1.04637    1.04637  ok
13  add            -      -         0      ()       -0.596319  -0.596319  ok
14  flat           -      -         0 'k'  (0,)             0          0  ok
15  sum            -      -         0      (0,)      0.860626   0.860626  ok
16  add            -      -         0      ()       -0.857586  -0.857586  ok
17  sum            -      -         -      -                -          -  ok
18  add            -      -         0      ()        -0.57538   -0.57538  ok"""

# (op, depth, input, input_name, element, elements, one_sided, skipped, precision) per node
RIGHT_VERDICTS = [
    ("matmul", 1, 0, "x", (1, 0), 9, 0, 0, None),
    ("tanh", 2, 0, None, (0, 0), 2, 0, 0, None),
    ("mul", 3, 0, None, (1, 0), 2, 0, 0, None),  # the constant 3.0 needs no gradient: not compared
    ("sum", 4, 0, None, (0, 0), 2, 0, 0, None),
    ("relu", 1, 0, "z", (1,), 3, 1, 0, None),
    ("sum", 2, 0, None, (0,), 3, 0, 0, None),
    ("add", 5, 0, None, (), 2, 0, 0, None),
    ("integer_only", 1, 0, "k", (0,), 2, 0, 2, None),
    ("sum", 2, 0, None, (0,), 2, 0, 0, None),
    ("add", 6, 0, None, (), 2, 0, 0, None),
    ("float32_twice", 1, 0, "z", (1,), 3, 0, 0, "float32"),
    ("sum", 2, 0, None, (0,), 3, 0, 0, None),
    ("add", 7, 0, None, (), 2, 0, 0, None),
    ("flat", 1, 0, "k", (0,), 2, 0, 0, None),
    ("sum", 2, 0, None, (0,), 2, 0, 0, None),
    ("add", 8, 0, None, (), 2, 0, 0, None),
    ("sum", 1, None, None, None, 0, 0, 0, None),  # the sum of an empty input: nothing to compare
    ("add", 9, 0, None, (), 2, 0, 0, None),
]


def test_the_report_of_a_right_graph_line_by_line():
    report = check_graph(right_graph())
    assert str(report) == RIGHT_REPORT
    assert repr(report) == "<GraphCheck: 18 op nodes, 0 failed>"
    assert report.passed and report.failures == [] and report.first_failure is None
    assert [(r.op, r.depth, r.input, r.input_name, r.element, r.elements, r.one_sided, r.skipped, r.precision)
            for r in report] == RIGHT_VERDICTS
    assert [r.number for r in report] == list(range(1, 19))
    assert all(r.passed and r.hint is None and r.problem is None and r.site is None for r in report)
    for r in report:  # the tolerance of the element shown: atol + rtol * |numeric| (float32: both sqrt(eps32))
        if r.precision:
            assert r.tolerance == pytest.approx(np.finfo(np.float32).eps ** 0.5 * (1 + abs(r.numeric)), rel=1e-6)
        elif r.element is not None and r.op != "integer_only":
            assert r.tolerance == pytest.approx(1e-6 + 1e-5 * abs(r.numeric), rel=1e-12)
    assert np.isnan(report[7].numeric) and np.isnan(report[7].tolerance)  # skipped: no numeric value at all
    assert np.isnan(report[16].analytic) and np.isnan(report[16].ratio)


def test_what_a_passing_node_and_an_empty_one_say():
    report = check_graph(right_graph())
    assert report[0].where() == "'matmul' (#1, scope 'block')"
    assert report[0].where(number=False) == "'matmul' (scope 'block')"
    assert report[2].where(number=False) == "'mul'"
    assert report[0].describe() == "'matmul' (#1, scope 'block'), input 0 'x', element (1, 0): analytic 0.378413, numeric 0.378413"
    assert report[2].describe(number=False) == "'mul', input 0, element (1, 0): analytic 4.12572, numeric 4.12572"
    assert report[13].describe() == "'flat' (#14), input 0 'k', element (0,): analytic 0, numeric 0"
    assert report[16].describe() == "'sum' (#17): nothing to compare"
    assert report[7].describe(hint=False) == "'integer_only' (#8), input 0 'k', element (0,): analytic -1.63214, numeric -"


class DoubleSlope(tg.Op):
    """x**2 whose backward says 4x: twice the derivative."""

    name = "double_slope"
    saves = ("x",)

    def forward(self, x):
        return x * x

    def backward(self, ctx, g, x):
        return g * 4.0 * x


class RaisingBackward(tg.Op):
    name = "raising"

    def forward(self, x):
        return x * 2.0

    def backward(self, ctx, g):
        raise ZeroDivisionError("on purpose")


class TransposingBackward(RaisingBackward):
    name = "transposing"

    def backward(self, ctx, g):
        return 2.0 * g.T


class TextBackward(RaisingBackward):
    name = "text_gradient"

    def backward(self, ctx, g):
        return "not a gradient"


class MeanBroadcast(tg.Op):
    """(1,) -> (5,) copies; the backward averages the copies where it should add them."""

    name = "mean_broadcast"

    def forward(self, x):
        return np.broadcast_to(x, (5,)).copy()

    def backward(self, ctx, g):
        return g.mean(keepdims=True)


class SwappedProduct(tg.Op):
    name = "swapped_product"
    saves = ("x", "y")

    def forward(self, x, y):
        return x * y

    def backward(self, ctx, g, x, y):
        return g * x, g * y


def _leaf(values, name):
    return tg.Tensor(np.array(values), requires_grad=True, name=name)


def _double_slope_graph():
    x = _leaf([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], "x")
    W = _leaf([[0.3], [-0.6], [0.9]], "W")
    with tg.name_scope("block"):
        h = tg.tanh(x @ W)
    return (DoubleSlope.apply(h) * 3.0).sum()


HEADER = ("check_graph: {n} op nodes, each backward against central differences of its own forward "
          "(float64, eps=1e-06, atol=1e-06, rtol=1e-05): {verdict}")

# (id, the graph, the report's lines after its header, the first failure's describe(hint=False, number=False))
WRONG_GRAPHS = [
    ("a factor of 2", _double_slope_graph, 5, [
        "#  op            scope  built at  input  element   analytic    numeric  result",
        "1  matmul        block  -         0 'x'  (1, 0)    0.378413   0.378413  ok",
        "2  tanh          block  -         0      (0, 0)   0.0155504  0.0155504  ok",
        "3  double_slope  -      -         0      (0, 0)     4.79274    2.39637  FAIL, ratio 2",
        "4  mul           -      -         0      (0, 0)     1.68502    1.68502  ok",
        "5  sum           -      -         0      (0, 0)     0.88405    0.88405  ok",
        "first failure (nearest the leaves): 'double_slope' (#3), input 0, element (0, 0): analytic 4.79274, "
        "numeric 2.39637, ratio 2",
        "  hint: a factor of 2: analytic = 2 x numeric at every element "
        "(a derivative such as 2x applied twice, or g + g where g belongs)",
    ], "'double_slope', input 0, element (0, 0): analytic 4.79274, numeric 2.39637, ratio 2"),
    ("a backward that raises", lambda: RaisingBackward.apply(_leaf([0.5, -1.0], "x")).sum(), 2, [
        "#  op       scope  built at  input  element   analytic    numeric  result",
        "1  raising  -      -         -      -                -          -  FAIL (see below)",
        "2  sum      -      -         0      (0,)     -0.645451  -0.645451  ok",
        "first failure (nearest the leaves): 'raising' (#1): its backward raised ZeroDivisionError: on purpose",
    ], "'raising': its backward raised ZeroDivisionError: on purpose"),
    ("a transposed gradient", lambda: TransposingBackward.apply(_leaf(np.ones((2, 3)), "x")).sum(), 2, [
        "#  op           scope  built at  input  element  analytic   numeric  result",
        "1  transposing  -      -         0 'x'  -               -         -  FAIL (see below)",
        "2  sum          -      -         0      (1, 1)   0.561674  0.561674  ok",
        "first failure (nearest the leaves): 'transposing' (#1): transposing: the gradient for input 0 has shape (3, 2), "
        "which does not reduce to the input's shape (2, 3)",
        "  hint: transposed: the gradient has shape (3, 2) for input 0 of shape (2, 3) "
        "(a .T missing, or the operands of a matmul in the wrong order)",
    ], "'transposing': transposing: the gradient for input 0 has shape (3, 2), which does not reduce to the "
       "input's shape (2, 3)"),
    ("a gradient that is no array", lambda: TextBackward.apply(_leaf([0.5, -1.0], "x")).sum(), 2, [
        "#  op             scope  built at  input  element   analytic    numeric  result",
        "1  text_gradient  -      -         0      -                -          -  FAIL (see below)",
        "2  sum            -      -         0      (0,)     -0.645451  -0.645451  ok",
        "first failure (nearest the leaves): 'text_gradient' (#1): its backward returned a str for input 0, not an array",
    ], "'text_gradient': its backward returned a str for input 0, not an array"),
    ("a factor of 1/N, N the size of the output", lambda: MeanBroadcast.apply(_leaf([0.7], "x")).sum(), 2, [
        "#  op              scope  built at  input  element  analytic  numeric  result",
        "1  mean_broadcast  -      -         0 'x'  (0,)      1.06449  5.32246  FAIL, ratio 0.2",
        "2  sum             -      -         0      (0,)      1.25792  1.25792  ok",
        "first failure (nearest the leaves): 'mean_broadcast' (#1), input 0 'x', element (0,): analytic 1.06449, "
        "numeric 5.32246, ratio 0.2",
        "  hint: a factor of 1/N, N = 5 (the size of the output): analytic = numeric x 0.2 at every element "
        "(a division by N that does not belong, e.g. a sum's gradient divided like a mean's)",
    ], "'mean_broadcast', input 0 'x', element (0,): analytic 1.06449, numeric 5.32246, ratio 0.2"),
    ("two gradients swapped",
     lambda: SwappedProduct.apply(_leaf([0.5, -1.0, 2.0], "a"), _leaf([1.5, 0.25, -0.75], "b")).sum(), 2, [
        "#  op               scope  built at  input  element  analytic    numeric  result",
        "1  swapped_product  -      -         0 'a'  (1,)      1.26138  -0.315344  FAIL, ratio -4",
        "2  sum              -      -         0      (0,)      1.39836    1.39836  ok",
        "first failure (nearest the leaves): 'swapped_product' (#1), input 0 'a', element (1,): analytic 1.26138, "
        "numeric -0.315344, ratio -4",
        "  hint: the gradients of input 0 and input 1 are swapped: each equals the other's numeric gradient "
        "(return them in the order of forward's parameters)",
    ], "'swapped_product', input 0 'a', element (1,): analytic 1.26138, numeric -0.315344, ratio -4"),
]


@pytest.mark.parametrize("graph, n, lines, described", [c[1:] for c in WRONG_GRAPHS], ids=[c[0] for c in WRONG_GRAPHS])
def test_the_report_of_a_wrong_graph_line_by_line(graph, n, lines, described):
    report = check_graph(graph())
    assert str(report).splitlines() == [HEADER.format(n=n, verdict="1 FAILED"), *lines]
    assert repr(report) == f"<GraphCheck: {n} op nodes, 1 failed>"
    first = report.first_failure
    assert report.failures == [first] and not report.passed
    assert [r.passed for r in report] == [r is not first for r in report]  # False, not merely falsy
    assert [r.depth for r in report] == list(range(1, n + 1))  # a chain: node k is k ops from the leaves
    assert first.describe(hint=False, number=False) == described
    # describe() by default: the row number and the hint on a line of its own, as in the report
    assert f"first failure (nearest the leaves): {first.describe()}" == "\n".join(lines[n + 1:])
    assert (first.hint is None) == (len(lines) == n + 2)


def test_a_recorded_site_and_a_scope_are_shown_where_the_node_is_named():
    report = check_graph(_double_slope_graph())
    first = replace(report.first_failure, site=("/nowhere/model.py", 7, "forward"))
    assert first.built_at == "/nowhere/model.py:7"
    assert first.where() == "'double_slope' (#3, built at /nowhere/model.py:7)"
    scoped = replace(report[1], site=("/nowhere/model.py", 12, "forward"))
    assert scoped.where() == "'tanh' (#2, scope 'block', built at /nowhere/model.py:12)"
    assert scoped.where(number=False) == "'tanh' (scope 'block', built at /nowhere/model.py:12)"
    table = str(GraphCheck(report.root, [scoped], eps=1e-6, atol=1e-6, rtol=1e-5)).splitlines()
    assert table[1:] == [
        "#  op    scope  built at              input  element   analytic    numeric  result",
        "2  tanh  block  /nowhere/model.py:12  0      (0, 0)   0.0155504  0.0155504  ok",
    ]
    assert first.describe(hint=False) == (
        "'double_slope' (#3, built at /nowhere/model.py:7), input 0, element (0, 0): analytic 4.79274, "
        "numeric 2.39637, ratio 2"
    )


def test_the_site_is_the_one_recorded_under_detect_anomaly():
    x = _leaf([0.5, -1.0], "x")
    with tg.detect_anomaly():
        loss = tg.tanh(x).sum()
    report = check_graph(loss)
    assert [r.site for r in report] == [loss.node.parents[0].site, loss.node.site]
    assert all(r.site is not None for r in report)


def test_a_problem_without_a_hint_and_hints_turned_off():
    report = check_graph(TransposingBackward.apply(_leaf(np.ones((2, 3)), "x")).sum())
    first = report.first_failure
    assert first.describe(hint=False) == (
        "'transposing' (#1): transposing: the gradient for input 0 has shape (3, 2), which does not reduce to the "
        "input's shape (2, 3)"
    )
    assert (first.input, first.input_name, first.element) == (0, "x", None)
    no_hint = replace(first, hint=None)
    assert no_hint.describe() == first.describe(hint=False)


def test_the_settings_in_the_header():
    report = check_graph(_double_slope_graph(), eps=1e-4, atol=1e-5, rtol=1e-3)
    assert str(report).splitlines()[0] == (
        "check_graph: 5 op nodes, each backward against central differences of its own forward "
        "(float64, eps=0.0001, atol=1e-05, rtol=0.001): 1 FAILED"
    )
    assert (report.eps, report.atol, report.rtol) == (1e-4, 1e-5, 1e-3)
    assert report.first_failure.tolerance == pytest.approx(1e-5 + 1e-3 * abs(report.first_failure.numeric))


# ----------------------------------------------------------------- the verdict: tolerances, steps, edges


class SignSlope(tg.Op):
    """A constant output whose backward returns ``scale * sign(g)``: an error of exactly ``scale``."""

    name = "sign_slope"

    def __init__(self, scale: float):
        self.scale = scale

    def forward(self, x):
        return np.zeros_like(x)

    def backward(self, ctx, g):
        return self.scale * np.sign(g)


@pytest.mark.parametrize("scale, passed", [(1.0, True), (1.5, False)])
def test_an_error_equal_to_the_tolerance_passes_and_a_larger_one_fails(scale, passed):
    # atol 1, rtol 0 and a numeric derivative of exactly 0: the error is exactly `scale` tolerances.
    x = _leaf([0.5, -1.0, 2.0], "x")
    report = check_graph(SignSlope.apply(x, scale=scale).sum(), atol=1.0, rtol=0.0)
    node = report[0]
    assert node.passed is passed and (node.one_sided, node.skipped) == (0, 0)
    assert abs(node.analytic) == scale and node.numeric == 0.0 and node.tolerance == 1.0


def test_exact_agreement_passes_under_zero_tolerances():
    # Flat's derivative is 0 and so is every difference: 0 error passes even when the tolerance is 0.
    report = check_graph(Flat.apply(_leaf([0.5], "x")), atol=0.0, rtol=0.0)
    assert report.passed and report[0].elements == 1 and report[0].tolerance == 0.0


class SlightlyOffCube(tg.Op):
    """x**3 with a backward 1% too large."""

    name = "slightly_off_cube"
    saves = ("x",)

    def forward(self, x):
        return x**3

    def backward(self, ctx, g, x):
        return 1.01 * 3.0 * g * x * x


def test_a_relative_error_of_small_derivatives_is_still_caught():
    # Derivatives ~1e-3: a 1% error (1e-5) is well above atol + rtol * 1e-3.
    report = check_graph(SlightlyOffCube.apply(_leaf([0.02, -0.025, 0.015], "x")).sum())
    assert [r.op for r in report.failures] == ["slightly_off_cube"]
    assert report[0].ratio == pytest.approx(1.01, rel=1e-6)


def test_near_a_pole_the_step_shrinks_tenfold_until_both_sides_are_inside():
    # log at 5e-7: x - 1e-6 is refused, x -+ 1e-7 is not, so the central difference uses
    # h = 1e-7: (log(x + h) - log(x - h)) / 2h = atanh(h / x) / h, not 1 / x. That is 1.4%
    # off, and log's slope passes by lying between the two one-sided differences.
    report = check_graph(tg.log(_leaf([5e-7], "y")).sum())
    log = report[0]
    assert log.passed and (log.one_sided, log.skipped) == (1, 0)
    assert log.numeric / log.analytic == pytest.approx(np.arctanh(0.2) / 0.2, rel=1e-7)


def test_when_no_step_gets_both_sides_inside_the_valid_side_decides():
    # log at 5e-10: even h = eps / 1000 = 1e-9 crosses 0, so only the forward difference
    # (log(x + 1e-9) - log(x)) / 1e-9 = log(3) / 1e-9 is left, and it is far from 1 / x.
    report = check_graph(tg.log(_leaf([5e-10], "y")).sum())
    log = report[0]
    assert not log.passed
    assert log.ratio == pytest.approx(2.0 / np.log(3.0), rel=1e-6)
    # A step small enough gives a central difference again (for log; the sum after it is left to noise).
    assert check_graph(tg.log(_leaf([5e-10], "y")).sum(), eps=1e-12)[0].passed


class NumpyLog(tg.Op):
    """np.log as it is: nan and a RuntimeWarning outside its domain, where tg.log raises."""

    name = "numpy_log"
    saves = ("x",)

    def forward(self, x):
        return np.log(x)

    def backward(self, ctx, g, x):
        return g / x


def test_no_floating_point_warning_escapes_the_check():
    # Differences across a domain edge make numpy warn (log of a negative number): expected
    # there, so the check keeps such warnings to itself.
    loss = NumpyLog.apply(_leaf([5e-7, 2.0], "y")).sum()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = check_graph(loss)
    assert report.passed and report[0].one_sided == 1
    assert [str(w.message) for w in caught] == []


class Float32Cube(tg.Op):
    """x**3 rounded to float32."""

    name = "float32_cube"
    saves = ("x",)

    def forward(self, x):
        return (x**3).astype(np.float32)

    def backward(self, ctx, g, x):
        return 3.0 * g * x * x


def test_a_float32_forward_is_differenced_with_a_step_of_eps32_to_the_third():
    # The central difference of x**3 is 3x**2 + h**2: at x = 0.01 the step h = eps32**(1/3)
    # shows as a relative excess h**2 / (3 x**2) (about 8%), within the float32 tolerance.
    report = check_graph(Float32Cube.apply(_leaf([0.01], "x")).sum())
    cube = report[0]
    h = float(np.finfo(np.float32).eps) ** (1 / 3)
    assert cube.passed and cube.precision == "float32"
    assert cube.numeric / cube.analytic == pytest.approx(1 + h**2 / (3 * 0.01**2), rel=1e-4)
    assert cube.tolerance == pytest.approx(float(np.finfo(np.float32).eps) ** 0.5 * (1 + abs(cube.numeric)), rel=1e-6)
    # A larger eps asked for is kept.
    wide = check_graph(Float32Cube.apply(_leaf([0.01], "x")).sum(), eps=0.02)[0]
    assert wide.numeric / wide.analytic == pytest.approx(1 + 0.02**2 / (3 * 0.01**2), rel=1e-4)


class WholeInFloat64(tg.Op):
    """Rounds to whole numbers; given float64 it returns them as int64 (the check re-runs forwards in float64)."""

    name = "whole_in_float64"

    def forward(self, x):
        return np.rint(x).astype(np.int64 if x.dtype == np.float64 else x.dtype)

    def backward(self, ctx, g):
        return np.zeros_like(g)


def test_an_integer_output_is_differenced_with_the_ordinary_step():
    # Only a floating output has a rounding precision to fit the step to; an integer one keeps
    # eps (a step of 1 would cross the jumps of the rounding and see a slope).
    x = tg.Tensor(np.array([0.3, -1.2], dtype=np.float32), requires_grad=True)
    rounded = check_graph(WholeInFloat64.apply(x).sum())[0]
    assert rounded.passed and rounded.precision is None
    assert rounded.numeric == 0.0 and rounded.tolerance == 1e-6


class DtypeSpy(tg.Op):
    """tanh in float32 that records the dtypes its backward is given."""

    name = "dtype_spy"
    saves = ("x", "out")
    seen: list = []

    def forward(self, x):
        return np.tanh(x).astype(np.float32)

    def backward(self, ctx, g, x, out):
        DtypeSpy.seen.append((g.dtype, x.dtype, out.dtype, ctx.dtype, ctx.parents[0].dtype, ctx.parents[0].shape))
        return g * (1.0 - out * out)


def test_a_backward_sees_float64_arrays_during_the_check():
    x = tg.Tensor(np.array([0.5, -1.0], dtype=np.float32), requires_grad=True)
    loss = DtypeSpy.apply(x).sum()
    DtypeSpy.seen.clear()
    report = check_graph(loss)
    f64 = np.dtype(np.float64)
    assert DtypeSpy.seen == [(f64, f64, f64, f64, f64, (2,))]
    assert report.passed and report[0].precision == "float32"


class Drifting(tg.Op):
    """x the first time it runs, x - 1 every time after: a forward that does not repeat itself (like dropout)."""

    name = "drifting"
    runs = 0

    def forward(self, x):
        Drifting.runs += 1
        return x if Drifting.runs == 1 else x - 1.0

    def backward(self, ctx, g):
        return g


def test_a_node_is_checked_at_the_inputs_it_saved_not_at_a_rerun():
    # log saved its input 0.5; re-running `drifting` would give -0.5, outside log's domain.
    Drifting.runs = 0
    loss = tg.log(Drifting.apply(_leaf([0.5], "x"))).sum()
    report = check_graph(loss)
    log = report[1]
    assert log.op == "log" and log.passed and log.skipped == 0
    assert log.analytic / log.numeric == pytest.approx(1.0, rel=1e-6)
    assert abs(log.analytic) > 1.0  # v / 0.5, |v| >= 0.5


class TensorGradient(RaisingBackward):
    name = "tensor_gradient"

    def backward(self, ctx, g):
        return tg.Tensor(2.0 * g)


class NoGradient(RaisingBackward):
    name = "no_gradient"

    def backward(self, ctx, g):
        return None


def test_a_tensor_gradient_is_read_and_a_missing_one_is_zero():
    assert check_graph(TensorGradient.apply(_leaf([0.5, -1.0], "x")).sum()).passed
    report = check_graph(NoGradient.apply(_leaf([0.5, -1.0], "x")).sum())
    first = report.first_failure
    assert first.op == "no_gradient" and first.analytic == 0.0 and first.problem is None
    assert first.hint.startswith("analytic is zero everywhere, numeric is not: the backward returns zeros (or None) "
                                 "for input 0")


class ExactPair(tg.Op):
    """A zero output of two inputs whose zero derivatives every difference reproduces exactly."""

    name = "exact_pair"

    def forward(self, x, y):
        return np.zeros_like(x + y)

    def backward(self, ctx, g):
        return 0.0 * g, 0.0 * g


def test_the_worst_element_is_the_first_of_the_worst_input():
    report = check_graph(ExactPair.apply(_leaf([0.5, -1.0], "x"), _leaf([2.0, 1.0], "y")).sum())
    assert (report[0].input, report[0].input_name, report[0].element) == (0, "x", (0,))
    # Only the inputs that need a gradient are compared: here the second alone.
    constant = tg.Tensor(np.array([[1.0, 2.0]]))
    report = check_graph((constant @ _leaf([[0.5], [-1.0]], "W")).sum())
    assert (report[0].op, report[0].input, report[0].input_name, report[0].elements) == ("matmul", 1, "W", 2)


def test_the_first_failure_is_the_one_nearest_the_leaves_not_the_first_made():
    deep = DoubleSlope.apply(tg.tanh(tg.tanh(tg.tanh(_leaf([0.3, -0.4], "a")))))  # made first, depth 4
    shallow = DoubleSlope.apply(_leaf([0.6, 0.2], "b"))  # made later, depth 1
    report = check_graph((deep + shallow).sum())
    assert [(r.op, r.depth, r.passed) for r in report] == [
        ("tanh", 1, True), ("tanh", 2, True), ("tanh", 3, True), ("double_slope", 4, False),
        ("double_slope", 1, False), ("add", 5, True), ("sum", 6, True),
    ]
    assert report.first_failure is report[4] and report.failures == [report[3], report[4]]
    assert str(report).splitlines()[-2].startswith("first failure (nearest the leaves): 'double_slope' (#5), input 0 'b'")


def test_draw_highlights_exactly_the_failing_nodes_and_passes_options_on():
    report = check_graph(_double_slope_graph())
    root = report.root
    failing = [report.first_failure.node]
    assert report.draw(title="checked").source == tg.draw(root, title="checked", highlight=failing).source
    assert report.draw(title="checked").source != tg.draw(root, title="checked").source


# ----------------------------------------------------------------- what check_graph refuses, word for word


def _freed():
    loss = tg.sigmoid(_leaf([0.3, -0.2], "x") * 2.0).sum()
    loss.backward()
    return loss


def _forward_fails_again():
    class OnceOnly(tg.Op):
        name = "once_only"
        runs = 0

        def forward(self, x):
            OnceOnly.runs += 1
            if OnceOnly.runs > 1:
                raise ValueError("ran twice")
            return 2.0 * x

        def backward(self, ctx, g):
            return 2.0 * g

    return OnceOnly.apply(_leaf([1.0], "x")).sum()


# (id, the root, keyword arguments, the error, its whole message, formatted with the root)
REFUSALS = [
    ("not a tensor", lambda: np.ones(1), {}, TypeError, "check_graph: root must be a Tensor, got ndarray"),
    ("no grad", lambda: tg.Tensor(1.0), {}, RuntimeError,
     "check_graph: the root does not require grad, so no graph was recorded"),
    ("not one element", lambda: _leaf([0.3, -0.2], "x") * 2.0, {}, ValueError,
     "check_graph: the root must have one element (a loss), got shape (2,); reduce it first"),
    ("eps 0", lambda: _leaf([0.3], "x").sum(), {"eps": 0}, ValueError,
     "check_graph: eps must be a finite number > 0, got 0"),
    ("eps negative", lambda: _leaf([0.3], "x").sum(), {"eps": -1e-6}, ValueError,
     "check_graph: eps must be a finite number > 0, got -1e-06"),
    ("eps infinite", lambda: _leaf([0.3], "x").sum(), {"eps": float("inf")}, ValueError,
     "check_graph: eps must be a finite number > 0, got inf"),
    ("eps a string", lambda: _leaf([0.3], "x").sum(), {"eps": "1e-6"}, ValueError,
     "check_graph: eps must be a finite number > 0, got '1e-6'"),
    ("atol nan", lambda: _leaf([0.3], "x").sum(), {"atol": float("nan")}, ValueError,
     "check_graph: atol must be a finite number >= 0, got nan"),
    ("atol negative", lambda: _leaf([0.3], "x").sum(), {"atol": -1.0}, ValueError,
     "check_graph: atol must be a finite number >= 0, got -1.0"),
    ("rtol negative", lambda: _leaf([0.3], "x").sum(), {"rtol": -1}, ValueError,
     "check_graph: rtol must be a finite number >= 0, got -1"),
    ("rtol a string", lambda: _leaf([0.3], "x").sum(), {"rtol": "0"}, ValueError,
     "check_graph: rtol must be a finite number >= 0, got '0'"),
    ("freed by backward", _freed, {}, RuntimeError,
     "check_graph: the graph was freed by backward() ('mul', node {root.node.parents[0].parents[0].id}); call "
     "check_graph before backward(), "
     "or after backward(retain_graph=True)"),
    ("forward fails when run again", _forward_fails_again, {}, RuntimeError,
     "check_graph: the forward of 'once_only' (node {root.node.parents[0].id}) failed when run again at its "
     "recorded inputs: "
     "ValueError: ran twice"),
]


@pytest.mark.parametrize("root, kwargs, error, message", [c[1:] for c in REFUSALS], ids=[c[0] for c in REFUSALS])
def test_each_refusal_in_full(root, kwargs, error, message):
    root = root()
    with pytest.raises(error) as info:
        check_graph(root, **kwargs)
    assert str(info.value) == message.format(root=root)


def test_zero_tolerances_and_a_leaf_root_are_accepted():
    x = _leaf([0.3], "x")
    assert check_graph(Flat.apply(x), atol=0, rtol=0.0).passed
    leaf = check_graph(_leaf([0.3], "w"))  # a leaf that requires grad: no op node to check
    assert len(leaf) == 0 and leaf.passed and str(leaf).splitlines()[0].endswith(": all pass")


class Positives(tg.Op):
    """The positive elements of x: an output whose shape depends on the values."""

    name = "positives"
    saves = ("x",)

    def forward(self, x):
        return x[x > 0]

    def backward(self, ctx, g, x):
        grad = np.zeros_like(x)
        grad[x > 0] = g
        return grad


def test_a_side_where_the_output_changes_shape_gives_no_difference():
    # At x[0] = 0, x + h has one more positive element (3, not 2): only the backward difference
    # is usable there (slope 0, as the backward says); every other element has both.
    node = check_graph(Positives.apply(_leaf([0.0, 0.5, -0.5, 0.7], "x")).sum())[0]
    assert node.passed and (node.elements, node.one_sided, node.skipped) == (4, 1, 0)


class BroadcastingAdd(tg.Op):
    """x + b with b of shape (3,) broadcast over x's rows; the backward leaves b's gradient unreduced."""

    name = "broadcasting_add"

    def forward(self, x, b):
        return x + b

    def backward(self, ctx, g):
        return g, g


def test_a_broadcast_gradient_is_summed_to_the_input_shape_before_the_comparison():
    x, b = _leaf(np.ones((2, 3)), "x"), _leaf([0.5, -1.0, 2.0], "b")
    node = check_graph(BroadcastingAdd.apply(x, b).sum())[0]
    assert node.passed and node.elements == 9


class SecondTransposed(tg.Op):
    name = "second_transposed"

    def forward(self, x, y):
        return x + y

    def backward(self, ctx, g):
        return g, g.T


def test_a_gradient_of_the_wrong_shape_names_its_input():
    node = check_graph(SecondTransposed.apply(_leaf(np.ones((2, 3)), "x"), _leaf(np.ones((2, 3)), "y")).sum())[0]
    assert (node.passed, node.input, node.input_name, node.depth) == (False, 1, "y", 1)
    assert node.problem == (
        "second_transposed: the gradient for input 1 has shape (3, 2), which does not reduce to the input's shape (2, 3)"
    )
    assert node.hint == ("transposed: the gradient has shape (3, 2) for input 1 of shape (2, 3) "
                         "(a .T missing, or the operands of a matmul in the wrong order)")


class ForgetfulMean(tg.Op):
    """The mean of x whose backward forgets to divide by the number of elements."""

    name = "forgetful_mean"

    def forward(self, x):
        return np.array(x.mean())

    def backward(self, ctx, g):
        return np.broadcast_to(g, ctx.parents[0].shape).copy()


def test_a_factor_that_is_an_input_size_is_named_after_that_input():
    node = check_graph(ForgetfulMean.apply(_leaf(np.linspace(-1.0, 1.0, 6).reshape(2, 3), "x")))[0]
    assert node.ratio == pytest.approx(6.0, rel=1e-6)
    assert node.hint == ("a factor of N = 6 (the size of input 0): analytic = 6 x numeric at every element "
                         "(a mean's backward that forgets to divide by N)")


class IntegerOrNegative(tg.Op):
    """3x, defined at whole numbers and at negative values (nan elsewhere)."""

    name = "integer_or_negative"

    def forward(self, x):
        return np.where((x == np.round(x)) | (x < 0), 3.0 * x, np.nan)

    def backward(self, ctx, g):
        return 3.0 * g


def test_the_element_shown_is_one_that_was_compared_not_one_skipped():
    # At 1.0 both sides are undefined (skipped); at -0.5 the differences exist, and they are what is shown.
    node = check_graph(IntegerOrNegative.apply(_leaf([-0.5, 1.0], "k")).sum())[0]
    assert node.passed and (node.elements, node.skipped, node.one_sided) == (2, 1, 0)
    assert node.element == (0,) and node.numeric == pytest.approx(node.analytic, rel=1e-8)


class NanWhereUndefined(IntegerOnly):
    """integer_only (every element skipped) whose backward gives nan for element 1 and inf for element 2."""

    name = "nan_where_undefined"

    def backward(self, ctx, g):
        return 3.0 * g * np.array([1.0, np.nan, np.inf])


def test_a_nan_or_inf_gradient_never_passes_even_where_nothing_is_compared():
    node = check_graph(NanWhereUndefined.apply(_leaf([1.0, 2.0, 3.0], "k")).sum())[0]
    assert not node.passed and node.skipped == 3 and node.element == (1,)


class HalfWrongProduct(tg.Op):
    """x * y whose backward doubles x's gradient and gets y's right."""

    name = "half_wrong_product"
    saves = ("x", "y")

    def forward(self, x, y):
        return x * y

    def backward(self, ctx, g, x, y):
        return 2.0 * g * y, g * x


def test_one_wrong_input_fails_the_node_whichever_input_comes_last():
    node = check_graph(HalfWrongProduct.apply(_leaf([0.5, -1.0], "x"), _leaf([1.5, 0.25], "y")).sum())[0]
    assert not node.passed and node.input == 0 and node.ratio == pytest.approx(2.0, rel=1e-6)
    assert node.hint.startswith("a factor of 2: analytic = 2 x numeric")


class KinkAndGap(tg.Op):
    """relu(x) + 3y, y defined at whole numbers only: a kink in one input, skipped elements in the other."""

    name = "kink_and_gap"
    saves = ("a", "b")

    def __init__(self, gap_first: bool = False):
        self.gap_first = gap_first

    def forward(self, a, b):
        x, y = (b, a) if self.gap_first else (a, b)
        return np.maximum(x, 0.0) + np.where(y == np.round(y), 3.0 * y, np.nan)

    def backward(self, ctx, g, a, b):
        x = b if self.gap_first else a
        slopes = (g * (x > 0), 3.0 * g)
        return slopes[::-1] if self.gap_first else slopes


@pytest.mark.parametrize("gap_first", [False, True])
def test_one_sided_and_skipped_elements_are_counted_over_every_input(gap_first):
    # x = [0, 0.5]: one kink; y = [1, 2]: whole numbers without defined neighbours, both skipped.
    x, y = _leaf([0.0, 0.5], "x"), _leaf([1.0, 2.0], "y")
    node = check_graph(KinkAndGap.apply(*((y, x) if gap_first else (x, y)), gap_first=gap_first).sum())[0]
    assert node.passed and (node.elements, node.one_sided, node.skipped) == (4, 1, 2)


class RefusesPositive(tg.Op):
    """x**2, refused for x > 0 (a domain edge at the point itself)."""

    name = "refuses_positive"
    saves = ("x",)

    def forward(self, x):
        if (x > 0).any():
            raise ValueError("refuses_positive: positive input")
        return x * x

    def backward(self, ctx, g, x):
        return 2.0 * g * x


def test_at_an_upper_domain_edge_the_backward_difference_is_shown():
    # At 0 every x + h is refused: no central or forward difference; (f(0) - f(-h)) / h = -h
    # with h shrunk to eps / 1000 is what the report shows, and the slope 0 agrees with it.
    node = check_graph(RefusesPositive.apply(_leaf([0.0], "x")).sum())[0]
    assert node.passed and (node.one_sided, node.skipped) == (1, 0)
    assert node.analytic == 0.0 and 0.5e-9 <= abs(node.numeric) <= 1.5e-9  # -v h, 0.5 <= |v| <= 1.5


class SteepAbs(tg.Op):
    """3|x|; at the kink its backward picks the subgradient 1.5 (in the direction of g)."""

    name = "steep_abs"
    saves = ("x",)

    def forward(self, x):
        return 3.0 * np.abs(x)

    def backward(self, ctx, g, x):
        return np.where(x == 0, 1.5 * np.sign(g), 3.0 * g * np.sign(x))


def test_a_subgradient_off_the_central_difference_by_more_than_the_tolerance_counts_as_one_sided():
    # With atol 1 and rtol 0: the central difference at 0 is 0, the one-sided slopes are -+3|v|
    # (|v| >= 0.5); the answer 1.5 is 1.5 tolerances from the central difference, inside the interval.
    node = check_graph(SteepAbs.apply(_leaf([0.0], "x")).sum(), atol=1.0, rtol=0.0)[0]
    assert node.passed and (node.one_sided, node.skipped) == (1, 0)
    assert abs(node.analytic) == 1.5 and node.numeric == 0.0
