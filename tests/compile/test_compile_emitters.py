"""Every op in tg.OPS has working code emitters: a one-op graph of it, compiled, gives the
eager forward and gradients to 1e-12 relative (float64), on the inputs its row of the op
table (tests/test_ops.py, CASES) draws. An op added without emitters fails here."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the op table
from test_ops import CASES  # noqa: E402

ROWS = {case.name: case for case in CASES}
NAMES = sorted(tg.OPS)


def _relative_error(got, want) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    scale = np.linalg.norm(want)
    return float(np.linalg.norm(got - want) / scale) if scale > 0 else float(np.linalg.norm(got))


@pytest.mark.parametrize("name", NAMES)
def test_op_declares_emitters(name):
    rule = tg.OPS[name]
    for method in ("emit_forward", "emit_backward"):
        assert callable(getattr(rule, method, None)), f"op '{name}' ({rule.__name__}) defines no {method}"


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25)
@given(data=st.data())
def test_one_op_graph_compiles_to_the_eager_values(name, data):
    assert name in ROWS, f"op '{name}' has no row in tests/test_ops.py CASES to draw its inputs from"
    case = ROWS[name]
    arrays, params = data.draw(case.draw_inputs(True))

    def one_op(*tensors):
        return case.fn(*tensors, **params)

    eager_inputs = [tg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    compiled_inputs = [tg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    eager = one_op(*eager_inputs)
    step = tg.compile(one_op)
    compiled = step(*compiled_inputs)
    assert re.search(rf"# {re.escape(name)}[ ,]", step.source), f"no line of '{name}' in:\n{step.source}"
    assert "tinygraph" not in step.source
    assert compiled.shape == eager.shape and compiled.dtype == eager.dtype
    assert _relative_error(compiled.data, eager.data) <= 1e-12, step.source
    seed = np.random.default_rng(0).uniform(0.5, 1.5, eager.shape)
    eager.backward(seed)
    compiled.backward(seed)
    for i, (a, b) in enumerate(zip(eager_inputs, compiled_inputs)):
        if a.grad is None:
            assert b.grad is None, f"input {i}: eager gives no gradient, compiled does"
            continue
        assert b.grad is not None, f"input {i}: compiled gives no gradient\n{step.source}"
        assert b.grad.shape == a.grad.shape and b.grad.dtype == a.grad.dtype
        assert _relative_error(b.grad, a.grad) <= 1e-12, f"input {i}\n{step.source}"
