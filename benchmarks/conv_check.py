"""``python -m benchmarks.conv_check``: conv2d + max_pool2d, forward and backward, against
PyTorch (float64) and a hand-written numpy im2col, on one thread.

The workload is the first block of the issue's CNN: images (64, 1, 8, 8), 16 filters
3x3 with a bias, stride 1, no padding, then a 2x2 max-pool; backward from a fixed
random gradient of the pooled output (64, 16, 3, 3). Two cases: the input needs no
gradient (a first layer: only dW and db) and it does (a hidden layer: dX as well).
Every engine's gradients are checked against tinygraph's before anything is timed.

Run it with BLAS left to pick its kernel and pinned to one thread::

    OPENBLAS_NUM_THREADS=1 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python -m benchmarks.conv_check

Options: ``--budget SECONDS`` per case (default 4), ``--json PATH``. The timing is
``benchmarks.timing.interleave`` (round-robin, engines alternate who goes first).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

import tinygraph as tg
from benchmarks import machine
from benchmarks.timing import interleave, paired_ratio

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # PyTorch is an optional comparison
    torch = None

SHAPES = {"x": (64, 1, 8, 8), "w": (16, 1, 3, 3), "b": (16,), "out": (64, 16, 3, 3)}
POOL = 2


def inputs(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.standard_normal(SHAPES["x"]),
        "w": rng.standard_normal(SHAPES["w"]) / 3.0,
        "b": rng.standard_normal(SHAPES["b"]) * 0.1,
        "g": rng.standard_normal(SHAPES["out"]),
    }


# ----------------------------------------------------------------- the three engines


def tinygraph_step(a: dict, x_grad: bool):
    x = tg.Tensor(a["x"], requires_grad=x_grad)
    w = tg.Tensor(a["w"], requires_grad=True)
    b = tg.Tensor(a["b"], requires_grad=True)
    params = (x, w, b) if x_grad else (w, b)

    def step():
        for p in params:
            p.grad = None
        out = tg.max_pool2d(tg.conv2d(x, w, b), POOL)
        out.backward(a["g"])
        return [p.grad for p in params]

    return step


def torch_step(a: dict, x_grad: bool):
    x = torch.tensor(a["x"], requires_grad=x_grad)
    w = torch.tensor(a["w"], requires_grad=True)
    b = torch.tensor(a["b"], requires_grad=True)
    g = torch.from_numpy(a["g"])
    params = (x, w, b) if x_grad else (w, b)

    def step():
        for p in params:
            p.grad = None
        out = F.max_pool2d(F.conv2d(x, w, b), POOL)
        out.backward(g)
        return [p.grad.numpy() for p in params]

    return step


def numpy_step(a: dict, x_grad: bool):
    """im2col by hand: the windows copied into a (N*H'*W', C*kh*kw) matrix, one matmul;
    the pool by a reshape (its windows tile the map); backward the same way round."""
    x, w, b, g = a["x"], a["w"], a["b"], a["g"]
    n, c, h, wd = x.shape
    f, _, kh, kw = w.shape
    ho, wo = h - kh + 1, wd - kw + 1
    ph, pw = ho // POOL, wo // POOL

    def step():
        windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))  # (n, c, ho, wo, kh, kw)
        cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)
        z = (cols @ w.reshape(f, -1).T + b).reshape(n, ho, wo, f).transpose(0, 3, 1, 2)  # (n, f, ho, wo)
        tiles = z[:, :, : ph * POOL, : pw * POOL].reshape(n, f, ph, POOL, pw, POOL)
        out = tiles.max(axis=(3, 5))
        # backward: ties share the gradient equally, as tinygraph and the tie rule say
        hit = tiles == out[:, :, :, None, :, None]
        share = hit / hit.sum(axis=(3, 5), keepdims=True)
        dz = np.zeros((n, f, ho, wo))
        dz[:, :, : ph * POOL, : pw * POOL] = (share * g[:, :, :, None, :, None]).reshape(n, f, ph * POOL, pw * POOL)
        rows = dz.transpose(0, 2, 3, 1).reshape(n * ho * wo, f)
        dw = (rows.T @ cols).reshape(w.shape)
        db = rows.sum(axis=0)
        if not x_grad:
            return [dw, db]
        dcols = (rows @ w.reshape(f, -1)).reshape(n, ho, wo, c, kh, kw)
        dx = np.zeros_like(x)
        for i in range(kh):
            for j in range(kw):
                dx[:, :, i : i + ho, j : j + wo] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return [dx, dw, db]

    return step


# ----------------------------------------------------------------- check, time, report


def check(steps: dict) -> None:
    """Every engine's gradients equal tinygraph's to 1e-10 (float64), or exit 1."""
    reference = steps["tinygraph"]()
    for name, step in steps.items():
        for i, (got, want) in enumerate(zip(step(), reference)):
            if not np.allclose(got, want, rtol=1e-10, atol=1e-10):
                print(f"conv_check: {name}'s gradient {i} differs from tinygraph's by {np.abs(got - want).max():.3g}", file=sys.stderr)
                sys.exit(1)


def run(budget: float) -> dict:
    a = inputs()
    results = {}
    for x_grad in (False, True):
        case = "dX, dW, db" if x_grad else "dW, db (input needs no gradient)"
        steps = {"tinygraph": tinygraph_step(a, x_grad), "numpy im2col": numpy_step(a, x_grad)}
        if torch is not None:
            steps["torch"] = torch_step(a, x_grad)
        check(steps)
        with machine.threads("1"):
            times = interleave(steps, budget=budget, min_rounds=30)
        results[case] = times
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.conv_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=4.0, help="seconds of timing per case (default 4)")
    parser.add_argument("--json", metavar="PATH", help="also write the numbers to PATH")
    args = parser.parse_args(argv)
    if torch is not None:
        torch.set_num_threads(1)
    results = run(args.budget)
    print(f"conv2d (16 filters 3x3, bias) + max_pool2d 2, forward + backward, x {SHAPES['x']}, float64, one thread")
    print(f"numpy {np.__version__}, torch {torch.__version__ if torch is not None else 'not installed'}, {machine.cpu_model()}")
    print()
    print("| gradients | engine | median µs | IQR µs | tinygraph / engine (medians) | paired |")
    print("|---|---|---:|---:|---:|---:|")
    report = {}
    for case, times in results.items():
        ours = times["tinygraph"]
        for name, s in times.items():
            ratio = ours.median / s.median
            print(f"| {case} | {name} | {s.median * 1e6:.0f} | {(s.q3 - s.q1) * 1e6:.0f} | "
                  f"{ratio:.2f}x | {paired_ratio(ours, s):.2f}x |")
            report.setdefault(case, {})[name] = {"median_s": s.median, "q1_s": s.q1, "q3_s": s.q3, "rounds": s.n}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
