"""flow.png: per-layer gradient norms over the epochs of a run (``tinygraph train --report``).

The numbers come from ``tinygraph.nn.FlowHistory`` (``flow.json``); this module only draws
them. matplotlib is imported when a picture is drawn, not with the module.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tinygraph.nn import FlowHistory
from tinygraph_models.train import drawn_figure, fit_title, save_figure

__all__ = ["flow_figure", "plot_flow", "write_flow"]


def plot_flow(history, path, *, title: str | None = None) -> Path:
    """Draw each layer's gradient norm |dW| per recorded epoch, log scale, one line per layer.

    Parameters
    ----------
    history : tinygraph.nn.FlowHistory or dict
        The history, or its ``as_dict()`` (what ``flow.json`` holds).
    path : str or Path
        The picture; its suffix gives the format (``.png``, ``.svg``).
    title : str, optional
        Wrapped to the figure's width (``train.fit_title``); a line break in it is kept.

    Layers whose gradients vanished or exploded at some epoch are named in the legend.
    A norm of exactly 0 (a dead layer, or every layer before one) has no place on a log
    scale, so it is drawn as a triangle on a dotted line marked "0" below the smallest
    norm, rather than left out: a picture of dead layers must not look empty. Non-finite
    norms are left out (the warnings name them).
    """
    path = Path(path)
    save_figure(path, flow_figure(history, title=title))
    return path


def flow_figure(history, *, title: str | None = None):
    """The figure :func:`plot_flow` writes (the caller closes it)."""
    data = history.as_dict() if isinstance(history, FlowHistory) else dict(history)
    epochs = np.asarray(data["epochs"], dtype=float)
    flagged = {}
    for report in data["reports"]:
        for verdict in ("vanishing", "exploding", "dead"):
            for name in report.get(verdict, []):
                flagged.setdefault(name, verdict)

    def draw(fig, ax):
        raw = {
            name: np.array([v if v is not None and math.isfinite(v) else np.nan for v in norms], dtype=float)
            for name, norms in data["grad_norm"].items()
        }
        positive = [v for values in raw.values() for v in values[values > 0]]
        zero_at = min(positive) / 100 if positive else 1e-12  # where "exactly 0" is drawn
        any_zero = False
        for name, values in raw.items():
            label = name + (f" ({flagged[name]})" if name in flagged else "")
            (line,) = ax.plot(epochs, np.where(values > 0, values, np.nan), linewidth=1.4, marker=".",
                              markersize=4 if len(epochs) < 30 else 2, label=label)
            zeros = values == 0
            if zeros.any():
                any_zero = True
                ax.plot(epochs[zeros], np.full(zeros.sum(), zero_at), linestyle="none", marker="v", markersize=5,
                        color=line.get_color())
        if any_zero:
            ax.axhline(zero_at, linestyle=":", color="#6B7280", linewidth=1)
            ax.annotate("0 (no gradient at all)", (0.01, zero_at), xycoords=("axes fraction", "data"),
                        xytext=(0, 4), textcoords="offset points", fontsize=8, color="#6B7280")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("|dW| per layer (log scale)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(frameon=False, fontsize=8)
        fit_title(ax, title or "gradient norm per layer", fontsize=10)

    return drawn_figure((6.4, 4.0), draw)


def write_flow(folder, history: FlowHistory, *, title: str | None = None) -> list:
    """Write ``flow.json`` and ``flow.png`` into ``folder``; returns the warnings to print.

    What ``tinygraph train --report`` needs after its epochs: record a report each epoch
    with ``history.record(epoch, tinygraph.nn.gradient_flow(net, cost, lr=lr))`` before
    ``cost.backward()``, then call this.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> from tinygraph import nn
    >>> net = nn.Sequential.mlp([3, 4, 1], rng=np.random.default_rng(0))
    >>> X, Y = np.random.default_rng(1).random((3, 8)), np.ones((1, 8))
    >>> history = nn.FlowHistory()
    >>> history.record(1, nn.gradient_report(net, X, Y, tg.binary_cross_entropy_with_logits))
    >>> folder = tempfile.mkdtemp()
    >>> write_flow(folder, history)
    []
    >>> sorted(p.name for p in Path(folder).iterdir())
    ['flow.json', 'flow.png']
    """
    folder = Path(folder)
    history.save(folder / "flow.json")
    plot_flow(history, folder / "flow.png", title=title)
    return history.warnings()
