"""Make docs/debugging.md's figure: gradient flow of the document's init against He init.

    python docs/make_debugging_figures.py      # docs/img/debugging_flow.png and a summary on stdout (~10 s)

The document's deep net [64, 5, 5, 5, 3, 1] trains on the bundled digits (full batch,
gradient descent at the ``deep`` model's default learning rate) from the same seed with
two initialisations; ``tinygraph.nn.gradient_flow`` reads every layer's |dW| before each
update. Left: the document's ``uniform * 0.01``; right: He.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinygraph as tg  # noqa: E402
from tinygraph import nn  # noqa: E402
from tinygraph_models.data import load_dataset  # noqa: E402
from tinygraph_models.train import TRAIN_DEFAULTS  # noqa: E402

IMG = Path(__file__).resolve().parent / "img"
EPOCHS = 300
EVERY = 5
SEED = 0
UNITS = [64, 5, 5, 5, 3, 1]


def history(init: str) -> tuple:
    """(FlowHistory, costs) of EPOCHS gradient-descent steps from ``init``."""
    data = load_dataset("digits")
    X, Y = tg.Tensor(data.train_x, name="X"), tg.Tensor(data.train_y, name="Y")
    lr = TRAIN_DEFAULTS["deep"]["lr"]
    net = nn.Sequential.mlp(UNITS, init=init, rng=np.random.default_rng(SEED))
    opt = tg.optim.GD(net.parameters(), lr=lr)
    flow, costs = nn.FlowHistory(), []
    for epoch in range(1, EPOCHS + 1):
        cost = tg.binary_cross_entropy_with_logits(net(X), Y)
        if epoch <= 10 or epoch % EVERY == 0:
            flow.record(epoch, nn.gradient_flow(net, cost, lr=lr))
        costs.append(cost.item())
        opt.zero_grad()
        cost.backward()
        opt.step()
    return flow, costs


def main() -> None:
    IMG.mkdir(exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.0), dpi=120, sharey=True)
    for ax, init, title in zip(axes, ["document", "he"], ["the document's uniform * 0.01", "He (N(0, 2 / n_in))"]):
        flow, costs = history(init)
        for name, norms in flow.grad_norms().items():
            ax.plot(flow.epochs, np.array(norms, dtype=float), linewidth=1.4, label=name)
        # Logarithmic above 1e-10 and linear below it, so that a gradient of exactly 0 shows, at the bottom.
        ax.set_yscale("symlog", linthresh=1e-10)
        ax.set_ylim(0, 1)
        ax.set_xscale("log")  # the first epochs are where the document's init dies
        ax.set_title(f"{title}: cost {costs[0]:.3f} -> {costs[-1]:.3f}", fontsize=10)
        ax.set_xlabel("epoch (log scale)")
        ax.grid(alpha=0.3, which="both")
        first = flow.reports[0]
        print(f"{init}: cost {costs[0]:.4f} -> {costs[-1]:.4f} after {EPOCHS} epochs; epoch 1: "
              + ", ".join(f"{layer['name']} |dW|/|W| {layer['grad_ratio']:.1e} ({layer['verdict']})" for layer in first["layers"]))
    axes[0].set_ylabel("|dW| per layer (log scale; 0 at the bottom)")
    axes[1].legend(frameon=False, fontsize=8, loc="lower right")
    fig.suptitle(f"Gradient flow in the deep net {UNITS} on digits, gradient descent, seed {SEED}", fontsize=10)
    fig.tight_layout()
    out = IMG / "debugging_flow.png"
    fig.savefig(out)
    plt.close(fig)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
