"""What a picture contains (tinygraph.viz._layout): every op and tensor, the edges between them, name-scope
clusters, collapsed scopes and chains, max_nodes; checked on the SVG the real `dot` draws and on the DOT text."""

from __future__ import annotations

import re

import numpy as np
import pytest
from viz_helpers import Picture, inside, needs_dot, source_edges, two_layer

import tinygraph as tg


@needs_dot
def test_every_op_and_every_named_tensor_is_drawn():
    t = two_layer()
    picture = Picture(tg.draw(t["cost"]))
    for name in ("X", "Y", "W1", "b1", "Z1", "A1", "W2", "b2", "Z2", "A2", "cost"):
        picture.one(name)
    ops = [node for node in tg._graph.topological_order([t["cost"].grad_fn]) if node.parents]
    drawn_ops = [texts[0] for node, texts in picture.nodes.items() if node.startswith("op")]
    assert sorted(drawn_ops) == sorted(op.name for op in ops)
    # W1 @ X and W2 @ A1 have no names: they are called after their op, with shape and dtype.
    unnamed = picture.find("matmul out")
    assert len(unnamed) == 2
    assert {picture.nodes[n][1] for n in unnamed} == {"(4, 3) float64", "(1, 3) float64"}
    assert picture.nodes[picture.one("W1")][1] == "(4, 3) float64"
    assert picture.nodes[picture.one("cost")][1] == "scalar float64"


@needs_dot
def test_edges_follow_the_data_from_inputs_to_the_cost():
    t = two_layer(scopes=False)
    picture = Picture(tg.draw(t["cost"]))
    edges = picture.named_edges()
    forward = [
        ("W1", "matmul"), ("X", "matmul"), ("matmul", "matmul out"), ("matmul out", "add"), ("b1", "add"),
        ("add", "Z1"), ("Z1", "relu"), ("relu", "A1"), ("A1", "matmul"), ("W2", "matmul"), ("b2", "add"),
        ("add", "Z2"), ("Z2", "sigmoid"), ("sigmoid", "A2"), ("A2", "binary_cross_entropy"),
        ("Y", "binary_cross_entropy"), ("binary_cross_entropy", "cost"),
    ]  # fmt: skip
    for edge in forward:
        assert edge in edges, f"missing edge {edge}"
    # Nothing flows backwards: no edge leaves the cost, none enters a leaf.
    assert not [e for e in edges if e[0] == "cost"]
    assert not [e for e in edges if e[1] in ("X", "Y", "W1", "b1", "W2", "b2")]
    # Each op makes exactly one result; each result is made by exactly one op.
    ops = [n for n in picture.nodes if n.startswith("op")]
    for op in ops:
        assert len([e for e in picture.edges if e[0] == op]) == 1


@needs_dot
def test_x_times_x_draws_two_edges_and_x_minus_x_two_ports():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    picture = Picture(tg.draw((x * x).sum()))
    assert picture.edges.count((picture.one("x"), picture.one("mul"))) == 2

    graph = tg.draw((x - x).sum())
    ports = [port for tail, head, port in source_edges(graph) if tail == "leaf0"]
    assert ports == ["p0", "p1"]
    picture = Picture(graph)
    assert picture.edges.count((picture.one("x"), picture.one("sub"))) == 2


@needs_dot
def test_a_leaf_alone_is_a_one_node_picture():
    w = tg.Tensor(np.ones((2, 3)), requires_grad=True, name="w")
    picture = Picture(tg.draw(w))
    assert list(picture.nodes) == ["leaf0"]
    assert picture.nodes["leaf0"][:2] == ["w", "(2, 3) float64"]
    assert picture.edges == []
    c = tg.Tensor(2.5)
    assert Picture(tg.draw(c)).nodes == {"leaf0": ["2.5", "scalar float64"]}


@needs_dot
def test_constants_show_their_value_and_unnamed_results_their_op():
    a = tg.Tensor([0.5, -1.0], requires_grad=True, name="a")
    picture = Picture(tg.draw((1 - tg.sigmoid(a)).sum()))
    one = picture.one("1.0")
    assert picture.nodes[one][1] == "scalar float64"
    assert (one, picture.one("sub")) in picture.edges
    assert picture.find("sigmoid out") and picture.find("sub out") and picture.find("sum out")


@needs_dot
def test_name_scopes_become_clusters_around_their_nodes():
    t = two_layer()
    picture = Picture(tg.draw(t["cost"]))
    assert set(picture.clusters) == {"cluster_layer1", "cluster_layer2"}
    box1 = picture.clusters["cluster_layer1"][1]
    box2 = picture.clusters["cluster_layer2"][1]
    for name in ("W1", "b1", "Z1", "A1"):
        assert inside(picture.positions[picture.one(name)], box1), name
        assert not inside(picture.positions[picture.one(name)], box2), name
    for name in ("W2", "b2", "Z2"):
        assert inside(picture.positions[picture.one(name)], box2), name
    for name in ("X", "Y", "A2", "cost"):
        assert not inside(picture.positions[picture.one(name)], box1), name
        assert not inside(picture.positions[picture.one(name)], box2), name


@needs_dot
def test_nested_scopes_nest_clusters():
    x = tg.Tensor([1.0, 2.0], name="x")
    with tg.name_scope("net"):
        with tg.name_scope("first"):
            w = tg.Tensor([0.5, 0.5], requires_grad=True, name="w")
            h = (w * x).named("h")
        y = tg.tanh(h).named("y")
    picture = Picture(tg.draw(y.sum()))
    assert set(picture.clusters) == {"cluster_net", "cluster_net/first"}
    outer, inner = picture.clusters["cluster_net"][1], picture.clusters["cluster_net/first"][1]
    assert outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]
    assert inside(picture.positions[picture.one("w")], inner)
    assert inside(picture.positions[picture.one("y")], outer)
    assert not inside(picture.positions[picture.one("y")], inner)
    assert picture.clusters["cluster_net/first"][0][0] == "first"


@needs_dot
def test_collapse_scopes_draws_each_layer_as_one_box():
    t = two_layer()
    picture = Picture(tg.draw(t["cost"], collapse="scopes"))
    assert picture.clusters == {}
    layer1 = picture.one("layer1")
    picture.one("layer2")
    assert "3 ops: matmul, add, relu" in picture.nodes[layer1]
    assert "params W1, b1" in picture.nodes[layer1]
    # Tensors that cross a box's border stay; the ones inside it go.
    edges = picture.named_edges()
    assert ("X", "layer1") in edges and ("layer1", "A1") in edges and ("A1", "layer2") in edges
    assert ("layer2", "Z2") in edges and ("Z2", "sigmoid") in edges
    for hidden in ("W1", "b1", "Z1", "W2", "matmul", "relu"):
        assert not picture.find(hidden), hidden


@needs_dot
def test_collapse_chains_merges_runs_of_the_same_op():
    a = tg.Tensor([0.5, -1.0], requires_grad=True, name="a")
    y = a
    for _ in range(40):
        y = tg.tanh(y)
    for _ in range(5):
        y = y * 0.9
    y = y**2
    y = y**3  # a different exponent: not one "pow ×2"
    picture = Picture(tg.draw(y.sum().named("L"), collapse="chains"))
    assert picture.find("tanh ×40") and picture.find("mul ×5")
    assert not picture.find("0.9")  # the constants of the run are inside it
    assert len(picture.find("pow")) == 2
    edges = picture.named_edges()
    assert ("a", "tanh ×40") in edges and ("tanh ×40", "tanh out") in edges and ("tanh out", "mul ×5") in edges
    assert len(picture.nodes) == 11  # a, tanh ×40, out, mul ×5, out, pow, out, pow, out, sum, L


def test_a_named_result_breaks_a_chain():
    a = tg.Tensor([0.5], requires_grad=True, name="a")
    y = tg.tanh(tg.tanh(tg.tanh(a)))
    y = tg.tanh(y).named("mid")
    y = tg.tanh(tg.tanh(tg.tanh(y)))
    source = tg.draw(y.sum(), collapse=True).source
    assert source.count("tanh ×4") == 1 and source.count("tanh ×3") == 1 and "mid" in source
    # Two in a row are not worth merging.
    assert "×" not in tg.draw(tg.tanh(tg.tanh(a)).sum(), collapse=True).source


def test_max_nodes_refuses_big_graphs_and_collapse_brings_them_under():
    a = tg.Tensor([0.5], requires_grad=True, name="a")
    y = a
    for _ in range(300):
        y = tg.tanh(y)
    loss = y.sum()
    with pytest.raises(ValueError, match=r"603 nodes") as err:
        tg.draw(loss, max_nodes=500, collapse=False)
    for hint in ("max_nodes=500", "max_nodes=603", "collapse=True"):
        assert hint in str(err.value)
    assert "op300" in tg.draw(loss).source  # the default cap, 2,000 nodes, draws it all
    assert "op300" in tg.draw(loss, max_nodes=603, collapse=False).source
    assert "tanh ×300" in tg.draw(loss, collapse=True).source
    with pytest.raises(ValueError, match="max_nodes"):
        tg.draw(loss, max_nodes=602, collapse=False)


def test_a_graph_over_the_cap_is_collapsed_automatically_and_says_so():
    a = tg.Tensor([0.5], requires_grad=True, name="a")
    y = a
    for _ in range(1200):
        y = tg.tanh(y)
    source = tg.draw(y.sum()).source  # 2,403 nodes in full
    assert "tanh ×1200" in source and "collapsed automatically: 2403 nodes in full, more than max_nodes=2000" in source
    assert "collapsed automatically" not in tg.draw(y.sum(), max_nodes=3000).source
    with pytest.raises(ValueError, match=r"collapsed\), more than max_nodes=3"):
        tg.draw(y.sum(), max_nodes=3)  # still too big once collapsed: refused, not drawn


def test_highlight_outlines_tensors_and_nodes_in_red():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    h = tg.tanh(x).named("h")
    loss = (h * x).sum().named("loss")
    red = 'color="#D92D20"'

    def outlined(source):
        return sorted(line.split()[0] for line in source.splitlines() if red in line)

    assert outlined(tg.draw(loss).source) == []
    assert outlined(tg.draw(loss, highlight=x).source) == ["leaf0"]
    assert outlined(tg.draw(loss, highlight=[h]).source) == ["op0", "t0"]  # the op that made h, and h
    assert outlined(tg.draw(loss, highlight=[loss.grad_fn]).source) == ["op2", "t2"]
    with pytest.raises(ValueError, match="highlight must name Tensors or nodes of this graph"):
        tg.draw(loss, highlight=[tg.Tensor([3.0], requires_grad=True)])
    with pytest.raises(ValueError, match="highlight"):
        tg.draw(loss, highlight=["h"])


def test_highlight_inside_a_collapsed_chain_outlines_the_chain():
    y = tg.Tensor([0.5], requires_grad=True, name="a")
    steps = []
    for _ in range(5):
        y = tg.tanh(y)
        steps.append(y)
    source = tg.draw(y.sum(), collapse=True, highlight=[steps[2]]).source
    (line,) = [line for line in source.splitlines() if 'color="#D92D20"' in line and "×5" in line]
    assert line.split()[0].startswith("chain")


def test_ten_thousand_nodes_are_drawn():
    # How fast draw and render are is measured by `python -m benchmarks` (row 7), not here.
    rng = np.random.default_rng(0)
    a = tg.Tensor(rng.normal(size=(3, 2)), name="X")
    for layer in range(1250):
        with tg.name_scope(f"layer{layer}"):
            W = tg.Tensor(rng.normal(size=(3, 3)) * 0.3, requires_grad=True, name=f"W{layer}")
            b = tg.Tensor(np.zeros((3, 1)), requires_grad=True, name=f"b{layer}")
            a = tg.tanh(W @ a + b)
    graph = tg.draw(a.sum(), max_nodes=20_000)
    assert len(re.findall(r"^\s*(?!graph )\w+ \[label=", graph.source, re.MULTILINE)) == 10_003
    assert graph.stats.nodes == 10_003 and graph.stats.clusters == 1250
