"""The ``tinygraph`` command: train the document's networks, check their gradients,
render their graphs.

Errors a user can make (a bad option, a missing file, a diverging learning rate) are
printed as one line on stderr with a non-zero exit; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import os

# Before numpy loads: the networks' matrices are tiny, and BLAS threads cost more than
# they save (on a busy 2-core machine OpenBLAS's spinning threads slowed training ~40x).
# A value the user set is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from tinygraph_models import nets  # noqa: E402

DATASETS_HELP = "digits, breast-cancer, or a path to an HDF5 file in the document's format"

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


class CLIError(Exception):
    """A user error in the command line: printed as one line, exit status 2."""

    def __init__(self, message: str, prog: str = "tinygraph"):
        super().__init__(message)
        self.prog = prog


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


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
        raise CLIError(message, prog=self.prog)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tinygraph",
        description="Train, check and draw the document's networks with the tinygraph autograd engine.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    train = commands.add_parser("train", help="train a network and write a run folder")
    train.add_argument("--model", choices=list(nets.MODELS), default="deep", help="which of the document's networks (default: deep)")
    train.add_argument("--layers", type=_layers, help="layer sizes n_x,...,1 (default for deep: n_x,5,5,5,3,1)")
    train.add_argument("--data", default="digits", help=f"{DATASETS_HELP} (default: digits)")
    train.add_argument("--epochs", type=_positive_int, help="full-batch steps (default depends on the model)")
    train.add_argument("--lr", type=_positive_float, help="learning rate (default depends on the model and optimizer)")
    train.add_argument("--optimizer", choices=["gd", "momentum", "adam"], default="gd", help="update rule (default: gd, the document's)")
    train.add_argument("--init", choices=["he", "xavier", "document"], default="he", help="weight initialisation (default: he)")
    train.add_argument("--seed", type=_seed, default=0, help="seed for the initial weights (default: 0)")
    train.add_argument(
        "--keep-dead-units", action="store_true",
        help="keep hidden units that start dead on every training sample (default: redraw them)",
    )
    train.add_argument("--out", type=Path, help="run folder (default: runs/<time>-<model>-<data>)")
    train.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    check = commands.add_parser("check", help="autograd vs hand-derived vs finite-difference gradients")
    check.add_argument("--model", choices=list(nets.MODELS), default="deep")
    check.add_argument("--layers", type=_layers)
    check.add_argument("--data", default="digits", help=DATASETS_HELP)
    check.add_argument("--samples", type=_positive_int, default=32, help="training samples to use (default: 32)")
    check.add_argument("--init", choices=["he", "xavier", "document"], default="he")
    check.add_argument("--seed", type=_seed, default=0)

    render = commands.add_parser("render", help="draw the computation graph of a network to SVG")
    render.add_argument("--model", choices=list(nets.MODELS) + ["all"], default="all")
    render.add_argument("--script", type=Path, help="a Python file defining `root` (a Tensor) or `graph()` returning one")
    render.add_argument("--show-grads", action="store_true", help="run backward and show the gradients")
    render.add_argument("--formulas", action="store_true", help="show each op's backward rule")
    render.add_argument("--format", choices=["svg", "png", "pdf"], default="svg")
    render.add_argument("--rankdir", choices=["TB", "LR", "BT", "RL"], default="TB", help="layout direction (default: TB, top to bottom: a deep net stays readable)")
    render.add_argument("--out", type=Path, default=Path("graphs"), help="output folder (default: graphs)")
    for command in commands.choices.values():  # --debug also after the command name
        command.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    return parser


# ----------------------------------------------------------------- shared steps


def _load_data(name_or_path: str):
    from tinygraph_models.data import load_dataset

    return load_dataset(name_or_path)


def _units(model: str, layers, n_features: int, data_name: str) -> list:
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


# ----------------------------------------------------------------- train


def training_settings(model: str, optimizer: str = "gd", lr: float | None = None, epochs: int | None = None) -> tuple:
    """``(lr, epochs)`` for a run: the given values, else the model's TRAIN_DEFAULTS (ADAM_LR for Adam).

    Examples
    --------
    >>> training_settings("deep") == (TRAIN_DEFAULTS["deep"]["lr"], TRAIN_DEFAULTS["deep"]["epochs"])
    True
    >>> training_settings("deep", "adam", epochs=5)
    (0.01, 5)
    """
    defaults = TRAIN_DEFAULTS[model]
    if lr is None:
        lr = ADAM_LR if optimizer == "adam" else defaults["lr"]
    return lr, (defaults["epochs"] if epochs is None else epochs)


def fit(data, model: str = "deep", *, layers=None, epochs=None, lr=None, optimizer: str = "gd", init: str = "he",
        seed: int = 0, keep_dead_units: bool = False, progress=None, log=None):
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
        As the command's options.
    keep_dead_units : bool
        Skip :func:`nets.redraw_dead_units`.
    progress : callable, optional
        ``progress(epoch, cost)`` after each step.
    log : callable, optional
        Called with a line of text worth telling the user (units redrawn).

    Returns
    -------
    network : nets.Network
    history : train.History
    config : dict
        The settings used, as written to metrics.json.

    Examples
    --------
    >>> from tinygraph_models.data import load_dataset
    >>> network, history, config = fit(load_dataset("breast-cancer"), "logistic", epochs=20)
    >>> config["layers"], config["lr"] == TRAIN_DEFAULTS["logistic"]["lr"], len(history.costs)
    ([30, 1], True, 20)
    """
    from tinygraph_models.train import train

    units = _units(model, layers, data.n_features, data.name)
    lr, epochs = training_settings(model, optimizer, lr, epochs)
    network = nets.build(model, units, init=init, seed=seed, alive_on=None if keep_dead_units else data.train_x)
    if network.redrawn and log is not None:
        shown = ", ".join(f"layer {l} unit {j}" for l, j in network.redrawn[:6])
        more = ", ..." if len(network.redrawn) > 6 else ""
        log(f"redrew {len(network.redrawn)} hidden unit(s) dead on every training sample ({shown}{more}); "
            "--keep-dead-units keeps them")
    history = train(network, data, epochs=epochs, lr=lr, optimizer=optimizer, progress=progress)
    config = {
        "model": model, "layers": units, "data": data.name, "epochs": epochs, "lr": lr,
        "optimizer": optimizer, "init": init, "seed": seed,
        "redrawn_units": [list(unit) for unit in network.redrawn],
    }
    return network, history, config


def cmd_train(args) -> int:
    from tinygraph_models.train import RunFolder, TrainingDiverged, metrics_of, save_cost_curve, save_parameters, write_metrics

    data = _load_data(args.data)
    units = _units(args.model, args.layers, data.n_features, data.name)
    lr, epochs = training_settings(args.model, args.optimizer, args.lr, args.epochs)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out if args.out is not None else Path("runs") / f"{stamp}-{args.model}-{Path(data.name).stem}"
    folder = RunFolder(out, overwrite=args.overwrite)
    try:
        print(f"tinygraph train: {args.model} net {units} on {data.describe()}", file=sys.stderr)
        progress, close = _progress_bar(epochs, f"{args.model}/{Path(data.name).stem}", args.quiet)
        try:
            network, history, config = fit(
                data, args.model, layers=units, epochs=epochs, lr=lr, optimizer=args.optimizer, init=args.init,
                seed=args.seed, keep_dead_units=args.keep_dead_units, progress=progress,
                log=lambda line: print(f"tinygraph train: {line}", file=sys.stderr),
            )
        except TrainingDiverged as err:
            raise CLIError(str(err)) from None
        finally:
            close()
        save_parameters(folder.path("params.npz"), network, data)
        title = f"{args.model} {units} on {Path(data.name).stem}, {args.optimizer} lr={lr:g}, init={args.init}"
        save_cost_curve(folder.path("cost.png"), history.costs, title)
        graph_problem = _write_model_graph(folder.path("graph.svg"), network, data)
        metrics = metrics_of(history, config)
        metrics["graph"] = "graph.svg" if graph_problem is None else f"skipped: {graph_problem}"
        write_metrics(folder.path("metrics.json"), metrics)
        final = folder.commit()
    except BaseException:
        folder.abandon()
        raise
    files = "params.npz  metrics.json  cost.png" + ("  graph.svg" if graph_problem is None else "")
    print(f"train accuracy  {history.train_accuracy:.4f}")
    print(f"test accuracy   {history.test_accuracy:.4f}")
    print(f"final cost      {history.final_cost:.6f}  (first {history.costs[0]:.6f}, ln 2 = {math.log(2):.6f})")
    print(f"time            {history.seconds:.2f} s for {epochs} epochs")
    print(f"run folder      {final}/  {files}")
    if graph_problem is not None:
        print(f"graph           skipped: {graph_problem}")
    if history.final_cost > history.costs[0]:
        print(
            f"tinygraph train: warning: the cost rose from {history.costs[0]:.4g} to {history.final_cost:.4g}; "
            f"the learning rate {lr:g} is probably too large",
            file=sys.stderr,
        )
    return 0


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
            title=f"{network.model} net {network.n_units}: cost on {n} training samples, after backward()",
        )
    except Exception as err:  # noqa: BLE001 - see the docstring
        return " ".join(str(err).split()) or type(err).__name__
    finally:
        for p in network.net.parameters():
            p.grad = None
    return None


# ----------------------------------------------------------------- check


def cmd_check(args) -> int:
    from tinygraph.testing import numerical_gradient
    from tinygraph_models import hand
    from tinygraph_models.init import initialize_parameters

    data = _load_data(args.data)
    units = _units(args.model, args.layers, data.n_features, data.name)
    n = min(args.samples, data.train_x.shape[1])
    X, Y = np.array(data.train_x[:, :n]), np.array(data.train_y[:, :n])
    parameters = initialize_parameters(units, args.init, seed=args.seed)

    auto_cost, auto = nets.cost_and_gradients(parameters, X, Y)
    hand_cost, derived = hand.cost_and_gradients(parameters, X, Y)

    def cost_at(name, value):
        trial = dict(parameters)
        trial[name] = value
        return float(hand.cross_entropy_cost(hand.forward(trial, X)[0], Y))

    print(f"tinygraph check: {args.model} net {units}, {n} samples of {Path(data.name).stem}, init={args.init}, seed={args.seed}")
    print(f"cost: autograd {auto_cost:.12f}   hand-derived {float(hand_cost):.12f}")
    header = (
        f"{'param':<6} {'shape':<10} {'max |autograd|':>15} {'max |auto-hand|':>16} {'max |auto-fd|':>14} "
        f"{'rel (hand)':>11} {'rel (fd)':>9}"
    )
    print(header)
    print("-" * len(header))
    worst_hand = worst_fd = 0.0
    kinks = []
    for name in parameters:
        a, h = auto[f"d{name}"], derived[f"d{name}"]
        fd = numerical_gradient(lambda v: cost_at(name, v), parameters[name], eps=CHECK_STEP)
        scale = max(np.max(np.abs(a)), 1e-12)
        off = np.abs(a - fd) > 1e-6 * scale
        for index in map(tuple, np.argwhere(off)):
            slope = _one_sided_match(lambda v: cost_at(name, v), parameters[name], index, a[index])
            if slope is not None:
                kinks.append(f"{name}{[int(i) for i in index]}")
                fd[index] = slope  # a kink: autograd took one side's slope, as relu'(0) = 0 says
        rel_hand, rel_fd = np.max(np.abs(a - h)) / scale, np.max(np.abs(a - fd)) / scale
        worst_hand, worst_fd = max(worst_hand, rel_hand), max(worst_fd, rel_fd)
        print(
            f"{name:<6} {str(a.shape):<10} {np.max(np.abs(a)):>15.6e} {np.max(np.abs(a - h)):>16.3e} "
            f"{np.max(np.abs(a - fd)):>14.3e} {rel_hand:>11.1e} {rel_fd:>9.1e}"
        )
    if kinks:
        print(
            f"note: {len(kinks)} element(s) ({', '.join(kinks[:4])}{', ...' if len(kinks) > 4 else ''}) move a ReLU input "
            "that sits exactly at 0: there the two one-sided slopes differ, central differences average them, and "
            "autograd takes relu'(0) = 0, one of the two (see docs/errata.md); they are compared one-sided"
        )
    ok = worst_hand < 1e-10 and worst_fd < 1e-6
    verdict = "agree" if ok else "DISAGREE"
    print(
        f"autograd, hand-derived and finite differences {verdict}: worst relative difference "
        f"{worst_hand:.1e} to hand-derived, {worst_fd:.1e} to finite differences (step {CHECK_STEP:g}"
        f"{', one-sided at the kinks' if kinks else ''}), "
        "relative to each parameter's largest |gradient|"
    )
    return 0 if ok else 1


CHECK_STEP = 1e-6


def _one_sided_match(f, point, index, analytic):
    """The one-sided slope at ``index`` that ``analytic`` equals, if the two sides differ (a kink).

    Returns None where there is no kink, or ``analytic`` matches neither side.
    """
    x = np.array(point, dtype=np.float64)

    def at(offset):
        x[index] = point[index] + offset
        return f(x)

    # Second-order one-sided differences (error O(h^2), like the central one), so a kink
    # element is held to the same tolerance as the rest: (-3 f(0) + 4 f(h) - f(2h)) / 2h.
    h, base = CHECK_STEP, at(0.0)
    forward = (-3 * base + 4 * at(h) - at(2 * h)) / (2 * h)
    backward = (3 * base - 4 * at(-h) + at(-2 * h)) / (2 * h)
    tolerance = 1e-4 * max(abs(forward), abs(backward), 1e-8)
    if abs(forward - backward) <= tolerance:
        return None
    nearest = min((forward, backward), key=lambda slope: abs(analytic - slope))
    return nearest if abs(analytic - nearest) < tolerance else None


# ----------------------------------------------------------------- render


def cmd_render(args) -> int:
    try:
        from tinygraph_models.render import render_command
    except ImportError as err:
        raise CLIError(f"render is unavailable: {err}") from None
    return render_command(args)


COMMANDS = {"train": cmd_train, "check": cmd_check, "render": cmd_render}


def main(argv=None) -> int:
    parser = build_parser()
    # --debug may stand anywhere; a parse error must still be one line, so look for it by hand.
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("tinygraph: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the one-line rule for every error
        if debug and not isinstance(err, CLIError):
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        known = isinstance(err, (CLIError, ValueError, TypeError, OSError, KeyError))
        if not known:
            message = f"{type(err).__name__}: {message} (run with --debug for the traceback)"
        print(f"{getattr(err, 'prog', 'tinygraph')}: error: {message}", file=sys.stderr)
        return 2 if isinstance(err, CLIError) else 1


if __name__ == "__main__":
    sys.exit(main())
