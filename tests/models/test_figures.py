"""The committed pictures in docs/img/graphs state the settings they were drawn with (the
layer sizes in the title, every parameter's shape): those must be today's defaults.

Regenerate them with the command in docs/graphs.md when this fails. The pictures are
not compared byte for byte, so a change of the renderer's style does not fail this;
a change of a network's default layers, or of the samples drawn, does.
"""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tinygraph_models import nets, render
from tinygraph_models.data import load_dataset

ROOT = Path(__file__).resolve().parents[2]
GRAPHS = ROOT / "docs" / "img" / "graphs"
SVG = "{http://www.w3.org/2000/svg}"
N_X = load_dataset("digits").n_features


def texts(path) -> list:
    return [t.text or "" for t in ET.parse(path).iter(f"{SVG}text")]


def test_the_folder_holds_each_network_before_and_after_backward():
    assert sorted(p.name for p in GRAPHS.glob("*.svg")) == sorted(
        f"{model}{suffix}.svg" for model in nets.MODELS for suffix in ("", "-backward")
    )


def test_the_documented_command_is_the_one_that_writes_them():
    assert ".venv/bin/tinygraph render --show-grads --out docs/img/graphs" in (ROOT / "docs" / "graphs.md").read_text()


@pytest.mark.parametrize("model", list(nets.MODELS))
@pytest.mark.parametrize("suffix", ["", "-backward"])
def test_each_picture_states_the_current_defaults(model, suffix):
    units = nets.default_units(model, N_X)
    words = texts(GRAPHS / f"{model}{suffix}.svg")
    title = f"{render.TITLES[model]}: {units}, cost on {render.SAMPLES} digits" + (", after backward()" if suffix else "")
    assert title in words, f"{model}{suffix}.svg is stale: its title is not {title!r}; regenerate it (docs/graphs.md)"
    joined = " ".join(words)
    for l in range(1, len(units)):
        for name, shape in ((f"W{l}", (units[l], units[l - 1])), (f"b{l}", (units[l], 1))):
            assert f"{shape} float64" in words, f"{model}{suffix}.svg: no {name} of shape {shape}"
            assert re.search(rf"\b{name}\b", joined), f"{model}{suffix}.svg: no {name}"
    assert f"({N_X}, {render.SAMPLES}) float64" in words  # X: the samples drawn
    assert f"W{len(units)}" not in joined  # no layer beyond the defaults
    assert ("dW1" in joined) == bool(suffix)  # gradients after backward only
