"""Training the document's networks: the loop, the run folder, and its files.

The loop is the document's: full-batch forward, cost, backward, update, for a fixed
number of epochs. Everything a run writes goes to a temporary folder first and is
moved into place at the end, so an interrupted run never leaves half a folder and an
existing folder is only replaced when asked.
"""

from __future__ import annotations

import contextlib
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

    Each epoch is the document's loop: forward over the whole training split, cost,
    backward, one update of every parameter.

    Parameters
    ----------
    network : nets.Network
        Trained in place.
    data : Dataset
        Trains on ``train_x``/``train_y``; the test split is only used for the final
        accuracy.
    epochs : int
        Number of updates.
    lr : float
        Learning rate, > 0.
    optimizer : {"gd", "momentum", "adam"}
    progress : callable, optional
        Called as ``progress(epoch, cost)`` after each step (the CLI passes a tqdm
        bar's update).

    Returns
    -------
    History

    Raises
    ------
    TrainingDiverged
        When the cost becomes NaN or infinite, naming the epoch, instead of carrying
        NaNs on.
    ValueError
        For an unknown optimizer, epochs < 1 or a learning rate that is not > 0.

    Examples
    --------
    >>> from tinygraph_models.data import load_dataset
    >>> data = load_dataset("breast-cancer")
    >>> net = nets.build("logistic", [30, 1], seed=0)
    >>> history = train(net, data, epochs=50, lr=0.1)
    >>> len(history.costs), history.costs[-1] < history.costs[0], history.test_accuracy > 0.9
    (50, True, True)
    """
    if optimizer not in tg.optim.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(tg.optim.OPTIMIZERS)}")
    if isinstance(epochs, bool) or not (isinstance(epochs, (int, np.integer)) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    opt = tg.optim.OPTIMIZERS[optimizer](network.net.parameters(), lr=lr)
    X = tg.Tensor(data.train_x, name="X")
    Y = tg.Tensor(data.train_y, name="Y")
    history = History()
    start = time.perf_counter()
    # Overflow on the way to a NaN cost is reported once, as TrainingDiverged, not as
    # a numpy warning per op.
    with _one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, int(epochs) + 1):
            opt.zero_grad()
            cost = network.cost(X, Y)
            value = cost.item()
            if not math.isfinite(value):
                raise TrainingDiverged(_diverged(epoch, epochs, value, lr))
            history.costs.append(value)
            cost.backward()
            opt.step()
            if progress is not None:
                progress(epoch, value)
        history.seconds = time.perf_counter() - start
        with tg.no_grad():
            history.final_cost = network.cost(X, Y).item()
        if not math.isfinite(history.final_cost):
            raise TrainingDiverged(_diverged(epochs + 1, epochs, history.final_cost, lr))
        history.train_accuracy = network.accuracy(data.train_x, data.train_y)
        history.test_accuracy = network.accuracy(data.test_x, data.test_y)
    return history


def _diverged(epoch: int, epochs: int, value: float, lr: float) -> str:
    when = f"at epoch {epoch} of {epochs}" if epoch <= epochs else f"after the last epoch ({epochs})"
    return f"training diverged {when}: the cost is {value}; the learning rate {lr:g} is too large, try a smaller --lr"


def _one_blas_thread():
    """Run BLAS single-threaded while training, when threadpoolctl is installed.

    The matrices here are tiny (at most 64 x 1348): threads cost more than they save,
    and on a busy machine OpenBLAS's spinning threads make it far worse (a 500-epoch
    run of the one-hidden-layer net on digits took 103 s with its default threads on
    2 loaded cores, 2.3 s with one). The ``tinygraph`` command also sets
    OPENBLAS_NUM_THREADS=1 before numpy loads, which needs no extra package.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


# ----------------------------------------------------------------- the run folder


def _umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def _atomic_write(path: Path, write) -> None:
    """Call ``write(tmp_path)``, then move the file into place in one rename.

    A reader sees the old file or the complete new one, never half a file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; the user's umask should decide
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_parameters(path: Path, network: nets.Network, data: Dataset) -> None:
    """Write ``params.npz`` atomically: the parameters and what is needed to use them.

    Besides ``W1, b1, ...`` it holds ``n_units``, ``model`` (a unicode array, not a
    pickled object, so ``np.load(..., allow_pickle=False)`` reads it) and the
    standardisation of the training split (``feature_mean``, ``feature_std``,
    ``feature_scale``) that new inputs must go through first.
    """
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
    """A Network from a saved ``params.npz`` and the other arrays saved with it.

    The file is read with ``allow_pickle=False``, so loading it cannot run code.

    Raises
    ------
    ValueError
        When the file is not a parameter file written by :func:`save_parameters`.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tinygraph_models.data import load_dataset
    >>> data = load_dataset("breast-cancer")
    >>> net = nets.build("shallow", [30, 4, 1], seed=3)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "params.npz"
    >>> save_parameters(path, net, data)
    >>> again, extra = load_parameters(path)
    >>> again.n_units, bool(np.array_equal(again.state()["W1"], net.state()["W1"])), sorted(extra)
    ([30, 4, 1], True, ['feature_mean', 'feature_scale', 'feature_std'])
    """
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable parameter file ({' '.join(str(err).split())})") from None
    missing = [k for k in ("n_units", "model") if k not in arrays]
    if missing:
        raise ValueError(f"{path}: not a tinygraph parameter file, it lacks {', '.join(missing)}")
    n_units = arrays.pop("n_units").tolist()
    model = str(arrays.pop("model"))
    params = {k: arrays.pop(k) for k in list(arrays) if k[0] in "Wb" and k[1:].isdigit()}
    network = nets.Network(model, params)
    if network.n_units != n_units:
        raise ValueError(f"{path}: the saved layer sizes {n_units} do not match the weights {network.n_units}")
    return network, arrays


def save_cost_curve(path: Path, costs: list, title: str) -> None:
    """Plot the cost per epoch, with ln 2 (the cost of always answering 0.5) for reference.

    The image format follows ``path``'s suffix (``.png``, ``.svg``, ...).
    """
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
    """A run folder built in a temporary sibling and moved into place by ``commit()``.

    Until ``commit()`` nothing exists at ``out``; if the run fails, ``abandon()``
    removes the temporary folder. An existing ``out`` is refused unless
    ``overwrite=True``, and then replaced only at ``commit()``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> folder = RunFolder(out, overwrite=False)
    >>> _ = folder.path("metrics.json").write_text("{}")
    >>> out.exists(), folder.commit() == out, sorted(p.name for p in out.iterdir())
    (False, True, ['metrics.json'])
    >>> RunFolder(out, overwrite=False)
    Traceback (most recent call last):
    ...
    FileExistsError: the run folder ... exists; choose another --out or pass --overwrite
    """

    #: What makes a folder a run folder that --overwrite may replace.
    RUN_FILES = ("metrics.json", "params.npz")

    def __init__(self, out: Path, *, overwrite: bool):
        self.out = Path(out)
        resolved = self.out.resolve()
        if resolved == Path.cwd().resolve() or resolved in Path.cwd().resolve().parents or not resolved.name:
            raise ValueError(f"--out {out}: the run folder cannot be the current folder or one that contains it")
        if self.out.exists() and not self.out.is_dir():
            raise FileExistsError(f"--out {self.out} is a file, not a folder; choose another --out")
        if self.out.exists() and not overwrite:
            raise FileExistsError(f"the run folder {self.out} exists; choose another --out or pass --overwrite")
        if self.out.exists() and any(self.out.iterdir()) and not any((self.out / f).exists() for f in self.RUN_FILES):
            # --overwrite replaces a run folder, never a folder of the user's other files.
            raise FileExistsError(
                f"{self.out} is not empty and holds no tinygraph run ({' or '.join(self.RUN_FILES)}); "
                "--overwrite only replaces run folders"
            )
        parent = self.out.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.tmp = Path(tempfile.mkdtemp(dir=parent, prefix=f".{self.out.name}.", suffix=".tmp"))
            os.chmod(self.tmp, 0o777 & ~_umask())  # as a folder made with mkdir would be
        except OSError as err:
            raise OSError(f"cannot create the run folder {self.out}: {err.strerror or err}") from None

    def path(self, name: str) -> Path:
        """Where to write the file ``name`` before ``commit()``."""
        return self.tmp / name

    def commit(self) -> Path:
        """Move the finished folder to ``out`` (replacing an old one) and return ``out``."""
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
        """Remove the temporary folder; ``out`` is left as it was."""
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_metrics(path: Path, metrics: dict) -> None:
    """Write ``metrics`` as indented JSON, atomically."""
    _atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(metrics, indent=2) + "\n"))


def metrics_of(history: History, config: dict) -> dict:
    """The content of ``metrics.json``: accuracies, costs, time and the run's settings."""
    out = {k: v for k, v in asdict(history).items() if k != "costs"}
    out["epochs_run"] = len(history.costs)
    out["first_cost"] = history.costs[0] if history.costs else None
    out["config"] = config
    out["cost_every_epoch"] = history.costs
    return out
