"""The ``tinygraph`` command: train the document's networks, check their gradients,
render their graphs, classify new data with a trained run.

This module is the command line only: the options, and turning what the other modules
do (:mod:`~tinygraph_models.train`, :mod:`~tinygraph_models.check`,
:mod:`~tinygraph_models.render`, :mod:`~tinygraph_models.predict`) into printed lines
and an exit status. Every error a user can make (a bad option, a missing or damaged
file, a diverging learning rate) is printed as one line on stderr,
``tinygraph <command>: error: ...``, with exit status 2 for a misused command line and
1 for the rest; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os

# Before numpy loads: the networks' matrices are tiny, and BLAS threads cost more than
# they save (on a busy 2-core machine OpenBLAS's spinning threads slowed training ~40x).
# A value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime as _dt  # noqa: E402
import math  # noqa: E402
import select  # noqa: E402
import stat  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import tinygraph as tg  # noqa: E402
from tinygraph_models import multiclass, nets  # noqa: E402
from tinygraph_models.train import ADAM_LR, TRAIN_DEFAULTS, training_settings  # noqa: E402, F401  (ADAM_LR, TRAIN_DEFAULTS: tinygraph_models.cli.* still works)

DATASETS_HELP = (
    "digits, digits10 (ten classes), breast-cancer, or a path to a .npz file in the bundled layout "
    "(train_x, train_y, test_x, test_y) or an HDF5 file in the document's"
)

#: ``--collapse`` words and the ``collapse`` values of tg.draw they stand for.
COLLAPSE = {"auto": "auto", "none": False, "scopes": "scopes", "chains": "chains", "all": True}


class CLIError(Exception):
    """A misused command line: printed as one line, exit status 2."""


def _real_number(accepts, what: str):
    """An argparse type: a number for which ``accepts(value)`` holds (nan never does), else ``must be {what}``."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if math.isnan(value) or not accepts(value):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return value

    return parse


_positive_float = _real_number(lambda v: math.isfinite(v) and v > 0, "a positive number")
_non_negative_float = _real_number(lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
_probability_below_one = _real_number(lambda v: 0 <= v < 1, "a probability in [0, 1)")


def _whole_number(minimum: int, what: str):
    """An argparse type: a whole number of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
        return value

    return parse


_positive_int = _whole_number(1, "at least 1")
_seed = _whole_number(0, "0 or more")


def _layers(text: str) -> list:
    try:
        units = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes like 64,5,5,5,3,1, got {text!r}") from None
    if len(units) < 2 or any(n < 1 for n in units):
        raise argparse.ArgumentTypeError(f"expected at least two positive sizes, got {text!r}")
    return units


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors follow the one-line rule."""

    def error(self, message):
        raise CLIError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tinygraph",
        description="Train, check and draw the document's networks with the tinygraph autograd engine.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = commands.add_parser("train", help="train a network and write a run folder")
    train.add_argument(
        "--model", choices=list(nets.MODELS) + list(multiclass.MODELS), default="deep",
        help="the document's binary networks logistic, shallow, deep, or the ten-class softmax (regression), "
             "mlp, cnn (default: deep)",
    )
    train.add_argument(
        "--layers", type=_layers,
        help="layer sizes n_x,...,1 (default for deep: n_x,5,5,5,3,1); for softmax and mlp n_x,...,C (C classes)",
    )
    train.add_argument(
        "--data", help=f"{DATASETS_HELP} (default: digits for the binary networks, digits10 for the ten-class ones)",
    )
    train.add_argument("--epochs", type=_positive_int, help="passes over the training data (default depends on the model)")
    train.add_argument("--lr", type=_positive_float, help="learning rate (default depends on the model and optimizer)")
    train.add_argument(
        "--optimizer", choices=["gd", "momentum", "adam"],
        help="update rule (default: gd, the document's; adam for mlp and cnn)",
    )
    train.add_argument(
        "--batch-size", type=_positive_int,
        help="samples per update, in shuffled mini-batches (default: all of them, the document's full batch; "
             "64 for mlp and cnn)",
    )
    train.add_argument(
        "--weight-decay", type=_non_negative_float, metavar="LAMBDA",
        help="weight decay LAMBDA >= 0 on every weight and bias: decoupled for adam (AdamW: each step also shrinks them "
             "by the factor 1 - lr*LAMBDA, so lr*LAMBDA must be below 1), an L2 term LAMBDA*W added to the gradient "
             "for gd and momentum "
             "(default: 1 for --model mlp with its own optimizer, adam; else 0)",
    )
    train.add_argument(
        "--dropout", type=_probability_below_one, metavar="P",
        help="mlp only: drop each hidden unit with probability P in [0, 1) at every training step, scaling the kept "
             "ones by 1/(1-P); predictions and the reported accuracies and final cost use every unit "
             "(default: 0, no dropout layer)",
    )
    train.add_argument("--init", choices=["he", "xavier", "document"], default="he", help="weight initialisation (default: he)")
    train.add_argument(
        "--seed", type=_seed, default=0,
        help="seed for the initial weights, the batch order and the dropout masks (default: 0)",
    )
    train.add_argument(
        "--keep-dead-units", action="store_true",
        help="keep hidden units that start dead on every training sample (default: redraw them)",
    )
    train.add_argument("--out", type=Path, help="run folder (default: runs/<time>-<model>-<data>)")
    train.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument(
        "--compile", action="store_true",
        help="train through tg.compile: the cost and its gradients run as generated numpy (same numbers, less overhead)",
    )
    train.add_argument(
        "--detect-anomaly", action="store_true",
        help="stop at the first op whose value or gradient is NaN or infinite, naming it and the line that built it",
    )
    train.add_argument(
        "--report", action="store_true",
        help="record per-layer gradient flow each epoch: flow.json and flow.png in the run folder, warnings if gradients "
             "vanish or explode",
    )

    check = commands.add_parser("check", help="autograd vs hand-derived vs finite-difference gradients")
    check.add_argument("--model", choices=list(nets.MODELS), default="deep")
    check.add_argument("--layers", type=_layers)
    check.add_argument("--data", default="digits", help=DATASETS_HELP)
    check.add_argument("--samples", type=_positive_int, default=32, help="training samples to use (default: 32; at most all of them)")
    check.add_argument("--init", choices=["he", "xavier", "document"], default="he")
    check.add_argument("--seed", type=_seed, default=0)

    render = commands.add_parser("render", help="draw the computation graph of a network to SVG")
    render.add_argument("--model", choices=list(nets.MODELS) + ["all"], default="all")
    render.add_argument("--script", type=Path, help="a Python file defining `root` (a Tensor) or `graph()` returning one")
    render.add_argument("--show-grads", action="store_true", help="run backward and show the gradients")
    render.add_argument("--formulas", action="store_true", help="show each op's backward rule")
    render.add_argument("--format", choices=["svg", "png", "pdf"], default="svg")
    render.add_argument("--rankdir", choices=["TB", "LR", "BT", "RL"], default="TB", help="layout direction (default: TB, top to bottom: a deep net stays readable)")
    render.add_argument(
        "--max-nodes", type=_positive_int, default=2000,
        help="the most nodes a picture may have; bigger graphs are drawn collapsed (--collapse auto) or refused (default: 2000)",
    )
    render.add_argument(
        "--collapse", choices=list(COLLAPSE), default="auto",
        help="merge repeated structure: each name scope into one box (scopes), runs of one op (chains), both (all), "
             "or both only when the graph is over --max-nodes (auto, the default); none draws everything",
    )
    render.add_argument("--out", type=Path, default=Path("graphs"), help="output folder (default: graphs)")

    derive = commands.add_parser("derive", help="print the forward and backward numpy that tinygraph generates for a network")
    derive.add_argument("--model", choices=list(nets.MODELS), default="deep", help="which of the document's networks (default: deep)")
    derive.add_argument(
        "--unfused", action="store_true",
        help="spell the cost as the document's graph draws it, sigmoid then cross-entropy (default: one fused op from Z)",
    )

    predict = commands.add_parser(
        "predict", help="classify data with a trained run folder",
        description="Classify data with a trained run folder. The CSV has the columns sample, probability, prediction, "
                    "class and, when the data have labels, label. probability is P(class 1) for a run of a binary "
                    "network (logistic, shallow, deep) and the probability of the predicted class for a softmax, mlp "
                    "or cnn run.",
    )
    predict.add_argument("run", type=Path, metavar="RUN", help="a run folder written by `tinygraph train` (it holds params.npz)")
    predict.add_argument(
        "--data", required=True,
        help=f"what to classify: {DATASETS_HELP} (its --split), or a .npz holding x (features, n) and optionally y",
    )
    predict.add_argument("--split", choices=["test", "train", "all"], default="test", help="which part of the data (default: test)")
    predict.add_argument("--out", type=Path, help="write the predictions to this .csv file instead of printing them")
    predict.add_argument("--overwrite", action="store_true", help="replace --out if it exists")

    for command in commands.choices.values():  # --debug also after the command name
        command.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


# ----------------------------------------------------------------- shared steps


def _load_data(name_or_path: str):
    from tinygraph_models.data import load_dataset

    return load_dataset(name_or_path)


def _units(model: str, layers, n_features: int, data_name: str, n_classes: int = 2) -> list:
    if model in multiclass.MODELS:
        return _multiclass_units(model, layers, n_features, data_name, n_classes)
    if n_classes != 2:
        raise CLIError(
            f"--model {model} is a binary classifier (one sigmoid unit) but {data_name} has {n_classes} classes; "
            f"use --model {', '.join(list(multiclass.MODELS)[:-1])} or {list(multiclass.MODELS)[-1]}"
        )
    units = nets.default_units(model, n_features) if layers is None else layers
    if units[0] != n_features:
        raise CLIError(
            f"--layers starts with {units[0]} inputs but {data_name} has {n_features} features; "
            f"start the list with {n_features}"
        )
    try:
        return nets.check_units(model, units)
    except ValueError as err:
        raise CLIError(str(err)) from None


def _multiclass_units(model: str, layers, n_features: int, data_name: str, n_classes: int) -> list:
    try:
        if model == "cnn":
            if layers is not None:
                raise ValueError("--model cnn takes no --layers: its layers are fixed (conv 3x3, max-pool 2, conv 3x3, linear)")
            multiclass.image_side(n_features, data_name)
            return multiclass.default_units(model, n_features, n_classes)
        units = multiclass.default_units(model, n_features, n_classes) if layers is None else layers
        if units[0] != n_features:
            raise ValueError(
                f"--layers starts with {units[0]} inputs but {data_name} has {n_features} features; "
                f"start the list with {n_features}"
            )
        return multiclass.check_units(model, units, n_classes)
    except ValueError as err:
        raise CLIError(str(err)) from None


def _say(command: str, line: str) -> None:
    """A line for the user on stderr, in the command's name."""
    print(f"tinygraph {command}: {line}", file=sys.stderr)


# ----------------------------------------------------------------- train


def cmd_train(args) -> int:
    from tinygraph_models.train import (
        RunFolder, TrainingDiverged, adam_decay_problem, at_chance, default_batch_size, default_optimizer, fit,
        metrics_of, save_cost_curve, save_parameters, too_large_words, write_confusion, write_metrics,
    )

    ten = args.model in multiclass.MODELS
    weight_decay, dropout = _regularisation(args)
    lr, epochs = training_settings(args.model, args.optimizer, args.lr, args.epochs)
    optimizer = default_optimizer(args.model) if args.optimizer is None else args.optimizer
    problem = adam_decay_problem(lr, weight_decay, flags=True) if optimizer == "adam" else None
    if problem is not None:  # refused before the data are read: no such run is meant
        raise CLIError(problem)
    data = _load_data(args.data if args.data is not None else ("digits10" if ten else "digits"))
    units = _units(args.model, args.layers, data.n_features, data.name, data.n_classes)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out if args.out is not None else Path("runs") / f"{stamp}-{args.model}-{Path(data.name).stem}"
    folder = RunFolder(out, overwrite=args.overwrite)
    try:
        batch_size = default_batch_size(args.model) if args.batch_size is None else args.batch_size
        full_batch = batch_size is None or batch_size >= data.n_train
        batches = "" if full_batch else f", batches of {batch_size}"
        what = f"{args.model} net {units}"
        if args.model == "cnn":
            what = multiclass.cnn_layout(multiclass.image_side(data.n_features), n_classes=data.n_classes)
        regularised = _regularisation_words(weight_decay, dropout)
        _say("train", f"{what} on {data.describe()}{batches}{regularised}")
        progress, close = _progress_bar(epochs, f"{args.model}/{Path(data.name).stem}", args.quiet)
        flow = tg.nn.FlowHistory() if args.report else None
        try:
            with tg.detect_anomaly() if args.detect_anomaly else contextlib.nullcontext():
                network, history, config = fit(
                    data, args.model, layers=None if args.model == "cnn" else units, epochs=epochs, lr=lr,
                    optimizer=args.optimizer, init=args.init, seed=args.seed, batch_size=args.batch_size, keep_dead_units=args.keep_dead_units,
                    progress=progress, log=lambda line: _say("train", line), compiled=args.compile, flow=flow,
                    weight_decay=weight_decay, dropout=dropout,
                )
        except TrainingDiverged as err:
            raise CLIError(str(err)) from None
        except FloatingPointError as err:  # detect_anomaly: its first line names the op and the line that built it
            raise RuntimeError(str(err).splitlines()[0]) from None
        finally:
            close()
        save_parameters(folder.path("params.npz"), network, data)
        shape = f"(filters {units[1]}, {units[2]})" if args.model == "cnn" else units
        # The network on one line, the settings on the next: the pictures wrap each line further if need be.
        title = (f"{args.model} {shape} on {Path(data.name).stem}\n{config['optimizer']} lr={lr:g}, init={args.init}"
                 f"{_regularisation_words(weight_decay, dropout)}")
        save_cost_curve(folder.path("cost.png"), history.costs, title, n_classes=data.n_classes)
        classes_report = write_confusion(folder.path("confusion.png"), network, data, title) if ten else {}
        graph_problem = _write_model_graph(folder.path("graph.svg"), network, data)
        metrics = metrics_of(history, config)
        metrics["compiled"] = args.compile
        metrics.update(classes_report)
        flow_warnings = []
        if flow is not None:
            from tinygraph_models.flow import write_flow

            flow_warnings = write_flow(folder.path("flow.json").parent, flow, title=title)
        metrics["graph"] = "graph.svg" if graph_problem is None else f"skipped: {graph_problem}"
        write_metrics(folder.path("metrics.json"), metrics)
        final = folder.commit()
    except BaseException:
        folder.abandon()
        raise
    files = "params.npz  metrics.json  cost.png" + ("  confusion.png" if ten else "") + ("  graph.svg" if graph_problem is None else "")
    files += "  flow.json  flow.png" if flow is not None else ""
    print(f"train accuracy  {history.train_accuracy:.4f}")
    print(f"test accuracy   {history.test_accuracy:.4f}")
    C = data.n_classes
    # Full batch: costs[0] is the cost before the first update. Mini-batches: the mean over the first
    # epoch, while the weights were already learning (the MLP's reads 0.73 against ln 10 = 2.30).
    first = "before training" if full_batch else "first epoch's mean"
    first += " with dropout" if dropout else ""
    print(f"final cost      {_cost_text(history.final_cost)}  ({first} {_cost_text(history.costs[0])}, "
          f"ln {C} = {math.log(C):.6f})")
    print(f"time            {history.seconds:.2f} s for {epochs} epoch{'' if epochs == 1 else 's'}")
    print(f"run folder      {final}/  {files}")
    if graph_problem is not None:
        print(f"graph           skipped: {graph_problem}")
    for line in flow_warnings:
        _say("train", f"warning: {line}")
    if history.final_cost > history.costs[0]:
        what, options = too_large_words(lr, optimizer, weight_decay)
        _say("train", f"warning: the cost rose from {history.costs[0]:.4g} ({first}) to {history.final_cost:.4g}; "
                      f"{what} is probably too large; try a smaller {options}")
    elif at_chance(history, C):
        # The regularisation first: when it is on, it is the likeliest reason nothing was learned.
        smaller = [f"a smaller --weight-decay (now {weight_decay:g})"] * bool(weight_decay) + (
            [f"a smaller --dropout (now {dropout:g})"] * bool(dropout))
        tries = ", ".join(smaller + ["more --epochs", "another --lr"]) + (
            " or --init he" if args.init != "he" else " or --seed")
        guess = "0.5" if C == 2 else f"1/{C} for every class"
        _say("train", f"warning: the final cost {history.final_cost:.4f} is within 0.001 of ln {C} = {math.log(C):.4f}, "
                      f"what always answering {guess} costs: the network learned nothing; try {tries}")
    return 0


def _cost_text(value: float) -> str:
    """A cost with six decimals, or six significant digits when that would be too long or show nothing.

    >>> _cost_text(0.0147), _cost_text(1.616e55), _cost_text(3.2e-7), _cost_text(0.0)
    ('0.014700', '1.616e+55', '3.2e-07', '0.000000')
    """
    return f"{value:.6f}" if value == 0 or 1e-4 <= abs(value) < 1e4 else f"{value:.6g}"


def _regularisation(args) -> tuple:
    """``(weight_decay, dropout)`` of a ``train`` command line, the model's defaults filled in;
    refuses dropout for a model without a dropout layer, and with --compile, before any data is read."""
    from tinygraph_models.train import default_regularisation

    own_decay, own_dropout = default_regularisation(args.model, args.optimizer)
    weight_decay = own_decay if args.weight_decay is None else args.weight_decay
    dropout = own_dropout if args.dropout is None else args.dropout
    if dropout and args.model != "mlp":
        raise CLIError(f"--dropout is for --model mlp only (its hidden layers); --model {args.model} has no dropout layer")
    if dropout and args.compile:
        raise CLIError(
            f"--compile cannot train with --dropout {dropout:g}: the compiled steps would replay one dropout mask at "
            "every step; leave out one of the two"
        )
    return weight_decay, dropout


def _regularisation_words(weight_decay: float, dropout: float) -> str:
    """", weight decay 0.01, dropout 0.5" for what is on; "" when neither is."""
    words = ([f"weight decay {weight_decay:g}"] if weight_decay else []) + ([f"dropout {dropout:g}"] if dropout else [])
    return "".join(f", {w}" for w in words)


def _progress_bar(total: int, label: str, quiet: bool):
    """``(update, close)`` for a tqdm bar on stderr that shows the cost.

    The bar is made at the first update, so lines printed before training starts
    (units redrawn) do not cut through it.
    """
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    bars = []
    every = max(1, total // 200)  # refreshing the cost text on every step would cost more than the step

    def update(epoch, cost):
        if not bars:
            bars.append(tqdm(total=total, desc=label, unit="epoch", dynamic_ncols=True, leave=True))
        bar = bars[0]
        if epoch % every == 0 or epoch == total:
            bar.set_postfix_str(f"cost {cost:.4f}", refresh=False)
            bar.update(epoch - bar.n)

    def close():
        for bar in bars:
            bar.close()

    return update, close


def _network_words(network) -> str:
    return network.describe() if hasattr(network, "describe") else f"{network.model} net {network.n_units}"


def _write_model_graph(path: Path, network, data) -> str | None:
    """Draw the model's graph, with the gradients of one backward pass on a few training samples.

    Returns None when ``path`` was written, else why not. The run's other files matter
    more than its picture, so no failure here stops the run: a missing ``dot`` program
    or renderer is reported, and the run folder is kept.
    """
    try:
        from tinygraph.viz import render
    except ImportError as err:
        return f"tinygraph.viz.render is unavailable ({err})"
    import tinygraph as tg

    n = min(data.train_x.shape[1], 16)
    X = tg.Tensor(data.train_x[:, :n], name="X")
    Y = tg.Tensor(data.train_y[:, :n], name="Y")
    try:
        cost = network.cost(X, Y)
        cost.backward(retain_graph=True)
        render(
            cost, path, show_grads=True, show_formulas=True, rankdir="TB",
            title=f"{_network_words(network)}: cost on {n} training samples, after backward()",
        )
    except Exception as err:  # noqa: BLE001 - see the docstring
        return " ".join(str(err).split()) or type(err).__name__
    finally:
        for p in network.net.parameters():
            p.grad = None
    return None


# ----------------------------------------------------------------- check


def cmd_check(args) -> int:
    import numpy as np

    from tinygraph_models.check import check_gradients
    from tinygraph_models.init import initialize_parameters

    data = _load_data(args.data)
    units = _units(args.model, args.layers, data.n_features, data.name)
    n = min(args.samples, data.n_train)
    if args.samples > n:
        _say("check", f"--samples {args.samples} is more than the {n} training samples of {data.name}; "
                      f"capped at {n}, all of them")
    X, Y = np.array(data.train_x[:, :n]), np.array(data.train_y[:, :n])
    parameters = initialize_parameters(units, args.init, seed=args.seed)
    print(f"tinygraph check: {args.model} net {units}, {n} samples of {Path(data.name).stem}, init={args.init}, seed={args.seed}")
    result = check_gradients(parameters, X, Y)
    for line in result.lines():
        print(line)
    return 0 if result.ok else 1


# ----------------------------------------------------------------- render


def cmd_render(args) -> int:
    try:
        from tinygraph_models.render import render_command
    except ImportError as err:
        raise RuntimeError(f"render is unavailable: {err}") from None
    args.collapse = COLLAPSE[args.collapse]
    for path in render_command(args):
        print(path)
    return 0


# ----------------------------------------------------------------- predict


def cmd_predict(args) -> int:
    from tinygraph_models.predict import load_inputs, load_run, predict, write_predictions

    run = load_run(args.run)
    result = predict(run, load_inputs(args.data, args.split))
    if args.out is None:
        write_predictions(sys.stdout, result)
        sys.stdout.flush()  # a reader that stopped early (| head) is found now, before the summary is printed
        summary = lambda line: _say("predict", " ".join(line.split()))  # noqa: E731 - stdout holds the CSV
    else:
        if args.out.exists() and not args.overwrite:
            raise FileExistsError(f"--out {args.out} exists; choose another --out or pass --overwrite")
        from tinygraph._files import write_atomically

        def write(tmp):
            with open(tmp, "w", newline="") as f:
                write_predictions(f, result)

        write_atomically(args.out, write)
        summary = print
    for line in result.summary():
        summary(line)
    if args.out is not None:
        print(f"predictions     {args.out}")
    return 0


def cmd_derive(args) -> int:
    from tinygraph_models.derive import derive_text

    print(derive_text(args.model, fused=not args.unfused).rstrip("\n"))
    return 0


COMMANDS = {"train": cmd_train, "check": cmd_check, "render": cmd_render, "predict": cmd_predict, "derive": cmd_derive}


def _command_named(argv) -> str | None:
    """The command word in ``argv``, found without argparse (which may be what failed)."""
    for word in argv:
        if word in COMMANDS:
            return word
        if not word.startswith("-"):
            return None
    return None


#: The exit status of a command whose output pipe was closed: 128 + SIGPIPE (13), what the shell
#: reports for any program the signal stops (``seq 100000 | head -1`` under ``set -o pipefail``).
BROKEN_PIPE_STATUS = 141


def _stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it: only then is a BrokenPipeError the
    user's ``| head`` and not a failure (of a subprocess's pipe, say) to report."""
    try:
        fd = sys.stdout.fileno()
        mode = os.fstat(fd).st_mode
    except (OSError, ValueError, AttributeError):  # no real file behind sys.stdout (captured, closed)
        return False
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
        return False
    if not hasattr(select, "poll"):
        return True  # no way to ask (Windows): a pipe it is, and the error came from it most likely
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _stop_quietly() -> int:
    """After the reader of stdout went away (``tinygraph predict ... | head -2``): no message, status 141.

    What is still buffered for stdout can never be delivered; stdout is pointed at the null
    device so that the interpreter's flush at exit does not fail again and print
    "Exception ignored ... BrokenPipeError".
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
    return BROKEN_PIPE_STATUS


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    # --debug may stand anywhere; a parse error must still be one line, so look for it by hand.
    debug = "--debug" in argv
    command = _command_named(argv)
    prefix = "tinygraph" if command is None else f"tinygraph {command}"
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        status = COMMANDS[args.command](args)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush ("Exception ignored")
        return status
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the one-line rule for every error
        if isinstance(err, BrokenPipeError) and _stdout_reader_gone():
            return _stop_quietly()
        if debug and not isinstance(err, CLIError):
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        known = isinstance(err, (CLIError, ValueError, TypeError, OSError, RuntimeError))
        if not known:
            message = f"{type(err).__name__}: {message} (run with --debug for the traceback)"
        print(f"{prefix}: error: {message}", file=sys.stderr)
        return 2 if isinstance(err, CLIError) else 1


if __name__ == "__main__":
    sys.exit(main())
