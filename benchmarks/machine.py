"""The machine the numbers come from, and the thread settings they were taken with."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

#: Set on some machines to steer OpenBLAS's kernel choice; a benchmark run unsets them
#: together, so OpenBLAS detects the CPU: ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE``.
OPENBLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

_torch_default_threads = None


def _torch():
    """PyTorch if something already imported it (importing it here would cost seconds
    in children that never use it); its default thread count is remembered on first sight,
    before anything pins it, so that "default" can restore it."""
    global _torch_default_threads
    torch = sys.modules.get("torch")
    if torch is not None and _torch_default_threads is None:
        _torch_default_threads = torch.get_num_threads()
    return torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def threads(mode: str):
    """Run the block with BLAS (and PyTorch) on one thread (``"1"``) or as they come (``"default"``).

    threadpoolctl caps every native pool it finds (numpy's OpenBLAS, PyTorch's OpenMP);
    PyTorch's intra-op pool is set through its own call as well.
    """
    if mode not in ("1", "default"):
        raise ValueError(f"threads: mode must be '1' or 'default', got {mode!r}")
    torch = _torch()
    if mode == "default":
        if torch is not None:
            torch.set_num_threads(_torch_default_threads)
        yield
        return
    with threadpool_limits(limits=1):
        if torch is not None:
            before = torch.get_num_threads()
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)


def blas_pools() -> list:
    """One dict per BLAS / OpenMP library loaded: what runs, which kernel, how many threads."""
    return [
        {k: info.get(k) for k in ("user_api", "internal_api", "version", "architecture", "num_threads", "filepath")}
        for info in threadpool_info()
    ]


def numpy_blas() -> dict:
    """numpy's own BLAS (the pool whose file lives under numpy's package)."""
    pools = [p for p in blas_pools() if p["user_api"] == "blas"]
    for p in pools:
        if "numpy" in (p["filepath"] or ""):
            return p
    return pools[0] if pools else {}


def tinygraph_revision() -> str:
    """The commit the measured tinygraph comes from, and whether its files differ from it."""
    root = Path(__file__).resolve().parent.parent

    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "tinygraph")
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    if not head:
        return "unknown (not a git checkout)"
    return head + (" with uncommitted changes in tinygraph/" if dirty else "")


def describe(mode: str) -> list:
    """Lines of machine information, for the report."""
    blas = numpy_blas()
    lines = [
        f"- CPU: {cpu_model()}; {usable_cores()} usable cores ({os.cpu_count()} logical)",
        f"- Python {platform.python_version()} ({sys.implementation.name}), numpy {np.__version__}",
        f"- numpy BLAS: {blas.get('internal_api')} {blas.get('version')}, kernel `{blas.get('architecture')}`, "
        f"{blas.get('num_threads')} threads by default",
        f"- tinygraph: git {tinygraph_revision()}",
    ]
    overrides = {name: os.environ[name] for name in OPENBLAS_OVERRIDES if name in os.environ}
    if overrides:
        shown = ", ".join(f"{k}={v}" for k, v in overrides.items())
        lines.append(
            f"- WARNING: set in the environment: {shown}; they override OpenBLAS's own kernel choice; "
            "for comparable numbers run "
            "`env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m benchmarks`"
        )
    else:
        lines.append("- OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE: unset (OpenBLAS picks its kernel itself)")
    torch = _torch()
    if torch is not None:
        lines.append(f"- PyTorch {torch.__version__}, {_torch_default_threads} intra-op threads by default")
    elif importlib.util.find_spec("torch") is None:
        lines.append("- PyTorch: not installed (its column is left out)")
    else:
        lines.append("- PyTorch: installed, not loaded by this run")
    lines.append(
        "- threads for the main table: "
        + ("1 (threadpoolctl threadpool_limits(1), torch.set_num_threads(1))" if mode == "1" else "library defaults")
    )
    return lines
