"""Each row of the table: run its measurement and turn the numbers into a :class:`Row`.

In-process rows (1-4, 5b, 8) time the engines round-robin in this process; rows 5a,
6 and 7 run in child processes (:mod:`benchmarks.child`), which the parent may stop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmarks import check, workloads
from benchmarks.child import MEMORY_ENV
from benchmarks.report import Bar, Row, ratio, seconds, size, summary_cell
from benchmarks.timing import interleave, paired_ratio
from benchmarks.workloads import LEARNING_RATE

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """How hard to measure: the full run's numbers, or a smoke run's (``--quick``)."""

    quick: bool
    budget: float  # seconds of timed rounds for each in-process row
    chain_rounds: int  # rounds of the 100,000-op chain (row 5b)
    long_ops: int  # ops of row 5b's chain
    very_long_ops: int  # ops of row 5a's chain
    render_sizes: tuple
    memory_workloads: tuple
    render_timeout: float
    chain_timeout: float
    min_rounds: int = 5  # of each in-process row, however long a round takes

    def for_default_threads(self) -> "Settings":
        """Half the budget and three rounds at least: the default-threads table is
        informational, and oversubscribed threads on a busy machine can make one round
        take seconds (see docs/performance.md)."""
        return replace(self, budget=self.budget / 2, min_rounds=3)

    @classmethod
    def make(cls, quick: bool) -> "Settings":
        if quick:
            return cls(
                quick=True, budget=0.3, chain_rounds=1, long_ops=20_000, very_long_ops=100_000,
                render_sizes=(100, 1_000), memory_workloads=("deep",), render_timeout=60.0, chain_timeout=60.0,
            )
        return cls(
            quick=False, budget=4.0, chain_rounds=5, long_ops=100_000, very_long_ops=1_000_000,
            render_sizes=(100, 1_000, 10_000), memory_workloads=("deep", "mlp32", "mlp64"),
            # The 10,000-node render is stopped at 45 s (its bar is 10 s), to keep the run under 5 minutes.
            render_timeout=45.0, chain_timeout=180.0,
        )


def _untimed(engines, checks, key) -> dict:
    """Engines that failed the gradient check of ``key`` (or do not run it): they are not timed there."""
    out = {name: "not run here" for name, engine in engines.items() if key in getattr(engine, "SKIPS", ())}
    return out | {name: "not timed: gradients differ from numpy" for name in engines if check.failed(checks, key, name)}


def _ratios(results: dict) -> dict:
    """``ratio of medians (paired: median of per-round ratios)`` against numpy."""
    base = results.get("numpy")
    if base is None:
        return {}
    return {
        name: f"{ratio(s.median / base.median)} (paired {ratio(paired_ratio(s, base))})"
        for name, s in results.items()
        if name != "numpy"
    }


def _raw(results: dict) -> dict:
    return {name: vars(s) for name, s in results.items()}


# ----------------------------------------------------------------- rows 1, 2, 3, 8: one training step


def mlp_row(number: str, workload, limit: float, engines, checks, settings, compiled_limit: float | None = None) -> Row:
    parameters, X, Y = workload.data()
    skipped = _untimed(engines, checks, workload.key)
    calls = {
        name: engine.MLP(parameters, X, Y, LEARNING_RATE).step for name, engine in engines.items() if name not in skipped
    }
    results = interleave(calls, budget=settings.budget, min_rounds=settings.min_rounds, warmup=2)
    n = next(iter(results.values())).n if results else 0
    row = Row(number, f"{workload.title}: {workload.describe()}; {n} rounds")
    row.cells = {name: summary_cell(s) for name, s in results.items()} | skipped
    row.ratios = _ratios(results)
    row.raw = _raw(results)
    if "tinygraph" in results and "numpy" in results:
        r = results["tinygraph"].median / results["numpy"].median
        row.bars.append(Bar(f"tinygraph ≤ {limit:.2f}× numpy", r <= limit))
    else:
        row.bars.append(Bar(f"tinygraph ≤ {limit:.2f}× numpy", None))
    if compiled_limit is not None and "compiled" in engines:
        judged = "compiled" in results and "numpy" in results
        r = results["compiled"].median / results["numpy"].median if judged else None
        row.bars.append(Bar(f"compiled ≤ {compiled_limit:.2f}× numpy", r <= compiled_limit if judged else None))
    return row


# ----------------------------------------------------------------- row 4: per-op overhead


def per_op_row(engines, checks, settings) -> Row:
    workload = workloads.PER_OP
    x, w = workload.data()
    kinds = workload.kinds()
    skipped = _untimed(engines, checks, workload.key)
    calls = {name: engine.Chain(x, w, kinds).run for name, engine in engines.items() if name not in skipped}
    results = interleave(calls, budget=settings.budget, min_rounds=settings.min_rounds)
    per_op = {name: s.scaled(1 / workload.n_ops) for name, s in results.items()}
    n = next(iter(results.values())).n if results else 0
    row = Row("4", f"{workload.title}: {workload.describe()} (tanh, ×w, +c), µs per op; {n} rounds")
    row.cells = {name: summary_cell(s, "µs/op", 1e6) for name, s in per_op.items()} | skipped
    row.ratios = _ratios(per_op)
    row.raw = _raw(per_op)
    tg, np_, pt = per_op.get("tinygraph"), per_op.get("numpy"), per_op.get("torch")
    judged = tg is not None and np_ is not None
    row.bars.append(Bar("tinygraph ≤ 2.0× numpy per op", tg.median <= 2.0 * np_.median if judged else None))
    if pt is not None:
        if tg is None:
            row.bars.append(Bar("tinygraph < ½ PyTorch per op", None))
        else:
            text = f"tinygraph < ½ PyTorch per op (tinygraph ÷ PyTorch = {tg.median / pt.median:.3f}×)"
            row.bars.append(Bar(text, tg.median < 0.5 * pt.median))
    if "compiled" in engines:
        compiled = per_op.get("compiled")
        ok = compiled.median <= 1.2 * np_.median if compiled is not None and np_ is not None else None
        row.bars.append(Bar("compiled ≤ 1.2× numpy per op", ok))
    return row


# ----------------------------------------------------------------- row 9: tg.compile's own cost


def compile_time_row(engines, checks, settings) -> Row:
    """Row 9: tracing plus code generation of the document's deep net, the first call of a fresh tg.compile.

    The first call also runs the generated forward once; a later call with the same shapes
    (only that) is timed too, so the difference is what tracing and generating cost.
    """
    workload = workloads.DEEP
    row = Row("9", f"tg.compile of the deep net's cost ({workload.describe()}): first call (trace + generate + run) and a later call")
    if "compiled" not in engines:
        row.cells["compiled"] = "not run"
        row.bars.append(Bar("trace + code generation < 50 ms", None))
        return row
    if check.failed(checks, workload.key, "compiled"):
        row.cells["compiled"] = "not run: gradients differ from numpy"
        row.bars.append(Bar("trace + code generation < 50 ms", None))
        return row
    parameters, X, Y = workload.data()
    firsts, laters = [], []
    for _ in range(3 if settings.quick else 9):
        model = engines["compiled"].MLP(parameters, X, Y, LEARNING_RATE)
        t0 = time.perf_counter()
        model.cost(model.X, model.Y)
        t1 = time.perf_counter()
        model.cost(model.X, model.Y)
        t2 = time.perf_counter()
        firsts.append(t1 - t0)
        laters.append(t2 - t1)
    first, later = float(np.median(firsts)), float(np.median(laters))
    row.cells["compiled"] = (
        f"first call {seconds(first)}, later call {seconds(later)}: trace + generation ≈ {seconds(first - later)} "
        f"(median of {len(firsts)} fresh compiles)"
    )
    row.raw["compiled"] = {"first_s": firsts, "later_s": laters}
    row.bars.append(Bar(f"trace + code generation < 50 ms ({seconds(first - later)})", first - later < 0.05))
    return row


# ----------------------------------------------------------------- row 5: long chains


def long_chain_row(engines, checks, settings) -> Row:
    """Row 5b: a long chain, forward and backward, timed in this process."""
    base = workloads.LONG
    workload = workloads.Chain(base.key, base.title, settings.long_ops, base.shape, base.seed)
    x, w = workload.data()
    kinds = workload.kinds()
    skipped = _untimed(engines, checks, base.key)
    calls = {name: engine.Chain(x, w, kinds).run for name, engine in engines.items() if name not in skipped}
    # Each call is seconds long and warms itself up; the rounds still rotate the order.
    results = interleave(calls, budget=0.0, min_rounds=settings.chain_rounds, max_rounds=settings.chain_rounds, warmup=0)
    row = Row("5b", f"{settings.long_ops:,}-op chain on a (1,) array, forward + backward; {settings.chain_rounds} rounds")
    row.cells = {name: summary_cell(s) for name, s in results.items()} | skipped
    row.ratios = _ratios(results)
    row.raw = _raw(results)
    tg, pt = results.get("tinygraph"), results.get("torch")
    if pt is not None:
        # Three decimals: this bar is often decided in the third digit.
        text = "tinygraph faster than PyTorch" + (f" (tinygraph ÷ PyTorch = {tg.median / pt.median:.3f}×)" if tg else "")
        row.bars.append(Bar(text, None if tg is None else tg.median < pt.median))
    else:
        row.bars.append(Bar("tinygraph faster than PyTorch (PyTorch not installed)", None))
    return row


def very_long_chain_row(engines, checks, settings) -> Row:
    """Row 5a: the longest chain, each engine alone in a child process: does backward complete, at what memory?"""
    n_ops = settings.very_long_ops
    row = Row("5a", f"{n_ops:,}-op chain on a (1,) array: forward, backward; peak RSS growth per op")
    # PyTorch is left out: its column here would cost as long again and is not a bar.
    for name in ("numpy", "tinygraph"):
        if name not in engines:
            continue
        if check.failed(checks, workloads.LONG.key, name):
            row.cells[name] = "not run: gradients differ from numpy"
            continue
        task = {"kind": "long_chain", "engine": name, "workload": workloads.VERY_LONG.key, "n_ops": n_ops, "method": "rss"}
        result = run_child(task, timeout=settings.chain_timeout)
        row.raw[name] = result
        if _finished(result, "peak"):
            row.cells[name] = (
                f"fwd {seconds(result['forward_s'])} + bwd {seconds(result['backward_s'])}; "
                f"peak +{size(result['peak'])} = {result['bytes_per_op']:.0f} B/op"
            )
        else:
            row.cells[name] = _child_failure(result)
    tg, np_ = row.raw.get("tinygraph", {}), row.raw.get("numpy", {})
    if _finished(tg, "peak") and _finished(np_, "peak"):
        t_tg, t_np = tg["forward_s"] + tg["backward_s"], np_["forward_s"] + np_["backward_s"]
        row.ratios["tinygraph"] = f"{ratio(t_tg / t_np)} time, {ratio(tg['peak'] / np_['peak'])} memory"
    completed = _finished(tg, "peak") and tg["finite"]
    per_op = f" ({tg['bytes_per_op']:.0f} B/node)" if completed else ""
    row.bars.append(Bar(f"tinygraph's backward completes; peak memory per node stated{per_op}", completed if tg else None))
    return row


# ----------------------------------------------------------------- row 6: peak memory of a step


def memory_rows(engines, checks, settings, mode: str) -> list:
    rows = []
    names = {"deep": ("6a", "row 1"), "mlp32": ("6b", "row 3, float32"), "mlp64": ("6c", "row 3, float64")}
    for key in settings.memory_workloads:
        workload = workloads.WORKLOADS[key]
        number, of = names[key]
        row = Row(number, f"peak memory of one step ({of}: {workload.describe()}); tracemalloc / RSS growth")
        measured = {}
        for name in engines:
            if check.failed(checks, key, name):
                row.cells[name] = "not run: gradients differ from numpy"
                continue
            # PyTorch's tensors live outside tracemalloc: only RSS compares it.
            methods = ("tracemalloc", "rss") if name != "torch" else ("rss",)
            for method in methods:
                task = {"kind": "peak_step", "engine": name, "workload": key, "method": method, "threads": mode}
                measured[name, method] = run_child(task, timeout=120, env=MEMORY_ENV)
            parts = []
            for method in methods:
                result = measured[name, method]
                tag = "tm" if method == "tracemalloc" else "RSS"
                parts.append(f"{size(result['peak'])} {tag}" if _finished(result, "peak") else _child_failure(result))
            row.cells[name] = " / ".join(parts)
        row.raw = {f"{name}/{method}": result for (name, method), result in measured.items()}

        def peak(name, method, measured=measured):
            result = measured.get((name, method), {})
            return result["peak"] if _finished(result, "peak") else None

        for name in engines:
            if name == "numpy":
                continue
            bits = []
            for method, tag in (("tracemalloc", "tm"), ("rss", "RSS")):
                mine, base = peak(name, method), peak("numpy", method)
                if mine is not None and base:
                    bits.append(f"{ratio(mine / base)} {tag}")
            if bits:
                row.ratios[name] = ", ".join(bits)
        mine, base = peak("tinygraph", "tracemalloc"), peak("numpy", "tracemalloc")
        row.bars.append(Bar("tinygraph ≤ 1.2× numpy (tracemalloc)", None if mine is None or not base else mine <= 1.2 * base))
        rows.append(row)
    return rows


# ----------------------------------------------------------------- row 7: rendering


def render_rows(settings) -> list:
    rows = []
    for i, nodes in enumerate(settings.render_sizes):
        row = Row(f"7{'abc'[i]}", f"tg.draw + tinygraph.viz.render to SVG, a graph of ~{nodes:,} nodes")
        result = run_child({"kind": "render", "nodes": nodes}, timeout=settings.render_timeout)
        row.raw["tinygraph"] = result
        if "missing" in result:
            row.cells["tinygraph"] = result["missing"]
        elif _finished(result, "render_s"):
            row.cells["tinygraph"] = (
                f"{result['nodes']:,} nodes: draw {seconds(result['draw_s'])}, "
                f"render (draw + dot) {seconds(result['render_s'])}"
            )
        elif "draw_s" in result:
            row.cells["tinygraph"] = (
                f"{result['nodes']:,} nodes: draw {seconds(result['draw_s'])}, render {_child_failure(result)}"
            )
        else:
            row.cells["tinygraph"] = _child_failure(result)
        if nodes == 10_000:
            ok = None if "missing" in result else (_finished(result, "render_s") and result["render_s"] < 10.0)
            row.bars.append(Bar("10,000 nodes render in under 10 s", ok))
        rows.append(row)
    return rows


# ----------------------------------------------------------------- the memory-bandwidth floor of rows 1-2


def _best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)  # the achievable speed: slower runs only add the machine's noise


def _dram_bandwidth() -> tuple:
    """Bytes per second of a sum (read) and of a copy (read + write) of a 200 MB array."""
    big = np.random.default_rng(0).random(25_000_000)  # 200 MB of float64, far beyond any cache
    dst = np.empty_like(big)
    dst.fill(0.0)  # touch every page now, so the copies time bandwidth, not page faults
    t_sum = _best_time(big.sum, 5)
    t_copy = _best_time(lambda: np.copyto(dst, big), 5)
    return big.nbytes / t_sum, 2 * big.nbytes / t_copy


def bandwidth_floor(main_rows: dict) -> tuple:
    """Lines of the floor table: reading X twice at the bandwidth numpy achieves on this machine.

    A step must read X once in the forward ``W1 X`` and once in the backward
    ``dZ1 X^T``, so it cannot take less than two reads of X at the speed X comes from.
    Two speeds are measured: DRAM's (a 200 MB array, far beyond the caches), and that of
    X itself summed again and again, which is faster where the last-level cache holds
    X (20.5 MB) between steps. Where X stays cached, a step can beat the DRAM floor.
    """
    read_bw, copy_bw = _dram_bandwidth()
    X = workloads.DEEP.data()[1]
    t_sum_x = _best_time(X.sum, 10)
    floor_dram = 2 * X.nbytes / read_bw
    floor_cache = 2 * t_sum_x
    lines = [
        f"Bandwidth on this machine (one thread, best of 5): sum of a 200 MB array {read_bw / 1e9:.1f} GB/s read; "
        f"copy of it {copy_bw / 1e9:.1f} GB/s (read + write); sum of X ({size(X.nbytes)}) again and again "
        f"{X.nbytes / t_sum_x / 1e9:.1f} GB/s.",
        "",
        "| row | floor: X read twice from DRAM | floor: X read twice, cache-warm | numpy (hand) ÷ floors | tinygraph ÷ floors |",
        "|---|---|---|---|---|",
    ]
    raw = {"read_bw": read_bw, "copy_bw": copy_bw, "x_sum_s": t_sum_x, "floor_dram_s": floor_dram, "floor_cache_s": floor_cache}
    for number, row in main_rows.items():
        cells = []
        for name in ("numpy", "tinygraph"):
            s = row.raw.get(name)
            if s is None:
                cells.append("—")
            else:
                cells.append(f"{ratio(s['median'] / floor_dram)} DRAM, {ratio(s['median'] / floor_cache)} cache")
        lines.append(f"| {number} | {seconds(floor_dram)} | {seconds(floor_cache)} | {cells[0]} | {cells[1]} |")
    return lines, raw


# ----------------------------------------------------------------- children


def run_child(task: dict, timeout: float, env: dict | None = None) -> dict:
    """Run one :mod:`benchmarks.child` task: the last JSON line it printed, plus
    ``{"timeout": seconds}`` if it was stopped or ``{"error": text}`` if it failed."""
    environment = dict(os.environ, **(env or {}))
    command = [sys.executable, "-m", "benchmarks.child", json.dumps(task)]
    # A session of its own, so a timeout stops the child and anything it started (dot).
    proc = subprocess.Popen(
        command, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    stopped = {}
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        stopped = {"timeout": timeout}
    printed = [line for line in out.splitlines() if line.startswith("{")]
    result = json.loads(printed[-1]) if printed else {}
    if not stopped and proc.returncode != 0:
        tail = (err.strip().splitlines() or ["no output"])[-1]
        return result | {"error": f"exit {proc.returncode}: {tail}"}
    return result | stopped


def _finished(result: dict, key: str) -> bool:
    """Whether a child's result holds ``key`` and the child ran to its end."""
    return key in result and "timeout" not in result and "error" not in result


def _child_failure(result: dict) -> str:
    if "timeout" in result:
        return f"did not finish in {result['timeout']:.0f} s (stopped)"
    return f"failed: {result.get('error', result)}"
