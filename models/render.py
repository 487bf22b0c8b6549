"""``tinygraph render``: pictures of the document's three networks, or of a user's script.

For each network it writes two files: the forward graph as the document's computation
graph shows it, and the same graph after ``backward()`` with every gradient and the
backward rule of every op, so that the picture reads like the derivation
(``dZ = A - Y``, ``dW = dZ·A_prevᵀ / N``, ...).
"""

from __future__ import annotations

import os
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


def render_networks(out: Path, models, *, show_grads: bool, formulas: bool, fmt: str = "svg", rankdir: str = "LR",
                    max_nodes: int = 2000, collapse="auto") -> list:
    """Write ``<model>.<fmt>`` (and ``<model>-backward.<fmt>`` with ``show_grads``) into ``out``.

    ``max_nodes`` and ``collapse`` are passed to :func:`tinygraph.draw`.
    """
    out = output_folder(out)
    written = []
    options = {"format": fmt, "rankdir": rankdir, "max_nodes": max_nodes, "collapse": collapse}
    for model in models:
        network, cost = network_cost(model)
        title = f"{TITLES[model]}: {network.n_units}, cost on {SAMPLES} digits"
        written.append(_render(cost, out / f"{model}.{fmt}", title=title, show_formulas=formulas, **options))
        if show_grads:
            cost.backward(retain_graph=True)  # keep the graph so intermediate gradients can be shown
            written.append(
                _render(cost, out / f"{model}-backward.{fmt}", show_grads=True, show_formulas=True,
                        title=f"{title}, after backward()", **options)
            )
    return written


def output_folder(out: Path) -> Path:
    """``out``, created if missing; a RenderError in plain words when it cannot hold the pictures."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RenderError(f"--out {out} is a file, not a folder; give a folder for the pictures")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise RenderError(f"--out {out}: cannot create the folder ({_reason(err)})") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise RenderError(f"--out {out}: no permission to write in this folder; choose another --out")
    return out


def _reason(err: OSError) -> str:
    text = str(err)
    if err.strerror and text.startswith("[Errno"):
        return err.strerror.lower() + (f": {err.filename}" if err.filename else "")
    return text


def _render(root, path: Path, **options) -> Path:
    """viz.render, with a file that cannot be written said in the words of --out."""
    try:
        return viz.render(root, path, **options)
    except PermissionError:
        raise RenderError(f"--out {path.parent}: no permission to write {path.name} in this folder; choose another --out") from None
    except OSError as err:
        raise RenderError(f"--out {path.parent}: cannot write {path.name} ({_reason(err)})") from None
    except ValueError as err:
        # draw() names its own arguments; on the command line they are options.
        text = str(err).replace("pass max_nodes=", "pass --max-nodes ").replace("collapse=True", "--collapse all")
        raise RenderError(text) from None


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


def render_command(args) -> list:
    """Run ``tinygraph render`` with parsed ``args``; returns the paths written."""
    options = {"max_nodes": args.max_nodes, "collapse": args.collapse}
    if args.script is not None:
        root = script_root(args.script)
        out = output_folder(args.out)
        if args.show_grads:
            if root.size != 1:
                raise RenderError("--show-grads needs a one-element root to call backward() on; reduce it (e.g. .sum())")
            root.backward(retain_graph=True)
        path = _render(
            root, out / f"{args.script.stem}.{args.format}", format=args.format,
            show_grads=args.show_grads, show_formulas=args.formulas or args.show_grads, title=args.script.name,
            rankdir=args.rankdir, **options,
        )
        return [path]
    models = list(nets.MODELS) if args.model == "all" else [args.model]
    return render_networks(
        args.out, models, show_grads=args.show_grads, formulas=args.formulas, fmt=args.format, rankdir=args.rankdir,
        **options,
    )
