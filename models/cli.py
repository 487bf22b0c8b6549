"""The ``tinygraph`` command: train the document's networks, check their gradients,
render their graphs.

Errors a user can make (a bad option, a missing file, a diverging learning rate) are
printed as one line on stderr with a non-zero exit; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import sys
from pathlib import Path

import numpy as np

from tinygraph_models import nets

DATASETS_HELP = "digits, breast-cancer, or a path to an HDF5 file in the document's format"

#: Defaults per model for full-batch gradient descent on the standardised bundled data.
TRAIN_DEFAULTS = {
    "logistic": {"lr": 0.1, "epochs": 1000},
    "shallow": {"lr": 0.1, "epochs": 2000},
    "deep": {"lr": 0.1, "epochs": 2000},
}


class CLIError(Exception):
    """A user error: printed as one line, exit status 2."""


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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
        raise CLIError(f"{self.prog}: {message}")


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
    train.add_argument("--seed", type=int, default=0, help="seed for the initial weights (default: 0)")
    train.add_argument("--out", type=Path, help="run folder (default: runs/<time>-<model>-<data>)")
    train.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    train.add_argument("--quiet", action="store_true", help="no progress bar")

    check = commands.add_parser("check", help="autograd vs hand-derived vs finite-difference gradients")
    check.add_argument("--model", choices=list(nets.MODELS), default="deep")
    check.add_argument("--layers", type=_layers)
    check.add_argument("--data", default="digits", help=DATASETS_HELP)
    check.add_argument("--samples", type=_positive_int, default=32, help="training samples to use (default: 32)")
    check.add_argument("--init", choices=["he", "xavier", "document"], default="he")
    check.add_argument("--seed", type=int, default=0)

    render = commands.add_parser("render", help="draw the computation graph of a network to SVG")
    render.add_argument("--model", choices=list(nets.MODELS) + ["all"], default="all")
    render.add_argument("--script", type=Path, help="a Python file defining `root` (a Tensor) or `graph()` returning one")
    render.add_argument("--show-grads", action="store_true", help="run backward and show the gradients")
    render.add_argument("--formulas", action="store_true", help="show each op's backward rule")
    render.add_argument("--format", choices=["svg", "png", "pdf"], default="svg")
    render.add_argument("--out", type=Path, default=Path("graphs"), help="output folder (default: graphs)")
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


def cmd_train(args) -> int:
    from tinygraph_models.train import RunFolder, TrainingDiverged, metrics_of, save_cost_curve, save_parameters, train, write_metrics

    data = _load_data(args.data)
    units = _units(args.model, args.layers, data.n_features, data.name)
    defaults = TRAIN_DEFAULTS[args.model]
    lr = args.lr if args.lr is not None else (0.01 if args.optimizer == "adam" else defaults["lr"])
    epochs = args.epochs if args.epochs is not None else defaults["epochs"]
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out if args.out is not None else Path("runs") / f"{stamp}-{args.model}-{Path(data.name).stem}"
    folder = RunFolder(out, overwrite=args.overwrite)
    try:
        network = nets.build(args.model, units, init=args.init, seed=args.seed)
        print(f"tinygraph train: {args.model} net {units} on {data.describe()}", file=sys.stderr)
        progress, close = _progress_bar(epochs, f"{args.model}/{Path(data.name).stem}", args.quiet)
        try:
            history = train(network, data, epochs=epochs, lr=lr, optimizer=args.optimizer, progress=progress)
        except TrainingDiverged as err:
            raise CLIError(str(err)) from None
        finally:
            close()
        config = {
            "model": args.model, "layers": units, "data": data.name, "epochs": epochs, "lr": lr,
            "optimizer": args.optimizer, "init": args.init, "seed": args.seed,
        }
        save_parameters(folder.path("params.npz"), network, data)
        write_metrics(folder.path("metrics.json"), metrics_of(history, config))
        title = f"{args.model} {units} on {Path(data.name).stem}, {args.optimizer} lr={lr:g}, init={args.init}"
        save_cost_curve(folder.path("cost.png"), history.costs, title)
        graph_note = _write_model_graph(folder.path("graph.svg"), network, data)
        final = folder.commit()
    except BaseException:
        folder.abandon()
        raise
    print(f"train accuracy  {history.train_accuracy:.4f}")
    print(f"test accuracy   {history.test_accuracy:.4f}")
    print(f"final cost      {history.final_cost:.6f}  (first {history.costs[0]:.6f}, ln 2 = {math.log(2):.6f})")
    print(f"time            {history.seconds:.2f} s for {epochs} epochs")
    print(f"run folder      {final}/  params.npz  metrics.json  cost.png  graph.svg{graph_note}")
    return 0


def _progress_bar(total: int, label: str, quiet: bool):
    if quiet:
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit="epoch", dynamic_ncols=True, leave=True)
    every = max(1, total // 200)  # refreshing the cost text on every step would cost more than the step

    def update(epoch, cost):
        if epoch % every == 0 or epoch == total:
            bar.set_postfix_str(f"cost {cost:.4f}", refresh=False)
            bar.update(epoch - bar.n)

    return update, bar.close


def _write_model_graph(path: Path, network, data) -> str:
    """The model's graph with the gradients of one backward pass on a few training samples."""
    try:
        from tinygraph.viz import render
    except ImportError:
        return "  (graph skipped: tinygraph.viz is unavailable)"
    import tinygraph as tg

    n = min(data.train_x.shape[1], 16)
    X = tg.Tensor(data.train_x[:, :n], name="X")
    Y = tg.Tensor(data.train_y[:, :n], name="Y")
    cost = network.cost(X, Y)
    cost.backward(retain_graph=True)
    render(cost, path, show_grads=True, title=f"{network.model} net {network.n_units}: cost on {n} training samples")
    for p in network.net.parameters():
        p.grad = None
    return ""


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
            if _one_sided_match(lambda v: cost_at(name, v), parameters[name], index, a[index]):
                kinks.append(f"{name}{[int(i) for i in index]}")
                fd[index] = a[index]  # a kink: autograd took one side's slope, as relu'(0) = 0 says
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
        f"{worst_hand:.1e} to hand-derived, {worst_fd:.1e} to central differences (step {CHECK_STEP:g}), "
        "relative to each parameter's largest |gradient|"
    )
    return 0 if ok else 1


CHECK_STEP = 1e-6


def _one_sided_match(f, point, index, analytic) -> bool:
    """Whether ``analytic`` equals the forward or the backward one-sided slope at ``index``."""
    x = np.array(point, dtype=np.float64)
    base = f(x)
    x[index] += CHECK_STEP
    forward = (f(x) - base) / CHECK_STEP
    x[index] -= 2 * CHECK_STEP
    backward = (base - f(x)) / CHECK_STEP
    tolerance = 1e-4 * max(abs(forward), abs(backward), 1e-8)
    return abs(forward - backward) > tolerance and min(abs(analytic - forward), abs(analytic - backward)) < tolerance


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
        if debug:
            raise
        message = " ".join(str(err).split()) or type(err).__name__
        known = isinstance(err, (CLIError, ValueError, TypeError, OSError, KeyError))
        if not known:
            message = f"{type(err).__name__}: {message} (run with --debug for the traceback)"
        print(f"tinygraph: error: {message}", file=sys.stderr)
        return 2 if isinstance(err, CLIError) else 1


if __name__ == "__main__":
    sys.exit(main())
