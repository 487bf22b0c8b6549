"""Before anything is timed: every engine must compute the same gradients as hand-written numpy.

Each MLP workload runs in float64 from the same weights; each engine's cost and every
``dW_l``, ``db_l`` must match numpy's to a relative error below :data:`TOLERANCE`. The
numpy engine itself is held to ``tinygraph_models.hand`` (the document's formulas as
written, corrected), so the floor is known to compute the right thing. A float32
workload is also run in float32: every gradient must come back float32 (an engine
that silently computed in float64 would be doing other work) and close to numpy's.
Chains are checked on a shorter chain built by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks import workloads
from benchmarks.workloads import LEARNING_RATE, MLP

#: Largest relative error (2-norm of the difference over the 2-norm of numpy's) in float64.
TOLERANCE = 1e-8
#: For float32 runs, which round differently in every BLAS: a sanity bound, not a proof.
TOLERANCE_FLOAT32 = 1e-4


@dataclass
class Result:
    workload: str
    engine: str
    dtype: str
    error: float  # largest relative error over the cost and every gradient
    worst: str  # which quantity had it
    dtype_ok: bool
    tolerance: float

    @property
    def ok(self) -> bool:
        return self.dtype_ok and self.error < self.tolerance


def relative_error(got, want) -> float:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return float("inf")
    scale = np.linalg.norm(want)
    diff = np.linalg.norm(got - want)
    return float(diff / scale) if scale > 0 else float(diff)


def _compare(workload, engine, dtype, cost, grads, ref_cost, ref_grads, tolerance) -> Result:
    errors = {"cost": relative_error(cost, ref_cost)}
    dtype_ok = set(grads) == set(ref_grads)
    for name, want in ref_grads.items():
        got = grads.get(name)
        if got is None:
            errors[name] = float("inf")
            continue
        if not np.any(want):
            # A gradient that is zero everywhere (dead ReLUs, an underflowed chain)
            # matches anything that is also zero: the comparison would prove nothing.
            errors[f"{name}: reference is all zeros"] = float("inf")
            continue
        errors[name] = relative_error(got, want)
        dtype_ok &= np.asarray(got).dtype == np.dtype(dtype)
    worst = max(errors, key=errors.get)
    return Result(workload, engine, dtype, errors[worst], worst, bool(dtype_ok), tolerance)


def check_mlp(workload: MLP, engines: dict) -> list:
    results = []
    dtypes = ["float64"] if workload.dtype == "float64" else ["float64", workload.dtype]
    for dtype in dtypes:
        tolerance = TOLERANCE if dtype == "float64" else TOLERANCE_FLOAT32
        parameters, X, Y = workload.data(dtype)
        ref_cost, ref_grads = engines["numpy"].MLP(parameters, X, Y, LEARNING_RATE).gradients()
        if dtype == "float64":
            results.append(_against_hand(workload, parameters, X, Y, ref_cost, ref_grads))
        for name, engine in engines.items():
            if workload.key in getattr(engine, "SKIPS", ()):
                continue
            cost, grads = engine.MLP(parameters, X, Y, LEARNING_RATE).gradients()
            results.append(_compare(workload.key, name, dtype, cost, grads, ref_cost, ref_grads, tolerance))
    return results


def _against_hand(workload, parameters, X, Y, cost, grads) -> Result:
    """The floor against the project's literal, corrected formulas."""
    from tinygraph_models import hand

    ref_cost, ref_grads = hand.cost_and_gradients(parameters, X, Y)
    return _compare(workload.key, "numpy vs models.hand", "float64", cost, grads, float(ref_cost), ref_grads, TOLERANCE)


def check_chain(workload, engines: dict) -> list:
    x, w = workload.data()
    kinds = workload.kinds()
    ref_loss, ref_grads = engines["numpy"].Chain(x, w, kinds).gradients()
    results = []
    for name, engine in engines.items():
        if workload.key in getattr(engine, "SKIPS", ()):
            continue
        loss, grads = engine.Chain(x, w, kinds).gradients()
        results.append(_compare(workload.key, name, "float64", loss, grads, ref_loss, ref_grads, TOLERANCE))
    return results


def check_all(engines: dict, keys) -> list:
    """Check every workload in ``keys`` (MLP keys and chain keys) on every engine."""
    results = []
    for key in keys:
        if key in workloads.CHECK_CHAINS:
            results += check_chain(workloads.CHECK_CHAINS[key], engines)
        else:
            results += check_mlp(workloads.WORKLOADS[key], engines)
    return results


def failed(results, workload: str, engine: str) -> bool:
    """Whether ``engine`` failed any check of ``workload`` (it is then not timed there)."""
    return any(not r.ok for r in results if r.workload == workload and r.engine == engine)


def table(results) -> list:
    lines = [
        "| workload | engine | dtype | largest relative error (where) | dtypes kept | result |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        verdict = "ok" if r.ok else "FAIL"
        lines.append(
            f"| {r.workload} | {r.engine} | {r.dtype} | {r.error:.1e} ({r.worst}) < {r.tolerance:.0e}? "
            f"| {'yes' if r.dtype_ok else 'NO'} | {verdict} |"
        )
    return lines
