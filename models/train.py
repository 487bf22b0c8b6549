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
import numbers
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

import tinygraph as tg
from tinygraph._files import make_folder_beside, write_atomically
from tinygraph.data import batches
from tinygraph_models import multiclass, nets
from tinygraph_models.data import Dataset

#: Defaults of the ten-class models (see TRAIN_DEFAULTS).
#: ``gd_lr`` is the learning rate of --optimizer gd or momentum for a model whose own
#: optimizer is Adam (the sweep's best full-batch GD rate for it). ``weight_decay`` is
#: the optimizer's λ (decoupled for Adam, L2 for GD and momentum) and ``dropout`` the
#: probability of dropping a hidden unit (the MLP only); the binary models have neither
#: key, and so train with no weight decay and have no dropout layer.
MULTICLASS_DEFAULTS = {
    "softmax": {"lr": 1.0, "epochs": 1000, "optimizer": "gd", "batch_size": None, "weight_decay": 0.0, "dropout": 0.0},
    "mlp": {"lr": 0.003, "epochs": 30, "optimizer": "adam", "batch_size": 64, "gd_lr": 0.3, "weight_decay": 1.0,
            "dropout": 0.0},
    "cnn": {"lr": 0.01, "epochs": 30, "optimizer": "adam", "batch_size": 64, "gd_lr": 0.1, "weight_decay": 0.0,
            "dropout": 0.0},
}

#: Defaults per model for full-batch gradient descent on the standardised bundled data.
#: Chosen without the test split, by 4-fold cross-validation inside each training split
#: (seeds 0-4, lr 0.01-1, 300/1000/3000 epochs; `python docs/make_figures.py --sweep`):
#: each is within 0.001 of the best mean over the two datasets, at 1000 epochs (the
#: document's n_epochs). docs/tutorial.md has the table.
TRAIN_DEFAULTS = {
    "logistic": {"lr": 0.1, "epochs": 1000},
    "shallow": {"lr": 0.3, "epochs": 1000},
    "deep": {"lr": 0.1, "epochs": 1000},
    # The ten-class models, by 4-fold cross-validation inside the training split of
    # digits10 (seeds 0-4; `python docs/make_figures.py --sweep10`, docs/tutorial.md
    # section 12). Each names its optimizer and mini-batch size too.
    **MULTICLASS_DEFAULTS,
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

    costs: list = field(default_factory=list)  # per epoch: before its update (full batch), or its batches' mean
    train_accuracy: float = float("nan")
    test_accuracy: float = float("nan")
    final_cost: float = float("nan")
    seconds: float = 0.0


def train(network: nets.Network, data: Dataset, *, epochs: int, lr: float, optimizer: str = "gd",
          batch_size: int | None = None, seed: int = 0, progress=None, compiled: bool = False,
          flow: tg.nn.FlowHistory | None = None, weight_decay: float = 0.0) -> History:
    """Train ``network`` on ``data``; returns its History.

    Each epoch is the document's loop: forward over the whole training split, cost,
    backward, one update of every parameter. With ``batch_size`` an epoch is one pass
    over the training split in shuffled mini-batches (:func:`tinygraph.data.batches`),
    one update per batch.

    The updates run with the network in training mode (a dropout layer drops units);
    the final cost and the accuracies are measured in evaluation mode (none dropped).
    The network's modes are given back as they were.

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
        every epoch, on the eager graph of that update's cost (with the dropout masks
        that update then uses: recording does not change the training).
    weight_decay : float
        λ >= 0, given to the optimizer: for "adam" decoupled (AdamW: every step also
        shrinks each parameter by the factor ``1 - lr λ``), for "gd" and "momentum" an
        L2 term ``λ W`` added to the gradient. It applies to the biases too. 0, the
        default, is the plain update.

    Returns
    -------
    History
        ``costs`` holds one cost per epoch: the cost before the epoch's update for the
        full batch, the mean of the batches' costs (weighted by their sizes) with
        mini-batches; with dropout, the costs of the thinned networks that were trained.

    Raises
    ------
    TrainingDiverged
        When the cost becomes NaN or infinite, naming the epoch, instead of carrying
        NaNs on.
    ValueError
        For an unknown optimizer, epochs < 1, a batch size < 1, a learning rate that
        is not > 0, a weight decay that is not a finite number >= 0 or, for "adam",
        one with ``lr * weight_decay >= 1`` (:func:`adam_decay_problem`), and for
        ``compiled=True`` with a network that has a dropout layer.

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
    >>> history = train(nets.build("logistic", [30, 1], seed=0), data, epochs=5, lr=0.1, weight_decay=0.01)
    >>> len(history.costs), history.test_accuracy > 0.9
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
    check_weight_decay(weight_decay, "train")
    if optimizer == "adam" and isinstance(lr, numbers.Real):
        problem = adam_decay_problem(lr, weight_decay)
        if problem is not None:
            raise ValueError(f"train: {problem}")
    culprit = too_large_words(lr, optimizer, weight_decay)
    dropouts = _dropout_layers(network)
    if compiled and dropouts:
        raise ValueError(
            f"train: compiled=True cannot train a network with dropout (p={dropouts[0].p:g}): a compiled cost would "
            "replay one dropout mask at every step; train it uncompiled"
        )
    opt = tg.optim.OPTIMIZERS[optimizer](network.net.parameters(), lr=lr, weight_decay=weight_decay)
    cost_of = tg.compile(network.cost) if compiled else network.cost
    X = tg.Tensor(data.train_x, name="X")
    Y = tg.Tensor(data.train_y, name="Y")
    full_batch = batch_size is None or batch_size >= data.n_train
    order = np.random.default_rng([seed, 2])  # streams 0 and 1 are the weights' and the redraws'
    history = History()
    start = time.perf_counter()
    # Overflow on the way to a NaN cost is reported once, as TrainingDiverged, not as
    # a numpy warning per op.
    with _one_blas_thread(), np.errstate(over="ignore", invalid="ignore"), multiclass.in_mode(network.net, True):
        for epoch in range(1, int(epochs) + 1):
            if full_batch:
                if flow is not None:
                    _record_flow(flow, network, X, Y, epoch, lr)
                value = _step(cost_of, opt, X, Y, epoch, epochs, culprit)
            else:
                total = 0.0
                for k, (X_batch, Y_batch) in enumerate(batches(data.train_x, data.train_y, int(batch_size), rng=order)):
                    X_batch, Y_batch = tg.Tensor(X_batch, name="X"), tg.Tensor(Y_batch, name="Y")
                    if flow is not None and k == 0:
                        _record_flow(flow, network, X_batch, Y_batch, epoch, lr)
                    total += _step(cost_of, opt, X_batch, Y_batch, epoch, epochs, culprit) * Y_batch.shape[-1]
                value = total / data.n_train
            history.costs.append(value)
            if progress is not None:
                progress(epoch, value)
        history.seconds = time.perf_counter() - start
        with tg.no_grad(), multiclass.in_mode(network.net, False):
            history.final_cost = network.cost(X, Y).item()
        if not math.isfinite(history.final_cost):
            raise TrainingDiverged(_diverged(epochs + 1, epochs, history.final_cost, culprit))
        history.train_accuracy = network.accuracy(data.train_x, data.train_y)
        history.test_accuracy = network.accuracy(data.test_x, data.test_y)
    return history


def _record_flow(flow, network, X, Y, epoch: int, lr: float) -> None:
    """Add this update's gradient-flow report to ``flow`` (an extra forward and backward, no .grad written).

    Dropout layers are given back their random state, so the update that follows draws
    the masks this report saw, and a run with reports trains as one without.
    """
    states = [(layer, layer.rng.bit_generator.state) for layer in _dropout_layers(network)]
    flow.record(epoch, tg.nn.gradient_flow(network.net, network.cost(X, Y), lr=lr))
    for layer, state in states:
        layer.rng.bit_generator.state = state


def _dropout_layers(network) -> list:
    return [module for _, module in network.net.named_modules() if isinstance(module, tg.nn.Dropout)]


def check_weight_decay(value, owner: str) -> float:
    """``value`` as a float, if it is a weight decay: a finite number >= 0.

    Examples
    --------
    >>> check_weight_decay(0.1, "train")
    0.1
    >>> check_weight_decay(-1, "train")
    Traceback (most recent call last):
    ...
    ValueError: train: weight_decay must be a finite number >= 0, got -1
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{owner}: weight_decay must be a finite number >= 0, got {value!r}")
    return float(value)


def _step(cost_of, opt, X, Y, epoch, epochs, culprit) -> float:
    """One update on ``X, Y``; returns the cost before it. ``culprit``: :func:`too_large_words`."""
    opt.zero_grad()
    cost = cost_of(X, Y)
    value = cost.item()
    if not math.isfinite(value):
        raise TrainingDiverged(_diverged(epoch, epochs, value, culprit))
    cost.backward()
    opt.step()
    return value


def at_chance(history: History, n_classes: int = 2) -> bool:
    """Whether training ended where always answering 0.5 would (1/C for C classes):
    final cost within :data:`CHANCE_TOLERANCE` of ln 2 (ln C).

    Examples
    --------
    >>> at_chance(History(final_cost=0.6935)), at_chance(History(final_cost=0.2))
    (True, False)
    >>> at_chance(History(final_cost=2.3026), n_classes=10)
    True
    """
    return abs(history.final_cost - math.log(n_classes)) <= CHANCE_TOLERANCE


def default_optimizer(model: str) -> str:
    """The model's optimizer: "gd" (the document's) unless TRAIN_DEFAULTS names another.

    Examples
    --------
    >>> default_optimizer("deep"), default_optimizer("cnn") == TRAIN_DEFAULTS["cnn"]["optimizer"]
    ('gd', True)
    """
    if model not in TRAIN_DEFAULTS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(TRAIN_DEFAULTS)}")
    return TRAIN_DEFAULTS[model].get("optimizer", "gd")


def default_batch_size(model: str) -> int | None:
    """The model's samples per update: None (the full batch) unless TRAIN_DEFAULTS names a size."""
    if model not in TRAIN_DEFAULTS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(TRAIN_DEFAULTS)}")
    return TRAIN_DEFAULTS[model].get("batch_size")


def default_regularisation(model: str, optimizer: str | None = None) -> tuple:
    """``(weight_decay, dropout)``: the model's from TRAIN_DEFAULTS, 0 where it names none.

    The model's weight decay belongs to its own optimizer, as its lr does: λ = 1 was
    chosen as Adam's decoupled decay (each step shrinks the weights by ``1 - lr λ``),
    and the same number as GD's L2 term would be another, far stronger, penalty. With
    another ``optimizer`` the default decay is 0.

    Examples
    --------
    >>> default_regularisation("deep"), default_regularisation("mlp") == (
    ...     TRAIN_DEFAULTS["mlp"]["weight_decay"], TRAIN_DEFAULTS["mlp"]["dropout"])
    ((0.0, 0.0), True)
    >>> default_regularisation("mlp", "gd")[0]
    0.0
    """
    if model not in TRAIN_DEFAULTS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(TRAIN_DEFAULTS)}")
    defaults = TRAIN_DEFAULTS[model]
    own = optimizer is None or optimizer == default_optimizer(model)
    return (defaults.get("weight_decay", 0.0) if own else 0.0), defaults.get("dropout", 0.0)


def training_settings(model: str, optimizer: str | None = None, lr: float | None = None, epochs: int | None = None) -> tuple:
    """``(lr, epochs)`` for a run: the given values, else the model's TRAIN_DEFAULTS.

    The default lr belongs to the model's own optimizer; with another one it is
    ADAM_LR for Adam, and for GD or momentum the model's ``gd_lr`` (or its ``lr`` when
    GD is its optimizer). ``optimizer=None`` is the model's own.

    Examples
    --------
    >>> training_settings("deep") == (TRAIN_DEFAULTS["deep"]["lr"], TRAIN_DEFAULTS["deep"]["epochs"])
    True
    >>> training_settings("deep", "adam", epochs=5)
    (0.01, 5)
    """
    defaults = TRAIN_DEFAULTS.get(model)
    if defaults is None:
        raise ValueError(f"training_settings: unknown model {model!r}; choose one of {', '.join(TRAIN_DEFAULTS)}")
    own = default_optimizer(model)
    optimizer = own if optimizer is None else optimizer
    if lr is None:
        if optimizer == own or (optimizer == "momentum" and own == "gd"):
            lr = defaults["lr"]
        elif optimizer == "adam":
            lr = ADAM_LR
        else:
            lr = defaults.get("gd_lr", defaults["lr"])
    return lr, (defaults["epochs"] if epochs is None else epochs)


def fit(data: Dataset, model: str = "deep", *, layers=None, epochs=None, lr=None, optimizer: str | None = None,
        init: str = "he", seed: int = 0, batch_size: int | None = None, keep_dead_units: bool = False,
        progress=None, log=None, compiled: bool = False, flow=None, weight_decay: float | None = None,
        dropout: float | None = None):
    """Build and train a network exactly as ``tinygraph train`` does, without writing files.

    The accuracy tests and docs/make_figures.py call this, so the numbers they report
    are those of the command's defaults.

    Parameters
    ----------
    data : Dataset
    model : {"logistic", "shallow", "deep", "softmax", "mlp", "cnn"}
        The document's binary networks (:mod:`~tinygraph_models.nets`), or the
        ten-class ones (:mod:`~tinygraph_models.multiclass`), which take any number of
        classes.
    layers : list of int, optional
        ``[n_x, ..., 1]`` (``[n_x, ..., C]`` for softmax and mlp; none for cnn);
        default: ``nets.default_units(model, n_x)`` or ``multiclass.default_units``.
    epochs, lr : optional
        Default: :func:`training_settings`.
    optimizer : {"gd", "momentum", "adam"}, optional
        Default: the model's (:func:`default_optimizer`).
    init, seed
        As the command's options (``seed`` seeds the weights and the batch order).
    batch_size : int, optional
        Default: the model's (:func:`default_batch_size`; the full batch for the
        document's networks); see :func:`train`.
    keep_dead_units : bool
        Skip :func:`nets.redraw_dead_units`.
    progress : callable, optional
        ``progress(epoch, cost)`` after each epoch.
    log : callable, optional
        Called with a line of text worth telling the user (units redrawn).
    compiled, flow : optional
        As :func:`train`: train through ``tg.compile``d steps; record gradient-flow reports.
    weight_decay : float, optional
        λ >= 0 for the optimizer (see :func:`train`). Default: the model's with its own
        optimizer (:func:`default_regularisation`: 1 for mlp with Adam), else 0.
    dropout : float, optional
        For mlp: the probability in [0, 1) of dropping each hidden unit at each training
        step (:func:`multiclass.build`). Default: the model's. The other models have no
        dropout layer and refuse any value but 0.

    Returns
    -------
    network : nets.Network or multiclass.Classifier
    history : History
    config : dict
        The settings used, as written to metrics.json.

    Raises
    ------
    ValueError
        For layer sizes that do not fit the model or the data, a binary model on data of
        more than two classes, a cnn on data that are not square images, dropout for a
        model other than mlp, and as :func:`train`.

    Examples
    --------
    >>> from tinygraph_models.data import load_dataset
    >>> network, history, config = fit(load_dataset("breast-cancer"), "logistic", epochs=20)
    >>> config["layers"], config["lr"] == TRAIN_DEFAULTS["logistic"]["lr"], len(history.costs)
    ([30, 1], True, 20)
    """
    optimizer = default_optimizer(model) if optimizer is None else optimizer
    batch_size = default_batch_size(model) if batch_size is None else batch_size
    lr, epochs = training_settings(model, optimizer, lr, epochs)
    own_decay, own_dropout = default_regularisation(model, optimizer)
    weight_decay = check_weight_decay(own_decay if weight_decay is None else weight_decay, "fit")
    dropout = multiclass.check_dropout(own_dropout if dropout is None else dropout, "fit")
    if dropout and model not in multiclass.MODELS:
        raise ValueError(
            f"fit: --model {model} has no dropout layer to apply dropout {dropout:g} to; only --model mlp takes --dropout"
        )
    alive_on = None if keep_dead_units else data.train_x
    if model in multiclass.MODELS:
        if model == "cnn":
            multiclass.image_side(data.n_features, data.name)
        if layers is not None and layers[0] != data.n_features:
            raise ValueError(
                f"fit: the layer sizes {list(layers)} start with {layers[0]} inputs but {data.name} has "
                f"{data.n_features} features"
            )
        network = multiclass.build(model, data.n_features, data.n_classes, layers=layers, init=init, seed=seed,
                                   alive_on=alive_on, dropout=dropout)
        units = network.n_units
    else:
        if data.n_classes != 2:
            raise ValueError(
                f"fit: --model {model} is a binary classifier (one sigmoid unit) but {data.name} has "
                f"{data.n_classes} classes; use --model {', '.join(list(multiclass.MODELS)[:-1])} or {list(multiclass.MODELS)[-1]}"
            )
        units = nets.default_units(model, data.n_features) if layers is None else list(layers)
        if units[0] != data.n_features:
            raise ValueError(
                f"fit: the layer sizes {units} start with {units[0]} inputs but {data.name} has "
                f"{data.n_features} features"
            )
        units = nets.check_units(model, units)
        network = nets.build(model, units, init=init, seed=seed, alive_on=alive_on)
    if network.redrawn and log is not None:
        shown = ", ".join(f"layer {l} unit {j}" for l, j in network.redrawn[:6])
        more = ", ..." if len(network.redrawn) > 6 else ""
        log(f"redrew {len(network.redrawn)} hidden unit(s) dead on every training sample ({shown}{more}); "
            "--keep-dead-units keeps them")
    history = train(network, data, epochs=epochs, lr=lr, optimizer=optimizer, batch_size=batch_size, seed=seed,
                    progress=progress, compiled=compiled, flow=flow, weight_decay=weight_decay)
    config = {
        "model": model, "layers": units, "data": data.name, "epochs": epochs, "lr": lr,
        "optimizer": optimizer, "init": init, "seed": seed, "batch_size": batch_size,
        "weight_decay": weight_decay, "dropout": dropout,
        "redrawn_units": [list(unit) for unit in network.redrawn],
    }
    if model in multiclass.MODELS:
        config["classes"] = list(data.classes)
        config["network"] = network.describe()
    return network, history, config


def _diverged(epoch: int, epochs: int, value: float, culprit: tuple) -> str:
    when = f"at epoch {epoch} of {epochs}" if epoch <= epochs else f"after the last epoch ({epochs})"
    what, options = culprit
    return f"training diverged {when}: the cost is {value}; {what} is too large, try a smaller {options}"


def too_large_words(lr: float, optimizer: str, weight_decay: float) -> tuple:
    """``(what, options)`` to name when the cost runs away or rises: the learning rate, and with it
    the weight decay when there is one, and the options that make them smaller.

    The weight decay's share of a step is lr·λ for every optimizer; with it at 1 or more the
    decay alone flips or zeroes the weights, whatever the learning rate's own step.

    Examples
    --------
    >>> too_large_words(0.1, "gd", 0.0)
    ('the learning rate 0.1', '--lr')
    >>> what, options = too_large_words(1.0, "gd", 5.0)
    >>> what
    'the learning rate 1 with weight decay 5 (lr*λ = 5: each step multiplies every weight and bias by 1 - lr*λ = -4 before the gradient step)'
    >>> options
    '--weight-decay or --lr'
    >>> too_large_words(0.01, "momentum", 3.0)[0]
    'the learning rate 0.01 with weight decay 3 (lr*λ = 0.03, through the momentum)'
    """
    if not weight_decay:
        return f"the learning rate {lr:g}", "--lr"
    share = lr * weight_decay
    if optimizer == "adam":
        how = f": each step also multiplies every weight and bias by 1 - lr*λ = {1 - share:.3g}"
    elif optimizer == "gd":
        how = f": each step multiplies every weight and bias by 1 - lr*λ = {1 - share:.3g} before the gradient step"
    else:  # momentum averages the decay's gradient λW with the others: no one factor per step
        how = ", through the momentum"
    return f"the learning rate {lr:g} with weight decay {weight_decay:g} (lr*λ = {share:.3g}{how})", "--weight-decay or --lr"


def adam_decay_problem(lr: float, weight_decay: float, *, flags: bool = False) -> str | None:
    """Why Adam cannot train with ``lr`` and ``weight_decay``, or None when it can.

    Adam's decoupled decay multiplies every weight and bias by 1 - lr·λ at each step,
    apart from the gradient's step: at lr·λ = 1 that zeroes them, above it flips their
    signs (and from 2 on makes them grow), so the training is only noise. No such run
    is meant, and the command refuses it before reading any data. ``flags`` names the
    command's options instead of ``train``'s arguments.

    Examples
    --------
    >>> adam_decay_problem(0.003, 1.0) is None
    True
    >>> print(adam_decay_problem(0.003, 700.0, flags=True))
    --weight-decay 700 with adam at lr 0.003: lr*λ = 2.1 >= 1, so each step would multiply every weight and bias by 1 - lr*λ = -1.1 and flip their signs; choose --weight-decay below 1/lr = 333.333 or a smaller --lr
    """
    share = lr * weight_decay
    if not share >= 1:
        return None
    effect = "zero them" if share == 1 else "flip their signs"
    decay, rate = ("--weight-decay", "--lr") if flags else ("weight_decay", "lr")
    return (f"{decay} {weight_decay:g} with adam at lr {lr:g}: lr*λ = {share:.3g} >= 1, so each step would multiply "
            f"every weight and bias by 1 - lr*λ = {1 - share:.3g} and {effect}; choose {decay} below "
            f"1/lr = {1 / lr:g} or a smaller {rate}")


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
    ``feature_scale``) that new inputs must go through first, and the names of the
    classes (``classes``), so ``tinygraph predict`` can classify new data with the file
    alone. A CNN adds the shape its weights do not tell (``image_side``,
    ``cnn_padding``, ``cnn_pool``).
    """
    arrays = dict(network.state())
    if hasattr(network, "architecture"):
        arrays.update(network.architecture())
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
    try:
        if model in multiclass.MODELS:
            network = multiclass.from_parameters(model, params, arrays)
        else:
            network = nets.Network(model, params)
    except ValueError as err:
        raise ValueError(f"{path}: {err}") from None
    if network.n_units != n_units:
        raise ValueError(f"{path}: the saved layer sizes {n_units} do not match the weights {network.n_units}")
    return network, arrays


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no display is needed or wanted
    import matplotlib.pyplot as plt

    return plt


def drawn_figure(figsize, draw):
    """A new figure with ``draw(fig, ax)`` done on it, closed again if drawing fails
    (pyplot keeps every open figure alive until it is closed)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=figsize, dpi=120)
    try:
        draw(fig, ax)
    except BaseException:
        plt.close(fig)
        raise
    return fig


def save_figure(path: Path, fig) -> None:
    """Write ``fig`` to ``path`` atomically, in the format its suffix names (PNG without
    one), and close it."""
    path = Path(path)
    try:
        write_atomically(path, lambda tmp: fig.savefig(tmp, format=path.suffix.lstrip(".") or "png"))
    finally:
        _pyplot().close(fig)


#: A cost that spans more than this factor is drawn on a log scale (see :func:`cost_curve_figure`).
LOG_SCALE_SPAN = 20


def cost_curve_figure(costs: list, title: str, n_classes: int = 2):
    """The figure :func:`save_cost_curve` writes (the caller closes it).

    Examples
    --------
    >>> fig = cost_curve_figure([0.7, 0.05, 0.01], "mlp [64, 512, 10] on digits10", n_classes=10)
    >>> fig.axes[0].get_yscale(), fig.axes[0].get_title()
    ('log', 'mlp [64, 512, 10] on digits10')
    >>> _pyplot().close(fig)
    """
    finite = [c for c in costs if math.isfinite(c) and c > 0]
    # A default MLP run falls 45-fold, nearly all of it in the first epochs: on a linear
    # axis its last 27 epochs lie flat on the zero line.
    log_scale = bool(finite) and max(finite) / min(finite) > LOG_SCALE_SPAN
    return drawn_figure((6.4, 4.0), lambda fig, ax: _draw_costs(ax, costs, title, n_classes, log_scale))


def _draw_costs(ax, costs, title, n_classes, log_scale) -> None:
    # A line needs two points: a run of a few epochs gets its points marked, so it is never blank.
    few = len(costs) <= 12
    ax.plot(np.arange(1, len(costs) + 1), costs, color="#1f77b4", linewidth=1.6, marker="o" if few else None,
            markersize=4)
    chance = "ln 2 (a coin flip)" if n_classes == 2 else f"ln {n_classes} (a uniform guess among {n_classes} classes)"
    ax.axhline(math.log(n_classes), color="#999999", linewidth=0.8, linestyle="--", label=chance)
    ax.set_xlabel("epoch")
    if few:
        ax.set_xticks(np.arange(1, len(costs) + 1))
    if log_scale:
        from matplotlib.ticker import LogFormatter

        class Plain(LogFormatter):
            """matplotlib's choice of which ticks to label, written 0.03 rather than 3x10^-2."""

            def _num_to_string(self, x, vmin, vmax):
                return f"{x:g}"

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(Plain())
        ax.yaxis.set_minor_formatter(Plain(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
        ax.set_ylabel("cost (mean cross-entropy), log scale")
        ax.grid(alpha=0.3, which="both")
    else:
        ax.set_ylabel("cost (mean cross-entropy)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    fit_title(ax, title, fontsize=10)


def save_cost_curve(path: Path, costs: list, title: str, n_classes: int = 2) -> None:
    """Plot the cost per epoch, with ln 2 (the cost of always answering 0.5) for reference.

    For C classes the reference is ln C, the cost of answering 1/C for every class.
    A cost that spans more than a factor of :data:`LOG_SCALE_SPAN` (20) is drawn on a
    log scale, where its last epochs stay readable instead of flattening onto the axis.
    The title is wrapped to the figure's width (:func:`fit_title`); a line break in it
    is kept. The image format follows ``path``'s suffix (``.png``, ``.svg``, ...).
    """
    save_figure(path, cost_curve_figure(costs, title, n_classes))


def _split_outside_brackets(text: str, separator: str) -> list:
    """``text`` cut at each ``separator`` that stands outside (), [] and {}; a "," separator stays with its piece."""
    pieces, depth, start, i = [], 0, 0, 0
    while i < len(text):
        char = text[i]
        depth += (char in "([{") - (char in ")]}")
        if depth <= 0 and text.startswith(separator, i):
            keep = separator.rstrip()  # "," of ", ", nothing of " "
            pieces.append(text[start:i] + keep)
            i += len(separator)
            start = i
            continue
        i += 1
    pieces.append(text[start:])
    return [p for p in pieces if p]


def wrap_to_width(text: str, width, room: float) -> str:
    """``text`` with line breaks so that every line's ``width(line)`` is at most ``room``, where it can be.

    Lines are broken after a comma first (between a title's settings), then at a space,
    never inside brackets (a layer list stays whole), and only as a last resort inside a
    word too wide for a line of its own. Of the ways to break into the fewest lines, the
    one with the narrowest widest line is taken, so that lines come out about even.
    Line breaks already in ``text`` are kept.

    Examples
    --------
    >>> title = "mlp [64, 512, 10] on digits10, adam lr=0.003, init=he, weight decay 0.1, dropout 0.5"
    >>> print(wrap_to_width(title, len, 60))
    mlp [64, 512, 10] on digits10, adam lr=0.003,
    init=he, weight decay 0.1, dropout 0.5
    >>> print(wrap_to_width("deep [64, 30, 30, 30, 1] on digits", len, 30))
    deep [64, 30, 30, 30, 1]
    on digits
    >>> print(wrap_to_width("a [1, 2, 3, 4] b", len, 5))
    a [1,
    2, 3,
    4] b
    >>> print(wrap_to_width("run /data/digits.npz", len, 8))
    run
    /data/di
    gits.npz
    """
    def fits(line: str) -> bool:
        return width(line) <= room

    splits = (lambda t: _split_outside_brackets(t, ", "), lambda t: _split_outside_brackets(t, " "),
              lambda t: [w for w in t.split(" ") if w])

    def units(piece: str, level: int, joiner: str) -> list:
        """``piece`` as (joiner before it, text) units that each fit, cut as coarsely as will do."""
        if fits(piece) or len(piece) <= 1:
            return [(joiner, piece)]
        if level < len(splits):
            parts = splits[level](piece)
            return [u for k, part in enumerate(parts) for u in units(part, level + 1, joiner if k == 0 else " ")]
        cut = next((n for n in range(len(piece) - 1, 1, -1) if fits(piece[:n])), 1)
        return [(joiner, piece[:cut])] + units(piece[cut:], level, "")

    return "\n".join(line for given in text.split("\n") for line in _even_lines(units(given, 0, ""), width, room))


def _even_lines(pieces: list, width, room: float) -> list:
    """``pieces`` ((joiner, text) pairs) on the fewest lines of width <= ``room``, the widest line as narrow as can be."""
    n = len(pieces)

    def line(i: int, j: int) -> str:
        return pieces[i][1] + "".join(joiner + piece for joiner, piece in pieces[i + 1:j])

    lines, start = 1, 0  # the fewest lines: fill each as far as it goes
    for j in range(2, n + 1):
        if width(line(start, j)) > room:
            lines, start = lines + 1, j - 1
    # best[k][j]: the narrowest widest line that puts pieces[:j] on k lines, and where its last line starts
    best = [{0: (0.0, 0)}] + [{} for _ in range(lines)]
    for k in range(1, lines + 1):
        for j in range(1, n + 1):
            for i, (widest, _) in best[k - 1].items():
                if i >= j:
                    continue
                text = line(i, j)
                wide = width(text)
                if j - i > 1 and wide > room:  # one piece alone may be wider: nothing narrower was found
                    continue
                if j not in best[k] or max(widest, wide) < best[k][j][0]:
                    best[k][j] = (max(widest, wide), i)
    spans, j = [], n
    for k in range(lines, 0, -1):
        i = best[k][j][1]
        spans.append((i, j))
        j = i
    return [line(i, j) for i, j in reversed(spans)]


def fit_title(ax, title: str, *, fontsize: float) -> None:
    """Set ``ax``'s title, wrapped (:func:`wrap_to_width`) so that all of it lies inside the figure, and lay
    the figure out (``tight_layout``).

    matplotlib centres a title on its axes and clips whatever runs past the figure's edges,
    so a long title lost its first and last settings ("dropout 0.5" read "dropout 0").
    The width a line may take is measured with the figure's renderer around the axes'
    centre. The title is plain text: a ``$`` in a file name is not read as mathtext.
    """
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    ax.set_title(title, fontsize=fontsize, parse_math=False)
    prop = ax.title.get_fontproperties()

    def width_of(line: str) -> float:
        return renderer.get_text_width_height_descent(line, prop, ismath=False)[0]

    fig.tight_layout()
    share = 1.0
    for _ in range(6):
        width = fig.bbox.width
        box = ax.get_position()
        centre = (box.x0 + box.x1) / 2 * width
        room = share * (2 * min(centre, width - centre) - 0.02 * width)

        ax.set_title(wrap_to_width(title, width_of, room), fontsize=fontsize, parse_math=False)
        fig.tight_layout()
        extent = ax.title.get_window_extent(renderer)
        if extent.x0 >= fig.bbox.x0 and extent.x1 <= fig.bbox.x1:
            return
        share *= 0.9  # the layout moved the axes: measure again with less room


def save_confusion_matrix(path: Path, matrix, classes, title: str) -> None:
    """Draw a confusion matrix (rows: true class, columns: predicted class) with its counts.

    The diagonal holds the right answers; each row is also shown as the share of that
    class's samples, by the colour, so classes of different sizes compare. Written
    atomically; the format follows ``path``'s suffix.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "confusion.png"
    >>> save_confusion_matrix(path, np.array([[5, 1], [0, 4]]), ["a", "b"], "toy")
    >>> path.read_bytes()[:4] == b"\\x89PNG"
    True
    """
    save_figure(path, confusion_figure(matrix, classes, title))


def confusion_figure(matrix, classes, title: str):
    """The figure :func:`save_confusion_matrix` writes (the caller closes it)."""
    matrix = np.asarray(matrix)
    classes = [str(c) for c in classes]
    n = len(classes)
    if matrix.shape != (n, n):
        raise ValueError(f"save_confusion_matrix: a matrix of shape {matrix.shape} for {n} classes; expected ({n}, {n})")
    size = min(9.0, 2.6 + 0.52 * n)
    return drawn_figure((size + 1.0, size), lambda fig, ax: _draw_confusion(fig, ax, matrix, classes, title))


def _draw_confusion(fig, ax, matrix, classes, title) -> None:
    n = len(classes)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                dark = share[i, j] > 0.5
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=9 if n <= 12 else 6,
                        color="white" if dark else ("#b22222" if i != j else "black"))
    ax.set_xticks(range(n), classes, fontsize=9 if n <= 12 else 6)
    ax.set_yticks(range(n), classes, fontsize=9 if n <= 12 else 6)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    right = int(np.trace(matrix))
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fit_title(ax, f"{title}\n{right} of {int(matrix.sum())} right; off the diagonal in red: the mistakes", fontsize=9)


def write_confusion(path: Path, network, data: Dataset, title: str) -> dict:
    """Draw the confusion matrix of ``network`` on the test split to ``path``; returns what
    metrics.json records of it: the counts and each class's test accuracy.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from tinygraph_models.data import load_dataset
    >>> data = load_dataset("digits10")
    >>> network, history, _ = fit(data, "softmax", epochs=2)
    >>> out = write_confusion(pathlib.Path(tempfile.mkdtemp()) / "confusion.png", network, data, "softmax")
    >>> sum(map(sum, out["confusion_matrix"]["counts"])), len(out["test_accuracy_per_class"])
    (450, 10)
    """
    labels = np.asarray(data.test_y).ravel()
    matrix = multiclass.confusion_matrix(labels, network.predict(data.test_x), data.n_classes)
    head, newline, rest = title.partition("\n")  # the split belongs to the title's first line, the network's
    save_confusion_matrix(path, matrix, data.classes, f"{head}: test split{newline}{rest}")
    per_class = matrix.diagonal() / np.maximum(matrix.sum(axis=1), 1)
    return {
        "confusion_matrix": {"split": "test", "rows": "true class", "columns": "predicted class",
                             "classes": list(data.classes), "counts": matrix.tolist()},
        "test_accuracy_per_class": {c: float(a) for c, a in zip(data.classes, per_class)},
    }


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
