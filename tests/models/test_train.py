"""The training loop and the run folder (models/train.py)."""

import json
import math
import os
import stat

import numpy as np
import pytest

from tinygraph_models import hand, nets, train
from tinygraph_models.data import load_dataset
from tinygraph_models.init import initialize_parameters


@pytest.fixture(scope="module")
def cancer():
    return load_dataset("breast-cancer")


# --------------------------------------------------------------------------- the loop


@pytest.mark.parametrize("model, units", [("logistic", [30, 1]), ("shallow", [30, 4, 1]), ("deep", [30, 5, 3, 1])])
def test_gd_training_follows_the_hand_written_loop(cancer, model, units):
    # The same start, the same data: tinygraph's loop and hand.train must walk the same path.
    start = initialize_parameters(units, "he", seed=2)
    net = nets.Network(model, start)
    history = train.train(net, cancer, epochs=25, lr=0.05)
    trained, costs = hand.train(start, cancer.train_x, cancer.train_y, learning_rate=0.05, n_epochs=25)
    np.testing.assert_allclose(history.costs, costs[:-1], rtol=1e-10)
    assert history.final_cost == pytest.approx(float(costs[-1]), rel=1e-10)
    for name, value in trained.items():
        np.testing.assert_allclose(net.state()[name], value, rtol=1e-9, atol=1e-12, err_msg=name)
    # the start is not touched (the Network copied it)
    np.testing.assert_array_equal(start["W1"], initialize_parameters(units, "he", seed=2)["W1"])


def test_history_reports_every_epoch_and_the_accuracies(cancer):
    net = nets.build("logistic", [30, 1], seed=0)
    seen = []
    history = train.train(net, cancer, epochs=40, lr=0.1, progress=lambda epoch, cost: seen.append((epoch, cost)))
    assert [e for e, _ in seen] == list(range(1, 41))
    assert [c for _, c in seen] == history.costs
    assert history.costs[0] == pytest.approx(nets.build("logistic", [30, 1], seed=0).cost(cancer.train_x, cancer.train_y).item())
    assert history.final_cost < history.costs[-1] < history.costs[0]
    assert history.train_accuracy == net.accuracy(cancer.train_x, cancer.train_y)
    assert history.test_accuracy == net.accuracy(cancer.test_x, cancer.test_y)
    assert history.seconds > 0


@pytest.mark.parametrize("optimizer", ["momentum", "adam"])
def test_other_optimizers_lower_the_cost(cancer, optimizer):
    net = nets.build("deep", [30, 5, 5, 5, 3, 1], seed=1, alive_on=cancer.train_x)
    history = train.train(net, cancer, epochs=150, lr=0.01 if optimizer == "adam" else 0.1, optimizer=optimizer)
    assert history.final_cost < 0.5 * history.costs[0]


def test_a_learning_rate_that_blows_up_stops_at_the_epoch_it_happens(cancer):
    net = nets.build("deep", [30, 5, 5, 5, 3, 1], seed=0)
    with pytest.raises(train.TrainingDiverged, match=r"training diverged at epoch (\d+) of 100: the cost is (nan|inf)") as info:
        train.train(net, cancer, epochs=100, lr=1e300)
    epoch = int(info.value.args[0].split("epoch ")[1].split(" ")[0])
    assert 1 < epoch <= 100  # the first cost is finite; the updates break it
    assert "1e+300" in str(info.value)


def test_no_numpy_warnings_on_the_way_to_divergence(cancer, recwarn):
    with pytest.raises(train.TrainingDiverged):
        train.train(nets.build("deep", [30, 5, 5, 5, 3, 1], seed=0), cancer, epochs=50, lr=1e300)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_mini_batches_are_the_document_step_on_each_batch(cancer):
    # One epoch of batches of 100 is five hand-written gradient steps, one per batch, in
    # the order tinygraph.data.batches draws from the run's seed.
    from tinygraph.data import batches

    start = initialize_parameters([30, 4, 1], "he", seed=5)
    net = nets.Network("shallow", start)
    history = train.train(net, cancer, epochs=2, lr=0.05, batch_size=100, seed=7)
    params, order, costs = start, np.random.default_rng([7, 2]), []
    for _ in range(2):
        total = 0.0
        for X, Y in batches(cancer.train_x, cancer.train_y, 100, rng=order):
            cost, grads = hand.cost_and_gradients(params, X, Y)
            total += float(cost) * Y.shape[1]
            params = hand.update_parameters(params, grads, 0.05)
        costs.append(total / cancer.n_train)
    np.testing.assert_allclose(history.costs, costs, rtol=1e-10)
    for name, value in params.items():
        np.testing.assert_allclose(net.state()[name], value, rtol=1e-9, atol=1e-12, err_msg=name)


def test_mini_batch_runs_repeat_with_their_seed(cancer):
    def costs(seed):
        net = nets.build("logistic", [30, 1], seed=0)
        return train.train(net, cancer, epochs=3, lr=0.1, batch_size=32, seed=seed).costs

    assert costs(1) == costs(1) and costs(1) != costs(2)
    assert costs(1)[-1] < costs(1)[0]


def test_a_batch_of_everything_is_the_full_batch(cancer):
    a = train.train(nets.build("logistic", [30, 1], seed=0), cancer, epochs=5, lr=0.1)
    b = train.train(nets.build("logistic", [30, 1], seed=0), cancer, epochs=5, lr=0.1, batch_size=cancer.n_train)
    assert a.costs == b.costs and a.final_cost == b.final_cost


def test_chance_level_is_the_cost_of_answering_one_half():
    assert train.at_chance(train.History(final_cost=math.log(2) + 0.0009))
    assert not train.at_chance(train.History(final_cost=math.log(2) - 0.0011))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0, "lr": 0.1}, "epochs must be a positive integer, got 0"),
        ({"epochs": 2.5, "lr": 0.1}, "epochs must be a positive integer, got 2.5"),
        ({"epochs": True, "lr": 0.1}, "epochs must be a positive integer"),
        ({"epochs": 5, "lr": 0.0}, "lr must be a positive finite number, got 0.0"),
        ({"epochs": 5, "lr": -1.0}, "lr must be a positive finite number"),
        ({"epochs": 5, "lr": float("nan")}, "lr must be a positive finite number"),
        ({"epochs": 5, "lr": 0.1, "optimizer": "sgd"}, "unknown optimizer 'sgd'; choose one of gd, momentum, adam"),
        ({"epochs": 5, "lr": 0.1, "batch_size": 0}, "batch_size must be a positive integer or None"),
        ({"epochs": 5, "lr": 0.1, "batch_size": 2.0}, "batch_size must be a positive integer or None"),
    ],
)
def test_bad_settings_are_refused(cancer, kwargs, message):
    with pytest.raises(ValueError, match=message):
        train.train(nets.build("logistic", [30, 1]), cancer, **kwargs)


# --------------------------------------------------------------------------- files


def test_parameters_round_trip_without_pickles(cancer, tmp_path):
    net = nets.build("deep", [30, 5, 5, 5, 3, 1], seed=3)
    path = tmp_path / "params.npz"
    train.save_parameters(path, net, cancer)
    with np.load(path, allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)
        np.testing.assert_array_equal(f["feature_mean"], cancer.mean)
        np.testing.assert_array_equal(f["feature_std"], cancer.std)
        assert f["n_units"].tolist() == [30, 5, 5, 5, 3, 1] and str(f["model"]) == "deep"
    loaded, extra = train.load_parameters(path)
    assert loaded.model == "deep" and loaded.n_units == net.n_units
    for name, value in net.state().items():
        np.testing.assert_array_equal(loaded.state()[name], value)
    np.testing.assert_array_equal(loaded.predict(cancer.test_x), net.predict(cancer.test_x))
    assert float(extra["feature_scale"]) == 1.0


def test_a_failed_save_leaves_the_old_file_and_no_debris(cancer, tmp_path, monkeypatch):
    path = tmp_path / "params.npz"
    old = nets.build("logistic", [30, 1], seed=0)
    train.save_parameters(path, old, cancer)
    before = path.read_bytes()

    def broken_savez(file, **arrays):
        file.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        train.save_parameters(path, nets.build("logistic", [30, 1], seed=1), cancer)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.npz"]


def test_written_files_get_the_usual_permissions(cancer, tmp_path):
    old_mask = os.umask(0o022)
    try:
        folder = train.RunFolder(tmp_path / "run", overwrite=False)
        train.save_parameters(folder.path("params.npz"), nets.build("logistic", [30, 1]), cancer)
        out = folder.commit()
    finally:
        os.umask(old_mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "params.npz").stat().st_mode) == 0o644


def test_load_parameters_refuses_other_files(tmp_path):
    other = tmp_path / "other.npz"
    np.savez(other, W1=np.ones((1, 2)), b1=np.zeros((1, 1)))
    with pytest.raises(ValueError, match="not a tinygraph parameter file, it lacks n_units, model"):
        train.load_parameters(other)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a readable parameter file"):
        train.load_parameters(text)
    mismatched = tmp_path / "mismatched.npz"
    np.savez(mismatched, W1=np.ones((1, 2)), b1=np.zeros((1, 1)), n_units=np.array([3, 1]), model=np.array("logistic"))
    with pytest.raises(ValueError, match=r"saved layer sizes \[3, 1\] do not match the weights \[2, 1\]"):
        train.load_parameters(mismatched)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, n_units=np.array([2, 1]), model=np.array([{"a": 1}], dtype=object), W1=np.ones((1, 2)), b1=np.zeros((1, 1)))
    with pytest.raises(ValueError, match="not a readable parameter file"):
        train.load_parameters(path)


def test_run_folder_appears_only_on_commit(tmp_path):
    out = tmp_path / "run"
    folder = train.RunFolder(out, overwrite=False)
    folder.path("a.txt").write_text("a")
    assert not out.exists()
    assert folder.commit() == out and (out / "a.txt").read_text() == "a"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_run_folder_is_not_overwritten_unless_asked(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text("{}")  # an earlier run
    with pytest.raises(FileExistsError, match="exists; choose another --out or pass --overwrite"):
        train.RunFolder(out, overwrite=False)
    folder = train.RunFolder(out, overwrite=True)
    folder.path("new.txt").write_text("new")
    assert (out / "metrics.json").exists()  # replaced only at commit
    folder.commit()
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_overwrite_never_replaces_a_folder_of_other_files(tmp_path):
    out = tmp_path / "project"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(FileExistsError, match="holds no tinygraph run"):
        train.RunFolder(out, overwrite=True)
    assert (out / "thesis.tex").read_text() == "years of work"


def test_the_current_folder_is_no_run_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for out in (".", "..", str(tmp_path)):
        with pytest.raises(ValueError, match="cannot be the current folder"):
            train.RunFolder(out, overwrite=True)


def test_abandoned_run_leaves_nothing(tmp_path):
    folder = train.RunFolder(tmp_path / "run", overwrite=False)
    folder.path("x").write_text("x")
    folder.abandon()
    assert list(tmp_path.iterdir()) == []


def test_run_folder_over_a_file_is_refused(tmp_path):
    (tmp_path / "run").write_text("a file")
    with pytest.raises(FileExistsError, match="is a file, not a folder"):
        train.RunFolder(tmp_path / "run", overwrite=True)


def test_cost_curve_and_metrics_files(cancer, tmp_path):
    net = nets.build("logistic", [30, 1], seed=0)
    history = train.train(net, cancer, epochs=20, lr=0.1)
    train.save_cost_curve(tmp_path / "cost.png", history.costs, "a title")
    assert (tmp_path / "cost.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    train.write_metrics(tmp_path / "metrics.json", train.metrics_of(history, {"lr": 0.1}))
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["epochs_run"] == 20 and metrics["config"] == {"lr": 0.1}
    assert metrics["cost_every_epoch"] == history.costs and metrics["first_cost"] == history.costs[0]
    assert metrics["test_accuracy"] == history.test_accuracy and math.isfinite(metrics["final_cost"])


def test_fit_refuses_layers_that_do_not_fit_the_data(cancer):
    with pytest.raises(ValueError, match=r"fit: the layer sizes \[10, 1\] start with 10 inputs but breast-cancer has 30 features"):
        train.fit(cancer, "logistic", layers=[10, 1], epochs=1)


def test_a_run_folder_under_a_file_is_refused_in_plain_words(tmp_path):
    (tmp_path / "notes").write_text("a file")
    for out in (tmp_path / "notes" / "run", tmp_path / "notes" / "deeper" / "run"):
        with pytest.raises(NotADirectoryError, match=f"cannot create the run folder {out}: {tmp_path / 'notes'} is a file, not a folder"):
            train.RunFolder(out, overwrite=False)


# --------------------------------------------------------------------------- regularisation


def _with_zero_gradients(network):
    """``network`` whose cost is a constant built from every parameter: its gradients are exactly 0,
    so only the weight decay moves the weights."""
    import tinygraph as tg

    def cost(X, Y):
        total = tg.Tensor(1.0)
        for p in network.net.parameters():
            total = total + (p * 0.0).sum()
        return total

    network.cost = cost
    return network


@pytest.mark.parametrize(
    "optimizer, factor",
    [
        ("gd", lambda lr, decay: 1 - lr * decay),  # L2: W - lr (0 + λ W)
        ("momentum", lambda lr, decay: 1 - lr * (1 - 0.9) * decay),  # v = (1 - β) λ W at the first step, β = 0.9
        ("adam", lambda lr, decay: 1 - lr * decay),  # decoupled: m̂ = 0, so W - lr λ W
    ],
)
def test_weight_decay_reaches_the_optimizer(cancer, optimizer, factor):
    net = _with_zero_gradients(nets.build("shallow", [30, 4, 1], seed=1))
    before = net.state()
    train.train(net, cancer, epochs=1, lr=0.1, optimizer=optimizer, weight_decay=0.5)
    for name, value in net.state().items():
        np.testing.assert_allclose(value, before[name] * factor(0.1, 0.5), rtol=1e-15, atol=0, err_msg=name)


def test_adams_decoupled_decay_shrinks_by_the_same_factor_at_every_step(cancer):
    net = _with_zero_gradients(nets.build("logistic", [30, 1], seed=2))
    before = net.state()["W1"]
    train.train(net, cancer, epochs=3, lr=0.01, optimizer="adam", batch_size=200, weight_decay=2.0)  # 3 x 3 updates (427 samples)
    np.testing.assert_allclose(net.state()["W1"], before * (1 - 0.01 * 2.0) ** 9, rtol=1e-14, atol=0)


def test_no_weight_decay_is_the_plain_update(cancer):
    a = train.train(nets.build("shallow", [30, 4, 1], seed=0), cancer, epochs=5, lr=0.01, optimizer="adam")
    b = train.train(nets.build("shallow", [30, 4, 1], seed=0), cancer, epochs=5, lr=0.01, optimizer="adam",
                    weight_decay=0.0)
    c = train.train(nets.build("shallow", [30, 4, 1], seed=0), cancer, epochs=5, lr=0.01, optimizer="adam",
                    weight_decay=0.1)
    assert a.costs == b.costs and a.final_cost == b.final_cost
    assert c.costs[0] == a.costs[0] and c.costs[1:] != a.costs[1:]


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), True, "0.1", None])
def test_a_bad_weight_decay_is_refused_before_training(cancer, bad):
    seen = []
    with pytest.raises(ValueError, match=r"^train: weight_decay must be a finite number >= 0, got "):
        train.train(nets.build("logistic", [30, 1]), cancer, epochs=3, lr=0.1, weight_decay=bad,
                    progress=lambda *a: seen.append(a))
    assert seen == []
    if bad is not None:  # None is fit's "the model's default"
        with pytest.raises(ValueError, match=r"^fit: weight_decay must be a finite number >= 0"):
            train.fit(cancer, "logistic", epochs=3, weight_decay=bad)


@pytest.mark.parametrize("lr, decay", [(0.003, 700.0), (0.5, 2.0), (0.1, 10.0)])
def test_adam_refuses_a_weight_decay_whose_step_flips_or_zeroes_the_weights(cancer, lr, decay):
    seen = []
    with pytest.raises(ValueError, match=rf"^train: weight_decay {decay:g} with adam at lr {lr:g}: lr\*λ = .* >= 1"):
        train.train(nets.build("logistic", [30, 1]), cancer, epochs=3, lr=lr, optimizer="adam", weight_decay=decay,
                    progress=lambda *a: seen.append(a))
    assert seen == []
    with pytest.raises(ValueError, match=r"^train: weight_decay .* choose weight_decay below 1/lr"):
        train.fit(cancer, "logistic", epochs=3, lr=lr, optimizer="adam", weight_decay=decay)
    # just under 1 trains; GD and momentum take the same numbers (their L2 term is part of the cost)
    train.train(nets.build("logistic", [30, 1]), cancer, epochs=1, lr=lr, optimizer="adam", weight_decay=0.99 / lr)
    for optimizer in ("gd", "momentum"):
        train.train(nets.build("logistic", [30, 1]), cancer, epochs=1, lr=lr, optimizer=optimizer, weight_decay=decay)


@pytest.mark.parametrize(
    "optimizer, words",
    [
        ("gd", "the learning rate 1 with weight decay 1e+08 (lr*λ = 1e+08: each step multiplies every weight and bias "
               "by 1 - lr*λ = -1e+08 before the gradient step) is too large, try a smaller --weight-decay or --lr"),
        ("momentum", "the learning rate 1 with weight decay 1e+08 (lr*λ = 1e+08, through the momentum) is too large, "
                     "try a smaller --weight-decay or --lr"),
    ],
)
def test_divergence_with_weight_decay_names_it(cancer, optimizer, words):
    with pytest.raises(train.TrainingDiverged, match="^training diverged at epoch") as caught:
        train.train(nets.build("logistic", [30, 1], seed=0), cancer, epochs=200, lr=1.0, optimizer=optimizer,
                    weight_decay=1e8)
    assert str(caught.value).endswith(words)
    with pytest.raises(train.TrainingDiverged) as caught:
        train.train(nets.build("deep", [30, 5, 3, 1], seed=0), cancer, epochs=20, lr=1e300)
    assert str(caught.value).endswith("the cost is nan; the learning rate 1e+300 is too large, try a smaller --lr")


def test_binary_models_refuse_dropout_and_record_no_regularisation(cancer):
    with pytest.raises(ValueError, match=r"^fit: --model deep has no dropout layer to apply dropout 0.2 to; "
                                         r"only --model mlp takes --dropout$"):
        train.fit(cancer, "deep", epochs=1, dropout=0.2)
    _, _, config = train.fit(cancer, "logistic", epochs=2, dropout=0.0)
    assert (config["weight_decay"], config["dropout"]) == (0.0, 0.0)
    _, _, config = train.fit(cancer, "logistic", epochs=2, weight_decay=0.25)
    assert config["weight_decay"] == 0.25
    assert "weight_decay" not in train.TRAIN_DEFAULTS["deep"] and train.default_regularisation("deep") == (0.0, 0.0)


def _tiny_ten_class_data(seed=0, n_train=60, n_test=20):
    """Three separable classes of 64 features: a ten-class model's setting without digits10."""
    from tinygraph_models.data import Dataset

    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n_train + n_test)
    x = rng.standard_normal((64, y.size)) + 1.5 * (y - 1)
    return Dataset(x[:, :n_train], y[None, :n_train].astype(float), x[:, n_train:], y[None, n_train:].astype(float),
                   ["a", "b", "c"], None, "three")


def test_fit_takes_the_models_defaults_and_records_them():
    data = _tiny_ten_class_data()
    network, _, config = train.fit(data, "mlp", layers=[64, 8, 3], epochs=2)
    defaults = train.TRAIN_DEFAULTS["mlp"]
    assert (config["weight_decay"], config["dropout"]) == (defaults["weight_decay"], defaults["dropout"]) == (1.0, 0.0)
    assert "dropout" not in config["network"]
    # The decay was chosen for Adam's decoupled form; GD's L2 term gets none by default.
    _, _, config = train.fit(data, "mlp", layers=[64, 8, 3], epochs=2, optimizer="gd")
    assert config["weight_decay"] == 0.0
    network, _, config = train.fit(data, "mlp", layers=[64, 8, 3], epochs=2, weight_decay=0.1, dropout=0.5)
    assert (config["weight_decay"], config["dropout"]) == (0.1, 0.5)
    assert config["network"] == "mlp net [64, 8, 3], dropout 0.5 after each hidden ReLU (training only)"
    assert [repr(layer) for layer in network.net.layers] == [
        "Linear(64 -> 8)", "Activation('relu')", "Dropout(p=0.5)", "Linear(8 -> 3)"]


def test_the_steps_run_in_training_mode_and_the_measurements_in_evaluation_mode():
    import tinygraph as tg
    from tinygraph_models import multiclass

    data = _tiny_ten_class_data()
    network = multiclass.build("mlp", 64, 3, layers=[64, 16, 3], seed=0, dropout=0.5)
    drop = network.net.layers[2]
    modes = []
    network.net.eval()  # the caller's mode: given back afterwards, whatever the steps needed
    history = train.train(network, data, epochs=3, lr=0.01, optimizer="adam", batch_size=20,
                          progress=lambda epoch, cost: modes.append(drop.training))
    assert modes == [True, True, True]
    assert not any(m.training for _, m in network.net.named_modules())
    plain = multiclass.Dense("mlp", network.state())  # the same weights, no dropout layer
    with tg.no_grad():
        assert history.final_cost == plain.cost(data.train_x, data.train_y).item()
    assert history.train_accuracy == plain.accuracy(data.train_x, data.train_y)
    assert history.test_accuracy == plain.accuracy(data.test_x, data.test_y)
    # The masks were drawn: the training costs are those of thinned networks, higher than the full one's.
    assert history.costs[-1] > history.final_cost


def test_dropout_training_repeats_with_its_seed_and_only_with_it():
    from tinygraph_models import multiclass

    data = _tiny_ten_class_data()

    def trained(seed):
        network = multiclass.build("mlp", 64, 3, layers=[64, 16, 3], seed=0, dropout=0.3)
        # Weights from seed 0 in every run: only the masks' stream [seed, 3] changes with ``seed``.
        network.net.layers[2].rng = np.random.default_rng([seed, multiclass.DROPOUT_STREAM])
        return train.train(network, data, epochs=2, lr=0.01, optimizer="adam").costs, network.state()

    (a, wa), (b, wb), (c, _) = trained(0), trained(0), trained(1)
    assert a == b and all(np.array_equal(wa[k], wb[k]) for k in wa)
    assert a[0] != c[0]  # the first cost is of a thinned network: another mask, another cost


def test_a_gradient_flow_report_does_not_change_a_dropout_run():
    import tinygraph as tg
    from tinygraph_models import multiclass

    data = _tiny_ten_class_data()
    runs = []
    for flow in (None, tg.nn.FlowHistory()):
        network = multiclass.build("mlp", 64, 3, layers=[64, 16, 3], seed=0, dropout=0.5)
        history = train.train(network, data, epochs=3, lr=0.01, optimizer="adam", batch_size=20, flow=flow)
        runs.append((history.costs, network.state()))
    (costs, state), (costs_flow, state_flow) = runs
    assert costs == costs_flow
    assert all(np.array_equal(state[k], state_flow[k]) for k in state)


def test_compiled_training_refuses_dropout_in_one_line():
    from tinygraph_models import multiclass

    network = multiclass.build("mlp", 64, 3, layers=[64, 8, 3], dropout=0.5)
    before = network.state()
    with pytest.raises(ValueError) as info:
        train.train(network, _tiny_ten_class_data(), epochs=1, lr=0.01, compiled=True)
    assert str(info.value) == ("train: compiled=True cannot train a network with dropout (p=0.5): a compiled cost "
                               "would replay one dropout mask at every step; train it uncompiled")
    assert all(np.array_equal(before[k], network.state()[k]) for k in before)
