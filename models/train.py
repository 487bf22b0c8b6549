"""Training the document's networks: the loop, the run folder, and its files.

The loop is the document's: full-batch forward, cost, backward, update, for a fixed
number of epochs. Everything a run writes goes to a temporary folder first and is
moved into place at the end, so an interrupted run never leaves half a folder and an
existing folder is only replaced when asked.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import tinygraph as tg
from tinygraph_models import nets
from tinygraph_models.data import Dataset


class TrainingDiverged(RuntimeError):
    """The cost stopped being a finite number."""


@dataclass
class History:
    """What one training run measured."""

    costs: list = field(default_factory=list)  # cost before each update
    train_accuracy: float = float("nan")
    test_accuracy: float = float("nan")
    final_cost: float = float("nan")
    seconds: float = 0.0


def train(network: nets.Network, data: Dataset, *, epochs: int, lr: float, optimizer: str = "gd", progress=None) -> History:
    """Train ``network`` on ``data`` with full-batch steps; returns its History.

    ``progress`` is called as ``progress(epoch, cost)`` after each step (the CLI passes
    a tqdm bar's update). A non-finite cost stops training with TrainingDiverged,
    naming the epoch, instead of carrying NaNs on.
    """
    if optimizer not in tg.optim.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(tg.optim.OPTIMIZERS)}")
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    opt = tg.optim.OPTIMIZERS[optimizer](network.net.parameters(), lr=lr)
    X = tg.Tensor(data.train_x, name="X")
    Y = tg.Tensor(data.train_y, name="Y")
    history = History()
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        opt.zero_grad()
        cost = network.cost(X, Y)
        value = cost.item()
        if not math.isfinite(value):
            raise TrainingDiverged(
                f"training diverged at epoch {epoch}: the cost is {value}; lower the learning rate (--lr {lr:g})"
            )
        history.costs.append(value)
        cost.backward()
        opt.step()
        if progress is not None:
            progress(epoch, value)
    history.seconds = time.perf_counter() - start
    with tg.no_grad():
        history.final_cost = network.cost(X, Y).item()
    if not math.isfinite(history.final_cost):
        raise TrainingDiverged(f"training diverged after the last epoch ({epochs}): the cost is {history.final_cost}")
    history.train_accuracy = network.accuracy(data.train_x, data.train_y)
    history.test_accuracy = network.accuracy(data.test_x, data.test_y)
    return history


# ----------------------------------------------------------------- the run folder


def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)``, then move the file into place in one rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_parameters(path: Path, network: nets.Network, data: Dataset) -> None:
    """Parameters plus what is needed to use them (layer sizes, standardisation), no pickles."""
    arrays = dict(network.state())
    arrays["n_units"] = np.asarray(network.n_units, dtype=np.int64)
    arrays["model"] = np.asarray(network.model)
    if data.mean is not None:
        arrays["feature_mean"], arrays["feature_std"] = data.mean, data.std
    arrays["feature_scale"] = np.asarray(data.scale)

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)

    _atomic_write(path, write)


def load_parameters(path) -> tuple[nets.Network, dict]:
    """A Network from a saved ``params.npz`` (loaded with allow_pickle=False) and the extra arrays."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    n_units = arrays.pop("n_units").tolist()
    model = str(arrays.pop("model"))
    params = {k: arrays.pop(k) for k in list(arrays) if k[0] in "Wb" and k[1:].isdigit()}
    network = nets.Network(model, params)
    if network.n_units != n_units:
        raise ValueError(f"{path}: the saved layer sizes {n_units} do not match the weights {network.n_units}")
    return network, arrays


def save_cost_curve(path: Path, costs: list, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display is needed or wanted
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    ax.plot(np.arange(1, len(costs) + 1), costs, color="#1f77b4", linewidth=1.6)
    ax.axhline(math.log(2), color="#999999", linewidth=0.8, linestyle="--", label="ln 2 (a coin flip)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost (mean cross-entropy)")
    ax.set_title(title, fontsize=10)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fig.tight_layout()
    _atomic_write(path, lambda tmp: fig.savefig(tmp, format=path.suffix.lstrip(".")))
    plt.close(fig)


class RunFolder:
    """A run folder built in a temporary sibling and moved into place by ``commit()``."""

    def __init__(self, out: Path, *, overwrite: bool):
        self.out = Path(out)
        if self.out.exists() and not overwrite:
            raise FileExistsError(f"the run folder {self.out} exists; choose another --out or pass --overwrite")
        if self.out.exists() and not self.out.is_dir():
            raise FileExistsError(f"{self.out} exists and is not a folder")
        parent = self.out.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{self.out.name}.", suffix=".tmp"))
        except OSError as err:
            raise OSError(f"cannot create the run folder {self.out}: {err.strerror or err}") from None

    def path(self, name: str) -> Path:
        return self.tmp / name

    def commit(self) -> Path:
        if self.out.exists():
            old = self.out.with_name(f".{self.out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(self.out, old)
            os.replace(self.tmp, self.out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(self.tmp, self.out)
        return self.out

    def abandon(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_metrics(path: Path, metrics: dict) -> None:
    _atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(metrics, indent=2) + "\n"))


def metrics_of(history: History, config: dict) -> dict:
    out = {k: v for k, v in asdict(history).items() if k != "costs"}
    out["epochs_run"] = len(history.costs)
    out["first_cost"] = history.costs[0] if history.costs else None
    out["config"] = config
    out["cost_every_epoch"] = history.costs
    return out
