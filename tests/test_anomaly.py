"""Anomaly mode: the first NaN or inf, forward or backward, named with the op and the line that built it."""

from __future__ import annotations

import inspect
import os
import threading

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import _anomaly, _graph, tensor

HERE = os.path.basename(__file__)


def line_of(marker: str) -> int:
    """The line of this file holding ``marker`` (once, in code below)."""
    lines = inspect.getsource(inspect.getmodule(line_of)).splitlines()
    found = [i + 1 for i, line in enumerate(lines) if marker in line and "line_of(" not in line]
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(autouse=True)
def quiet_numpy():
    with np.errstate(all="ignore"):
        yield


def plain_functions_installed() -> bool:
    return (
        tensor.apply is _anomaly._PLAIN["apply"]
        and tensor.apply1 is _anomaly._PLAIN["apply1"]
        and tensor.apply2 is _anomaly._PLAIN["apply2"]
        and _graph.hooks.apply is _anomaly._PLAIN["apply"]
        and _graph._propagate is _anomaly._PLAIN["_propagate"]
        and _graph._receive is _anomaly._PLAIN["_receive"]
    )


# ----------------------------------------------------------------- forward


def test_log_of_zero_names_op_scope_line_and_inputs():
    x = tg.Tensor([1.0, 0.0, 2.0], requires_grad=True, name="x")
    with pytest.raises(FloatingPointError) as info, tg.detect_anomaly():
        with tg.name_scope("layer1"):
            tg.log(x * 2)  # MARK-log
    message = str(info.value)
    assert message.startswith("detect_anomaly: 'log' returned 0 NaN and 1 inf among the 3 values")
    assert "in scope 'layer1'" in message
    assert f"{HERE}:{line_of('MARK-log')}" in message
    assert "tg.log(x * 2)" in message  # the line's code
    assert "input 0: shape (3,), min 0, max 4, 0 NaN, 0 inf" in message
    assert info.value.op == "log" and info.value.node.parents


def test_zero_over_zero_is_the_first_nan():
    a = tg.Tensor([0.0, 1.0], requires_grad=True, name="a")
    b = tg.Tensor([0.0, 2.0], name="b")
    with pytest.raises(FloatingPointError, match=r"^detect_anomaly: 'div' returned 1 NaN and 0 inf") as info:
        with tg.detect_anomaly():
            y = a * 1.0
            z = y / b  # MARK-div
            tg.exp(z)  # never reached: div is the first op with a NaN
    message = str(info.value)
    assert f"{HERE}:{line_of('MARK-div')}" in message
    assert "input 1 ('b'): shape (2,), min 0, max 2, 0 NaN, 0 inf" in message


def test_exp_overflow_without_grad_and_an_input_that_already_holds_nan():
    with tg.detect_anomaly():
        with pytest.raises(FloatingPointError, match=r"'exp' returned 0 NaN and 1 inf"):
            tg.exp(tg.Tensor([1.0, 800.0]))  # no graph recorded: still checked
        with pytest.raises(FloatingPointError, match=r"'tanh' returned 1 NaN") as info:
            tg.tanh(tg.Tensor([np.nan, 1.0]))
    assert "input 0: shape (2,), min 1, max 1, 1 NaN, 0 inf" in str(info.value)


def test_op_parameters_are_named():
    with pytest.raises(FloatingPointError, match=r"'pow' \(p=-1.0\)"), tg.detect_anomaly():
        tg.Tensor([2.0, 1e-320]) ** -1


def test_user_ops_of_any_arity_are_checked():
    class Blend(tg.Op):
        name = "blend"

        def forward(self, a, b, t):
            return a / t + b

        def backward(self, ctx, g):  # pragma: no cover - not reached
            return g, g, g

    one = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(FloatingPointError, match="'blend' returned 0 NaN and 1 inf"), tg.detect_anomaly():
        Blend.apply(one, one, tg.Tensor([0.0]))


def test_finite_work_is_unchanged_and_records_sites():
    x = tg.Tensor(np.array([[0.5, -1.0], [2.0, 0.1]]), requires_grad=True)
    with tg.detect_anomaly():
        y = tg.sigmoid(x @ x).sum()  # MARK-site
        y.backward()
    inside = x.grad.copy()
    assert y.node.site[0] == __file__ and y.node.site[1] == line_of("MARK-site")
    x.grad = None
    y2 = tg.sigmoid(x @ x).sum()
    y2.backward()
    np.testing.assert_array_equal(inside, x.grad)
    assert y2.node.site is None  # off: nothing recorded


def test_off_by_default():
    assert plain_functions_installed() and not _anomaly.is_anomaly_enabled()
    assert np.isinf(tg.log(tg.Tensor([0.0])).item())


# ----------------------------------------------------------------- backward


def test_backward_names_the_node_its_input_and_forward_line():
    b = tg.Tensor([1.0, 0.0, 2.0], requires_grad=True, name="b")
    with pytest.raises(FloatingPointError) as info, tg.detect_anomaly():
        root = (b * 4.0) ** 0.5  # MARK-sqrt
        root.sum().backward()
    message = str(info.value)
    assert message.startswith("detect_anomaly: the backward of 'pow' (p=0.5)")
    assert "returned 0 NaN and 1 inf in the gradient for its input 0" in message
    assert "made by 'mul'" in message
    assert f"{HERE}:{line_of('MARK-sqrt')}" in message
    assert "x (saved for backward): shape (3,), min 0, max 8, 0 NaN, 0 inf" in message
    assert "the gradient reaching its output: shape (3,), min 1, max 1" in message
    assert info.value.node.rule.name == "pow"


def test_the_first_bad_gradient_in_backward_order_is_reported():
    class NanBackward(tg.Op):
        name = "nan_backward"
        saves = ("x",)

        def forward(self, x):
            return x * 1.0

        def backward(self, ctx, g, x):
            return g * np.nan

    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    with pytest.raises(FloatingPointError) as info, tg.detect_anomaly():
        h = NanBackward.apply(x)  # MARK-nan-op
        (tg.log(h + 1.0) * 3.0).sum().backward()  # log's and mul's gradients are finite
    message = str(info.value)
    assert "the backward of 'nan_backward'" in message and "2 NaN and 0 inf" in message
    assert "input 0 'x' (a leaf, shape (2,))" in message
    assert f"{HERE}:{line_of('MARK-nan-op')}" in message
    assert x.grad is None


def test_a_forward_built_outside_the_block_is_named_without_a_line():
    b = tg.Tensor([0.0, 1.0], requires_grad=True)
    root = (b**0.5).sum()
    with pytest.raises(FloatingPointError, match="built outside detect_anomaly"), tg.detect_anomaly():
        root.backward()


def test_a_seed_that_is_not_finite():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(FloatingPointError, match="the gradient backward\\(\\) started from"):
        with tg.detect_anomaly():
            (x * 2).backward(np.array([np.inf, 1.0]))


def test_an_error_in_a_backward_rule_gets_the_forward_line():
    class Broken(tg.Op):
        name = "broken"

        def forward(self, x):
            return x * 2.0

        def backward(self, ctx, g):
            raise ArithmeticError("broken: on purpose")

    x = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(ArithmeticError) as info, tg.detect_anomaly():
        Broken.apply(x).sum().backward()  # MARK-broken
    notes = getattr(info.value, "__notes__", [])
    assert any(f"{HERE}:{line_of('MARK-broken')}" in note for note in notes)


# ----------------------------------------------------------------- switching in and out


def test_the_plain_functions_return_after_the_block_even_on_error():
    with pytest.raises(FloatingPointError), tg.detect_anomaly():
        assert not plain_functions_installed()
        with tg.detect_anomaly():  # nested
            pass
        assert not plain_functions_installed() and _anomaly.is_anomaly_enabled()
        tg.log(tg.Tensor([0.0]))
    assert plain_functions_installed() and not _anomaly.is_anomaly_enabled()


def test_as_a_decorator():
    @tg.detect_anomaly()
    def cost(x):
        """A cost."""
        return tg.log(x).sum()

    assert cost.__doc__ == "A cost." and cost.__name__ == "cost"
    assert cost(tg.Tensor([1.0])).item() == 0.0
    with pytest.raises(FloatingPointError, match="'log'"):
        cost(tg.Tensor([0.0]))
    assert plain_functions_installed()


def test_other_threads_are_not_checked():
    inside, done = threading.Event(), threading.Event()
    errors = []

    def in_anomaly_mode():
        with tg.detect_anomaly(), np.errstate(all="ignore"):
            inside.set()
            done.wait(10)
            try:
                tg.log(tg.Tensor([0.0]))
            except FloatingPointError as err:
                errors.append(err)

    thread = threading.Thread(target=in_anomaly_mode)
    thread.start()
    assert inside.wait(10)
    try:
        assert not plain_functions_installed()  # installed process-wide...
        assert np.isinf(tg.log(tg.Tensor([0.0])).item())  # ...but this thread is not checked
        assert tg.exp(tg.Tensor([1.0]) * 2).node is None
    finally:
        done.set()
        thread.join(10)
    assert len(errors) == 1 and "'log'" in str(errors[0])
    assert plain_functions_installed()
