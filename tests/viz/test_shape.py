"""The picture's shape (tinygraph.viz._shape): estimates of dot's ranks and virtual nodes,
the effort chosen from them, and the direction that fits a notebook cell."""

from __future__ import annotations

import pytest

import tinygraph as tg
from tinygraph.viz import _shape
from tinygraph.viz._shape import measure


def chain(n: int, prefix="v"):
    nodes = [f"{prefix}{i}" for i in range(n)]
    return nodes, [(a, b, 1) for a, b in zip(nodes, nodes[1:])]


def test_a_leaf_is_ranked_just_before_its_first_reader():
    nodes, edges = chain(10)
    # w feeds v5 and v9: dot puts it at rank 4, so only the edge to v9 is long (4 virtual nodes).
    shape = measure(nodes + ["w"], edges + [("w", "v5", 1), ("w", "v9", 1)], 0)
    assert (shape.ranks, shape.virtual, shape.crossing, shape.fan) == (10, 4, 1, 2)


def test_minlen_counts_as_ranks():
    shape = measure(["a", "b", "c"], [("a", "b", 2), ("b", "c", 2)], 1)
    assert shape.ranks == 5 and shape.virtual == 2 and shape.clusters == 1


def test_the_effort_follows_dots_working_graph_not_the_node_count():
    nodes, edges = chain(1500)
    assert measure(nodes, edges, 0).effort() == "full"
    assert measure(nodes, edges, 100).effort() == "reduced"  # clusters cost as much as nodes
    # 300 nodes, but one of them read by all the others: ~45,000 virtual nodes.
    nodes, edges = chain(300)
    shared = measure(nodes + ["w"], edges + [("w", v, 1) for v in nodes[1:]], 0)
    assert shared.virtual > 40_000 and shared.effort() == "minimal"
    assert shared.graph_attrs() == {"nslimit": "0", "mclimit": "0.2", "splines": "line"}
    # A big graph of short edges keeps its splines.
    nodes, edges = chain(10_000)
    assert measure(nodes, edges, 0).graph_attrs() == {"nslimit": "0", "mclimit": "0.2"}


@pytest.mark.parametrize(
    ("ranks", "breadth", "expected"),
    [(5, 1, "LR"), (6, 3, "LR"), (8, 3, "TB"), (40, 3, "TB"), (20, 200, "LR")],
)
def test_left_to_right_unless_too_wide_for_a_cell_and_top_to_bottom_is_narrower(ranks, breadth, expected):
    nodes, edges = chain(ranks)
    extra = [f"s{k}" for k in range(breadth - 1)]  # side inputs of the second node: breadth on one rank
    shape = measure(nodes + extra, edges + [(s, nodes[1], 1) for s in extra], 0)
    assert shape.widest == max(breadth, 1)
    assert shape.direction() == expected


def test_draw_reports_its_shape_and_settings():
    a = tg.Tensor([0.5], requires_grad=True, name="a")
    y = a
    for _ in range(300):
        y = y * a  # a read by 300 ops along a chain of 600 ranks
    graph = tg.draw(y.sum(), max_nodes=1000)
    assert graph.stats.fan == 301 and graph.stats.effort() == "minimal"
    assert "nslimit=0" in graph.source and "splines=line" in graph.source
    assert graph.stats.as_dict()["work"] == graph.stats.work
    assert "603 nodes" in graph.stats.describe()
    small = tg.draw((a * a).sum())
    assert small.stats.effort() == "full" and "nslimit" not in small.source
    assert _shape.EFFORTS["full"] == {}
