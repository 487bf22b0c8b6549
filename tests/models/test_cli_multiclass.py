"""`tinygraph train --model softmax|mlp|cnn` and `tinygraph predict` on their run folders, as a
user runs them: the run folder, the confusion matrix, the messages and the refusals."""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygraph_models import cli, multiclass, train

HAS_DOT = shutil.which("dot") is not None


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One short run of each ten-class model, on digits10 by default."""
    root = tmp_path_factory.mktemp("ten")
    folders = {}
    for model in multiclass.MODELS:
        folders[model] = root / model
        assert cli.main(["train", "--model", model, "--epochs", "2", "--quiet", "--out", str(folders[model])]) == 0
    return folders


@pytest.mark.parametrize("model", list(multiclass.MODELS))
def test_the_run_folder_holds_a_confusion_matrix_that_agrees_with_the_metrics(runs, model):
    folder = runs[model]
    names = sorted(p.name for p in folder.iterdir())
    expected = ["confusion.png", "cost.png", "metrics.json", "params.npz"] + (["graph.svg"] if HAS_DOT else [])
    assert names == sorted(expected)
    assert (folder / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    metrics = json.loads((folder / "metrics.json").read_text())
    counts = np.array(metrics["confusion_matrix"]["counts"])
    assert counts.shape == (10, 10) and counts.sum() == 450
    assert np.trace(counts) / 450 == metrics["test_accuracy"]
    assert metrics["confusion_matrix"]["classes"] == list("0123456789")
    per_class = metrics["test_accuracy_per_class"]
    assert [per_class[c] for c in "0123456789"] == (counts.diagonal() / counts.sum(axis=1)).tolist()
    config = metrics["config"]
    defaults = train.TRAIN_DEFAULTS[model]
    assert config["data"] == "digits10" and config["classes"] == list("0123456789")
    assert (config["optimizer"], config["lr"], config["batch_size"]) == (
        defaults["optimizer"], defaults["lr"], defaults["batch_size"])
    assert config["epochs"] == 2 and len(metrics["cost_every_epoch"]) == 2
    assert config["layers"] == multiclass.default_units(model, 64, 10)


def test_the_cnns_graph_shows_its_convolutions(runs):
    if not HAS_DOT:
        pytest.skip("Graphviz's dot is not installed")
    text = (runs["cnn"] / "graph.svg").read_text()
    assert "conv2d" in text and "max_pool2d" in text and "cross_entropy" in text


@pytest.mark.parametrize("model", list(multiclass.MODELS))
def test_predict_reproduces_the_recorded_accuracy(runs, model, capsys):
    status, out, err = run(capsys, "predict", str(runs[model]), "--data", "digits10")
    assert status == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    metrics = json.loads((runs[model] / "metrics.json").read_text())
    assert len(table) == 450
    assert sum(r["prediction"] == r["label"] for r in table) / 450 == metrics["test_accuracy"]
    assert all(r["class"] == r["prediction"] for r in table)  # the digits' names are their labels
    assert all(0.1 <= float(r["probability"]) <= 1.0 for r in table)  # the largest of ten probabilities
    assert f"accuracy {metrics['test_accuracy']:.4f}" in " ".join(err.split())
    assert "predicted 0: " in err


def test_predict_refuses_data_of_other_classes(runs, capsys):
    status, _, err = run(capsys, "predict", str(runs["softmax"]), "--data", "digits")
    assert status == 1 and err.strip() == (
        f"tinygraph predict: error: digits (test split) has 2 classes (digit 0-4, digit 5-9) but the network of "
        f"{runs['softmax']} was trained on 10 classes (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)"
    )


def test_predict_refuses_labels_beyond_the_runs_classes(runs, tmp_path, capsys):
    path = tmp_path / "new.npz"
    np.savez(path, x=np.zeros((64, 3)), y=np.array([0, 9, 10]))
    status, _, err = run(capsys, "predict", str(runs["mlp"]), "--data", str(path))
    assert status == 1 and err.strip() == (
        "tinygraph predict: error: new.npz: y must hold class labels 0..9 (the run's 10 classes), found 10"
    )


def test_the_messages_name_the_network_and_the_chance_level(tmp_path, capsys):
    status, out, err = run(capsys, "train", "--model", "cnn", "--epochs", "1", "--quiet", "--out", str(tmp_path / "r"))
    assert status == 0, err
    assert err.startswith(
        "tinygraph train: cnn on 8x8 images: conv 32@3x3 -> relu -> max-pool 2 -> conv 64@3x3 -> relu -> "
        "linear 10 on digits10: 64 features, 10 classes"
    )
    assert ", batches of 64" in err.splitlines()[0]
    assert "ln 10 = 2.302585" in out and "confusion.png" in out


def test_softmax_regression_on_the_binary_digits_is_a_two_class_softmax(tmp_path, capsys):
    status, out, err = run(capsys, "train", "--model", "softmax", "--data", "digits", "--epochs", "2", "--quiet",
                           "--out", str(tmp_path / "r"))
    assert status == 0, err
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["config"]["layers"] == [64, 2] and "ln 2 = " in out
    assert np.array(metrics["confusion_matrix"]["counts"]).shape == (2, 2)


def test_the_binary_runs_are_unchanged_no_confusion_matrix(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--model", "logistic", "--epochs", "2", "--quiet", "--out", str(tmp_path / "r"))
    assert status == 0, err
    assert not (tmp_path / "r" / "confusion.png").exists()
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert "confusion_matrix" not in metrics and metrics["config"]["optimizer"] == "gd"
    assert metrics["config"]["batch_size"] is None and metrics["config"]["data"] == "digits"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "deep", "--data", "digits10"],
         "--model deep is a binary classifier (one sigmoid unit) but digits10 has 10 classes; use --model softmax, mlp or cnn"),
        (["--model", "cnn", "--data", "breast-cancer"],
         "--model cnn takes square one-channel images, one per column: breast-cancer has 30 features, not a square number"),
        (["--model", "cnn", "--data", "small.npz"],
         "--model cnn: small holds 6x6 images, too small for conv 3x3, max-pool 2, conv 3x3 (they need at least 8x8)"),
        (["--model", "cnn", "--layers", "64,10"],
         "--model cnn takes no --layers: its layers are fixed (conv 3x3, max-pool 2, conv 3x3, linear)"),
        (["--model", "mlp", "--layers", "64,32,1"],
         "the output layer of a 10-class classifier has 10 units, one per class, got 1 in [64, 32, 1]"),
        (["--model", "softmax", "--layers", "30,10"],
         "--layers starts with 30 inputs but digits10 has 64 features; start the list with 64"),
        (["--model", "softmax", "--layers", "64,32,10"], "--model softmax needs 2 layer sizes ([n_x, 10]), got [64, 32, 10]"),
    ],
)
def test_misuse_is_one_line_and_exit_status_2(tmp_path, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "small.npz", train_x=np.zeros((36, 4)), train_y=[0, 1, 2, 1], test_x=np.zeros((36, 2)),
             test_y=[0, 2], classes=np.array(["a", "b", "c"]))
    status, _, err = run(capsys, "train", *argv, "--out", str(tmp_path / "r"))
    assert status == 2 and err.strip() == f"tinygraph train: error: {message}"
    assert not (tmp_path / "r").exists()


def test_a_ten_class_npz_of_the_users_trains(tmp_path, capsys):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 60))
    y = rng.integers(0, 3, 60)
    x[:, y == 1] += 2.0
    x[:, y == 2] -= 2.0
    path = tmp_path / "three.npz"
    np.savez(path, train_x=x[:, :40], train_y=y[:40], test_x=x[:, 40:], test_y=y[40:], classes=np.array(["a", "b", "c"]))
    status, out, err = run(capsys, "train", "--model", "cnn", "--data", str(path), "--epochs", "3", "--quiet",
                           "--out", str(tmp_path / "r"))
    assert status == 0, err
    assert "cnn on 8x8 images" in err and "ln 3 = " in out
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["confusion_matrix"]["classes"] == ["a", "b", "c"]


def test_the_installed_command_trains_a_cnn(tmp_path):
    # As a newcomer types it; the progress bar and the first line go to stderr.
    exe = Path(sys.executable).with_name("tinygraph")
    result = subprocess.run([str(exe), "train", "--model", "cnn", "--data", "digits10", "--epochs", "1",
                             "--out", str(tmp_path / "r")], capture_output=True, text=True,
                            env=dict(os.environ, COLUMNS="100"), timeout=300)
    assert result.returncode == 0, result.stderr
    assert "cnn/digits10" in result.stderr and "Traceback" not in result.stderr
    assert "test accuracy" in result.stdout


@pytest.mark.parametrize("model", list(multiclass.MODELS))
def test_compiled_training_trains_the_same_network(model, tmp_path, capsys):
    for flag, name in (([], "eager"), (["--compile"], "compiled")):
        status, _, err = run(capsys, "train", "--model", model, "--epochs", "2", "--quiet", *flag,
                             "--out", str(tmp_path / name))
        assert status == 0, err
    eager, compiled = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("eager", "compiled"))
    assert compiled["compiled"] and not eager["compiled"]
    assert np.allclose(compiled["cost_every_epoch"], eager["cost_every_epoch"], rtol=1e-9)
    assert compiled["confusion_matrix"] == eager["confusion_matrix"]


# --------------------------------------------------------------------------- regularisation


def test_the_default_runs_record_their_regularisation(runs):
    # The MLP's default weight decay is the third sweep pass's pick (docs/tutorial.md section 12).
    want = {"softmax": (0.0, 0.0), "mlp": (1.0, 0.0), "cnn": (0.0, 0.0)}
    for model in multiclass.MODELS:
        config = json.loads((runs[model] / "metrics.json").read_text())["config"]
        defaults = train.TRAIN_DEFAULTS[model]
        assert (config["weight_decay"], config["dropout"]) == (defaults["weight_decay"], defaults["dropout"]) == want[model]


@pytest.fixture(scope="module")
def dropout_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regularised") / "mlp"
    argv = ["train", "--model", "mlp", "--layers", "64,16,10", "--epochs", "2", "--dropout", "0.3", "--weight-decay",
            "0.05", "--quiet", "--out", str(folder)]
    assert cli.main(argv) == 0
    return folder


def test_weight_decay_and_dropout_reach_the_run_and_its_metrics(dropout_run):
    metrics = json.loads((dropout_run / "metrics.json").read_text())
    config = metrics["config"]
    assert (config["weight_decay"], config["dropout"]) == (0.05, 0.3)
    assert config["network"] == "mlp net [64, 16, 10], dropout 0.3 after each hidden ReLU (training only)"
    assert config["optimizer"] == "adam" and config["layers"] == [64, 16, 10]


def test_the_first_line_names_the_regularisation(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--model", "mlp", "--layers", "64,8,10", "--epochs", "1", "--dropout", "0.5",
                         "--weight-decay", "0.1", "--optimizer", "gd", "--quiet", "--out", str(tmp_path / "r"))
    assert status == 0, err
    first = err.splitlines()[0]
    assert first.startswith("tinygraph train: mlp net [64, 8, 10] on digits10") and first.endswith(
        ", weight decay 0.1, dropout 0.5")


def test_predict_with_a_dropout_trained_run_reproduces_its_accuracy(dropout_run, capsys):
    with np.load(dropout_run / "params.npz") as f:
        assert sorted(k for k in f.files if k[0] in "Wb" and k[1:].isdigit()) == ["W1", "W2", "b1", "b2"]
    status, out, err = run(capsys, "predict", str(dropout_run), "--data", "digits10")
    assert status == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    metrics = json.loads((dropout_run / "metrics.json").read_text())
    assert sum(r["prediction"] == r["label"] for r in table) / len(table) == metrics["test_accuracy"]
    # evaluation drops nothing: predicting again gives the same answers
    assert run(capsys, "predict", str(dropout_run), "--data", "digits10")[1] == out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "mlp", "--weight-decay", "-0.1"], "argument --weight-decay: must be a finite number >= 0, got -0.1"),
        (["--model", "mlp", "--weight-decay", "nan"], "argument --weight-decay: must be a finite number >= 0, got nan"),
        (["--model", "mlp", "--weight-decay", "inf"], "argument --weight-decay: must be a finite number >= 0, got inf"),
        (["--model", "mlp", "--weight-decay", "lots"], "argument --weight-decay: expected a number, got 'lots'"),
        (["--model", "mlp", "--dropout", "1"], "argument --dropout: must be a probability in [0, 1), got 1"),
        (["--model", "mlp", "--dropout", "-0.5"], "argument --dropout: must be a probability in [0, 1), got -0.5"),
        (["--model", "mlp", "--dropout", "nan"], "argument --dropout: must be a probability in [0, 1), got nan"),
        (["--model", "mlp", "--dropout", "half"], "argument --dropout: expected a number, got 'half'"),
        (["--model", "cnn", "--dropout", "0.2"],
         "--dropout is for --model mlp only (its hidden layers); --model cnn has no dropout layer"),
        (["--model", "softmax", "--dropout", "0.2"],
         "--dropout is for --model mlp only (its hidden layers); --model softmax has no dropout layer"),
        (["--model", "deep", "--dropout", "0.2"],
         "--dropout is for --model mlp only (its hidden layers); --model deep has no dropout layer"),
        (["--model", "logistic", "--data", "breast-cancer", "--dropout", "0.5"],
         "--dropout is for --model mlp only (its hidden layers); --model logistic has no dropout layer"),
        (["--model", "mlp", "--dropout", "0.2", "--compile"],
         "--compile cannot train with --dropout 0.2: the compiled steps would replay one dropout mask at every step; "
         "leave out one of the two"),
    ],
)
def test_regularisation_misuse_is_one_line_and_exit_status_2(tmp_path, capsys, argv, message):
    status, out, err = run(capsys, "train", *argv, "--quiet", "--out", str(tmp_path / "r"))
    assert status == 2 and err == f"tinygraph train: error: {message}\n" and out == ""
    assert not (tmp_path / "r").exists()


def test_no_dropout_is_accepted_by_every_model(tmp_path, capsys):
    status, _, err = run(capsys, "train", "--model", "cnn", "--dropout", "0", "--weight-decay", "0", "--epochs", "1",
                         "--quiet", "--out", str(tmp_path / "r"))
    assert status == 0, err
    config = json.loads((tmp_path / "r" / "metrics.json").read_text())["config"]
    assert (config["weight_decay"], config["dropout"]) == (0.0, 0.0)


def test_the_help_says_what_weight_decay_and_dropout_do():
    words = " ".join(cli.build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    assert "--weight-decay LAMBDA" in words and "decoupled for adam" in words and "L2 term" in words
    assert "--dropout P" in words and "mlp only" in words
    # Each help names its own default: the MLP's decay is 1 (with adam), its dropout 0.
    assert train.TRAIN_DEFAULTS["mlp"]["dropout"] == 0.0
    assert words.count("(default: 1 for --model mlp") == 1 and "every unit (default: 0, no dropout layer)" in words
