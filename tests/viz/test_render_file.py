"""tinygraph.viz.render: the file is written atomically with the picture dot draws, or not at all."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET

import pytest
from viz_helpers import SVG, needs_dot, two_layer

import tinygraph as tg
from tinygraph.viz import render


@needs_dot
def test_render_writes_the_file_atomically(tmp_path, monkeypatch):
    t = two_layer()
    path = tmp_path / "graph.svg"
    assert render(t["cost"], path, show_formulas=True) == path
    first = path.read_bytes()
    svg = ET.fromstring(first)
    assert svg.tag == f"{SVG}svg" and "dx = g * out * (1 - out)" in [t.text for t in svg.iter(f"{SVG}text")]
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    render(t["cost"], str(tmp_path / "graph.png"), format="png")
    assert (tmp_path / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A failure while moving the new file in leaves the old one whole and no temp file.
    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="graph.svg"):
        render(t["cost"], path, title="new")
    assert path.read_bytes() == first
    assert sorted(os.listdir(tmp_path)) == ["graph.png", "graph.svg"]


def test_render_names_an_unwritable_path(tmp_path):
    x = tg.Tensor([1.0], requires_grad=True)
    missing = tmp_path / "no" / "such" / "dir" / "graph.svg"
    with pytest.raises(OSError, match=re.escape(str(missing))):
        render(x * 2, missing)
    with pytest.raises(OSError, match="is a folder"):
        render(x * 2, tmp_path)
    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    with pytest.raises(OSError, match="is not a folder"):
        render(x * 2, a_file / "graph.svg")
    with pytest.raises(TypeError, match="show_grad"):
        render(x * 2, tmp_path / "graph.svg", show_grad=True)
    assert sorted(os.listdir(tmp_path)) == ["file.txt"]
