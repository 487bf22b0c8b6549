"""`tinygraph predict`: a trained run folder classifies new data exactly as training saw it."""

import csv
import io
import json
import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygraph_models import cli
from tinygraph_models.data import DataError, load_dataset
from tinygraph_models.predict import load_inputs, load_run, predict


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A shallow net trained on breast cancer for a few epochs, as a run folder."""
    folder = tmp_path_factory.mktemp("runs") / "run"
    assert cli.main(["train", "--model", "shallow", "--data", "breast-cancer", "--epochs", "30",
                     "--out", str(folder), "--quiet"]) == 0
    return folder


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_predicting_the_runs_own_test_split_gives_its_recorded_accuracy(trained, capsys):
    status, out, err = run(capsys, "predict", str(trained), "--data", "breast-cancer")
    assert status == 0, err
    metrics = json.loads((trained / "metrics.json").read_text())
    table = rows(out)
    assert len(table) == 142 and list(table[0]) == ["sample", "probability", "prediction", "class", "label"]
    right = sum(r["prediction"] == r["label"] for r in table)
    assert right / 142 == metrics["test_accuracy"]
    assert {r["class"] for r in table} <= {"benign", "malignant"}
    assert f"tinygraph predict: accuracy {metrics['test_accuracy']:.4f} ({right} of 142 right)" in err
    assert err.startswith("tinygraph predict: 142 samples of breast-cancer (test split) classified by")


def test_a_binary_runs_probability_is_that_of_class_1(trained, capsys):
    _, out, _ = run(capsys, "predict", str(trained), "--data", "breast-cancer")
    table = rows(out)
    # P(class 1): above 0.5 exactly where class 1 is predicted, so the benign rows read below 0.5
    assert all((float(r["probability"]) > 0.5) == (r["prediction"] == "1") for r in table)
    assert {r["prediction"] for r in table} == {"0", "1"}
    assert min(float(r["probability"]) for r in table) < 0.1


def test_the_help_says_what_probability_means(capsys):
    with pytest.raises(SystemExit):
        cli.main(["predict", "--help"])
    words = " ".join(capsys.readouterr().out.split())
    assert "probability is P(class 1) for a run of a binary network (logistic, shallow, deep)" in words
    assert "the probability of the predicted class for a softmax, mlp or cnn run" in words


def test_the_train_split_and_all(trained, capsys):
    metrics = json.loads((trained / "metrics.json").read_text())
    status, out, _ = run(capsys, "predict", str(trained), "--data", "breast-cancer", "--split", "train")
    table = rows(out)
    assert status == 0 and len(table) == 427
    assert sum(r["prediction"] == r["label"] for r in table) / 427 == metrics["train_accuracy"]
    status, out, _ = run(capsys, "predict", str(trained), "--data", "breast-cancer", "--split", "all")
    assert status == 0 and len(rows(out)) == 569


def test_out_writes_the_predictions_atomically_and_refuses_to_overwrite(trained, tmp_path, capsys):
    target = tmp_path / "predictions.csv"
    old = os.umask(0o022)
    try:
        status, out, err = run(capsys, "predict", str(trained), "--data", "breast-cancer", "--out", str(target))
    finally:
        os.umask(old)
    assert status == 0, err
    assert len(rows(target.read_text())) == 142 and stat.S_IMODE(target.stat().st_mode) == 0o644
    assert "accuracy" in out and f"predictions     {target}" in out and err == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.csv"]

    status, _, err = run(capsys, "predict", str(trained), "--data", "breast-cancer", "--out", str(target))
    assert status == 1 and err.strip() == (
        f"tinygraph predict: error: --out {target} exists; choose another --out or pass --overwrite"
    )
    assert run(capsys, "predict", str(trained), "--data", "breast-cancer", "--out", str(target), "--overwrite")[0] == 0


def test_new_samples_without_labels(trained, tmp_path, capsys):
    raw = load_dataset("breast-cancer", standardize=False)
    path = tmp_path / "new.npz"
    np.savez(path, x=raw.test_x[:, :5])
    status, out, err = run(capsys, "predict", str(trained), "--data", str(path))
    assert status == 0, err
    table = rows(out)
    assert len(table) == 5 and "label" not in table[0]
    assert "tinygraph predict: accuracy unknown (the data have no labels)" in err
    # the same samples as part of the dataset get the same predictions
    _, full, _ = run(capsys, "predict", str(trained), "--data", "breast-cancer")
    assert [r["probability"] for r in rows(full)[:5]] == [r["probability"] for r in table]


def test_new_samples_with_labels(trained, tmp_path, capsys):
    raw = load_dataset("breast-cancer", standardize=False)
    path = tmp_path / "new.npz"
    np.savez(path, x=raw.test_x[:, :6], y=raw.test_y[:, :6].astype(np.uint8))
    status, _, err = run(capsys, "predict", str(trained), "--data", str(path))
    assert status == 0 and "of 6 right" in err


def test_the_runs_standardisation_is_used_not_the_new_datas(trained):
    # Predicting a sample alone must not depend on the other samples it comes with.
    raw = load_dataset("breast-cancer", standardize=False)
    result = predict(load_run(trained), load_inputs("breast-cancer"))
    one = load_inputs("breast-cancer")
    one.x, one.y = one.x[:, 7:8], one.y[7:8]
    assert predict(load_run(trained), one).probability[0] == result.probability[7]
    assert raw.test_x.shape[1] == result.prediction.size


@pytest.mark.parametrize(
    "setup, fragment",
    [
        ("missing", "run folder {run}: no such folder"),
        ("file", "run folder {run}: not a folder"),
        ("empty", "run folder {run} holds no params.npz"),
        ("broken", "not a readable parameter file"),
    ],
)
def test_bad_run_folders(tmp_path, capsys, setup, fragment):
    folder = tmp_path / "run"
    if setup == "file":
        folder.write_text("x")
    elif setup in ("empty", "broken"):
        folder.mkdir()
        if setup == "broken":
            (folder / "params.npz").write_text("not a zip")
    status, _, err = run(capsys, "predict", str(folder), "--data", "digits")
    assert status == 1 and err.count("\n") == 1
    assert err.startswith("tinygraph predict: error: ") and fragment.format(run=folder) in err


def test_data_with_other_features_is_refused(trained, capsys):
    status, _, err = run(capsys, "predict", str(trained), "--data", "digits")
    assert status == 1 and err.strip() == (
        f"tinygraph predict: error: digits (test split) has 64 features per sample but the network of {trained} takes 30"
    )


@pytest.mark.parametrize(
    "arrays, fragment",
    [
        ({"x": np.ones(30)}, "x has shape (30,); expected (features, samples)"),
        ({"x": np.ones((30, 2)), "y": np.array([0, 1, 1])}, "y has shape (3,) but x has shape (30, 2)"),
        ({"x": np.ones((30, 2)), "y": np.array([0, 2])}, "y must hold only 0/1 labels"),
        ({"x": np.full((30, 1), np.nan)}, "x contains NaN or infinite values"),
    ],
)
def test_bad_new_samples(trained, tmp_path, capsys, arrays, fragment):
    path = tmp_path / "new.npz"
    np.savez(path, **arrays)
    status, _, err = run(capsys, "predict", str(trained), "--data", str(path))
    assert status == 1 and err.startswith("tinygraph predict: error: new.npz: ") and fragment in err


def test_load_run_errors_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_run(tmp_path / "nothing")


# --------------------------------------------------------------------------- a reader that stops early


def installed_command():
    path = Path(sys.executable).with_name("tinygraph")
    assert path.exists(), f"the `tinygraph` command is not installed next to {sys.executable}"
    return str(path)


@pytest.mark.parametrize("split", ["test", "all"])  # 3.5 KB, within one buffer (found at the flush); 14 KB, past it
def test_output_into_a_closed_pipe_stops_quietly_with_status_141(trained, split):
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first write: deterministic, unlike racing `head`
    try:
        result = subprocess.run([installed_command(), "predict", str(trained), "--data", "breast-cancer", "--split", split],
                                stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert result.returncode == cli.BROKEN_PIPE_STATUS == 141
    assert result.stderr == ""  # no "error: [Errno 32] Broken pipe", no "Exception ignored", no summary


def test_head_reads_the_first_lines_and_nothing_is_said(trained):
    command = f"{shlex.quote(installed_command())} predict {shlex.quote(str(trained))} --data breast-cancer --split all"
    result = subprocess.run(["bash", "-c", f"set -o pipefail; {command} | head -2"], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.splitlines()[0] == "sample,probability,prediction,class,label"
    assert len(result.stdout.splitlines()) == 2
    # Whether the command still had rows to write when head left depends on timing: 0 or 141, never 1.
    assert result.returncode in (0, 141)
    assert "error" not in result.stderr and "Broken pipe" not in result.stderr and "Exception" not in result.stderr


def test_a_broken_pipe_that_is_not_stdouts_is_an_error(trained, capsys, monkeypatch):
    import tinygraph_models.predict as predict_module

    def broken(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(predict_module, "load_run", broken)
    status, out, err = run(capsys, "predict", str(trained), "--data", "breast-cancer")
    assert status == 1 and out == ""
    assert err.strip() == "tinygraph predict: error: [Errno 32] Broken pipe"
