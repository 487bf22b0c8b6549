"""Make the tutorial's figures and measure the accuracy table, in one command.

    python docs/make_figures.py            # figures in docs/img/ and the tables on stdout (~1 min)
    python docs/make_figures.py --sweep    # also the cross-validation sweep behind the defaults (~20 min)

Every run goes through ``tinygraph_models.train.fit``, the function ``tinygraph train``
trains with, so the numbers are those of the command's defaults. Timings are of the
training loop (forward, backward, update for every epoch), one process, BLAS on one
thread.
"""

from __future__ import annotations

import argparse
import itertools
import math
import platform
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from tinygraph_models import nets  # noqa: E402
from tinygraph_models.data import Dataset, load_dataset  # noqa: E402
from tinygraph_models.train import TRAIN_DEFAULTS, fit, train  # noqa: E402

IMG = Path(__file__).resolve().parent / "img"
SEEDS = range(5)
MODELS = ["logistic", "shallow", "deep"]
DATASETS = ["digits", "breast-cancer"]
COLOURS = {"logistic": "#7f7f7f", "shallow": "#1f77b4", "deep": "#d62728", "he": "#d62728", "xavier": "#2ca02c", "document": "#9467bd"}
LABELS = {
    "logistic": "logistic regression [n_x, 1]",
    "shallow": f"one hidden layer [n_x, {nets.MODELS['shallow'][0]}, 1]",
    "deep": "deep [n_x, 5, 5, 5, 3, 1]",
}


def measure(data, model, init="he", **options):
    """Runs for seeds 0-4: a list of (history, config) with the command's defaults."""
    return [fit(data, model, init=init, seed=seed, **options)[1:] for seed in SEEDS]


def accuracy_table(runs) -> str:
    lines = [
        "| model | data | test accuracy, mean of seeds 0-4 | worst seed | train accuracy (mean) | final cost (mean) | training time per run |",
        "|---|---|---|---|---|---|---|",
    ]
    for (model, name), results in runs.items():
        test = [h.test_accuracy for h, _ in results]
        worst = int(np.argmin(test))
        lines.append(
            f"| {model} | {name} | {np.mean(test):.4f} | {test[worst]:.4f} (seed {worst}) | "
            f"{np.mean([h.train_accuracy for h, _ in results]):.4f} | {np.mean([h.final_cost for h, _ in results]):.4f} | "
            f"{np.mean([h.seconds for h, _ in results]):.2f} s ({results[0][1]['epochs']} epochs) |"
        )
    return "\n".join(lines)


def save(fig, name):
    path = IMG / name
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path.relative_to(IMG.parent.parent)}")


def plot_cost_curves(runs):
    """The three networks on each dataset: seed 0 bold, seeds 1-4 thin."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, name in zip(axes, DATASETS):
        for model in MODELS:
            results = runs[(model, name)]
            for seed, (history, _) in enumerate(results):
                ax.plot(history.costs, color=COLOURS[model], linewidth=2.0 if seed == 0 else 0.6, alpha=1.0 if seed == 0 else 0.45,
                        label=f"{LABELS[model]}" if seed == 0 else None)
        ax.axhline(math.log(2), color="#999999", linestyle="--", linewidth=0.8)
        ax.text(len(results[0][0].costs), math.log(2) + 0.01, "ln 2 (a coin flip)", ha="right", va="bottom", color="#777777", fontsize=8)
        ax.set_title(f"{name}: full-batch GD, He init, 5 seeds (seed 0 bold)", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 0.9)
        ax.grid(alpha=0.3)
        ax.legend(frameon=False, fontsize=8, loc="center right", title="training cost of", title_fontsize=8)
    axes[0].set_ylabel("training cost (mean cross-entropy)")
    fig.tight_layout()
    save(fig, "cost_curves.png")


def plot_inits(by_init):
    """The deep net on digits from three initialisations, 5 seeds each."""
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    for init, results in by_init.items():
        test = [h.test_accuracy for h, _ in results]
        for seed, (history, _) in enumerate(results):
            ax.plot(history.costs, color=COLOURS[init], linewidth=1.6 if seed == 0 else 0.7, alpha=1.0 if seed == 0 else 0.5,
                    label=f"{init}: test accuracy {np.mean(test):.3f} mean, {min(test):.3f} worst" if seed == 0 else None)
    ax.axhline(math.log(2), color="#999999", linestyle="--", linewidth=0.8)
    ax.annotate("document: rand * 0.01 stays at ln 2 (erratum E13)", xy=(600, math.log(2)), xytext=(330, 0.5),
                arrowprops={"arrowstyle": "->", "color": "#555555"}, fontsize=8, color="#555555")
    ax.set_title("deep net [64, 5, 5, 5, 3, 1] on digits, GD lr 0.1: initialisation, 5 seeds each (seed 0 bold)", fontsize=10)
    _finish_cost_axes(fig, ax)
    save(fig, "init_comparison.png")


def _finish_cost_axes(fig, ax) -> None:
    """The labels, limits and legend every training-cost figure shares."""
    ax.set_xlabel("epoch")
    ax.set_ylabel("training cost (mean cross-entropy)")
    ax.set_ylim(0, 0.9)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8, loc="upper right")
    fig.tight_layout()


def plot_dead_units(data):
    """Seed 4: the raw He draw leaves layer 4 dead; redrawing its dead units lets it learn."""
    fig, ax = plt.subplots(figsize=(7.5, 4.0))
    for keep, colour, label in ((True, "#9467bd", "raw He draw (--keep-dead-units): layer 4 dead"),
                                (False, "#d62728", "dead units redrawn (default)")):
        _, history, config = fit(data, "deep", seed=4, keep_dead_units=keep)
        ax.plot(history.costs, color=colour, linewidth=1.8, label=f"{label}: test acc {history.test_accuracy:.3f}")
    ax.axhline(math.log(2), color="#999999", linestyle="--", linewidth=0.8)
    ax.set_title("deep net on digits, seed 4: a layer that never fires never learns", fontsize=10)
    _finish_cost_axes(fig, ax)
    save(fig, "dead_units.png")


def folds(name: str, k: int = 4):
    """k (train, validation) Datasets cut from the training split; the test split is not touched.

    Fold i validates on every k-th training sample starting at i (the bundled split is
    already shuffled and stratified) and trains on the rest, standardised with the
    statistics of its own training part, as ``load_dataset`` does.
    """
    raw = load_dataset(name, standardize=False)
    for i in range(k):
        held = np.zeros(raw.n_train, dtype=bool)
        held[i::k] = True
        fit_x, val_x = raw.train_x[:, ~held], raw.train_x[:, held]
        mean, std = fit_x.mean(axis=1, keepdims=True), fit_x.std(axis=1, keepdims=True)
        std[std <= 1e-12 * np.maximum(1.0, np.abs(mean))] = 1.0
        yield Dataset((fit_x - mean) / std, raw.train_y[:, ~held], (val_x - mean) / std, raw.train_y[:, held],
                      raw.classes, None, f"{name} fold {i}")


def sweep():
    """Cross-validated accuracy (4 folds x seeds 0-4) for each model, lr and epoch count.

    Gradient descent is deterministic, so one 3000-epoch run per (fold, seed) gives the
    300- and 1000-epoch results too, read off at those epochs.
    """
    width = nets.MODELS["shallow"][0]
    grid = [("logistic", None, lr) for lr in (0.03, 0.1, 0.3, 1.0)]
    grid += [("shallow", width, lr) for lr in (0.03, 0.1, 0.3)]
    grid += [("shallow", n_h, 0.3) for n_h in (4, 8, 16, 32, 64) if n_h != width]
    grid += [("deep", None, lr) for lr in (0.01, 0.03, 0.1, 0.3)]
    checkpoints = [300, 1000, 3000]
    print("\nsweep: validation accuracy, mean over 4 folds of the training split x seeds 0-4")
    print("| model | lr | " + " | ".join(f"{name}, {e} ep" for name in DATASETS for e in checkpoints) + " |")
    print("|---|---|" + "---|" * (len(DATASETS) * len(checkpoints)))
    splits = {name: list(folds(name)) for name in DATASETS}
    for model, n_h, lr in grid:
        cells = []
        for name in DATASETS:
            scores = {e: [] for e in checkpoints}
            for data, seed in itertools.product(splits[name], SEEDS):
                units = [data.n_features, n_h, 1] if n_h else nets.default_units(model, data.n_features)
                network = nets.build(model, units, seed=seed, alive_on=data.train_x)

                def record(epoch, cost, network=network, data=data, scores=scores):
                    if epoch in scores:
                        scores[epoch].append(network.accuracy(data.test_x, data.test_y))

                train(network, data, epochs=max(checkpoints), lr=lr, progress=record)
            cells += [f"{np.mean(scores[e]):.3f}" for e in checkpoints]
        label = f"shallow, {n_h} hidden" if n_h else model
        print(f"| {label} | {lr:g} | " + " | ".join(cells) + " |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sweep", action="store_true", help="also run the cross-validation sweep behind TRAIN_DEFAULTS")
    args = parser.parse_args()
    IMG.mkdir(exist_ok=True)
    start = time.perf_counter()
    data = {name: load_dataset(name) for name in DATASETS}
    runs = {(model, name): measure(data[name], model) for name in DATASETS for model in MODELS}
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}, numpy {np.__version__}")
    print(f"defaults: {TRAIN_DEFAULTS}, shallow width {nets.MODELS['shallow'][0]}\n")
    print(accuracy_table(runs))
    by_init = {"he": runs[("deep", "digits")], "xavier": measure(data["digits"], "deep", init="xavier"),
               "document": measure(data["digits"], "deep", init="document")}
    print("\ninitialisation, deep net on digits:")
    print(accuracy_table({("deep", f"digits, init={init}"): results for init, results in by_init.items()}))
    document_costs = np.array([h.costs + [h.final_cost] for h, _ in by_init["document"]])
    print(f"document init: cost within [{document_costs.min():.6f}, {document_costs.max():.6f}], ln 2 = {math.log(2):.6f}")
    redrawn = {seed: config["redrawn_units"] for seed, (_, config) in enumerate(runs[("deep", "digits")])}
    print(f"dead units redrawn (deep, digits, He), per seed: {redrawn}\n")
    plot_cost_curves(runs)
    plot_inits(by_init)
    plot_dead_units(data["digits"])
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    if args.sweep:
        sweep()


if __name__ == "__main__":
    main()
