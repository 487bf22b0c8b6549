"""Imports run one way: _shapes -> _graph -> _ops -> tensor -> functional, losses, nn, optim ->
testing, viz -> the package facade -> models. Checked on the source, every import statement
(inside functions too), so a circle cannot come back unnoticed."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tinygraph"

# The layer of each module, by the first matching prefix; a module may import only its own
# layer or lower ones. New modules land in the library layer unless listed here.
LAYERS = [
    ("tinygraph._shapes", 0),
    ("tinygraph._files", 0),
    ("tinygraph._graph", 1),
    ("tinygraph._ops", 2),
    ("tinygraph.tensor", 3),
    ("tinygraph.testing", 5),
    ("tinygraph.viz", 5),
    ("tinygraph", 4),  # functional, losses, nn, optim, data, ...: the library above the Tensor
]
FACADE = "tinygraph"  # tinygraph/__init__.py: imports everything, imported by nothing inside


def layer(module: str) -> int:
    for prefix, rank in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return rank
    raise AssertionError(f"{module} is not a tinygraph module")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imports_of(path: Path) -> set:
    """Every tinygraph module ``path`` imports, at the top or inside a function."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            # `from tinygraph import nn` imports the submodule tinygraph.nn; `from tinygraph.tensor import Tensor`
            # imports tinygraph.tensor.
            submodules = {f"{base}.{alias.name}" for alias in node.names if _is_module(f"{base}.{alias.name}")}
            found.update(submodules if submodules else {base})
    return {m for m in found if m == "tinygraph" or m.startswith("tinygraph.")}


MODULES = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_one_way(module):
    for target in MODULES[module]:
        if module == FACADE:
            continue
        assert target != FACADE, f"{module} imports the package facade `tinygraph`; import the module it needs"
        assert not target.startswith("tinygraph_models"), f"{module} imports models/: the library never does"
        assert layer(target) <= layer(module), f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})"


def test_no_import_circle():
    graph = {m: {t for t in targets if t in MODULES and t != m} for m, targets in MODULES.items()}
    # A submodule import also runs its package's __init__.
    done, active = set(), []

    def visit(m):
        if m in active:
            raise AssertionError("import circle: " + " -> ".join(active[active.index(m) :] + [m]))
        if m in done:
            return
        active.append(m)
        for t in sorted(graph[m]):
            visit(t)
        active.pop()
        done.add(m)

    for m in sorted(graph):
        if m != FACADE:
            visit(m)


def test_importing_tinygraph_loads_neither_graphviz_nor_the_command_line_libraries():
    code = "import sys, tinygraph; print(sorted(m for m in ('graphviz', 'matplotlib', 'tqdm', 'hypothesis') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
