"""The `tinygraph` command (models/cli.py): in-process through main([...]) with capsys,
and a few times as a subprocess of the installed command for exit codes and stderr."""

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from tinygraph_models import cli, nets, train
from tinygraph_models.train import load_parameters

HAS_DOT = shutil.which("dot") is not None


def run(capsys, *argv):
    """main(argv) -> (exit status, stdout, stderr)."""
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, *fragments, command=None):
    assert status != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    prefix = "tinygraph: error: " if command is None else f"tinygraph {command}: error: "
    assert lines[0].startswith(prefix) or (command is None and lines[0].startswith("tinygraph ")), lines[0]
    assert ": error: " in lines[0]
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


def errors_only(err):
    """stderr without the progress/info lines that a failing train may print first."""
    return "\n".join(line for line in err.splitlines() if "error" in line)


# --------------------------------------------------------------------------- train


def test_train_with_no_arguments_trains_the_deep_net_on_digits(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "train")
    assert status == 0, err
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.endswith("-deep-digits")
    names = sorted(p.name for p in folder.iterdir())
    assert names == (["cost.png", "graph.svg", "metrics.json", "params.npz"] if HAS_DOT else ["cost.png", "metrics.json", "params.npz"])

    metrics = json.loads((folder / "metrics.json").read_text())
    defaults = train.TRAIN_DEFAULTS["deep"]
    assert metrics["config"] == {
        "model": "deep", "layers": [64, 5, 5, 5, 3, 1], "data": "digits", "epochs": defaults["epochs"],
        "lr": defaults["lr"], "optimizer": "gd", "init": "he", "seed": 0, "batch_size": None, "weight_decay": 0.0,
        "dropout": 0.0, "redrawn_units": [],
    }
    assert metrics["epochs_run"] == defaults["epochs"] and len(metrics["cost_every_epoch"]) == defaults["epochs"]
    # what is printed is what was measured
    assert f"train accuracy  {metrics['train_accuracy']:.4f}" in out
    assert f"test accuracy   {metrics['test_accuracy']:.4f}" in out
    assert f"final cost      {metrics['final_cost']:.6f}" in out
    assert metrics["test_accuracy"] > 0.9 and metrics["final_cost"] < 0.2
    # the progress bar (tqdm, on stderr) shows the cost
    assert "deep/digits" in err and "cost 0." in err and "epoch" in err

    network, extra = load_parameters(folder / "params.npz")
    from tinygraph_models.data import load_dataset

    data = load_dataset("digits")
    np.testing.assert_array_equal(extra["feature_mean"], data.mean)
    assert network.accuracy(data.test_x, data.test_y) == metrics["test_accuracy"]
    assert (folder / "cost.png").read_bytes()[:4] == b"\x89PNG"
    if HAS_DOT:
        svg = (folder / "graph.svg").read_text()
        assert "<svg" in svg and "W1" in svg and metrics["graph"] == "graph.svg"


def test_every_option_reaches_the_run(tmp_path, capsys):
    out_dir = tmp_path / "run"
    status, out, err = run(
        capsys, "train", "--model", "shallow", "--layers", "30,7,1", "--data", "breast-cancer", "--epochs", "7",
        "--optimizer", "adam", "--init", "xavier", "--seed", "3", "--out", str(out_dir), "--quiet",
    )
    assert status == 0, err
    config = json.loads((out_dir / "metrics.json").read_text())["config"]
    assert config == {
        "model": "shallow", "layers": [30, 7, 1], "data": "breast-cancer", "epochs": 7, "lr": train.ADAM_LR,
        "optimizer": "adam", "init": "xavier", "seed": 3, "batch_size": None, "weight_decay": 0.0, "dropout": 0.0,
        "redrawn_units": config["redrawn_units"],
    }
    network, _ = load_parameters(out_dir / "params.npz")
    assert network.model == "shallow" and network.n_units == [30, 7, 1]
    assert "epoch" not in err  # --quiet: no progress bar


def test_lr_and_optimizer_choose_the_update(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--model", "logistic", "--data", "breast-cancer", "--epochs", "3",
                         "--optimizer", "momentum", "--lr", "0.5", "--out", str(tmp_path / "r"), "--quiet")
    assert status == 0, err
    config = json.loads((tmp_path / "r" / "metrics.json").read_text())["config"]
    assert config["lr"] == 0.5 and config["optimizer"] == "momentum"


def test_dead_units_are_redrawn_and_reported_unless_kept(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--seed", "4", "--epochs", "2", "--out", str(tmp_path / "a"), "--quiet")
    assert status == 0
    assert "redrew 3 hidden unit(s) dead on every training sample" in err
    redrawn = json.loads((tmp_path / "a" / "metrics.json").read_text())["config"]["redrawn_units"]
    assert len(redrawn) == 3 and [4, 0] in redrawn
    status, _, err = run(capsys, "train", "--seed", "4", "--epochs", "2", "--keep-dead-units", "--out", str(tmp_path / "b"), "--quiet")
    assert status == 0 and "redrew" not in err
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["config"]["redrawn_units"] == []


def test_the_graph_is_skipped_not_fatal_when_it_cannot_be_drawn(tmp_path, capsys, monkeypatch):
    import tinygraph.viz

    def no_dot(*args, **kwargs):
        raise tinygraph.viz.DotNotFoundError("render: the Graphviz program `dot` was not found")

    monkeypatch.setattr(tinygraph.viz, "render", no_dot)
    status, out, err = run(capsys, "train", "--model", "logistic", "--epochs", "2", "--out", str(tmp_path / "r"), "--quiet")
    assert status == 0, err
    assert "graph           skipped: render: the Graphviz program `dot` was not found" in out
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["cost.png", "metrics.json", "params.npz"]
    assert json.loads((tmp_path / "r" / "metrics.json").read_text())["graph"].startswith("skipped: render:")

    monkeypatch.setitem(sys.modules, "tinygraph.viz", None)  # as if viz were not written yet
    status, out, _ = run(capsys, "train", "--model", "logistic", "--epochs", "2", "--out", str(tmp_path / "s"), "--quiet")
    assert status == 0 and "graph           skipped: tinygraph.viz.render is unavailable" in out


def test_an_existing_run_folder_is_kept_unless_overwrite(tmp_path, capsys):
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    (out_dir / "metrics.json").write_text("{}")  # an earlier run
    status, _, err = run(capsys, "train", "--epochs", "2", "--out", str(out_dir), "--quiet")
    assert_one_line_error(status, err, f"the run folder {out_dir} exists; choose another --out or pass --overwrite")
    assert (out_dir / "metrics.json").read_text() == "{}"
    status, _, err = run(capsys, "train", "--epochs", "2", "--out", str(out_dir), "--overwrite", "--quiet")
    assert status == 0, err
    assert (out_dir / "metrics.json").read_text() != "{}" and (out_dir / "params.npz").exists()


def test_a_diverging_learning_rate_stops_with_the_epoch_and_writes_nothing(tmp_path, capsys):
    status, out, err = run(capsys, "train", "--lr", "1e300", "--out", str(tmp_path / "run"), "--quiet")
    assert status == 2
    assert_one_line_error(status, errors_only(err), "training diverged at epoch", "of 1000", "the cost is")
    assert "RuntimeWarning" not in err
    assert list(tmp_path.iterdir()) == []  # no run folder, no half-written temporary one
    assert out == ""


def test_a_cost_that_rises_is_flagged(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--lr", "1000", "--epochs", "20", "--out", str(tmp_path / "r"), "--quiet")
    assert status == 0
    assert "warning: the cost rose from 0.7354 (before training) to " in err
    assert "the learning rate 1000 is probably too large; try a smaller --lr" in err
    assert "weight decay" not in err  # none was on: only the learning rate is named


def test_a_diverging_run_with_weight_decay_names_the_decay_too(tmp_path, capsys):
    status, out, err = run(capsys, "train", "--weight-decay", "1e6", "--epochs", "10", "--out", str(tmp_path / "r"),
                           "--quiet")
    assert_one_line_error(
        status, errors_only(err), "training diverged at epoch", "the learning rate 0.1 with weight decay 1e+06 (lr*λ = 1e+05: "
        "each step multiplies every weight and bias by 1 - lr*λ = -1e+05 before the gradient step) is too large, "
        "try a smaller --weight-decay or --lr", command="train")
    assert status == 2 and out == ""


def test_a_cost_that_rises_with_weight_decay_names_the_decay_and_is_printed_readably(tmp_path, capsys):
    # GD's L2 step with lr*λ = 2.5 multiplies the weights by -1.5 each epoch: the cost grows to ~1e10, still finite.
    status, out, err = run(capsys, "train", "--model", "logistic", "--weight-decay", "25", "--epochs", "60",
                           "--out", str(tmp_path / "r"), "--quiet")
    assert status == 0, err
    final = json.loads((tmp_path / "r" / "metrics.json").read_text())["final_cost"]
    assert 1e8 < final < 1e14
    assert f"final cost      {final:.6g}  (" in out  # six significant digits, not a 14-digit number with 6 decimals
    (warning,) = [line for line in err.splitlines() if "warning" in line]
    assert warning.endswith(
        "the learning rate 0.1 with weight decay 25 (lr*λ = 2.5: each step multiplies every weight and bias by "
        "1 - lr*λ = -1.5 before the gradient step) is probably too large; try a smaller --weight-decay or --lr")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["--model", "mlp", "--weight-decay", "700"],
         "--weight-decay 700 with adam at lr 0.003: lr*λ = 2.1 >= 1, so each step would multiply every weight and bias "
         "by 1 - lr*λ = -1.1 and flip their signs; choose --weight-decay below 1/lr = 333.333 or a smaller --lr"),
        (["--model", "logistic", "--optimizer", "adam", "--lr", "0.5", "--weight-decay", "2"],
         "lr*λ = 1 >= 1, so each step would multiply every weight and bias by 1 - lr*λ = 0 and zero them"),
        (["--model", "mlp", "--lr", "1", "--weight-decay", "1"], "--weight-decay 1 with adam at lr 1: lr*λ = 1 >= 1"),
    ],
)
def test_adam_with_lr_times_weight_decay_of_1_or_more_is_refused_before_the_data_are_read(tmp_path, capsys, argv,
                                                                                          fragment):
    status, out, err = run(capsys, "train", *argv, "--data", str(tmp_path / "no-such-file.npz"), "--quiet",
                           "--out", str(tmp_path / "r"))
    assert status == 2 and out == ""
    assert_one_line_error(status, err, fragment, command="train")
    assert not (tmp_path / "r").exists()


def test_gd_may_take_lr_times_weight_decay_of_1_or_more(tmp_path, capsys):
    # GD's L2 term is part of the cost being minimised: lr*λ in [1, 2) still converges, so it is not refused.
    status, _, err = run(capsys, "train", "--model", "logistic", "--weight-decay", "15", "--epochs", "5", "--quiet",
                         "--out", str(tmp_path / "r"))
    assert status == 0, err


# --------------------------------------------------------------------------- bad input


def write_h5(path, **arrays):
    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f[key] = value
    return path


def good_arrays(n_train=6, n_test=4):
    rng = np.random.default_rng(0)
    return {
        "train_set_x": rng.integers(0, 256, size=(n_train, 2, 2, 3), dtype=np.uint8),
        "train_set_y": np.array([0, 1] * (n_train // 2)),
        "test_set_x": rng.integers(0, 256, size=(n_test, 2, 2, 3), dtype=np.uint8),
        "test_set_y": np.array([[0, 1] * (n_test // 2)]),
    }


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (["train", "--model", "resnet"], ["argument --model: invalid choice: 'resnet'"]),
        (["train", "--data", "mnist"], ["unknown dataset 'mnist'; valid names are digits, digits10, breast-cancer"]),
        (["train", "--layers", "30,5,1"], ["--layers starts with 30 inputs but digits has 64 features; start the list with 64"]),
        (["train", "--model", "shallow", "--layers", "64,5,5,1"], ["--model shallow needs 3 layer sizes"]),
        (["train", "--layers", "64,5,2"], ["the output layer of a binary classifier has 1 unit, got 2"]),
        (["train", "--layers", "64,x,1"], ["expected comma-separated sizes like 64,5,5,5,3,1, got '64,x,1'"]),
        (["train", "--lr", "0"], ["argument --lr: must be a positive number, got 0"]),
        (["train", "--lr=-0.1"], ["argument --lr: must be a positive number, got -0.1"]),
        (["train", "--lr", "nan"], ["argument --lr: must be a positive number, got nan"]),
        (["train", "--lr", "fast"], ["argument --lr: expected a number, got 'fast'"]),
        (["train", "--epochs", "0"], ["argument --epochs: must be at least 1, got 0"]),
        (["train", "--seed=-1"], ["argument --seed: must be 0 or more, got -1"]),
        (["train", "--optimizer", "sgd"], ["argument --optimizer: invalid choice: 'sgd'"]),
        (["train", "--init", "zeros"], ["argument --init: invalid choice: 'zeros'"]),
        (["check", "--model", "deep", "--layers", "10,1"], ["--layers starts with 10 inputs but digits has 64 features"]),
        (["fly"], ["argument COMMAND: invalid choice: 'fly'"]),
    ],
)
def test_bad_arguments_give_one_line_and_a_non_zero_exit(tmp_path, capsys, argv, fragments):
    status, out, err = run(capsys, *argv, *(["--out", str(tmp_path / "run")] if argv[0] == "train" else []))
    assert_one_line_error(status, errors_only(err) or err, *fragments)
    assert not (tmp_path / "run").exists()


def test_bad_hdf5_files(tmp_path, capsys):
    cases = {}
    cases["missing"] = (tmp_path / "nowhere.h5", "file not found")
    not_h5 = tmp_path / "text.h5"
    not_h5.write_text("not hdf5")
    cases["not hdf5"] = (not_h5, "not an HDF5 file")
    arrays = good_arrays()
    cases["wrong keys"] = (
        write_h5(tmp_path / "keys.h5", images=arrays["train_set_x"], labels=arrays["train_set_y"]),
        "missing keys train_set_x, train_set_y",
    )
    bad_shape = dict(arrays, train_set_y=np.array([0, 1, 0]))
    cases["wrong shapes"] = (write_h5(tmp_path / "shapes.h5", **bad_shape), "expected 6 labels")
    bad_labels = dict(arrays, train_set_y=np.array([0, 1, 2, 0, 1, 0]))
    cases["labels not 0/1"] = (write_h5(tmp_path / "labels.h5", **bad_labels), "must hold only 0/1 labels, found 2")
    for what, (path, fragment) in cases.items():
        status, _, err = run(capsys, "train", "--data", str(path), "--out", str(tmp_path / "run"), "--quiet")
        assert_one_line_error(status, err, fragment)
        assert not (tmp_path / "run").exists(), what


def test_a_good_hdf5_file_trains(tmp_path, capsys):
    path = write_h5(tmp_path / "toy.h5", **good_arrays(n_train=20, n_test=6))
    status, out, err = run(capsys, "train", "--data", str(path), "--model", "logistic", "--epochs", "5", "--out", str(tmp_path / "run"), "--quiet")
    assert status == 0, err
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["config"]["layers"] == [12, 1]


# --------------------------------------------------------------------------- check


def parse_check(out):
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0][:1] in "Wb" and parts[0][1:].isdigit():
            shape = line[7:17].strip()
            numbers = line[17:].split()
            rows[parts[0]] = (shape, [float(x) for x in numbers])
    return rows


def test_check_prints_autograd_hand_and_finite_differences_per_parameter(capsys):
    status, out, err = run(capsys, "check", "--model", "deep")
    assert status == 0, out + err
    rows = parse_check(out)
    assert list(rows) == ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4", "W5", "b5"]
    assert rows["W1"][0] == "(5, 64)" and rows["b5"][0] == "(1, 1)"
    for name, (_, (largest, to_hand, _, rel_hand, rel_fd)) in rows.items():
        assert largest > 0 and to_hand <= 1e-10 * largest and rel_hand <= 1e-10 and rel_fd <= 1e-6, name
    assert "autograd, hand-derived and finite differences agree" in out
    assert "max |auto-hand|" in out and "max |auto-fd|" in out


def test_check_other_models_and_data(capsys):
    for argv in (["--model", "logistic", "--data", "breast-cancer"], ["--model", "shallow", "--samples", "5", "--init", "xavier"]):
        status, out, _ = run(capsys, "check", *argv)
        assert status == 0 and "agree" in out


def test_check_reports_a_wrong_gradient(capsys, monkeypatch):
    real = nets.cost_and_gradients

    def off_by_a_little(parameters, X, Y, **kwargs):
        cost, grads = real(parameters, X, Y, **kwargs)
        grads["dW2"] = grads["dW2"] * (1 + 1e-5)  # ten times the tolerance
        return cost, grads

    monkeypatch.setattr(nets, "cost_and_gradients", off_by_a_little)
    status, out, _ = run(capsys, "check", "--model", "deep")
    assert status == 1 and "DISAGREE" in out and "  W2[" in out


def test_check_holds_relus_where_the_step_crosses_a_kink(capsys):
    # The default check meets exact zeros on digits (zero biases behind a dead unit):
    # there central differences mix two slopes, so those elements are differenced with
    # every ReLU held as at the point, and the check says which they were.
    status, out, _ = run(capsys, "check", "--model", "deep")
    assert status == 0
    note = [line for line in out.splitlines() if line.startswith("note:")]
    assert note and "carry a hidden ReLU input across 0 within the step" in note[0]
    assert "b4[0, 0]" in note[0]


@pytest.mark.parametrize("samples", ["500", "1000", "1348"])
def test_check_does_not_cry_wolf_on_logistic_regression(capsys, samples):
    # It reported DISAGREE at ~1e-4 here, with a note about ReLUs in a model without one.
    status, out, err = run(capsys, "check", "--model", "logistic", "--samples", samples)
    assert status == 0, out
    assert "finite differences agree" in out and "ReLU" not in out and "note:" not in out
    assert err == ""


def test_check_on_a_wrong_logistic_gradient_names_the_element_and_no_relu(capsys, monkeypatch):
    real = nets.cost_and_gradients

    def wrong_bias(parameters, X, Y, **kwargs):
        cost, grads = real(parameters, X, Y, **kwargs)
        return cost, dict(grads, db1=-grads["db1"])

    monkeypatch.setattr(nets, "cost_and_gradients", wrong_bias)
    status, out, _ = run(capsys, "check", "--model", "logistic", "--samples", "500")
    assert status == 1
    verdict = [line for line in out.splitlines() if "DISAGREE" in line]
    assert verdict and "ReLU" not in out
    assert any(line.startswith("  b1[0, 0]: autograd ") and "finite differences" in line for line in out.splitlines())


def test_check_says_when_samples_are_capped(capsys):
    status, out, err = run(capsys, "check", "--model", "logistic", "--samples", "5000")
    assert status == 0
    assert err.strip() == (
        "tinygraph check: --samples 5000 is more than the 1348 training samples of digits; capped at 1348, all of them"
    )
    assert "1348 samples of digits" in out


# --------------------------------------------------------------------------- the installed command


def installed_command():
    path = Path(sys.executable).with_name("tinygraph")
    assert path.exists(), f"the `tinygraph` command is not installed next to {sys.executable}"
    return str(path)


@pytest.mark.parametrize(
    "argv, status, fragment",
    [
        (["train", "--model", "resnet"], 2, "invalid choice: 'resnet'"),
        (["train", "--lr", "0"], 2, "must be a positive number, got 0"),
        (["train", "--data", "no/such/file.h5"], 1, "file not found: no/such/file.h5"),
    ],
)
def test_installed_command_exit_codes_and_one_line_errors(tmp_path, argv, status, fragment):
    result = subprocess.run([installed_command(), *argv], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == status
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("tinygraph"), result.stderr
    assert ": error: " in result.stderr
    assert fragment in result.stderr and "Traceback" not in result.stderr


def test_installed_command_trains(tmp_path):
    result = subprocess.run(
        [installed_command(), "train", "--model", "logistic", "--epochs", "5", "--quiet", "--out", "r"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout and (tmp_path / "r" / "params.npz").exists()
    accuracy = float(result.stdout.split("test accuracy")[1].split()[0])
    assert 0 <= accuracy <= 1 and not math.isnan(accuracy)


# --------------------------------------------------------------------------- mini-batches, chance level


def test_batch_size_trains_in_mini_batches(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--model", "logistic", "--data", "breast-cancer", "--batch-size", "100",
                         "--epochs", "4", "--out", str(tmp_path / "r"), "--quiet")
    assert status == 0, err
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["config"]["batch_size"] == 100 and len(metrics["cost_every_epoch"]) == 4
    assert "batches of 100" in err
    # the same run again gives the same result (the batch order comes from --seed)
    status, _, _ = run(capsys, "train", "--model", "logistic", "--data", "breast-cancer", "--batch-size", "100",
                       "--epochs", "4", "--out", str(tmp_path / "s"), "--quiet")
    again = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert again["cost_every_epoch"] == metrics["cost_every_epoch"]


def test_a_batch_as_big_as_the_data_is_the_documents_full_batch(tmp_path, capsys):
    for out, extra in (("full", []), ("big", ["--batch-size", "100000"])):
        assert run(capsys, "train", "--model", "logistic", "--epochs", "5", "--out", str(tmp_path / out), "--quiet", *extra)[0] == 0
    full, big = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("full", "big"))
    assert full["cost_every_epoch"] == big["cost_every_epoch"]


@pytest.mark.parametrize(
    "argv, label",
    [
        (["--model", "logistic"], "before training"),  # the full batch: the cost before the first update
        (["--model", "logistic", "--batch-size", "2000"], "before training"),  # a batch of all 1348 is the full batch
        (["--model", "logistic", "--batch-size", "100"], "first epoch's mean"),  # learning while it was measured
        (["--model", "mlp", "--layers", "64,8,10", "--dropout", "0.5"], "first epoch's mean with dropout"),
    ],
)
def test_the_summary_says_what_its_first_cost_is(tmp_path, capsys, argv, label):
    status, out, err = run(capsys, "train", *argv, "--epochs", "1", "--out", str(tmp_path / "r"), "--quiet")
    assert status == 0, err
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    C = 10 if "mlp" in argv else 2
    assert f"final cost      {metrics['final_cost']:.6f}  ({label} {metrics['first_cost']:.6f}, ln {C} = " in out
    assert "time            " in out and " s for 1 epoch\n" in out  # not "1 epochs"


def test_the_summary_counts_epochs_in_the_plural(tmp_path, capsys):
    status, out, _ = run(capsys, "train", "--model", "logistic", "--epochs", "2", "--out", str(tmp_path / "r"), "--quiet")
    assert status == 0 and " s for 2 epochs\n" in out


def test_batch_size_must_be_positive(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--batch-size", "0", "--out", str(tmp_path / "r"))
    assert_one_line_error(status, err, "argument --batch-size: must be at least 1, got 0", command="train")


def test_training_that_ends_at_chance_level_is_flagged(tmp_path, capsys):
    # The document's uniform [0, 0.01) init leaves the deep net's output at 0.5: cost ln 2.
    status, _, err = run(capsys, "train", "--init", "document", "--epochs", "3", "--out", str(tmp_path / "r"), "--quiet")
    assert status == 0
    warning = [line for line in err.splitlines() if "warning" in line]
    assert warning == [
        "tinygraph train: warning: the final cost 0.6931 is within 0.001 of ln 2 = 0.6931, what always answering 0.5 "
        "costs: the network learned nothing; try more --epochs, another --lr or --init he"
    ]
    status, _, err = run(capsys, "train", "--model", "logistic", "--epochs", "50", "--out", str(tmp_path / "s"), "--quiet")
    assert status == 0 and "warning" not in err


def test_learning_nothing_with_weight_decay_or_dropout_names_them_first(tmp_path, capsys):
    # Momentum's L2 term with λ = 50 holds the MLP's weights at 0: the cost stays at ln 10.
    status, _, err = run(capsys, "train", "--model", "mlp", "--optimizer", "momentum", "--weight-decay", "50",
                         "--dropout", "0.2", "--epochs", "5", "--out", str(tmp_path / "r"), "--quiet")
    assert status == 0, err
    (warning,) = [line for line in err.splitlines() if "warning" in line]
    assert "the network learned nothing; try a smaller --weight-decay (now 50), a smaller --dropout (now 0.2), " \
           "more --epochs, another --lr or --seed" in warning


# --------------------------------------------------------------------------- one error prefix


@pytest.mark.parametrize(
    "argv, prefix",
    [
        (["train", "--data", "nowhere.npz"], "tinygraph train: error: file not found: nowhere.npz"),
        (["train", "--epochs", "zero"], "tinygraph train: error: argument --epochs: expected a whole number, got 'zero'"),
        (["check", "--data", "nowhere.h5"], "tinygraph check: error: file not found: nowhere.h5"),
        (["check", "--samples", "0"], "tinygraph check: error: argument --samples: must be at least 1, got 0"),
        (["render", "--max-nodes", "0"], "tinygraph render: error: argument --max-nodes: must be at least 1, got 0"),
        (["render", "--collapse", "some"], "tinygraph render: error: argument --collapse: invalid choice: 'some'"),
        (["predict", "no-such-run", "--data", "digits"], "tinygraph predict: error: run folder no-such-run: no such folder"),
        (["predict", "somewhere"], "tinygraph predict: error: the following arguments are required: --data"),
        (["--debug", "check", "--model", "mlp"], "tinygraph check: error: argument --model: invalid choice: 'mlp'"),
        (["fly"], "tinygraph: error: argument COMMAND: invalid choice: 'fly'"),
    ],
)
def test_every_error_starts_with_the_command_that_failed(tmp_path, capsys, monkeypatch, argv, prefix):
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, *argv)
    assert status != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith(prefix), err


# --------------------------------------------------------------------------- damaged data files


def damaged_files(folder):
    """name -> (path, what the one-line error must say)."""
    folder.mkdir(exist_ok=True)
    bundled = Path(__file__).resolve().parents[2] / "models" / "datasets" / "breast_cancer.npz"
    blob = bundled.read_bytes()
    files = {}

    def put(name, content, fragment):
        path = folder / name
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        files[name] = (path, fragment)

    put("truncated.npz", blob[: len(blob) // 2], "truncated.npz: damaged .npz archive")
    put("text.npz", "train_x,train_y\n0.5,1\n", "text.npz: not a .npz archive; it holds text")
    put("empty.npz", b"", "empty.npz: the file is empty (0 bytes)")
    good = {"train_x": np.ones((3, 4)), "train_y": np.array([[0, 1, 0, 1]]), "test_x": np.ones((3, 2)), "test_y": np.array([[1, 0]])}
    for name, change, fragment in [
        ("wrong-key.npz", {"labels": good.pop("test_y")}, "wrong-key.npz: missing test_y"),
        ("wrong-shape.npz", {"train_y": np.zeros((4, 2))}, "wrong-shape.npz: train_y has shape (4, 2) but train_x has shape (3, 4)"),
        ("three-d.npz", {"train_x": np.ones((3, 4, 1))}, "three-d.npz: train_x has shape (3, 4, 1); expected (features, samples)"),
        ("features.npz", {"test_x": np.ones((5, 2))}, "features.npz: train_x has shape (3, 4) but test_x has shape (5, 2)"),
        ("labels.npz", {"train_y": np.array([[0, 1, 2, 1]])}, "labels.npz:train_y must hold only 0/1 labels, found 2"),
        ("objects.npz", {"classes": np.array([{"evil": 1}, None], dtype=object)}, "objects.npz: classes holds Python objects"),
    ]:
        arrays = dict(good, test_y=np.array([[1, 0]]))
        arrays.update(change)
        if name == "wrong-key.npz":
            del arrays["test_y"]
        np.savez(folder / name, **arrays)
        files[name] = (folder / name, fragment)
    np.save(folder / "single.npy", np.ones(3))
    (folder / "single.npy").rename(folder / "single.npz")
    files["single.npz"] = (folder / "single.npz", "single.npz: not a .npz archive; it holds a single numpy array")
    put("notes.txt", "hello", "notes.txt: neither a .npz archive nor an HDF5 file (it holds text)")
    h5 = write_h5(folder / "whole.h5", **good_arrays(n_train=400, n_test=4))
    put("truncated.h5", h5.read_bytes()[:2048], "truncated.h5")
    return files


def test_damaged_data_files_give_one_line_naming_the_file(tmp_path, capsys):
    for name, (path, fragment) in damaged_files(tmp_path / "data").items():
        for command in ("train", "check"):
            argv = [command, "--data", str(path)] + (["--out", str(tmp_path / "run"), "--quiet"] if command == "train" else [])
            status, out, err = run(capsys, *argv)
            assert status == 1, (name, err)
            assert_one_line_error(status, err, fragment, command=command)
            assert "pickle" not in err and "allow_pickle" not in err, err
            assert out == "" and not (tmp_path / "run").exists()


def test_a_damaged_bundled_file_is_named_with_how_to_rebuild_it(tmp_path, capsys, monkeypatch):
    import importlib.resources

    blob = (Path(__file__).resolve().parents[2] / "models" / "datasets" / "digits.npz").read_bytes()
    (tmp_path / "digits.npz").write_bytes(blob[:-100])
    monkeypatch.setattr(importlib.resources, "files", lambda package: tmp_path)
    status, _, err = run(capsys, "train", "--out", str(tmp_path / "run"))
    assert_one_line_error(status, err, f"bundled file {tmp_path / 'digits.npz'}: damaged .npz archive",
                          "rebuild it with python -m tinygraph_models.datasets.regenerate", command="train")


def test_a_npz_in_the_bundled_layout_trains(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "mine.npz"
    np.savez(path, train_x=rng.standard_normal((5, 40)), train_y=(rng.random((1, 40)) > 0.5).astype(np.uint8),
             test_x=rng.standard_normal((5, 10)), test_y=(rng.random(10) > 0.5).astype(np.uint8))
    status, out, err = run(capsys, "train", "--data", str(path), "--model", "logistic", "--epochs", "5",
                           "--out", str(tmp_path / "run"), "--quiet")
    assert status == 0, err
    config = json.loads((tmp_path / "run" / "metrics.json").read_text())["config"]
    assert config["layers"] == [5, 1] and config["data"] == "mine"
