"""`tinygraph render`: the document's networks and a user's script, drawn with the real `dot`."""

import shutil
import xml.etree.ElementTree as ET

import pytest

from tinygraph_models.cli import main

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def _texts(path) -> str:
    return " ".join(t.text or "" for t in ET.parse(path).iter(f"{SVG}text"))


def test_render_writes_each_network_before_and_after_backward(tmp_path, capsys):
    assert main(["render", "--show-grads", "--out", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(f"{m}{s}.svg" for m in ("logistic", "shallow", "deep") for s in ("", "-backward"))
    deep = _texts(tmp_path / "deep.svg")
    for word in ["W1", "b5", "Z3", "A4", "matmul", "relu", "sigmoid", "binary_cross_entropy", "(5, 64)"]:
        assert word in deep
    assert "dW1" not in deep  # no gradients before backward
    after = _texts(tmp_path / "deep-backward.svg")
    assert "dW1" in after and "dZ5" in after and "dx = g * out * (1 - out)" in after


def test_render_a_users_script(tmp_path, capsys):
    script = tmp_path / "mine.py"
    script.write_text(
        "import tinygraph as tg\n"
        "x = tg.Tensor([1.0, 2.0], requires_grad=True, name='x')\n"
        "root = (tg.tanh(x) * x).sum().named('total')\n"
    )
    out = tmp_path / "out"
    assert main(["render", "--script", str(script), "--show-grads", "--out", str(out)]) == 0
    text = _texts(out / "mine.svg")
    assert "total" in text and "tanh" in text and "dx" in text


def test_a_script_without_a_graph_is_a_one_line_error(tmp_path, capsys):
    script = tmp_path / "empty.py"
    script.write_text("value = 3\n")
    assert main(["render", "--script", str(script), "--out", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "define `root`" in err
