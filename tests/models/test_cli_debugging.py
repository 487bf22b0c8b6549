"""`tinygraph train --compile / --detect-anomaly / --report` and `tinygraph derive`."""

import json
import math

import numpy as np

from tinygraph_models import cli, nets


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_compile_trains_to_the_same_numbers(tmp_path, capsys):
    common = ["train", "--model", "deep", "--epochs", "20", "--quiet", "--seed", "1"]
    assert run(capsys, *common, "--out", str(tmp_path / "eager"))[0] == 0
    status, out, err = run(capsys, *common, "--compile", "--out", str(tmp_path / "compiled"))
    assert status == 0, err
    eager = json.loads((tmp_path / "eager" / "metrics.json").read_text())
    compiled = json.loads((tmp_path / "compiled" / "metrics.json").read_text())
    assert compiled["compiled"] is True and eager["compiled"] is False
    np.testing.assert_allclose(compiled["cost_every_epoch"], eager["cost_every_epoch"], rtol=1e-12)


def test_report_writes_the_gradient_flow_and_flags_the_documents_init(tmp_path, capsys):
    status, out, err = run(capsys, "train", "--model", "deep", "--init", "document", "--epochs", "15", "--quiet",
                           "--report", "--out", str(tmp_path / "document"))
    assert status == 0, err
    flow = json.loads((tmp_path / "document" / "flow.json").read_text())
    assert flow and (tmp_path / "document" / "flow.png").stat().st_size > 0
    assert "vanishing" in err and "flow.png" in out
    status, out, err = run(capsys, "train", "--model", "deep", "--init", "he", "--epochs", "15", "--quiet",
                           "--report", "--out", str(tmp_path / "he"))
    assert status == 0 and "vanishing" not in err and "exploding" not in err


def test_detect_anomaly_names_the_op_that_made_the_first_nan(tmp_path, capsys, monkeypatch):
    real_cost = nets.Network.cost

    def poisoned(self, X, Y, **kwargs):  # a cost that turns NaN: 0 * inf
        return real_cost(self, X, Y, **kwargs) * math.inf * 0.0

    monkeypatch.setattr(nets.Network, "cost", poisoned)
    argv = ["train", "--model", "logistic", "--epochs", "3", "--quiet", "--out", str(tmp_path / "run")]
    status, out, err = run(capsys, *argv, "--detect-anomaly")
    assert status == 1
    line = err.strip().splitlines()[-1]  # after the line saying what is trained
    assert line.startswith("tinygraph train: error: detect_anomaly: 'mul'") and "test_cli_debugging.py:" in line
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing half-written
    status, out, err = run(capsys, *argv)  # without it: the cost's NaN is caught, with less to go on
    assert status == 2 and ("NaN" in err or "nan" in err or "inf" in err)


def test_derive_prints_the_generated_forward_and_backward(capsys):
    status, out, err = run(capsys, "derive", "--model", "deep")
    assert status == 0 and err == ""
    assert "def forward(" in out and "def backward(" in out
    assert "dW1 = " in out and "db1 = dZ1.sum(axis=1, keepdims=True)" in out
    status, out, _ = run(capsys, "derive", "--model", "logistic", "--unfused")
    assert status == 0 and "sigmoid" in out
