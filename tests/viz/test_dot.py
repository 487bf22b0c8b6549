"""How a picture looks (tinygraph.viz._dot): labels, operand ports, formulas, colours, options, stable DOT text."""

from __future__ import annotations

import re

import numpy as np
import pytest
from viz_helpers import Picture, needs_dot, source_edges, two_layer

import tinygraph as tg
from tinygraph.viz import OPTIONS
from tinygraph.viz._shape import CELL_WIDTH


def test_operands_keep_their_position():
    t = two_layer(scopes=False)
    graph = tg.draw(t["cost"])
    ids = {label: node for node, label in re.findall(r"^\s*(\w+) \[label=<.*?<B>(\w+)</B>", graph.source, re.MULTILINE)}
    edges = source_edges(graph)
    # W1 @ X: W1 is matmul's first operand (port p0), X its second (port p1); A2 is the loss's y_hat, Y its y.
    matmul = next(head for tail, head, port in edges if tail == ids["X"])
    assert (ids["W1"], matmul, "p0") in edges and (ids["X"], matmul, "p1") in edges
    loss = next(head for tail, head, port in edges if tail == ids["Y"])
    assert (ids["A2"], loss, "p0") in edges and (ids["Y"], loss, "p1") in edges
    for port_name in ("y_hat", ">y<", ">a<", ">b<"):
        assert port_name in graph.source
    # add is commutative: its edges carry no port.
    add = next(head for tail, head, port in edges if tail == ids["b1"])
    assert all(port is None for tail, head, port in edges if head == add)


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


@needs_dot
def test_formulas_appear_only_when_asked():
    t = two_layer()
    assert "dx = g * out * (1 - out)" not in Picture(tg.draw(t["cost"])).all_text()
    text = Picture(tg.draw(t["cost"], show_formulas=True)).all_text()
    assert "dx = g * out * (1 - out)" in text  # sigmoid
    assert "dx = g * (x > 0)" in text  # relu, with > escaped on the way in
    # matmul's operands are a and b, as its ports: W2 @ A1 needs both gradients.
    assert "da = g @ b.T" in text and "db = a.T @ g" in text
    # W1 @ X: X needs no gradient, so only da is shown for the first layer's matmul.
    assert text.count("db = a.T @ g") == 1
    assert "da = g" in text and "db = g" in text and "dx = g\n" not in text  # add's, without ports
    assert "dy_hat = g * (y_hat - y)" in text  # the loss keeps the document's names


@needs_dot
def test_the_fused_loss_shows_the_documents_dz():
    t = two_layer(logits=True)
    text = Picture(tg.draw(t["cost"], show_formulas=True)).all_text()
    assert "dz = g * (sigmoid(z) - y) / N" in text
    assert "dy = -g * z / N" not in text  # the targets need no gradient


def test_unknown_options_are_refused_with_the_valid_ones_listed():
    x = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError) as err:
        tg.draw(x * 2, show_grad=True)
    assert "show_grad" in str(err.value)
    for option in OPTIONS:
        assert option in str(err.value)


@pytest.mark.parametrize(
    "options",
    [{"rankdir": "XY"}, {"max_nodes": 0}, {"max_nodes": 2.5}, {"collapse": "layers"}, {"show_grads": "yes"}, {"title": 3},
     {"timeout": 0}, {"timeout": -1.0}, {"timeout": True}, {"timeout": "10"}, {"timeout": float("nan")}],
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


@needs_dot
def test_operand_ports_are_a_and_b_beside_tensors_named_x_and_y():
    # The document's X and Y next to ports named x and y read as "X feeds port y": the
    # picture calls generic operands a and b instead.
    X = tg.Tensor(np.ones((2, 2)), name="X")
    Y = tg.Tensor(np.ones((2, 2)), requires_grad=True, name="Y")
    picture = Picture(tg.draw(((Y @ X) / X - Y).sum(), show_formulas=True, rankdir="LR"))
    ports = {texts[0]: picture.ports[node] for node, texts in picture.nodes.items() if node.startswith("op")}
    for op in ("matmul", "div", "sub"):
        assert sorted(ports[op]) == ["a", "b"], (op, ports[op])
    text = picture.all_text()
    assert "da = g / b" in text and "db = -g * a / b**2" not in text  # X needs no gradient
    assert "da = g" in text and "db = -g" in text  # sub
    for op in ("matmul", "div", "sub"):
        node = next(n for n, texts in picture.nodes.items() if texts[0] == op)
        assert not any(re.search(r"\bd?[xy]\b", line) for line in picture.nodes[node]), picture.nodes[node]


@needs_dot
def test_negative_zero_is_printed_as_zero():
    z = tg.Tensor([-0.0, 1.0], requires_grad=True, name="z")
    loss = (z * -0.0).sum().named("loss")  # -0.0, an unnamed constant, is drawn with its value
    loss.backward(retain_graph=True)
    picture = Picture(tg.draw(loss, show_values=True, show_grads=True))
    text = picture.all_text()
    assert "-0" not in text
    assert picture.find("0.0")  # the constant's node
    assert "[0.0, 1.0]" in picture.nodes[picture.one("z")]  # its value
    assert any("dz" in line for line in picture.nodes[picture.one("z")])


def test_the_direction_fits_a_notebook_cell():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    small = tg.draw((x * x).sum())
    assert "rankdir=LR" in small.source and small.options["rankdir"] == "LR"
    # The document's deep net is about 40 ranks deep: left to right it is some 50 inches
    # wide, top to bottom about 5.
    rng = np.random.default_rng(0)
    A = tg.Tensor(rng.normal(size=(8, 4)), name="X")
    for layer, n in enumerate([5, 5, 5, 3, 1], start=1):
        with tg.name_scope(f"layer{layer}"):
            W = tg.Tensor(rng.normal(size=(n, A.shape[0])), requires_grad=True, name=f"W{layer}")
            b = tg.Tensor(np.zeros((n, 1)), requires_grad=True, name=f"b{layer}")
            A = tg.relu(W @ A + b) if layer < 5 else tg.sigmoid(W @ A + b)
    deep = tg.draw(tg.binary_cross_entropy(A, tg.Tensor(np.ones((1, 4)), name="Y")))
    assert "rankdir=TB" in deep.source
    assert deep.stats.width("TB") <= CELL_WIDTH < deep.stats.width("LR")
    # One tensor read by 50 ops side by side is wide, not deep: it stays left to right.
    parts = [tg.tanh(x * float(k)) for k in range(50)]
    while len(parts) > 1:
        parts = [a + b for a, b in zip(parts[0::2], parts[1::2])] + parts[len(parts) - len(parts) % 2 :]
    wide = parts[0].sum()
    assert "rankdir=LR" in tg.draw(wide).source
    # An explicit direction is kept.
    assert "rankdir=BT" in tg.draw(wide, rankdir="BT").source
    # Top to bottom, the spine is not a dot group: there it pushed the layers' clusters into a staircase.
    assert "group=" not in deep.source and "group=" in tg.draw(A.sum(), rankdir="LR").source
