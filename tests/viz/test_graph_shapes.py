"""Graphs of the shapes that made dot hang or crash, drawn with the default options and
rendered to SVG by the real dot. Nothing here is timed: each render is bounded by
render()'s timeout (30 s), so a shape dot cannot lay out in time fails with
DotTimeoutError. The times are measured by `python -m benchmarks.render_shapes`."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from benchmarks.render_shapes import SHAPES
from viz_helpers import SVG, needs_dot

import tinygraph as tg
from tinygraph.viz import render


@needs_dot
@pytest.mark.parametrize("name", list(SHAPES))
def test_every_shape_renders_with_the_defaults(name, tmp_path):
    build, options = SHAPES[name]
    root = build()
    path = render(root, tmp_path / f"{name}.svg", **options)
    svg = ET.parse(path).getroot()
    drawn = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "node"]
    assert len(drawn) == tg.draw(root, **options).stats.nodes


def test_the_shapes_are_what_their_names_say():
    stats = {name: tg.draw(build(), **options).stats for name, (build, options) in SHAPES.items()}
    assert stats["rnn"].fan == 70 and stats["rnn"].nodes <= 500  # one W read by 70 steps, under max_nodes
    assert stats["fanout_chain"].fan == 201 and stats["fanout_wide"].fan == 200
    assert stats["fanout_wide"].widest >= 200 and stats["fanout_wide"].nodes > 500
    assert stats["ladder"].clusters == 45 and stats["attention"].clusters == 18
    # Long edges, not node counts, are what the settings answer: the RNN and the chain
    # of x * x * ... get dot's lightest settings, the wide fan-out of 800 nodes does not.
    for name in ("rnn", "fanout_chain"):
        assert stats[name].virtual > 10 * stats[name].nodes and stats[name].effort() == "minimal"
        assert stats[name].graph_attrs() == {"nslimit": "0", "mclimit": "0.2", "splines": "line"}
    assert stats["fanout_wide"].effort() == "full"
