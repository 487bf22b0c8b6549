"""The shape of a picture, measured before ``dot`` runs: the direction that fits a
notebook cell, and the effort dot may spend on the layout.

dot's time is not set by the number of nodes. dot gives every node a rank (a column,
left to right) and turns an edge that spans k ranks into k - 1 invisible "virtual"
nodes, which crossing minimisation, x-placement (network simplex) and spline routing
all treat as nodes. A weight shared by the 70 steps of an RNN is read from one rank
by ops spread over 420 ranks: 494 drawn nodes, but about 14,500 virtual ones, and
Graphviz 2.43 ran for over 10 minutes with its default settings. So the effort is
chosen by the estimated size of dot's working graph (drawn nodes plus virtual nodes),
which grows with the fan-out of shared tensors times the depth they span, and by the
number of name-scope clusters, which dot lays out one inside another.

Everything here reads only node ids and edges of the DOT text, never the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

# Rough sizes of drawn things in inches, for the direction choice only: a tensor record
# or op oval is about 1 inch wide and 0.45 high; dot's ranksep and nodesep add to them;
# a long edge passing a rank takes about a node separation of width.
_NODE_LENGTH = 1.0
_NODE_THICKNESS = 0.45
_RANKSEP = 0.32
_NODESEP = 0.22
#: Width of a notebook cell's output area in inches (about 900 pixels).
CELL_WIDTH = 9.0

# Effort levels by the size of dot's working graph (drawn plus virtual nodes), measured
# with Graphviz 2.43 on the graphs of benchmarks/render_shapes.py:
# - up to 2,000: dot's defaults take well under a second;
# - up to 8,000: x-placement is the cost (an RNN of 40 steps, 4,960: 1.8 s left to right,
#   7.5 s top to bottom with defaults; 0.1-0.4 s with one network simplex pass, nslimit=1);
# - above: even one pass is too many (y = x * x * ... 200 times, 40,200: 10 s with
#   nslimit=1), so the placement keeps its initial solution (nslimit=0), crossing
#   minimisation runs a fifth of its iterations, and where long edges make up most of
#   the graph they are drawn as straight lines: routing splines around thousands of
#   virtual nodes took 7 s on its own. nslimit=0 also avoids a crash: with nslimit > 0
#   dot 2.43 dies with SIGSEGV on an RNN of 300 steps (2,104 nodes).
_REDUCED_FROM = 2_000
_MINIMAL_FROM = 8_000
_STRAIGHT_FROM = 2_000  # virtual nodes, at the minimal level
# Beyond this many virtual nodes no direction fits a cell, and dot places left to right
# several times faster than top to bottom (an RNN of 300 steps, 270,000 virtual nodes:
# 3 s against 24 s), so that is the direction.
_LONG_EDGES_LR = 50_000
# Each cluster is laid out as a block within its parent: hundreds of them cost dot as
# much as thousands of plain nodes.
_CLUSTER_WEIGHT = 20

EFFORTS = {
    "full": {},
    "reduced": {"nslimit": "1", "mclimit": "0.5"},
    "minimal": {"nslimit": "0", "mclimit": "0.2"},
}


@dataclass(frozen=True)
class Shape:
    """What dot will face: counts of the DOT text and estimates of dot's ranking.

    ``ranks`` and ``widest`` estimate the depth and breadth of the layout (ranks from
    the longest path, each leaf placed just before its first reader, as dot's ranking
    tends to); ``virtual`` estimates dot's virtual nodes (the sum over edges of the
    ranks they span, less one), ``crossing`` the most long edges passing one rank,
    and ``fan`` is the most edges leaving one node (a shared tensor's readers).
    """

    nodes: int
    edges: int
    clusters: int
    ranks: int
    widest: int
    virtual: int
    crossing: int
    fan: int

    @property
    def work(self) -> int:
        """The estimated size of dot's working graph, the measure of its effort."""
        return self.nodes + self.virtual + _CLUSTER_WEIGHT * self.clusters

    def effort(self) -> str:
        """"full", "reduced" or "minimal": see :data:`EFFORTS`."""
        if self.work > _MINIMAL_FROM:
            return "minimal"
        if self.work > _REDUCED_FROM:
            return "reduced"
        return "full"

    def graph_attrs(self) -> dict:
        """The dot settings of :meth:`effort`."""
        effort = self.effort()
        attrs = dict(EFFORTS[effort])
        if effort == "minimal" and self.virtual > _STRAIGHT_FROM:
            attrs["splines"] = "line"
        return attrs

    def width(self, rankdir: str) -> float:
        """Estimated width in inches of the picture laid out in ``rankdir``."""
        if rankdir in ("LR", "RL"):
            return self.ranks * (_NODE_LENGTH + _RANKSEP)
        return self.widest * (_NODE_LENGTH + _NODESEP) + self.crossing * _NODESEP

    def direction(self) -> str:
        """Left to right when that fits a notebook cell, else the narrower direction.

        Left to right reads like the document's derivation and keeps a small graph
        short; a deep one (the document's L-layer net has about 40 ranks) would be
        shrunk to illegibility in a cell, while top to bottom only makes it taller,
        which a notebook scrolls. A wide one (one tensor read by 200 ops) stays left
        to right, where its breadth becomes height, and so does a graph dominated by
        long edges, which dot lays out faster that way.
        """
        lr = self.width("LR")
        if lr <= CELL_WIDTH or lr <= self.width("TB") or self.virtual > _LONG_EDGES_LR:
            return "LR"
        return "TB"

    def describe(self) -> str:
        """For messages: "2,104 nodes, 2,402 edges, 0 clusters"."""
        return f"{self.nodes:,} nodes, {self.edges:,} edges, {self.clusters:,} name-scope clusters"

    def as_dict(self) -> dict:
        return {
            "nodes": self.nodes, "edges": self.edges, "clusters": self.clusters, "ranks": self.ranks,
            "widest": self.widest, "virtual": self.virtual, "crossing": self.crossing, "fan": self.fan,
            "work": self.work, "effort": self.effort(),
        }  # fmt: skip


def measure(nodes, edges, clusters: int) -> Shape:
    """The :class:`Shape` of a picture of ``nodes`` (ids) and ``edges`` ((tail, head, minlen)).

    Examples
    --------
    A chain has no long edges; a tensor ``w`` read by an op three ranks further down
    gives dot two virtual nodes to place:

    >>> chain = measure(["x", "f", "y", "g", "z"], [("x", "f", 1), ("f", "y", 1), ("y", "g", 1), ("g", "z", 1)], 0)
    >>> chain.ranks, chain.virtual, chain.effort(), chain.direction()
    (5, 0, 'full', 'LR')
    >>> shared = measure(["x", "f", "y", "g", "z", "w"], [("x", "f", 1), ("f", "y", 1), ("y", "g", 1),
    ...                                                   ("g", "z", 1), ("w", "f", 1), ("w", "g", 1)], 0)
    >>> shared.virtual, shared.fan, shared.crossing
    (2, 2, 1)
    """
    succ: dict = {node: [] for node in nodes}
    pred: dict = {node: [] for node in nodes}
    for tail, head, minlen in edges:
        succ[tail].append((head, minlen))
        pred[head].append((tail, minlen))
    # Kahn's order: the DOT text lists a node before edges that leave it, not always
    # before the nodes it feeds (leaves come first, literals beside their reader).
    waiting = {node: len(pred[node]) for node in nodes}
    order = [node for node in nodes if not waiting[node]]
    for node in order:  # grows while iterating
        for head, _ in succ[node]:
            waiting[head] -= 1
            if not waiting[head]:
                order.append(head)
    rank: dict = {}
    for node in order:
        rank[node] = max((rank[tail] + minlen for tail, minlen in pred[node]), default=0)
    for node in order:
        if not pred[node] and succ[node]:
            rank[node] = min(rank[head] - minlen for head, minlen in succ[node])
    if not rank:
        return Shape(0, 0, clusters, 0, 0, 0, 0, 0)
    low = min(rank.values())
    depth = max(rank.values()) - low + 1
    per_rank = [0] * (depth + 1)
    for r in rank.values():
        per_rank[r - low] += 1
    passing = [0] * (depth + 1)  # long edges passing each rank, by a difference array
    virtual = 0
    for tail, head, _ in edges:
        span = rank[head] - rank[tail]
        if span > 1:
            virtual += span - 1
            passing[rank[tail] - low + 1] += 1
            passing[rank[head] - low] -= 1
    crossing = running = 0
    for k in range(depth):
        running += passing[k]
        crossing = max(crossing, running)
    fan = max((len(out) for out in succ.values()), default=0)
    return Shape(len(nodes), len(edges), clusters, depth, max(per_rank), virtual, crossing, fan)
