"""The accuracy bars of issue 3, reached by the defaults of `tinygraph train`.

Each run goes through ``train.fit``, the function the command itself trains with, so the
bars hold for what a user gets by typing the command. Averages are over seeds 0-4 on
the test split. About 20 s on 2 cores.
"""

import math
from functools import lru_cache

import numpy as np
import pytest

from tinygraph_models import cli, train
from tinygraph_models.data import load_dataset

pytestmark = pytest.mark.slow

SEEDS = range(5)


@lru_cache(maxsize=None)
def dataset(name):
    return load_dataset(name)


@lru_cache(maxsize=None)
def accuracies(model, data, init="he"):
    """Test accuracy for each seed, with the command's defaults."""
    return tuple(train.fit(dataset(data), model, init=init, seed=seed)[1].test_accuracy for seed in SEEDS)


@pytest.mark.parametrize(
    "model, data, bar",
    [("deep", "digits", 0.93), ("logistic", "breast-cancer", 0.95), ("deep", "breast-cancer", 0.93)],
)
def test_the_defaults_reach_the_bar_averaged_over_five_seeds(model, data, bar):
    measured = accuracies(model, data)
    assert np.mean(measured) >= bar, f"{model} on {data}: {measured}"


@pytest.mark.parametrize("model", ["shallow", "deep"])
def test_on_digits_hidden_layers_beat_logistic_regression_by_two_points(model):
    deeper, logistic = np.mean(accuracies(model, "digits")), np.mean(accuracies("logistic", "digits"))
    assert deeper >= logistic + 0.02, f"{model} {deeper:.4f} vs logistic {logistic:.4f}"


def test_the_documents_init_leaves_the_deep_net_at_a_coin_flip():
    # Erratum E13: np.random.rand(...) * 0.01 makes the deep ReLU net's signal vanish,
    # so gradient descent with the defaults never moves the cost off ln 2.
    data = dataset("digits")
    for seed in SEEDS:
        network, history, config = train.fit(data, "deep", init="document", seed=seed)
        assert config["redrawn_units"] == []  # the document's own draws, untouched
        costs = np.array(history.costs + [history.final_cost])
        assert np.max(np.abs(costs - math.log(2))) < 0.01, f"seed {seed}: cost went to {costs.min():.4f}..{costs.max():.4f}"
        assert history.test_accuracy < 0.6  # no better than the majority class


def test_the_command_trains_what_fit_trains(tmp_path, capsys):
    # Ties the numbers above to the command: the same seed gives the same test accuracy.
    import json

    assert cli.main(["train", "--quiet", "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test_accuracy"] == accuracies("deep", "digits")[0]
