"""Helpers of the renderer's tests: the document's one-hidden-layer net, and the SVG that
the real `dot` draws, read back as nodes, edges and clusters."""

from __future__ import annotations

import contextlib
import re
import shutil
import xml.etree.ElementTree as ET

import graphviz
import numpy as np
import pytest

import tinygraph as tg

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


def inside(point, box) -> bool:
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
