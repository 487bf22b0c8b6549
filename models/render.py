"""``tinygraph render``: pictures of the document's three networks, or of a user's script.

For each network it writes two files: the forward graph as the document's computation
graph shows it, and the same graph after ``backward()`` with every gradient and the
backward rule of every op, so that the picture reads like the derivation
(``dZ = A - Y``, ``dW = dZ·A_prevᵀ / N``, ...).
"""

from __future__ import annotations

import runpy
from pathlib import Path

import tinygraph as tg
from tinygraph import viz
from tinygraph_models import nets

#: Samples drawn into the pictures: shapes stay readable, values are real digits.
SAMPLES = 16
TITLES = {
    "logistic": "logistic regression (a single sigmoid neuron)",
    "shallow": "one hidden layer (ReLU), sigmoid output",
    "deep": "deep net, ReLU hidden layers, sigmoid output",
}


class RenderError(ValueError):
    """A script given to ``--script`` that does not define a graph."""


def network_cost(model: str, *, data_name: str = "digits", samples: int = SAMPLES, seed: int = 0):
    """The document's network ``model`` and its cost on ``samples`` training examples (unfused:
    sigmoid, then the cross-entropy, as the document draws it)."""
    from tinygraph_models.data import load_dataset

    data = load_dataset(data_name)
    network = nets.build(model, nets.default_units(model, data.n_features), seed=seed)
    n = min(samples, data.train_x.shape[1])
    X = tg.Tensor(data.train_x[:, :n], name="X")
    Y = tg.Tensor(data.train_y[:, :n], name="Y")
    return network, network.cost(X, Y, fused=False)


def render_networks(out: Path, models, *, show_grads: bool, formulas: bool, fmt: str = "svg", rankdir: str = "LR") -> list:
    """Write ``<model>.<fmt>`` (and ``<model>-backward.<fmt>`` with ``show_grads``) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for model in models:
        network, cost = network_cost(model)
        title = f"{TITLES[model]}: {network.n_units}, cost on {SAMPLES} digits"
        written.append(
            viz.render(cost, out / f"{model}.{fmt}", format=fmt, title=title, show_formulas=formulas, rankdir=rankdir)
        )
        if show_grads:
            cost.backward(retain_graph=True)  # keep the graph so intermediate gradients can be shown
            written.append(
                viz.render(
                    cost, out / f"{model}-backward.{fmt}", format=fmt, show_grads=True, show_formulas=True,
                    title=f"{title}, after backward()", rankdir=rankdir,
                )
            )
    return written


def script_root(path: Path):
    """The Tensor a user's script defines as ``root``, or returns from ``graph()``."""
    if not path.is_file():
        raise RenderError(f"--script {path}: no such file")
    namespace = runpy.run_path(str(path), run_name="__tinygraph_render__")
    root = namespace.get("root")
    if root is None and callable(namespace.get("graph")):
        root = namespace["graph"]()
    if not isinstance(root, tg.Tensor):
        raise RenderError(f"--script {path}: define `root` (a tinygraph Tensor) or a function `graph()` that returns one")
    return root


def render_command(args) -> int:
    if args.script is not None:
        root = script_root(args.script)
        args.out.mkdir(parents=True, exist_ok=True)
        if args.show_grads:
            if root.size != 1:
                raise RenderError("--show-grads needs a one-element root to call backward() on; reduce it (e.g. .sum())")
            root.backward(retain_graph=True)
        path = viz.render(
            root, args.out / f"{args.script.stem}.{args.format}", format=args.format,
            show_grads=args.show_grads, show_formulas=args.formulas or args.show_grads, title=args.script.name,
            rankdir=args.rankdir,
        )
        print(path)
        return 0
    models = list(nets.MODELS) if args.model == "all" else [args.model]
    written = render_networks(
        args.out, models, show_grads=args.show_grads, formulas=args.formulas, fmt=args.format, rankdir=args.rankdir
    )
    for path in written:
        print(path)
    return 0
