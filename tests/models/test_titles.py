"""The pictures of a run folder (cost.png, flow.png, confusion.png) show their whole title and
a readable cost axis: every setting of the run is in the title matplotlib holds, and the drawn
title lies inside the figure, however long it is."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tinygraph_models import cli, train  # noqa: E402
from tinygraph_models.flow import flow_figure  # noqa: E402

LONG = "mlp [64, 512, 10] on digits10\nadam lr=0.003, init=he, weight decay 0.1, dropout 0.5"
TITLES = [
    "deep [64, 5, 5, 5, 3, 1] on digits\ngd lr=0.1, init=he",  # the default run
    LONG,  # the newcomer's: "dropout 0.5" was drawn as "dropout 0"
    LONG.replace("\n", ", "),  # one line: it must be wrapped
    "deep [64, " + "30, " * 30 + "1] on digits\ngd lr=0.1, init=xavier, weight decay 0.001",  # wider than the figure
    "shallow [30, 4, 1] on a_file_name_with_no_spaces_at_all_that_is_far_too_long_for_one_line_of_the_figure",
    "softmax [64, 10] on costs$in$dollars",  # "$...$" is plain text, not mathtext
]


def assert_whole_title(fig, ax, title):
    """The title matplotlib holds is ``title`` with line breaks only, and its drawn extent is inside the figure."""
    fig.canvas.draw()
    held = ax.title.get_text()
    squeezed = "".join(held.split())  # a word too long for a line is cut inside: no space was there
    assert " ".join(held.split()) == " ".join(title.split()) or squeezed == "".join(title.split()), held
    box = ax.title.get_window_extent(fig.canvas.get_renderer())
    assert fig.bbox.x0 <= box.x0 and box.x1 <= fig.bbox.x1, (box, fig.bbox)
    assert fig.bbox.y0 <= box.y0 and box.y1 <= fig.bbox.y1, (box, fig.bbox)
    return held


@pytest.mark.parametrize("title", TITLES)
def test_the_cost_curves_title_is_whole_and_inside_the_figure(title):
    fig = train.cost_curve_figure([2.0, 0.5, 0.3, 0.2], title, n_classes=10)
    try:
        held = assert_whole_title(fig, fig.axes[0], title)
    finally:
        plt.close(fig)
    if title == LONG:
        assert held == LONG  # two lines that fit are left as they are
        assert "weight decay 0.1, dropout 0.5" in held


@pytest.mark.parametrize("title", TITLES)
def test_the_flow_pictures_title_is_whole_and_inside_the_figure(title):
    history = {"epochs": [1, 2], "reports": [{}, {}], "grad_norm": {"layer1": [1.0, 0.5], "layer2": [2.0, 0.1]}}
    fig = flow_figure(history, title=title)
    try:
        assert_whole_title(fig, fig.axes[0], title)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("n", [2, 10])
@pytest.mark.parametrize("title", TITLES[:4])
def test_the_confusion_matrixs_title_is_whole_and_inside_the_figure(title, n):
    matrix = np.eye(n, dtype=int) * 5
    fig = train.confusion_figure(matrix, [str(k) for k in range(n)], title)
    try:
        held = assert_whole_title(fig, fig.axes[0], f"{title}\n{5 * n} of {5 * n} right; off the diagonal in red: the mistakes")
    finally:
        plt.close(fig)
    assert held.endswith("the mistakes")


def test_the_command_puts_every_setting_in_the_pictures_titles(tmp_path, capsys, monkeypatch):
    titles = {}

    def save_cost_curve(path, costs, title, **kwargs):
        titles["cost"] = title

    def write_confusion(path, network, data, title):
        titles["confusion"] = title
        return {}

    monkeypatch.setattr(train, "save_cost_curve", save_cost_curve)
    monkeypatch.setattr(train, "write_confusion", write_confusion)
    status = cli.main(["train", "--model", "mlp", "--weight-decay", "0.1", "--dropout", "0.5", "--epochs", "1",
                       "--seed", "3", "--quiet", "--out", str(tmp_path / "r")])
    capsys.readouterr()
    assert status == 0
    assert titles["cost"] == titles["confusion"] == LONG
    fig = train.cost_curve_figure([1.0, 0.5], titles["cost"], n_classes=10)
    try:
        assert_whole_title(fig, fig.axes[0], LONG)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- the cost axis


@pytest.mark.parametrize(
    "costs, scale",
    [
        ([0.731, 0.105, 0.0626, 0.0492, 0.0162], "log"),  # the default MLP's: a 45-fold fall
        ([0.74, 0.3, 0.1, 0.0246], "log"),  # the default deep net's, 30-fold
        ([0.69, 0.5, 0.3, 0.1], "linear"),  # a 7-fold fall reads well on a linear axis
        ([2.3026, 2.3026, 2.3025], "linear"),  # learned nothing: the flat line at ln 10, from 0
    ],
)
def test_a_cost_that_spans_more_than_20_fold_is_drawn_on_a_log_scale(costs, scale):
    fig = train.cost_curve_figure(costs, "t", n_classes=10)
    try:
        ax = fig.axes[0]
        assert ax.get_yscale() == scale
        if scale == "linear":
            assert ax.get_ylim()[0] == 0
        else:  # ticks written as numbers (0.02), not as powers of ten
            fig.canvas.draw()
            labels = [t.get_text() for t in ax.get_yticklabels() + ax.get_yticklabels(minor=True) if t.get_text()]
            assert labels and all("10^" not in t and "$" not in t for t in labels), labels
            assert "0.1" in labels
    finally:
        plt.close(fig)


def test_a_one_epoch_cost_curve_is_not_blank():
    fig = train.cost_curve_figure([0.73], "t", n_classes=10)
    try:
        (line,) = fig.axes[0].get_lines()[:1]
        assert line.get_marker() == "o" and list(line.get_ydata()) == [0.73]
    finally:
        plt.close(fig)
