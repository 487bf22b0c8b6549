"""``python -m benchmarks``: tinygraph against hand-written numpy (and PyTorch), as one markdown report.

Run it with OpenBLAS left to choose its own kernel::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks

Options: ``--quick`` (a smoke run of about half a minute: fewer rounds, shorter
chains, smaller renders, one thread only), ``--check-only`` (only the gradient checks,
nothing timed; exit status 1 when any engine differs), ``--threads 1|default|both``
(the main table pins BLAS and PyTorch to one thread; ``both``, the default, adds a
table at the libraries' default thread counts), ``--rows 1,4,8`` (a subset), ``--json PATH`` (every
number behind the tables). Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time

from benchmarks import check, engines as engine_registry, machine, rows, ten_class, workloads
from benchmarks.report import table, verdicts

ALL_ROWS = ("1", "2", "3", "4", "5", "6", "7", "8", "9") + ten_class.ROWS

#: The workloads each row times, so the check covers exactly what will run.
CHECKED = {
    "1": ["deep"], "2": ["logistic"], "3": ["mlp32", "mlp64"], "4": ["chain2k"], "5": ["chain100k"],
    "6": ["deep", "mlp32", "mlp64"], "7": [], "8": ["small"], "9": ["deep"],
    **{r: [] for r in ten_class.ROWS},  # rows 10-12 check their own workloads (ten_class.check_all)
}  # fmt: skip


def parse(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run: fewer rounds, shorter chains")
    parser.add_argument("--check-only", action="store_true", help="check every engine's gradients, time nothing")
    parser.add_argument("--threads", choices=("1", "default", "both"), default=None,
                        help="BLAS/PyTorch threads: the main table's ('both', the default without --quick: "
                        "1, plus a default-threads table; --quick alone means 1)")
    parser.add_argument("--rows", default=",".join(ALL_ROWS), help="rows to run, e.g. 1,4,8 (default: all)")
    parser.add_argument("--json", metavar="PATH", help="also write every number behind the tables to PATH")
    args = parser.parse_args(argv)
    if args.threads is None:
        args.threads = "1" if args.quick else "both"
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in args.rows if r not in ALL_ROWS]
    if unknown:
        parser.error(f"--rows: unknown row(s) {', '.join(unknown)}; the rows are {', '.join(ALL_ROWS)}")
    return args


def progress(message: str) -> None:
    print(f"[benchmarks {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed_rows(selected, engines, checks, settings) -> list:
    """The in-process timed rows (1, 2, 3, 4, 8): run under the caller's thread setting."""
    out = []
    if "1" in selected:
        progress("row 1: the document's deep net")
        out.append(rows.mlp_row("1", workloads.DEEP, 1.10, engines, checks, settings, compiled_limit=1.02))
    if "2" in selected:
        progress("row 2: logistic regression")
        out.append(rows.mlp_row("2", workloads.LOGISTIC, 1.10, engines, checks, settings))
    if "3" in selected:
        progress("row 3: matrix-bound MLP, float32 and float64")
        out.append(rows.mlp_row("3a", workloads.MATRIX32, 1.05, engines, checks, settings))
        out.append(rows.mlp_row("3b", workloads.MATRIX64, 1.05, engines, checks, settings))
    if "4" in selected:
        progress("row 4: per-op overhead")
        out.append(rows.per_op_row(engines, checks, settings))
    if "8" in selected:
        progress("row 8: the document's net, small")
        out.append(rows.mlp_row("8", workloads.SMALL, 2.0, engines, checks, settings, compiled_limit=1.15))
    if "9" in selected:
        progress("row 9: tg.compile's tracing and code generation")
        out.append(rows.compile_time_row(engines, checks, settings))
    out += ten_class.timed_rows(selected, engines, checks, settings, progress)
    return out


def main(argv=None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    settings = rows.Settings.make(args.quick)
    main_mode = "default" if args.threads == "default" else "1"
    engines = engine_registry.load()
    report = {"command": "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv)}

    print("# tinygraph benchmarks\n")
    print(f"Command: `{report['command']}`" + ("  (quick: smoke-run sizes, not for the bars)" if args.quick else ""))
    print()
    # Before anything is pinned: describe() also notes PyTorch's default thread count.
    print("\n".join(machine.describe(main_mode)))
    status = engine_registry.status()
    print("- engines: " + ", ".join(f"{name} {info}" if ok else f"{name}: {info}" for name, (ok, info) in status.items()))
    print(f"- load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()

    keys = list(dict.fromkeys(k for r in args.rows for k in CHECKED[r]))
    progress(f"checking gradients of {', '.join(keys)} on {', '.join(engines)}")
    checks = check.check_all(engines, keys) + ten_class.check_all(engines, args.rows)
    all_ok = all(r.ok for r in checks)
    print("## Gradient check (before any timing)\n")
    print(f"Every engine against hand-written numpy on the same weights; float64 bound {check.TOLERANCE:.0e}.\n")
    print("\n".join(check.table(checks)))
    print()
    if args.check_only:
        print(f"Gradient check: {'all engines agree' if all_ok else 'SOME ENGINES DIFFER'}.")
        return 0 if all_ok else 1

    main_rows = []
    floor_lines = []
    with machine.threads(main_mode):
        main_rows += timed_rows(args.rows, engines, checks, settings)
        if "1" in args.rows or "2" in args.rows:
            progress("memory-bandwidth floor of rows 1-2")
            floor_rows = {r.number: r for r in main_rows if r.number in ("1", "2")}
            floor_lines, report["bandwidth"] = rows.bandwidth_floor(floor_rows)
        if "5" in args.rows:
            progress(f"row 5b: {settings.long_ops:,}-op chain")
            main_rows.append(rows.long_chain_row(engines, checks, settings))
            progress(f"row 5a: {settings.very_long_ops:,}-op chain (child processes)")
            main_rows.append(rows.very_long_chain_row(engines, checks, settings))
    if "6" in args.rows:
        progress("row 6: peak memory of one step (child processes)")
        main_rows += rows.memory_rows(engines, checks, settings, main_mode)
    if "7" in args.rows:
        progress("row 7: rendering (child processes)")
        main_rows += rows.render_rows(settings)
    order = {n: i for i, n in enumerate(["1", "2", "3a", "3b", "4", "5a", "5b", "6a", "6b", "6c", "7a", "7b", "7c", "8", "9", "10", "11a", "11b", "12"])}
    main_rows.sort(key=lambda r: order.get(r.number, 99))

    default_rows = []
    if args.threads == "both":
        with machine.threads("default"):
            progress("the timed rows again at the libraries' default thread counts")
            default_rows = timed_rows(args.rows, engines, checks, settings.for_default_threads())

    threads_text = "BLAS and PyTorch on 1 thread" if main_mode == "1" else "default threads"
    print(f"## Results ({threads_text})\n")
    print("Times are medians over interleaved rounds, with the interquartile range; ratios divide medians by")
    print("hand-written numpy's. tm = tracemalloc peak, RSS = peak resident-set growth during the step.\n")
    print("\n".join(table(main_rows, engines)))
    print()
    if floor_lines:
        print("### Memory-bandwidth floor of rows 1-2 (X read twice: forward W1·X, backward dZ1·Xᵀ)\n")
        print("\n".join(floor_lines))
        print()
    if default_rows:
        print(f"## The timed rows at default threads (numpy BLAS {machine.numpy_blas().get('num_threads')} threads)\n")
        print("Informational: the bars are judged on the one-thread table above.\n")
        print("\n".join(table(default_rows, engines)))
        print()
    print("## Bars (one-thread table)\n" if main_mode == "1" else "## Bars\n")
    print("\n".join(verdicts(main_rows)))
    print()
    elapsed = time.perf_counter() - started
    print(f"Total time {elapsed:.0f} s; load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}.")

    if args.json:
        report["rows"] = {r.number: {"workload": r.workload, "raw": r.raw, "bars": [vars(b) for b in r.bars]} for r in main_rows}
        report["default_threads_rows"] = {r.number: r.raw for r in default_rows}
        report["checks"] = [vars(c) | {"ok": c.ok} for c in checks]
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1, default=float)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
