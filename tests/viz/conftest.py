"""The renderer's tests import their helpers (viz_helpers.py, beside them) and the graph
shapes of benchmarks/render_shapes.py: pytest's importlib mode puts neither on sys.path."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parents[1]):  # tests/viz, the repository root
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
