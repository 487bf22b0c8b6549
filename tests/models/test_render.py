"""`tinygraph render`: the document's networks and a user's script, drawn with the real `dot`."""

import os
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


# --------------------------------------------------------------------------- options and --out


def test_max_nodes_and_collapse_reach_draw(tmp_path, capsys, monkeypatch):
    from tinygraph import viz

    seen = []
    real = viz.render

    def spy(root, path, **options):
        seen.append(options)
        return real(root, path, **options)

    monkeypatch.setattr(viz, "render", spy)
    assert main(["render", "--model", "deep", "--max-nodes", "2000", "--collapse", "scopes", "--out", str(tmp_path)]) == 0
    assert seen and all(o["max_nodes"] == 2000 and o["collapse"] == "scopes" for o in seen)
    seen.clear()
    assert main(["render", "--model", "logistic", "--collapse", "all", "--out", str(tmp_path)]) == 0
    assert seen[0]["collapse"] is True and seen[0]["max_nodes"] == 2000
    seen.clear()
    assert main(["render", "--model", "logistic", "--out", str(tmp_path)]) == 0
    assert seen[0]["collapse"] == "auto"
    seen.clear()
    assert main(["render", "--model", "logistic", "--collapse", "none", "--out", str(tmp_path)]) == 0
    assert seen[0]["collapse"] is False


def test_a_graph_above_max_nodes_is_refused_in_the_commands_words(tmp_path, capsys):
    assert main(["render", "--model", "deep", "--max-nodes", "10", "--collapse", "none", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("tinygraph render: error: ")
    assert "max_nodes=10" in err and "--max-nodes " in err and "--collapse all" in err
    assert list(tmp_path.iterdir()) == []


def test_collapse_merges_the_layers(tmp_path, capsys):
    assert main(["render", "--model", "deep", "--collapse", "scopes", "--out", str(tmp_path)]) == 0
    collapsed = _texts(tmp_path / "deep.svg")
    assert main(["render", "--model", "deep", "--out", str(tmp_path / "full")]) == 0
    assert len(collapsed) < len(_texts(tmp_path / "full" / "deep.svg"))


def test_out_on_a_file_says_so(tmp_path, capsys):
    target = tmp_path / "picture.svg"
    target.write_text("mine")
    assert main(["render", "--out", str(target)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"tinygraph render: error: --out {target} is a file, not a folder; give a folder for the pictures"
    assert target.read_text() == "mine"


def test_out_in_a_read_only_folder_says_so(tmp_path, capsys, monkeypatch):
    import os

    monkeypatch.setattr(os, "access", lambda path, mode: False)  # root would write anyway; pretend
    assert main(["render", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"tinygraph render: error: --out {tmp_path}: no permission to write in this folder; choose another --out"
    )


def test_a_write_refused_late_is_said_in_plain_words(tmp_path, capsys, monkeypatch):
    from tinygraph import viz

    def refused(root, path, **options):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(viz, "render", refused)
    assert main(["render", "--model", "logistic", "--out", str(tmp_path)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"tinygraph render: error: --out {tmp_path}: no permission to write logistic.svg in this folder; choose another --out"
    )


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write into a read-only folder")
def test_a_real_read_only_folder(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(["render", "--model", "logistic", "--out", str(locked)]) == 1
    finally:
        locked.chmod(0o755)
    assert "no permission to write in this folder" in capsys.readouterr().err
