"""The engines compared, each a module with the same small interface.

Every engine module has ``NAME``, ``LABEL``, ``available() -> (ok, version or reason)``
and two classes built from the plain numpy data of :mod:`benchmarks.workloads`:

* ``MLP(parameters, X, Y, lr)`` with ``step()`` (forward, cost, backward, update: the
  timed work) and ``gradients() -> (cost, {"dW1": array, "db1": array, ...})`` at the
  current weights, without updating (what the gradient check compares);
* ``Chain(x, w, kinds)`` with ``forward()``, ``backward(state)``, ``run()`` (both: the
  timed work) and ``gradients() -> (loss, {"x": array, "w": array})``.

``gradients`` runs the same code as ``step``/``run``, so what is checked is what is timed.
"""

from __future__ import annotations

import importlib

#: Engine name -> module, in table order; hand-written numpy first (every ratio divides by it).
_MODULES = {
    "numpy": "benchmarks.engines.numpy_hand",
    "tinygraph": "benchmarks.engines.tinygraph_engine",
    "compiled": "benchmarks.engines.compiled_engine",
    "torch": "benchmarks.engines.torch_engine",
}


def load(names=None) -> dict:
    """``{name: module}`` for every engine that can run here (PyTorch only when importable)."""
    engines = {}
    for name, path in _MODULES.items():
        if names is not None and name not in names:
            continue
        module = importlib.import_module(path)
        ok, _ = module.available()
        if ok:
            engines[name] = module
    return engines


def status() -> dict:
    """``{name: (ok, version or reason)}`` for every engine, runnable or not."""
    return {name: importlib.import_module(path).available() for name, path in _MODULES.items()}
