"""check_graph names the op whose backward is wrong, and only that op; every built-in op passes.

The built-in ops come from the op table of tests/test_ops.py (whose own meta-test makes
it cover every registered op, so ops added later are checked here too); the wrong
derivatives from the table of tests/testing/test_checkers.py.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph import nn
from tinygraph.testing import check_graph, gradcheck

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
