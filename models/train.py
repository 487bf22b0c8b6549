"""Training the document's networks: the settings, the loop, the run folder and its files.

The loop is the document's: forward, cost, backward, update, for a fixed number of
epochs, over the whole training split at once (the document's full batch) or over
mini-batches (``batch_size``). :func:`fit` builds and trains a network exactly as
``tinygraph train`` does. Everything a run writes goes to a temporary folder first and
is moved into place at the end, so an interrupted run never leaves half a folder and an
existing folder is only replaced when asked.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import tinygraph as tg
from tinygraph._files import make_folder_beside, write_atomically
from tinygraph.data import batches
from tinygraph_models import nets
from tinygraph_models.data import Dataset

#: Defaults per model for full-batch gradient descent on the standardised bundled data.
#: Chosen without the test split, by 4-fold cross-validation inside each training split
#: (seeds 0-4, lr 0.01-1, 300/1000/3000 epochs; `python docs/make_figures.py --sweep`):
#: each is within 0.001 of the best mean over the two datasets, at 1000 epochs (the
#: document's n_epochs). docs/tutorial.md has the table.
TRAIN_DEFAULTS = {
    "logistic": {"lr": 0.1, "epochs": 1000},
    "shallow": {"lr": 0.3, "epochs": 1000},
    "deep": {"lr": 0.1, "epochs": 1000},
}

#: Adam's step is about lr whatever the gradient's scale, so it wants a smaller lr than GD.
ADAM_LR = 0.01

#: A final cost this close to ln 2 is what always answering 0.5 costs: nothing was learned.
CHANCE_TOLERANCE = 1e-3


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


def train(network: nets.Network, data: Dataset, *, epochs: int, lr: float, optimizer: str = "gd",
          batch_size: int | None = None, seed: int = 0, progress=None, compiled: bool = False,
          flow: tg.nn.FlowHistory | None = None) -> History:
    """Train ``network`` on ``data``; returns its History.

    Each epoch is the document's loop: forward over the whole training split, cost,
    backward, one update of every parameter. With ``batch_size`` an epoch is one pass
    over the training split in shuffled mini-batches (:func:`tinygraph.data.batches`),
    one update per batch.

    Parameters
    ----------
    network : nets.Network
        Trained in place.
    data : Dataset
        Trains on ``train_x``/``train_y``; the test split is only used for the final
        accuracy.
    epochs : int
        Passes over the training split (updates, for the full batch).
    lr : float
        Learning rate, > 0.
    optimizer : {"gd", "momentum", "adam"}
    batch_size : int, optional
        Samples per update. None (the default) or at least the training split's size:
        the full batch, in the data's order, as the document trains.
    seed : int
        Seeds the order of the mini-batches (a stream apart from the weights' seed);
        unused for the full batch.
    progress : callable, optional
        Called as ``progress(epoch, cost)`` after each epoch (the CLI passes a tqdm
        bar's update).
    compiled : bool
        Compute the cost and its gradients with ``tg.compile(network.cost)``: the same
        numbers from generated straight-line numpy (one specialisation per batch shape).
    flow : tinygraph.nn.FlowHistory, optional
        Record a gradient-flow report (``tg.nn.gradient_flow``) at the first update of
        every epoch, on the eager graph of that update's cost.

    Returns
    -------
    History
        ``costs`` holds one cost per epoch: the cost before the epoch's update for the
        full batch, the mean of the batches' costs (weighted by their sizes) with
        mini-batches.

    Raises
    ------
    TrainingDiverged
        When the cost becomes NaN or infinite, naming the epoch, instead of carrying
        NaNs on.
    ValueError
        For an unknown optimizer, epochs < 1, a batch size < 1 or a learning rate that
        is not > 0.

    Examples
    --------
    >>> from tinygraph_models.data import load_dataset
    >>> data = load_dataset("breast-cancer")
    >>> net = nets.build("logistic", [30, 1], seed=0)
    >>> history = train(net, data, epochs=50, lr=0.1)
    >>> len(history.costs), history.costs[-1] < history.costs[0], history.test_accuracy > 0.9
    (50, True, True)
    >>> history = train(nets.build("logistic", [30, 1], seed=0), data, epochs=5, lr=0.1, batch_size=64)
    >>> len(history.costs), history.test_accuracy > 0.9     # 5 epochs of 7 updates each
    (5, True)
    """
    if optimizer not in tg.optim.OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(tg.optim.OPTIMIZERS)}")
    if isinstance(epochs, bool) or not (isinstance(epochs, (int, np.integer)) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if batch_size is not None and (
        isinstance(batch_size, bool) or not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1)
    ):
        raise ValueError(f"batch_size must be a positive integer or None (the full batch), got {batch_size!r}")
    opt = tg.optim.OPTIMIZERS[optimizer](network.net.parameters(), lr=lr)
    cost_of = tg.compile(network.cost) if compiled else network.cost
    X = tg.Tensor(data.train_x, name="X")
    Y = tg.Tensor(data.train_y, name="Y")
    full_batch = batch_size is None or batch_size >= data.n_train
    order = np.random.default_rng([seed, 2])  # streams 0 and 1 are the weights' and the redraws'
    history = History()
    start = time.perf_counter()
    # Overflow on the way to a NaN cost is reported once, as TrainingDiverged, not as
    # a numpy warning per op.
    with _one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, int(epochs) + 1):
            if full_batch:
                if flow is not None:
                    _record_flow(flow, network, X, Y, epoch, lr)
                value = _step(cost_of, opt, X, Y, epoch, epochs, lr)
            else:
                total = 0.0
                for k, (X_batch, Y_batch) in enumerate(batches(data.train_x, data.train_y, int(batch_size), rng=order)):
                    X_batch, Y_batch = tg.Tensor(X_batch, name="X"), tg.Tensor(Y_batch, name="Y")
                    if flow is not None and k == 0:
                        _record_flow(flow, network, X_batch, Y_batch, epoch, lr)
                    total += _step(cost_of, opt, X_batch, Y_batch, epoch, epochs, lr) * Y_batch.shape[-1]
                value = total / data.n_train
            history.costs.append(value)
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


def _record_flow(flow, network, X, Y, epoch: int, lr: float) -> None:
    """Add this update's gradient-flow report to ``flow`` (an extra forward and backward, no .grad written)."""
    flow.record(epoch, tg.nn.gradient_flow(network.net, network.cost(X, Y), lr=lr))


def _step(cost_of, opt, X, Y, epoch, epochs, lr) -> float:
    """One update on ``X, Y``; returns the cost before it."""
    opt.zero_grad()
    cost = cost_of(X, Y)
    value = cost.item()
    if not math.isfinite(value):
        raise TrainingDiverged(_diverged(epoch, epochs, value, lr))
    cost.backward()
    opt.step()
    return value


def at_chance(history: History) -> bool:
    """Whether training ended where always answering 0.5 would: final cost within
    :data:`CHANCE_TOLERANCE` of ln 2.

    Examples
    --------
    >>> at_chance(History(final_cost=0.6935)), at_chance(History(final_cost=0.2))
    (True, False)
    """
    return abs(history.final_cost - math.log(2)) <= CHANCE_TOLERANCE


def training_settings(model: str, optimizer: str = "gd", lr: float | None = None, epochs: int | None = None) -> tuple:
    """``(lr, epochs)`` for a run: the given values, else the model's TRAIN_DEFAULTS (ADAM_LR for Adam).

    Examples
    --------
    >>> training_settings("deep") == (TRAIN_DEFAULTS["deep"]["lr"], TRAIN_DEFAULTS["deep"]["epochs"])
    True
    >>> training_settings("deep", "adam", epochs=5)
    (0.01, 5)
    """
    if model not in TRAIN_DEFAULTS:
        raise ValueError(f"training_settings: unknown model {model!r}; choose one of {', '.join(TRAIN_DEFAULTS)}")
    defaults = TRAIN_DEFAULTS[model]
    if lr is None:
        lr = ADAM_LR if optimizer == "adam" else defaults["lr"]
    return lr, (defaults["epochs"] if epochs is None else epochs)


def fit(data: Dataset, model: str = "deep", *, layers=None, epochs=None, lr=None, optimizer: str = "gd",
        init: str = "he", seed: int = 0, batch_size: int | None = None, keep_dead_units: bool = False,
        progress=None, log=None, compiled: bool = False, flow=None):
    """Build and train a network exactly as ``tinygraph train`` does, without writing files.

    The accuracy tests and docs/make_figures.py call this, so the numbers they report
    are those of the command's defaults.

    Parameters
    ----------
    data : Dataset
    model : {"logistic", "shallow", "deep"}
    layers : list of int, optional
        ``[n_x, ..., 1]``; default: ``nets.default_units(model, n_x)``.
    epochs, lr : optional
        Default: :func:`training_settings`.
    optimizer, init, seed
        As the command's options (``seed`` seeds the weights and the batch order).
    batch_size : int, optional
        Default: the full batch; see :func:`train`.
    keep_dead_units : bool
        Skip :func:`nets.redraw_dead_units`.
    progress : callable, optional
        ``progress(epoch, cost)`` after each epoch.
    log : callable, optional
        Called with a line of text worth telling the user (units redrawn).
    compiled, flow : optional
        As :func:`train`: train through ``tg.compile``d steps; record gradient-flow reports.

    Returns
    -------
    network : nets.Network
    history : History
    config : dict
        The settings used, as written to metrics.json.

    Raises
    ------
    ValueError
        For layer sizes that do not fit the model or the data, and as :func:`train`.

    Examples
    --------
    >>> from tinygraph_models.data import load_dataset
    >>> network, history, config = fit(load_dataset("breast-cancer"), "logistic", epochs=20)
    >>> config["layers"], config["lr"] == TRAIN_DEFAULTS["logistic"]["lr"], len(history.costs)
    ([30, 1], True, 20)
    """
    units = nets.default_units(model, data.n_features) if layers is None else list(layers)
    if units[0] != data.n_features:
        raise ValueError(
            f"fit: the layer sizes {units} start with {units[0]} inputs but {data.name} has "
            f"{data.n_features} features"
        )
    units = nets.check_units(model, units)
    lr, epochs = training_settings(model, optimizer, lr, epochs)
    network = nets.build(model, units, init=init, seed=seed, alive_on=None if keep_dead_units else data.train_x)
    if network.redrawn and log is not None:
        shown = ", ".join(f"layer {l} unit {j}" for l, j in network.redrawn[:6])
        more = ", ..." if len(network.redrawn) > 6 else ""
        log(f"redrew {len(network.redrawn)} hidden unit(s) dead on every training sample ({shown}{more}); "
            "--keep-dead-units keeps them")
    history = train(network, data, epochs=epochs, lr=lr, optimizer=optimizer, batch_size=batch_size, seed=seed,
                    progress=progress, compiled=compiled, flow=flow)
    config = {
        "model": model, "layers": units, "data": data.name, "epochs": epochs, "lr": lr,
        "optimizer": optimizer, "init": init, "seed": seed, "batch_size": batch_size,
        "redrawn_units": [list(unit) for unit in network.redrawn],
    }
    return network, history, config


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


def save_parameters(path: Path, network: nets.Network, data: Dataset) -> None:
    """Write ``params.npz`` atomically: the parameters and what is needed to use them.

    Besides ``W1, b1, ...`` it holds ``n_units``, ``model`` (a unicode array, not a
    pickled object, so ``np.load(..., allow_pickle=False)`` reads it) and the
    standardisation of the training split (``feature_mean``, ``feature_std``,
    ``feature_scale``) that new inputs must go through first, and the names of the two
    classes (``classes``), so ``tinygraph predict`` can classify new data with the file
    alone.
    """
    arrays = dict(network.state())
    arrays["n_units"] = np.asarray(network.n_units, dtype=np.int64)
    arrays["model"] = np.asarray(network.model)
    if data.mean is not None:
        arrays["feature_mean"], arrays["feature_std"] = data.mean, data.std
    arrays["feature_scale"] = np.asarray(data.scale)
    arrays["classes"] = np.asarray(data.classes, dtype=str)

    def write(tmp):
        with open(tmp, "wb") as f:  # a file object: given a name, savez would add ".npz" to it
            np.savez(f, **arrays)

    write_atomically(path, write)


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
    ([30, 4, 1], True, ['classes', 'feature_mean', 'feature_scale', 'feature_std'])
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
    try:
        write_atomically(path, lambda tmp: fig.savefig(tmp, format=path.suffix.lstrip(".")))
    finally:
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
        blocking = next((p for p in [parent, *parent.parents] if p.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise NotADirectoryError(f"cannot create the run folder {self.out}: {blocking} is a file, not a folder")
        try:
            parent.mkdir(parents=True, exist_ok=True)
            self.tmp = make_folder_beside(self.out)  # the umask's permissions, as mkdir would give
        except OSError as err:
            raise type(err)(f"cannot create the run folder {self.out}: {_plain(err)}") from None

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


def _plain(err: OSError) -> str:
    """The reason in ``err`` without "[Errno 13]" and without repeating the path."""
    text = str(err)
    if err.strerror and text.startswith("[Errno"):
        return err.strerror
    return text.split("': ", 1)[1] if text.startswith("cannot ") and "': " in text else text


def write_metrics(path: Path, metrics: dict) -> None:
    """Write ``metrics`` as indented JSON, atomically."""
    write_atomically(path, lambda tmp: tmp.write_text(json.dumps(metrics, indent=2) + "\n"))


def metrics_of(history: History, config: dict) -> dict:
    """The content of ``metrics.json``: accuracies, costs, time and the run's settings."""
    out = {k: v for k, v in asdict(history).items() if k != "costs"}
    out["epochs_run"] = len(history.costs)
    out["first_cost"] = history.costs[0] if history.costs else None
    out["config"] = config
    out["cost_every_epoch"] = history.costs
    return out
