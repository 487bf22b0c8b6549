"""flow.png and flow.json for ``tinygraph train --report``: the picture of per-layer gradient norms."""

import json

import numpy as np

import tinygraph as tg
from tinygraph import nn
from tinygraph_models.flow import plot_flow, write_flow

PNG = b"\x89PNG\r\n\x1a\n"


def history_of(init: str, epochs: int = 5) -> nn.FlowHistory:
    rng = np.random.default_rng(0)
    X, Y = rng.random((16, 40)), (rng.random((1, 40)) > 0.5) * 1.0
    net = nn.Sequential.mlp([16, 5, 5, 5, 3, 1], init=init, rng=np.random.default_rng(0))
    opt = tg.optim.GD(net.parameters(), lr=0.5)
    history = nn.FlowHistory()
    for epoch in range(1, epochs + 1):
        cost = tg.binary_cross_entropy_with_logits(net(tg.Tensor(X)), tg.Tensor(Y))
        history.record(epoch, nn.gradient_flow(net, cost, lr=0.5))
        opt.zero_grad()
        cost.backward()
        opt.step()
    return history


def test_write_flow_writes_both_files_and_returns_the_warnings(tmp_path):
    warnings = write_flow(tmp_path, history_of("document"), title="document init")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flow.json", "flow.png"]
    assert (tmp_path / "flow.png").read_bytes().startswith(PNG)
    data = json.loads((tmp_path / "flow.json").read_text())
    assert data["epochs"] == [1, 2, 3, 4, 5] and list(data["grad_norm"]) == [f"layer{l}" for l in range(1, 6)]
    assert warnings == data["warnings"] and warnings[0].startswith("layer1: gradients vanishing at 5 of 5 reports")


def test_he_init_has_no_warnings_and_plots_from_the_json(tmp_path):
    assert write_flow(tmp_path, history_of("he")) == []
    data = json.loads((tmp_path / "flow.json").read_text())
    again = plot_flow(data, tmp_path / "again.svg")
    assert again.read_text().lstrip().startswith("<?xml")


def test_zero_and_missing_norms_do_not_break_the_log_scale(tmp_path):
    data = history_of("he", epochs=2).as_dict()
    data["grad_norm"]["layer1"] = [0.0, None]
    plot_flow(data, tmp_path / "flow.png")
    assert (tmp_path / "flow.png").read_bytes().startswith(PNG)
