"""docs/debugging.md runs as printed: its Python blocks, in order and in one namespace (from the
repository root, numpy's warnings off), print exactly the ``text`` block that follows each;
its figure exists; the thresholds it states are the code's."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

from tinygraph import _flow

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "debugging.md"
TEXT = DOC.read_text()
BLOCK = re.compile(r"```python\n(.*?)```\s*(?:```text\n(.*?)```)?", re.DOTALL)


def blocks() -> list:
    """(source, expected output or None, line number) for every ```python block."""
    return [(m.group(1), m.group(2), TEXT.count("\n", 0, m.start()) + 2) for m in BLOCK.finditer(TEXT)]


@pytest.fixture(scope="module")
def printed():
    """What each block printed, by line; run once from the root, where the doc's paths are relative to."""
    namespace = {"__name__": "docs_debugging"}
    outputs = {}
    with pytest.MonkeyPatch.context() as mp, np.errstate(all="ignore"):
        mp.chdir(ROOT)
        for source, _, line in blocks():
            out = io.StringIO()
            code = compile("\n" * (line - 1) + source, str(DOC), "exec")  # tracebacks point into the doc
            with contextlib.redirect_stdout(out):
                exec(code, namespace)
            outputs[line] = out.getvalue()
    return outputs


@pytest.mark.parametrize("source, expected, line", [b for b in blocks() if b[1] is not None], ids=lambda v: "")
def test_block_prints_what_the_doc_shows(printed, source, expected, line):
    got = [s.rstrip() for s in printed[line].rstrip().splitlines()]
    assert got == [s.rstrip() for s in expected.rstrip().splitlines()], (
        f"docs/debugging.md, block at line {line} printed:\n{printed[line]}"
    )


def test_the_doc_shows_each_report_format():
    assert len(blocks()) >= 10 and "PLACEHOLDER" not in TEXT
    shown = "\n".join(expected or "" for _, expected, _ in blocks())
    assert "gradient flow: 5 layers" in shown and "vanishing" in shown  # a gradient report
    assert "detect_anomaly: 'log' returned" in shown and "built at docs/debugging.md:" in shown  # forward
    assert "detect_anomaly: the backward of 'pow'" in shown  # backward
    assert "check_graph: 6 op nodes" in shown and "FAIL" in shown  # a check_graph table
    assert "blame: check_graph finds the wrong backward in 'softsign'" in shown  # gradcheck's blame


def test_the_figure_and_its_script_exist():
    assert "(img/debugging_flow.png)" in TEXT and (ROOT / "docs" / "img" / "debugging_flow.png").is_file()
    assert "python docs/make_debugging_figures.py" in TEXT
    assert (ROOT / "docs" / "make_debugging_figures.py").is_file()


def _short(x: float) -> str:
    return f"{x:.0e}".replace("e-0", "e-").replace("e+0", "e") if x < 1 else f"{x:g}"  # 1e-5, as the doc writes it


def test_the_stated_thresholds_are_the_codes():
    assert f"`|dW| / |W| < {_short(_flow.VANISHING_RATIO)}`" in TEXT
    assert f"below {_short(_flow.VANISHING_SHARE)} of the largest" in TEXT
    assert f"`|dW| / |W| > {_short(_flow.EXPLODING_RATIO)}`" in TEXT
    assert f"above {_flow.SATURATION:g}" in TEXT and f"beyond ±{_flow.SATURATION:g}" in TEXT
