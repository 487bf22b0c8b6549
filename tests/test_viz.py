"""tg.draw and tinygraph.viz.render: what the picture shows, checked on the SVG that the
real `dot` draws (parsed as XML) and on the DOT source."""

from __future__ import annotations

import contextlib
import doctest
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest

import tinygraph as tg
from tinygraph import viz
from tinygraph.viz import OPTIONS, DotNotFoundError, render

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="the Graphviz `dot` program is not installed")

SVG = "{http://www.w3.org/2000/svg}"


# ----------------------------------------------------------------- the document's networks


def two_layer(*, logits=False, scopes=True, n_x=3, n_1=4, N=3, seed=0):
    """The document's one-hidden-layer net: Z1 = W1 X + b1, A1 = relu(Z1), Z2 = W2 A1 + b2."""
    rng = np.random.default_rng(seed)
    scope = tg.name_scope if scopes else (lambda name: contextlib.nullcontext())
    t = {
        "X": tg.Tensor(rng.normal(size=(n_x, N)), name="X"),
        "Y": tg.Tensor((np.arange(N) % 2 == 0).reshape(1, N), name="Y"),
    }
    with scope("layer1"):
        t["W1"] = tg.Tensor(rng.normal(size=(n_1, n_x)), requires_grad=True, name="W1")
        t["b1"] = tg.Tensor(rng.normal(size=(n_1, 1)), requires_grad=True, name="b1")
        t["Z1"] = (t["W1"] @ t["X"] + t["b1"]).named("Z1")
        t["A1"] = tg.relu(t["Z1"]).named("A1")
    with scope("layer2"):
        t["W2"] = tg.Tensor(rng.normal(size=(1, n_1)), requires_grad=True, name="W2")
        t["b2"] = tg.Tensor(rng.normal(size=(1, 1)), requires_grad=True, name="b2")
        t["Z2"] = (t["W2"] @ t["A1"] + t["b2"]).named("Z2")
    if logits:
        t["cost"] = tg.binary_cross_entropy_with_logits(t["Z2"], t["Y"]).named("cost")
    else:
        t["A2"] = tg.sigmoid(t["Z2"]).named("A2")
        t["cost"] = tg.binary_cross_entropy(t["A2"], t["Y"]).named("cost")
    return t


# ----------------------------------------------------------------- reading the SVG


class Picture:
    """The SVG of a Digraph as dot draws it: nodes (id -> their texts), edges, clusters."""

    def __init__(self, graph: graphviz.Digraph):
        self.source = graph.source
        self.root = ET.fromstring(graph.pipe(format="svg"))
        self.nodes: dict = {}
        self.edges: list = []
        self.clusters: dict = {}
        self.ports: dict = {}
        for g in self.root.iter(f"{SVG}g"):
            kind = g.get("class")
            title = g.findtext(f"{SVG}title")
            # Operand ports ("x", "y") are the 8-point texts of an op; the rest is its label.
            texts = [t.text or "" for t in g.iter(f"{SVG}text") if t.get("font-size") != "8.00"]
            if kind == "node":
                self.nodes[title] = texts
                self.ports[title] = [t.text for t in g.iter(f"{SVG}text") if t.get("font-size") == "8.00"]
            elif kind == "edge":
                tail, head = title.split("->")
                self.edges.append((tail.split(":")[0], head.split(":")[0]))
            elif kind == "cluster":
                self.clusters[title] = (texts, _bbox(g))
        self.texts = [t.text or "" for t in self.root.iter(f"{SVG}text")]
        self.positions = {  # node id -> (x, y) of its first text
            g.findtext(f"{SVG}title"): (float(g.find(f"{SVG}text").get("x")), float(g.find(f"{SVG}text").get("y")))
            for g in self.root.iter(f"{SVG}g")
            if g.get("class") == "node" and g.find(f"{SVG}text") is not None
        }

    def find(self, text: str) -> list:
        """Ids of the nodes whose first text line is ``text``."""
        return [node for node, texts in self.nodes.items() if texts and texts[0] == text]

    def one(self, text: str) -> str:
        found = self.find(text)
        assert len(found) == 1, f"expected one node {text!r}, found {found} among {self.nodes}"
        return found[0]

    def named_edges(self) -> list:
        """Edges as (first text of tail, first text of head)."""
        return [(self.nodes[a][0], self.nodes[b][0]) for a, b in self.edges]

    def all_text(self) -> str:
        return "\n".join(self.texts)


def _bbox(g) -> tuple:
    shape = g.find(f"{SVG}path")
    coords = shape.get("d") if shape is not None else g.find(f"{SVG}polygon").get("points")
    numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", coords)]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def _inside(point, box) -> bool:
    x, y = point
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def source_edges(graph) -> list:
    """(tail, head, head port) from the DOT source, in order."""
    found = []
    for line in graph.source.splitlines():
        match = re.match(r"\s*(\w+) -> (\w+)(?::(\w+))?", line)
        if match and "style=invis" not in line:
            found.append(match.groups())
    return found


# ----------------------------------------------------------------- nodes and edges


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


def test_operands_keep_their_position():
    t = two_layer(scopes=False)
    graph = tg.draw(t["cost"])
    ids = {label: node for node, label in re.findall(r"^\s*(\w+) \[label=<.*?<B>(\w+)</B>", graph.source, re.MULTILINE)}
    edges = source_edges(graph)
    # W1 @ X: W1 is matmul's x (port p0), X its y (port p1); A2 is the loss's y_hat, Y its y.
    matmul = next(head for tail, head, port in edges if tail == ids["X"])
    assert (ids["W1"], matmul, "p0") in edges and (ids["X"], matmul, "p1") in edges
    loss = next(head for tail, head, port in edges if tail == ids["Y"])
    assert (ids["A2"], loss, "p0") in edges and (ids["Y"], loss, "p1") in edges
    for port_name in ("y_hat", ">y<", ">x<"):
        assert port_name in graph.source
    # add is commutative: its edges carry no port.
    add = next(head for tail, head, port in edges if tail == ids["b1"])
    assert all(port is None for tail, head, port in edges if head == add)


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
def test_names_with_markup_characters_are_escaped():
    w = tg.Tensor([1.0], requires_grad=True, name="<W> & \"b\"")
    picture = Picture(tg.draw((w * 2).named("a<b>").sum(), title="x < y & z"))
    assert picture.find('<W> & "b"') and picture.find("a<b>")
    assert "x < y & z" in picture.texts


def test_the_kinds_of_tensor_look_different():
    t = two_layer(scopes=False)
    source = tg.draw(t["cost"]).source
    fill = {}
    for label in ("W1", "X", "Z1", "cost"):
        line = next(line for line in source.splitlines() if f"<B>{label}</B>" in line)
        fill[label] = (re.search(r'fillcolor="([^"]+)"', line).group(1), "penwidth" in line)
    assert len({fill["W1"][0], fill["X"][0], fill["Z1"][0]}) == 3  # parameter, input, intermediate
    assert fill["cost"][1] and not fill["Z1"][1]  # the root has a heavy border


# ----------------------------------------------------------------- gradients


def test_show_grads_before_backward_says_to_call_backward():
    t = two_layer()
    with pytest.raises(RuntimeError, match=r"backward\(\)"):
        tg.draw(t["cost"], show_grads=True)


@needs_dot
def test_gradients_appear_only_when_asked_and_after_backward():
    t = two_layer(logits=True)
    t["cost"].backward(retain_graph=True)
    plain = Picture(tg.draw(t["cost"])).all_text()
    assert "dW1" not in plain and "dZ2" not in plain

    picture = Picture(tg.draw(t["cost"], show_grads=True))
    z2 = picture.nodes[picture.one("Z2")]
    # The document's dZ = (A - Y), averaged over the N samples by the mean in the cost.
    A2 = 1 / (1 + np.exp(-t["Z2"].data))
    expected = (A2 - t["Y"].data) / t["Y"].data.size
    shown = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", z2[-1])]
    np.testing.assert_allclose(shown, expected.ravel(), rtol=1e-3)
    assert z2[-2] == "dZ2"
    w1 = picture.nodes[picture.one("W1")]
    assert w1[-2] == "dW1" and "norm" in w1[-1]
    norm = float(re.search(r"norm (\S+)", w1[-1]).group(1))
    assert norm == pytest.approx(np.linalg.norm(t["W1"].grad), rel=1e-2)
    # Tensors that need no gradient show none.
    assert not any(text.startswith(("dX", "dY")) for text in picture.texts)


@needs_dot
def test_after_a_freeing_backward_only_leaves_and_retained_results_show_gradients():
    t = two_layer()
    t["Z1"].retain_grad()
    t["cost"].backward()
    picture = Picture(tg.draw(t["cost"], show_grads=True))
    text = picture.all_text()
    assert "dW1" in text and "db2" in text and "dZ1" in text
    assert "dZ2" not in text and "dA1" not in text
    assert any("freed by backward()" in line for line in picture.texts)


# ----------------------------------------------------------------- formulas and values


@needs_dot
def test_formulas_appear_only_when_asked():
    t = two_layer()
    assert "dx = g * out * (1 - out)" not in Picture(tg.draw(t["cost"])).all_text()
    text = Picture(tg.draw(t["cost"], show_formulas=True)).all_text()
    assert "dx = g * out * (1 - out)" in text  # sigmoid
    assert "dx = g * (x > 0)" in text  # relu, with > escaped on the way in
    assert "dx = g @ y.T" in text and "dy = x.T @ g" in text  # W2 @ A1 needs both
    # W1 @ X: X needs no gradient, so only dx is shown for the first layer's matmul.
    assert text.count("dy = x.T @ g") == 1


@needs_dot
def test_the_fused_loss_shows_the_documents_dz():
    t = two_layer(logits=True)
    text = Picture(tg.draw(t["cost"], show_formulas=True)).all_text()
    assert "dz = g * (sigmoid(z) - y) / N" in text
    assert "dy = -g * z / N" not in text  # the targets need no gradient


@needs_dot
def test_show_values_summarises_every_tensor():
    t = two_layer(n_1=2, N=2, n_x=2)
    picture = Picture(tg.draw(t["cost"], show_values=True))
    # Z1 is saved by no op (relu keeps its output), so its value is recomputed.
    z1 = picture.nodes[picture.one("Z1")]
    shown = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", z1[2])]
    np.testing.assert_allclose(shown, t["Z1"].data.ravel(), rtol=1e-3)
    big = two_layer()
    x = Picture(tg.draw(big["cost"], show_values=True)).nodes
    x_texts = next(texts for texts in x.values() if texts[0] == "X")
    assert x_texts[2] == f"min {big['X'].data.min():.3g} · mean {big['X'].data.mean():.3g} · max {big['X'].data.max():.3g}"
    assert len(Picture(tg.draw(big["cost"])).nodes["leaf0"]) == 2  # no values unless asked


class Blend(tg.Op):
    """A user op with two named operands and a setting: t * a + (1 - t) * b."""

    name = "blend"
    formula = ("da = g * t", "db = g * (1 - t)")

    def __init__(self, t):
        self.t = t

    def forward(self, a, b):
        return self.t * a + (1 - self.t) * b

    def backward(self, ctx, g):
        return g * self.t, g * (1 - self.t)


@needs_dot
def test_user_ops_get_ports_named_after_forward_and_are_never_re_run():
    a = tg.Tensor([1.0, 2.0, 3.0, 4.0, 5.0], requires_grad=True, name="a")
    b = tg.Tensor([5.0, 4.0, 3.0, 2.0, 1.0], name="b")
    blended = Blend.apply(a, b, t=0.25)
    picture = Picture(tg.draw(tg.tanh(blended).sum(), show_formulas=True, show_values=True))
    node = picture.one("blend")
    assert picture.ports[node] == ["b", "a"]  # left to right, the first operand is the lowest port
    assert "da = g * t" in picture.nodes[node] and "db = g * (1 - t)" not in picture.nodes[node]
    # No op saved blend's result (tanh keeps its output) and user ops are not re-run,
    # so it shows no values; tanh's result, saved by tanh itself, does.
    assert picture.nodes[picture.one("blend out")] == ["blend out", "(5,) float64"]
    expected = np.tanh(0.25 * a.data + 0.75 * b.data)
    assert picture.nodes[picture.one("tanh out")][2] == (
        f"min {expected.min():.3g} · mean {expected.mean():.3g} · max {expected.max():.3g}"
    )


def test_gradients_of_a_root_with_several_elements():
    w = tg.Tensor([1.0, 2.0], requires_grad=True, name="w")
    y = (w * 3.0).named("y")
    y.backward(np.ones(2), retain_graph=True)
    source = tg.draw(y, show_grads=True).source
    assert "dw</B> [3.0, 3.0]" in source and "need a one-element root" in source


# ----------------------------------------------------------------- clusters and collapsing


@needs_dot
def test_name_scopes_become_clusters_around_their_nodes():
    t = two_layer()
    picture = Picture(tg.draw(t["cost"]))
    assert set(picture.clusters) == {"cluster_layer1", "cluster_layer2"}
    box1 = picture.clusters["cluster_layer1"][1]
    box2 = picture.clusters["cluster_layer2"][1]
    for name in ("W1", "b1", "Z1", "A1"):
        assert _inside(picture.positions[picture.one(name)], box1), name
        assert not _inside(picture.positions[picture.one(name)], box2), name
    for name in ("W2", "b2", "Z2"):
        assert _inside(picture.positions[picture.one(name)], box2), name
    for name in ("X", "Y", "A2", "cost"):
        assert not _inside(picture.positions[picture.one(name)], box1), name
        assert not _inside(picture.positions[picture.one(name)], box2), name


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
    assert _inside(picture.positions[picture.one("w")], inner)
    assert _inside(picture.positions[picture.one("y")], outer)
    assert not _inside(picture.positions[picture.one("y")], inner)
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
        tg.draw(loss)
    for hint in ("max_nodes=500", "max_nodes=603", "collapse=True"):
        assert hint in str(err.value)
    assert "op300" in tg.draw(loss, max_nodes=603).source
    assert "tanh ×300" in tg.draw(loss, collapse=True).source
    with pytest.raises(ValueError, match="max_nodes"):
        tg.draw(loss, max_nodes=602)


# ----------------------------------------------------------------- options


def test_unknown_options_are_refused_with_the_valid_ones_listed():
    x = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError) as err:
        tg.draw(x * 2, show_grad=True)
    assert "show_grad" in str(err.value)
    for option in OPTIONS:
        assert option in str(err.value)


@pytest.mark.parametrize(
    "options",
    [{"rankdir": "XY"}, {"max_nodes": 0}, {"max_nodes": 2.5}, {"collapse": "layers"}, {"show_grads": "yes"}, {"title": 3}],
)
def test_bad_option_values_are_refused(options):
    x = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises((TypeError, ValueError), match=next(iter(options))):
        tg.draw(x * 2, **options)


def test_root_must_be_a_tensor():
    with pytest.raises(TypeError, match="Tensor"):
        tg.draw(np.ones(3))


@needs_dot
def test_top_to_bottom_puts_operand_ports_on_top():
    t = two_layer()
    graph = tg.draw(t["cost"], rankdir="TB", title="one hidden layer", legend=True)
    assert "rankdir=TB" in graph.source
    assert re.search(r"-> op\d+:p1:n", graph.source)
    picture = Picture(graph)
    assert "one hidden layer" in picture.texts
    assert "parameter" in picture.nodes["legend"] and "op" in picture.nodes["legend"]
    # Data flows downwards: X is above matmul, the cost below everything (SVG y grows down).
    y = {name: picture.positions[picture.one(name)][1] for name in ("X", "Z1", "cost")}
    assert y["X"] < y["Z1"] < y["cost"]


def test_the_source_is_identical_for_identical_graphs():
    first = tg.draw(two_layer()["cost"], show_formulas=True).source
    second = tg.draw(two_layer()["cost"], show_formulas=True).source  # new nodes, new global ids
    assert first == second
    t = two_layer()
    t["cost"].backward(retain_graph=True)
    assert tg.draw(t["cost"], show_grads=True).source == tg.draw(t["cost"], show_grads=True).source


def test_draw_needs_no_dot_program(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `dot` anywhere
    t = two_layer()
    graph = tg.draw(t["cost"])
    assert graph.source.startswith("digraph") and "<B>cost</B>" in graph.source
    with pytest.raises(DotNotFoundError) as err:
        render(t["cost"], tmp_path / "graph.svg")
    message = str(err.value)
    assert "apt-get install graphviz" in message and "brew install graphviz" in message and "conda" in message
    assert isinstance(err.value, RuntimeError) and isinstance(err.value.__cause__, graphviz.ExecutableNotFound)
    assert os.listdir(tmp_path) == []


# ----------------------------------------------------------------- files


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

    monkeypatch.setattr(viz._render.os, "replace", broken_replace)
    with pytest.raises(OSError, match="graph.svg"):
        render(t["cost"], path, title="new")
    assert path.read_bytes() == first
    assert sorted(os.listdir(tmp_path)) == ["graph.png", "graph.svg"]


def test_render_names_an_unwritable_path(tmp_path):
    x = tg.Tensor([1.0], requires_grad=True)
    missing = tmp_path / "no" / "such" / "dir" / "graph.svg"
    with pytest.raises(OSError, match=re.escape(str(missing))):
        render(x * 2, missing)
    with pytest.raises(OSError, match="is a directory"):
        render(x * 2, tmp_path)
    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    with pytest.raises(OSError, match="not a directory"):
        render(x * 2, a_file / "graph.svg")
    with pytest.raises(TypeError, match="show_grad"):
        render(x * 2, tmp_path / "graph.svg", show_grad=True)
    assert sorted(os.listdir(tmp_path)) == ["file.txt"]


# ----------------------------------------------------------------- size and docs


def test_drawing_ten_thousand_nodes_is_linear_enough():
    rng = np.random.default_rng(0)
    a = tg.Tensor(rng.normal(size=(3, 2)), name="X")
    for layer in range(1250):
        with tg.name_scope(f"layer{layer}"):
            W = tg.Tensor(rng.normal(size=(3, 3)) * 0.3, requires_grad=True, name=f"W{layer}")
            b = tg.Tensor(np.zeros((3, 1)), requires_grad=True, name=f"b{layer}")
            a = tg.tanh(W @ a + b)
    start = time.perf_counter()
    graph = tg.draw(a.sum(), max_nodes=20_000)
    elapsed = time.perf_counter() - start
    assert len(re.findall(r"^\s*(?!graph )\w+ \[label=", graph.source, re.MULTILINE)) == 10_003
    assert elapsed < 5, f"draw took {elapsed:.2f} s for 10,003 nodes"


def test_draw_is_exported_and_its_examples_run():
    assert tg.draw is viz.draw and "draw" in tg.__all__
    attempted = 0
    for module in (viz, viz._layout, viz._annotate, viz._dot, viz._render):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted >= 5


def test_importing_viz_does_not_import_graphviz():
    code = "import sys, tinygraph, tinygraph.viz; print('graphviz' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
