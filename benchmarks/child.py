"""Measurements that need a process of their own, run as ``python -m benchmarks.child TASK_JSON``.

Peak memory is only meaningful in a fresh process: the parent's heap already holds
every other engine's arrays and whatever the allocator kept from earlier rows. A long
chain or a large render also may take long or fail, and in a child the parent can stop
it (``timeout``) and still print its table. Each task prints one JSON object.

Two ways to measure memory, each where it is right:

* ``tracemalloc``: bytes allocated through Python's allocators and numpy's (numpy
  reports its array buffers to tracemalloc), counted exactly and independent of the
  C allocator's habits; it is the fair numpy-vs-tinygraph measure. PyTorch allocates
  its tensors in C++ outside it, so it cannot compare PyTorch.
* ``rss``: the growth of the process's resident set during the step, as the kernel
  sees it: ``VmHWM`` (peak RSS) after the step minus ``VmRSS`` before it, with the peak
  reset through ``/proc/self/clear_refs`` first. It counts every engine alike,
  PyTorch included. The parent runs these children with ``MALLOC_MMAP_THRESHOLD_``
  fixed (which also switches off glibc's sliding threshold), so that every buffer
  above 64 KiB is its own mapping, returned to the kernel when freed; otherwise freed
  buffers stay in the heap and the next step reuses them unseen, depending on what
  ran before.
"""

from __future__ import annotations

import gc
import json
import os
import re
import statistics
import sys
import tempfile
import time
import tracemalloc

from benchmarks import engines as engine_registry
from benchmarks import machine, workloads
from benchmarks.workloads import LEARNING_RATE

#: The environment of memory children: see the module docstring.
MEMORY_ENV = {"MALLOC_MMAP_THRESHOLD_": str(64 * 1024)}


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak_rss() -> None:
    # "5" resets the peak RSS (VmHWM) to the current RSS (Linux 4.0+).
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


class _Meter:
    """Peak bytes above the level at ``start``, by RSS or by tracemalloc."""

    def __init__(self, method: str):
        if method not in ("rss", "tracemalloc"):
            raise ValueError(f"unknown memory method {method!r}")
        self.method = method
        if method == "tracemalloc":
            tracemalloc.start()

    def start(self) -> None:
        gc.collect()
        if self.method == "rss":
            self.base = _status("VmRSS")
            _reset_peak_rss()
        else:
            self.base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()

    def peak(self) -> int:
        if self.method == "rss":
            return _status("VmHWM") - self.base
        return tracemalloc.get_traced_memory()[1] - self.base


def peak_step(task: dict) -> dict:
    """Peak memory of one training step (after a warm-up step), the median of ``repeats``."""
    engine = engine_registry.load([task["engine"]])[task["engine"]]
    workload = workloads.WORKLOADS[task["workload"]]
    parameters, X, Y = workload.data()
    with machine.threads(task["threads"]):
        model = engine.MLP(parameters, X, Y, LEARNING_RATE)
        model.step()  # first-call costs (BLAS buffers, lazy imports) are not the step's
        meter = _Meter(task["method"])
        peaks = []
        for _ in range(task.get("repeats", 3)):
            meter.start()
            model.step()
            peaks.append(meter.peak())
    return {"peak": statistics.median(peaks), "peaks": peaks, "input_bytes": X.nbytes}


def long_chain(task: dict) -> dict:
    """Forward and backward of a long chain: times, and peak memory per op."""
    engine = engine_registry.load([task["engine"]])[task["engine"]]
    workload = workloads.WORKLOADS[task["workload"]]
    n_ops = task.get("n_ops", workload.n_ops)
    chain = workloads.Chain(workload.key, workload.title, n_ops, workload.shape, workload.seed)
    x, w = chain.data()
    runner = engine.Chain(x, w, chain.kinds())
    meter = _Meter(task["method"])
    meter.start()
    t0 = time.perf_counter()
    state = runner.forward()
    t1 = time.perf_counter()
    after_forward = meter.peak()
    grads = runner.backward(state)
    t2 = time.perf_counter()
    peak = meter.peak()
    finite = all(bool((abs(g) < float("inf")).all()) for g in grads.values())
    del state, grads
    t3 = time.perf_counter()
    return {
        "n_ops": n_ops,
        "forward_s": t1 - t0,
        "backward_s": t2 - t1,
        "free_s": t3 - t2,
        "peak_after_forward": after_forward,
        "peak": peak,
        "bytes_per_op": peak / n_ops,
        "finite": finite,
    }


def render(task: dict) -> dict:
    """Build a graph of about ``nodes`` nodes; time ``tg.draw`` and ``tinygraph.viz.render`` (DOT to SVG)."""
    import numpy as np

    import tinygraph as tg

    try:
        from tinygraph.viz import render as render_file
    except ImportError as err:
        return {"missing": f"tinygraph.viz.render is not there yet ({err})"}

    def build(layers: int):
        # The document's deep net, stretched: each layer is Z = W A + b; A = tanh(Z)
        # with its own W and b, so a layer draws 3 ops, 3 results and 2 parameters.
        rng = np.random.default_rng(0)
        A = tg.Tensor(rng.standard_normal((4, 3)), name="X")
        for l in range(1, layers + 1):
            W = tg.Tensor(rng.standard_normal((4, 4)) * 0.5, requires_grad=True, name=f"W{l}")
            b = tg.Tensor(np.zeros((4, 1)), requires_grad=True, name=f"b{l}")
            A = tg.tanh(W @ A + b)
        return A.sum()

    def count(layers: int) -> int:
        # Node statements of the DOT text ("op3 [label=..."), not the defaults (graph, node, edge).
        source = tg.draw(build(layers), max_nodes=10**9).source
        ids = re.findall(r"^\s*(\w+) \[", source, flags=re.MULTILINE)
        return sum(1 for name in ids if name not in ("graph", "node", "edge"))

    one, two = count(1), count(2)
    per_layer, fixed = two - one, one - (two - one)
    layers = max(1, round((task["nodes"] - fixed) / per_layer))
    root = build(layers)
    t0 = time.perf_counter()
    dot = tg.draw(root, max_nodes=10**9)
    t1 = time.perf_counter()
    result = {"nodes": fixed + per_layer * layers, "layers": layers, "dot_chars": len(dot.source), "draw_s": t1 - t0}
    # Printed now, so that a parent that stops a slow render still knows the draw time.
    print(json.dumps(result), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        path = render_file(root, os.path.join(tmp, "graph.svg"), format="svg", max_nodes=10**9)
        t2 = time.perf_counter()
        result |= {"render_s": t2 - t1, "svg_bytes": os.path.getsize(path)}
    return result


TASKS = {"peak_step": peak_step, "long_chain": long_chain, "render": render}


def main(argv) -> int:
    task = json.loads(argv[1])
    result = TASKS[task["kind"]](task)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
