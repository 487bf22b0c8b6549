"""Running dot (tinygraph.viz._runner): bounded in time, one-line errors, the install hint,
the notebook display. A fake `dot` (a shell script first on PATH) hangs, crashes or fails
on demand; the real one draws the rest."""

from __future__ import annotations

import doctest
import importlib
import os
import shutil
import stat
import subprocess
import sys

import graphviz
import pytest
from viz_helpers import needs_dot, two_layer

import tinygraph as tg
from tinygraph import viz
from tinygraph.viz import DotError, DotNotFoundError, DotTimeoutError, render

REAL_DOT = shutil.which("dot")


def fake_dot(folder, body: str, monkeypatch):
    """A `dot` on PATH that runs ``body`` (sh) and appends a line to calls.log each time it runs."""
    folder.mkdir(exist_ok=True)
    script = folder / "dot"
    script.write_text(f'#!/bin/sh\necho run >> "{folder}/calls.log"\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return folder / "calls.log"


def runs(log) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def small():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    return (tg.tanh(x) * x).sum().named("loss")


# ----------------------------------------------------------------- no dot


def test_without_dot_draw_works_and_everything_else_gives_the_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `dot` anywhere
    t = two_layer()
    graph = tg.draw(t["cost"])
    assert graph.source.startswith("digraph") and "<B>cost</B>" in graph.source
    for attempt in (lambda: render(t["cost"], tmp_path / "graph.svg"), lambda: graph.pipe(format="svg")):
        with pytest.raises(DotNotFoundError) as err:
            attempt()
        message = str(err.value)
        assert "apt-get install graphviz" in message and "brew install graphviz" in message and "conda" in message
        assert "\n" not in message
        # tinygraph's error, not graphviz's: a RuntimeError either way.
        assert isinstance(err.value, RuntimeError) and not isinstance(err.value, graphviz.ExecutableNotFound)
    # graphviz's own render() (and view()) give the hint too.
    with pytest.raises(DotNotFoundError, match="apt-get install graphviz"):
        graph.render(tmp_path / "picture", format="svg")
    # A notebook shows the hint as the cell's output, not a traceback.
    bundle = graph._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "apt-get install graphviz" in bundle["text/plain"]
    assert graph._repr_svg_() is None
    assert os.listdir(tmp_path) == ["picture"]  # graphviz saves the DOT source before it runs dot


def test_dot_not_found_is_catchable_without_importing_graphviz():
    code = (
        "import sys, tinygraph.viz as viz\n"
        "assert issubclass(viz.DotNotFoundError, RuntimeError) and issubclass(viz.DotTimeoutError, viz.DotError)\n"
        "try:\n"
        "    raise viz.DotNotFoundError('no dot')\n"
        "except RuntimeError:\n"
        "    pass\n"
        "print('graphviz' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_importing_viz_does_not_import_graphviz():
    code = "import sys, tinygraph, tinygraph.viz; print('graphviz' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


# ----------------------------------------------------------------- a dot that hangs, crashes or fails


def test_a_hanging_dot_is_stopped_at_the_timeout_with_advice(monkeypatch, tmp_path):
    log = fake_dot(tmp_path / "bin", "exec sleep 60", monkeypatch)
    t = two_layer()
    with pytest.raises(DotTimeoutError) as err:
        render(t["cost"], tmp_path / "graph.svg", timeout=0.3, show_formulas=True)
    message = str(err.value)
    assert "\n" not in message and message.startswith("render: Graphviz's dot did not finish within 0.3 s")
    assert f"{tg.draw(t['cost']).stats.nodes} nodes" in message
    for tip in ("collapse=True", "show_formulas=False", "timeout="):
        assert tip in message
    assert runs(log) == 1  # a timeout is not retried: the time is used up
    assert not (tmp_path / "graph.svg").exists()


def test_the_notebook_display_is_bounded_and_shows_the_message(monkeypatch, tmp_path):
    log = fake_dot(tmp_path / "bin", "exec sleep 60", monkeypatch)
    graph = tg.draw(small(), timeout=0.3)
    bundle = graph._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "did not finish within 0.3 s" in bundle["text/plain"]
    # IPython also asks _repr_svg_ when the bundle has no SVG: the failure is remembered, not re-run.
    assert graph._repr_svg_() is None
    with pytest.raises(DotTimeoutError):
        graph.pipe(format="svg")
    assert runs(log) == 1
    graph.attr(label="changed")  # a different picture is tried again
    with pytest.raises(DotTimeoutError):
        graph.pipe(format="svg")
    assert runs(log) == 2


def test_a_crash_is_one_line_naming_the_size_and_what_helps(monkeypatch, tmp_path):
    log = fake_dot(tmp_path / "bin", "cat > /dev/null; kill -SEGV $$", monkeypatch)
    t = two_layer()
    with pytest.raises(DotError) as err:
        render(t["cost"], tmp_path / "graph.svg")
    message = str(err.value)
    assert "\n" not in message and "crashed (killed by SIGSEGV)" in message
    assert "nodes" in message and "edges" in message and "collapse=True" in message
    assert not isinstance(err.value, DotTimeoutError)
    assert runs(log) >= 2  # retried without the layout hints first


def test_an_error_exit_names_dots_message(monkeypatch, tmp_path):
    fake_dot(tmp_path / "bin", 'cat > /dev/null; echo "Warning: ignore me" >&2; echo "Error: syntax error in line 1" >&2; exit 1', monkeypatch)
    with pytest.raises(DotError, match=r"failed \(exit status 1: Error: syntax error in line 1\) on this picture"):
        tg.draw(small()).pipe(format="svg")


@needs_dot
def test_a_picture_dot_fails_on_is_retried_without_its_layout_hints(monkeypatch, tmp_path):
    # Graphviz 2.43 fails on some pictures with "trouble in init_rank" because of the
    # spine's group (the attention blocks of benchmarks/render_shapes.py, top to bottom);
    # this dot fails whenever a group is there, and is the real dot otherwise.
    log = fake_dot(
        tmp_path / "bin",
        f'input=$(cat)\ncase "$input" in *group=*) echo "Error: trouble in init_rank" >&2; exit 1;; esac\n'
        f'printf "%s" "$input" | exec "{REAL_DOT}" "$@"',
        monkeypatch,
    )
    t = two_layer()
    path = render(t["cost"], tmp_path / "graph.svg", rankdir="LR")
    assert path.read_text().lstrip().startswith("<?xml") and runs(log) == 2


# ----------------------------------------------------------------- the real dot


@needs_dot
def test_the_notebook_display_draws_svg():
    graph = tg.draw(small())
    bundle = graph._repr_mimebundle_()
    assert "image/svg+xml" in bundle and "<svg" in bundle["image/svg+xml"]
    assert "<svg" in graph._repr_svg_()
    assert graph.pipe(format="svg").lstrip().startswith(b"<?xml")


def test_timeout_none_means_no_limit_and_bad_values_are_refused():
    assert tg.draw(small(), timeout=None).timeout is None
    assert tg.draw(small()).timeout == viz.OPTIONS["timeout"] == 30.0
    with pytest.raises(ValueError, match="timeout"):
        render(small(), "graph.svg", timeout=-1)


def test_draw_is_exported_and_its_examples_run():
    assert tg.draw is viz.draw and "draw" in tg.__all__
    attempted = 0
    for name in ("", "._layout", "._annotate", "._dot", "._shape", "._runner", "._render"):
        module = importlib.import_module("tinygraph.viz" + name)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted >= 5
