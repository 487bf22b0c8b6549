"""``python -m benchmarks.render_shapes``: how long ``dot`` takes on graphs of hard shapes.

Row 7 of ``python -m benchmarks`` times one shape (a stretched deep net) at three
sizes. The graphs that made ``dot`` hang or crash were of other shapes: a weight
shared by every step of an RNN (long edges across the whole picture), one tensor read
by hundreds of ops, deep residual ladders in name scopes (many clusters), attention
blocks. Each is built here at about the size ``tg.draw`` accepts by default (500
drawn nodes), and rendered to SVG with the default options, through
``tinygraph.viz.render`` (so with its time limit). ``tests/viz/test_shapes.py``
renders the same graphs and only checks that they render.

Options: ``--shapes rnn,fanout_wide`` (a subset), ``--large`` (also each shape at
2,000-5,000 nodes, drawn with ``max_nodes`` raised), ``--rankdir LR|TB`` (force one
direction instead of the default choice), ``--repeat N`` (best of N).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np


def rnn(steps: int = 70, hidden: int = 4, samples: int = 3):
    """A tanh RNN with one W shared by every step: h = tanh(W h + x_t); the cost sums h_T."""
    import tinygraph as tg

    rng = np.random.default_rng(0)
    W = tg.Tensor(rng.standard_normal((hidden, hidden)) * 0.5, requires_grad=True, name="W")
    h = tg.Tensor(np.zeros((hidden, samples)), name="h0")
    for t in range(steps):
        x = tg.Tensor(rng.standard_normal((hidden, samples)), name=f"x{t}")
        h = tg.tanh(W @ h + x)
    return h.sum().named("cost")


def fanout_chain(uses: int = 200):
    """One tensor read by ``uses`` ops in a row: y = x * x * ... * x."""
    import tinygraph as tg

    x = tg.Tensor(np.full((2, 2), 1.001), requires_grad=True, name="x")
    y = x
    for _ in range(uses):
        y = y * x
    return y.sum().named("cost")


def fanout_wide(uses: int = 200):
    """One tensor read by ``uses`` ops side by side, their results summed by a balanced tree of adds.

    About 800 drawn nodes: over the default ``max_nodes``, so it is drawn with
    ``max_nodes`` raised to its size.
    """
    import tinygraph as tg

    x = tg.Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True, name="x")
    parts = [tg.tanh(x) if k % 2 else tg.sigmoid(x) for k in range(uses)]
    while len(parts) > 1:
        parts = [a + b for a, b in zip(parts[0::2], parts[1::2])] + parts[len(parts) - len(parts) % 2 :]
    return parts[0].sum().named("cost")


def ladder(layers: int = 45, width: int = 4, samples: int = 3):
    """A residual ladder, one name scope per layer: a = a + tanh(W a + b)."""
    import tinygraph as tg

    rng = np.random.default_rng(0)
    a = tg.Tensor(rng.standard_normal((width, samples)), name="X")
    for layer in range(1, layers + 1):
        with tg.name_scope(f"block{layer}"):
            W = tg.Tensor(rng.standard_normal((width, width)) * 0.3, requires_grad=True, name=f"W{layer}")
            b = tg.Tensor(np.zeros((width, 1)), requires_grad=True, name=f"b{layer}")
            a = (a + tg.tanh(W @ a + b)).named(f"A{layer}")
    return a.sum().named("cost")


def attention(blocks: int = 6, heads: int = 2, d: int = 4, tokens: int = 5):
    """Attention-like blocks (no softmax op yet: exp, sum and div), nested scopes per block and head.

    Per head: Q = Wq X, K = Wk X, V = Wv X, S = Qᵀ K / √d, A = exp(S) / Σ exp(S),
    O = V Aᵀ; a block adds its heads to its input (a residual) and squashes the sum with tanh.
    """
    import tinygraph as tg

    rng = np.random.default_rng(0)
    X = tg.Tensor(rng.standard_normal((d, tokens)), name="X")
    for block in range(1, blocks + 1):
        with tg.name_scope(f"block{block}"):
            out = X
            for head in range(1, heads + 1):
                with tg.name_scope(f"head{head}"):
                    Wq, Wk, Wv = (
                        tg.Tensor(rng.standard_normal((d, d)) * 0.4, requires_grad=True, name=f"W{kind}")
                        for kind in "qkv"
                    )
                    Q, K, V = Wq @ X, Wk @ X, Wv @ X
                    S = (Q.T @ K) * (1 / np.sqrt(d))
                    E = tg.exp(S)
                    A = (E / E.sum(axis=1, keepdims=True)).named("A")
                    out = out + V @ A.T
            X = tg.tanh(out).named(f"X{block}")  # bounded, so that exp stays finite however many blocks
    return X.sum().named("cost")


#: name -> (builder, options for draw beyond the defaults)
SHAPES = {
    "rnn": (rnn, {}),
    "fanout_chain": (fanout_chain, {}),
    "fanout_wide": (fanout_wide, {"max_nodes": 1000}),
    "ladder": (ladder, {}),
    "attention": (attention, {}),
}

#: The same shapes well beyond max_nodes=500 (``--large``): what a raised max_nodes costs.
#: The RNN of 300 steps is the graph on which Graphviz 2.43 crashed (SIGSEGV) with the
#: settings tinygraph used to give pictures of over 1,000 nodes.
LARGE = {
    "rnn_300": (lambda: rnn(300), {"max_nodes": 3000}),
    "fanout_chain_400": (lambda: fanout_chain(400), {"max_nodes": 1000}),
    "fanout_wide_800": (lambda: fanout_wide(800), {"max_nodes": 4000}),
    "ladder_450": (lambda: ladder(450), {"max_nodes": 5000}),
    "attention_30": (lambda: attention(30), {"max_nodes": 3000}),
}


def measure(name: str, *, rankdir=None, repeat: int = 1) -> dict:
    """Draw and render one shape; the draw's statistics and the best times of ``repeat`` runs."""
    import tinygraph as tg
    from tinygraph.viz import render

    build, options = {**SHAPES, **LARGE}[name]
    options = dict(options)
    if rankdir is not None:
        options["rankdir"] = rankdir
    root = build()
    graph = tg.draw(root, **options)
    result = {"shape": name, **graph.stats.as_dict(), "rankdir": graph.options["rankdir"]}
    result |= {"draw_s": float("inf"), "render_s": float("inf")}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            t0 = time.perf_counter()
            tg.draw(root, **options)
            t1 = time.perf_counter()
            render(root, os.path.join(tmp, f"{name}.svg"), **options)
            t2 = time.perf_counter()
            result["draw_s"] = min(result["draw_s"], t1 - t0)
            result["render_s"] = min(result["render_s"], t2 - t1)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render_shapes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", default=",".join(SHAPES), help="comma-separated subset of: " + ", ".join(SHAPES))
    parser.add_argument("--rankdir", choices=("LR", "TB"), default=None)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--large", action="store_true", help="also the shapes at 2,000-5,000 nodes: " + ", ".join(LARGE))
    args = parser.parse_args(argv)
    names = [n for n in args.shapes.split(",") if n] + (list(LARGE) if args.large else [])
    unknown = [n for n in names if n not in SHAPES and n not in LARGE]
    if unknown:
        parser.error(f"unknown shape(s) {', '.join(unknown)}; choose from {', '.join([*SHAPES, *LARGE])}")
    print(
        "| shape | drawn nodes | edges | clusters | ranks | virtual nodes | most readers | direction | effort "
        "| draw | render (draw + dot) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in names:
        r = measure(name, rankdir=args.rankdir, repeat=args.repeat)
        print(
            f"| {name} | {r['nodes']:,} | {r['edges']:,} | {r['clusters']} | {r['ranks']} | {r['virtual']:,} | {r['fan']} "
            f"| {r['rankdir']} | {r['effort']} | {r['draw_s'] * 1e3:.0f} ms | {r['render_s']:.2f} s |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
