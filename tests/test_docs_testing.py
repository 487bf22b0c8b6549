"""docs/testing.md runs as printed: its Python blocks, in order and in one namespace,
print exactly the ``text`` block that follows each; the Hypothesis tests it defines
pass; and its reference matches the signatures and constants in tinygraph.testing."""

from __future__ import annotations

import contextlib
import inspect
import io
import re
from pathlib import Path

import numpy as np
import pytest

import tinygraph.testing
from tinygraph.testing import strategies

DOC = Path(__file__).resolve().parents[1] / "docs" / "testing.md"
TEXT = DOC.read_text()

# A fenced block, and the text block right after it when there is one.
BLOCK = re.compile(r"```python\n(.*?)```\s*(?:```text\n(.*?)```)?", re.DOTALL)
TEST_NAMES = re.findall(r"^def (test_\w+)\(", TEXT, flags=re.MULTILINE)


def blocks() -> list:
    """(source, expected output or None, line number) for every ```python block."""
    return [(m.group(1), m.group(2), TEXT.count("\n", 0, m.start()) + 2) for m in BLOCK.finditer(TEXT)]


def run_blocks() -> dict:
    namespace = {"__name__": "docs_testing"}
    for source, expected, line in blocks():
        out = io.StringIO()
        code = compile("\n" * (line - 1) + source, str(DOC), "exec")  # tracebacks point into the doc
        with contextlib.redirect_stdout(out):
            exec(code, namespace)
        if expected is not None:
            got = [s.rstrip() for s in out.getvalue().rstrip().splitlines()]
            assert got == [s.rstrip() for s in expected.rstrip().splitlines()], (
                f"docs/testing.md, block at line {line} printed:\n{out.getvalue()}"
            )
    return namespace


@pytest.fixture(scope="module")
def namespace():
    return run_blocks()


def test_blocks_run_and_print_what_the_doc_shows(namespace):
    assert len(blocks()) >= 15
    assert all(expected is None or "PLACEHOLDER" not in expected for _, expected, _ in blocks())


def test_doc_defines_the_tests_it_promises(namespace):
    defined = sorted(name for name in namespace if name.startswith("test_"))
    assert defined == sorted(TEST_NAMES) and len(defined) >= 6


@pytest.mark.parametrize("name", TEST_NAMES)
def test_hypothesis_test_from_the_doc(namespace, name):
    namespace[name]()


# ------------------------------------------------------------------ the reference section


def _reference() -> str:
    return TEXT.split("## 5. Reference", 1)[1]


def _entries() -> dict:
    """Each ``- `head`: ...`` bullet of the reference, keyed by the name it documents."""
    heads = re.findall(r"^- `([^`]+)`", _reference(), flags=re.MULTILINE)
    return {re.match(r"[\w.]+", head).group(0): head for head in heads}


def _public_names() -> dict:
    """Every public name of tinygraph.testing and of its strategies module."""
    names = {name: getattr(tinygraph.testing, name) for name in tinygraph.testing.__all__}
    for name, value in vars(strategies).items():
        if name.startswith("_"):
            continue
        if isinstance(value, strategies.Domain) or getattr(value, "__module__", None) == strategies.__name__:
            names[name] = value
    names["Domain.contains"] = strategies.Domain.contains
    return names


def _plain(signature: inspect.Signature) -> list:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


def test_reference_lists_every_public_name():
    assert sorted(_entries()) == sorted(_public_names())


@pytest.mark.parametrize("name", sorted(_public_names()))
def test_reference_entry_is_true(name):
    head, value = _entries()[name], _public_names()[name]
    if isinstance(value, strategies.Domain):
        documented = eval(head.split("=", 1)[1], {"Domain": strategies.Domain})
        assert documented == value, f"{head} but the code has {value}"
        return
    params = head[len(name) :]
    scope = {"np": np, **vars(strategies)}
    exec(f"def documented{params}: pass", scope)
    assert _plain(inspect.signature(scope["documented"])) == _plain(inspect.signature(value)), (
        f"docs/testing.md documents {head}; the code has {name}{inspect.signature(value)}"
    )
