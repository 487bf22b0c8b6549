"""Where an engine's time goes on one row: ``python -m benchmarks.profiling ROW``.

Runs the row's timed call (a training step, or a chain's forward and backward) under
cProfile, BLAS pinned to one thread as in the main table, after a warm-up call, and
prints the top functions by own time (``tottime``) and by cumulative time::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks.profiling 8
    python -m benchmarks.profiling 4 --engine numpy --top 15

cProfile adds a fixed cost to every Python call, so an engine made of many small
calls looks slower under it than it is; compare functions with each other, and take
speeds from ``python -m benchmarks``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import re
import statistics
import sys
import time

from benchmarks import engines as engine_registry
from benchmarks import machine, workloads
from benchmarks.workloads import LEARNING_RATE

#: Row -> (workload, calls to profile).
ROWS = {
    "1": (workloads.DEEP, 20),
    "2": (workloads.LOGISTIC, 40),
    "3a": (workloads.MATRIX32, 10),
    "3b": (workloads.MATRIX64, 10),
    "4": (workloads.PER_OP, 20),
    "5b": (workloads.LONG, 1),
    "8": (workloads.SMALL, 500),
}


def runner(engine, workload):
    if isinstance(workload, workloads.Chain):
        x, w = workload.data()
        return engine.Chain(x, w, workload.kinds()).run
    parameters, X, Y = workload.data()
    return engine.MLP(parameters, X, Y, LEARNING_RATE).step


def _forward_backward_split(engine, workload, repeats: int = 15) -> tuple:
    """Median seconds per op of a chain's forward and of its backward, timed apart, unprofiled."""
    x, w = workload.data()
    chain = engine.Chain(x, w, workload.kinds())
    forward, backward = [], []
    with machine.threads("1"):
        for _ in range(repeats):
            t0 = time.perf_counter()
            state = chain.forward()
            t1 = time.perf_counter()
            chain.backward(state)
            t2 = time.perf_counter()
            del state
            forward.append((t1 - t0) / workload.n_ops)
            backward.append((t2 - t1) / workload.n_ops)
    return statistics.median(forward), statistics.median(backward), repeats


def profile(row: str, engine_name: str = "tinygraph", top: int = 20, calls: int | None = None) -> str:
    """Markdown: the top functions by own and by cumulative time, per step (or per op of a chain)."""
    workload, default_calls = ROWS[row]
    calls = calls or default_calls
    engine = engine_registry.load([engine_name])[engine_name]
    call = runner(engine, workload)
    with machine.threads("1"):
        call()  # warm-up: first-call costs are not the row's
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(calls):
            call()
        profiler.disable()
    # Per op for chains (what row 4 reports), per step for training steps.
    is_chain = isinstance(workload, workloads.Chain)
    units = calls * (workload.n_ops if is_chain else 1)
    unit = "op" if is_chain else "step"
    split = _forward_backward_split(engine, workload) if is_chain else None
    stats = pstats.Stats(profiler, stream=io.StringIO()).stats
    total = sum(tt for (_, _, tt, _, _) in stats.values())
    lines = [
        f"row {row}: {workload.title} ({workload.describe()}), {engine_name}, {calls} profiled calls; "
        f"total {total / units * 1e6:.3g} µs per {unit} under cProfile",
    ]
    if split:
        lines.append(
            f"without the profiler (median of {split[2]} chains): forward {split[0] * 1e6:.3g} µs per op, "
            f"backward {split[1] * 1e6:.3g} µs per op"
        )
    for key, index in (("tottime", 2), ("cumulative", 3)):
        lines += [
            "",
            f"top {top} by {key}:",
            "",
            f"| function | calls per {unit} | own µs per {unit} | cumulative µs per {unit} |",
            "|---|---|---|---|",
        ]
        ranked = sorted(stats.items(), key=lambda item: item[1][index], reverse=True)[:top]
        for (filename, line, name), (_, ncalls, tt, ct, _) in ranked:
            # Built-ins are named with their address ("... at 0x7f..."), which differs run to run.
            where = f"{filename.rsplit('/', 1)[-1]}:{line}({name})" if line else re.sub(r" at 0x[0-9a-f]+", "", name)
            lines.append(f"| `{where}` | {ncalls / units:.3g} | {tt / units * 1e6:.3g} | {ct / units * 1e6:.3g} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling", description=__doc__.split("\n\n")[0])
    parser.add_argument("row", choices=sorted(ROWS), help="the row of the table")
    parser.add_argument("--engine", default="tinygraph", choices=("numpy", "tinygraph", "torch"))
    parser.add_argument("--top", type=int, default=20, help="functions listed per ordering")
    parser.add_argument("--calls", type=int, help="profiled calls (default: about a second's worth)")
    args = parser.parse_args(argv)
    print(profile(args.row, args.engine, args.top, args.calls))
    return 0


if __name__ == "__main__":
    sys.exit(main())
