"""Rows 10-12: what the ten-class networks of issue 10 run on.

* Row 10: one training step of a softmax MLP [64, 128, 10] on 256 samples (ReLU hidden
  layer, ``cross_entropy`` of the logits against integer labels, gradient descent), against
  the same step written by hand in numpy (``dZ2 = (A2 - Y) / N``). Bar: tinygraph ≤ 1.3×.
* Row 11: ``conv2d`` + ``max_pool2d``, forward and backward, on images (64, 1, 8, 8) with
  16 filters 3x3 and a bias, then a 2x2 pool: the CNN's first block. Against PyTorch
  (float64, one thread; bar: tinygraph ≤ 2.0×) and a hand-written numpy im2col (the
  floor column, whose ratio is stated). 11a: the input needs no gradient (a first
  layer: dW, db); 11b: it does (dX as well). The engines are those of
  :mod:`benchmarks.conv_check`.
* Row 12: the backward of ``t[index]`` for 10^4, 10^5 and 10^6 repeated integer indices
  into a vector of 1,000: time per index, which stays flat when the scatter is linear.
  Against a hand-written ``np.bincount`` scatter. Bar: each tenfold of indices costs at
  most 15× the time (linear is 10×; a quadratic scatter would be 100×).

Every engine's gradients are checked against the numpy floor before anything is timed,
and the numpy floor itself against central finite differences of its own cost (float64),
so the floor is known to compute the right thing.
"""

from __future__ import annotations

import time

import numpy as np

import tinygraph as tg
from benchmarks import conv_check
from benchmarks.check import TOLERANCE, Result, relative_error
from benchmarks.report import Bar, Row, ratio, summary_cell
from benchmarks.timing import interleave, paired_ratio

ROWS = ("10", "11", "12")

#: Largest relative error of a central difference (step 1e-6) against the floor's gradient.
FD_TOLERANCE = 1e-6

SOFTMAX_UNITS = (64, 128, 10)
SOFTMAX_SAMPLES = 256
LEARNING_RATE = 0.01

INDEX_SIZES = (10**4, 10**5, 10**6)
INDEX_ROWS = 1000


# ----------------------------------------------------------------- row 10: the softmax MLP step


def softmax_data(seed: int = 0):
    """``(parameters, X, labels)``: He-initialised [64, 128, 10], inputs in [0, 1), labels 0..9."""
    rng = np.random.default_rng(seed)
    n_x, n_h, C = SOFTMAX_UNITS
    X = rng.random((n_x, SOFTMAX_SAMPLES))
    labels = rng.integers(0, C, SOFTMAX_SAMPLES)
    parameters = {
        "W1": rng.standard_normal((n_h, n_x)) * np.sqrt(2.0 / n_x), "b1": rng.standard_normal((n_h, 1)) * 0.1,
        "W2": rng.standard_normal((C, n_h)) * np.sqrt(2.0 / n_h), "b2": rng.standard_normal((C, 1)) * 0.1,
    }
    return parameters, X, labels


class NumpySoftmaxMLP:
    """The step by hand: the document's backward with a softmax head, dZ2 = (A2 - onehot) / N."""

    def __init__(self, parameters, X, labels, lr):
        self.p = {k: v.copy() for k, v in parameters.items()}
        self.X, self.labels, self.lr = X, labels, lr
        self.cols = np.arange(X.shape[1])

    def cost_of(self, p) -> float:
        A1 = np.maximum(p["W1"] @ self.X + p["b1"], 0.0)
        Z2 = p["W2"] @ A1 + p["b2"]
        Zs = Z2 - Z2.max(axis=0)
        return float(np.mean(np.log(np.exp(Zs).sum(axis=0)) - Zs[self.labels, self.cols]))

    def _backprop(self):
        p, X, N = self.p, self.X, self.X.shape[1]
        Z1 = p["W1"] @ X
        Z1 += p["b1"]
        A1 = np.maximum(Z1, 0.0, out=Z1)
        Z2 = p["W2"] @ A1
        Z2 += p["b2"]
        Z2 -= Z2.max(axis=0)  # the stable shift; the softmax does not change
        E = np.exp(Z2)
        S = E.sum(axis=0)
        cost = np.mean(np.log(S) - Z2[self.labels, self.cols])
        dZ2 = np.divide(E, S, out=E)
        dZ2[self.labels, self.cols] -= 1.0
        dZ2 /= N
        grads = {"dW2": dZ2 @ A1.T, "db2": dZ2.sum(axis=1, keepdims=True)}
        dA1 = p["W2"].T @ dZ2
        dZ1 = np.multiply(dA1, A1 > 0, out=dA1)
        grads["dW1"], grads["db1"] = dZ1 @ X.T, dZ1.sum(axis=1, keepdims=True)
        return float(cost), grads

    def step(self):
        _, grads = self._backprop()
        for name, value in self.p.items():
            value -= self.lr * grads[f"d{name}"]

    def gradients(self):
        return self._backprop()


class TinygraphSoftmaxMLP:
    """What a user writes: relu, @, +, tg.cross_entropy of the logits, backward(), update."""

    def __init__(self, parameters, X, labels, lr):
        self.p = {k: tg.Tensor(v.copy(), requires_grad=True, name=k) for k, v in parameters.items()}
        self.X, self.labels, self.lr = tg.Tensor(X, name="X"), labels, lr

    def _backprop(self):
        p = self.p
        A1 = tg.relu(p["W1"] @ self.X + p["b1"])
        cost = tg.cross_entropy(p["W2"] @ A1 + p["b2"], self.labels)
        cost.backward()
        return cost

    def step(self):
        self._backprop()
        for t in self.p.values():
            t.data -= self.lr * t.grad
            t.grad = None

    def gradients(self):
        cost = self._backprop()
        grads = {f"d{k}": t.grad for k, t in self.p.items()}
        for t in self.p.values():
            t.grad = None
        return cost.item(), grads


class CompiledSoftmaxMLP(TinygraphSoftmaxMLP):
    """The same cost through ``tg.compile`` (generated numpy), the parameters captured."""

    def __init__(self, parameters, X, labels, lr):
        super().__init__(parameters, X, labels, lr)
        p = self.p

        def cost(X, labels):
            return tg.cross_entropy(p["W2"] @ tg.relu(p["W1"] @ X + p["b1"]) + p["b2"], labels)

        self.cost = tg.compile(cost)

    def _backprop(self):
        cost = self.cost(self.X, self.labels)
        cost.backward()
        return cost


class TorchSoftmaxMLP:
    def __init__(self, parameters, X, labels, lr):
        import torch

        self.torch = torch
        self.p = {k: torch.tensor(v, requires_grad=True) for k, v in parameters.items()}
        self.X, self.labels, self.lr = torch.from_numpy(X), torch.from_numpy(labels), lr

    def _backprop(self):
        F = self.torch.nn.functional
        p = self.p
        Z2 = p["W2"] @ self.torch.relu(p["W1"] @ self.X + p["b1"]) + p["b2"]
        cost = F.cross_entropy(Z2.T, self.labels)  # PyTorch puts samples first
        cost.backward()
        return cost

    def step(self):
        self._backprop()
        with self.torch.no_grad():
            for t in self.p.values():
                t -= self.lr * t.grad
                t.grad = None

    def gradients(self):
        cost = self._backprop()
        grads = {f"d{k}": t.grad.numpy().copy() for k, t in self.p.items()}
        for t in self.p.values():
            t.grad = None
        return cost.item(), grads


SOFTMAX_ENGINES = {"numpy": NumpySoftmaxMLP, "tinygraph": TinygraphSoftmaxMLP, "compiled": CompiledSoftmaxMLP,
                   "torch": TorchSoftmaxMLP}


def _central_differences(cost_of, arrays: dict, grads: dict, picks: int, rng, key: str, workload: str) -> Result:
    """The floor's gradient against central differences of its own cost, at ``picks`` elements per array."""
    worst, where = 0.0, "none"
    for name, array in arrays.items():
        g = grads[f"{key}{name}"]
        scale = max(float(np.max(np.abs(g))), 1e-12)
        for flat in rng.choice(array.size, size=min(picks, array.size), replace=False):
            i = np.unravel_index(flat, array.shape)
            old = array[i]
            array[i] = old + 1e-6
            up = cost_of()
            array[i] = old - 1e-6
            down = cost_of()
            array[i] = old
            error = abs((up - down) / 2e-6 - g[i]) / scale
            if error > worst:
                worst, where = error, f"{name}{list(map(int, i))}"
    return Result(workload, "numpy vs central differences", "float64", worst, where, True, FD_TOLERANCE)


def check_softmax(engines: dict) -> list:
    parameters, X, labels = softmax_data()
    floor = NumpySoftmaxMLP(parameters, X, labels, LEARNING_RATE)
    ref_cost, ref_grads = floor.gradients()
    results = [_central_differences(lambda: floor.cost_of(floor.p), floor.p, ref_grads, 12,
                                    np.random.default_rng(1), "d", "softmax-mlp")]
    for name in engines:
        if name == "numpy" or name not in SOFTMAX_ENGINES:
            continue
        try:
            cost, grads = SOFTMAX_ENGINES[name](parameters, X, labels, LEARNING_RATE).gradients()
        except Exception as err:  # noqa: BLE001 - an engine that cannot run this is reported, not fatal
            results.append(Result("softmax-mlp", name, "float64", float("inf"), f"failed: {err}", False, TOLERANCE))
            continue
        errors = {"cost": relative_error(cost, ref_cost)} | {k: relative_error(grads[k], v) for k, v in ref_grads.items()}
        worst = max(errors, key=errors.get)
        dtypes = all(np.asarray(grads[k]).dtype == np.float64 for k in ref_grads)
        results.append(Result("softmax-mlp", name, "float64", errors[worst], worst, dtypes, TOLERANCE))
    return results


def softmax_row(engines: dict, checks: list, settings) -> Row:
    parameters, X, labels = softmax_data()
    ok = {r.engine for r in checks if r.workload == "softmax-mlp" and r.ok}
    calls, skipped = {}, {}
    for name in engines:
        if name not in SOFTMAX_ENGINES:
            continue
        if name != "numpy" and name not in ok:
            skipped[name] = "not timed: gradients differ from numpy (or it failed)"
            continue
        calls[name] = SOFTMAX_ENGINES[name](parameters, X, labels, LEARNING_RATE).step
    results = interleave(calls, budget=settings.budget, min_rounds=settings.min_rounds, warmup=2)
    n = next(iter(results.values())).n
    units = ", ".join(map(str, SOFTMAX_UNITS))
    row = Row("10", f"softmax MLP, one GD step: [{units}], N={SOFTMAX_SAMPLES}, cross_entropy on integer labels; {n} rounds")
    row.cells = {name: summary_cell(s) for name, s in results.items()} | skipped
    base = results["numpy"]
    row.ratios = {name: f"{ratio(s.median / base.median)} (paired {ratio(paired_ratio(s, base))})"
                  for name, s in results.items() if name != "numpy"}
    row.raw = {name: vars(s) for name, s in results.items()}
    tg_ = results.get("tinygraph")
    judged = tg_ is not None
    text = "tinygraph ≤ 1.30× numpy" + (f" ({tg_.median / base.median:.2f}×)" if judged else "")
    row.bars.append(Bar(text, tg_.median <= 1.3 * base.median if judged else None))
    return row


# ----------------------------------------------------------------- row 11: conv2d + max_pool2d


def _conv_steps(engines: dict, x_grad: bool) -> dict:
    a = conv_check.inputs()
    steps = {"numpy": conv_check.numpy_step(a, x_grad), "tinygraph": conv_check.tinygraph_step(a, x_grad)}
    if "torch" in engines and conv_check.torch is not None:
        steps["torch"] = conv_check.torch_step(a, x_grad)
    return steps


def _conv_floor_cost(a: dict, x_grad: bool):
    """The floor's cost sum(g * pool(conv(x))) and its gradients' names, for central differences."""

    def cost():
        x, w, b = a["x"], a["w"], a["b"]
        f = w.shape[0]
        n, _, h, wd = x.shape
        windows = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))
        z = np.einsum("nchwij,fcij->nfhw", windows, w) + b.reshape(1, f, 1, 1)
        ho = z.shape[2] // conv_check.POOL
        pooled = z[:, :, : ho * 2, : ho * 2].reshape(n, f, ho, 2, ho, 2).max(axis=(3, 5))
        return float(np.sum(a["g"] * pooled))

    return cost, (["x", "w", "b"] if x_grad else ["w", "b"])


def check_conv(engines: dict) -> list:
    results = []
    for x_grad, key in ((False, "conv-pool (dW, db)"), (True, "conv-pool (dX, dW, db)")):
        steps = _conv_steps(engines, x_grad)
        reference = steps["numpy"]()
        a = conv_check.inputs()
        cost, names = _conv_floor_cost(a, x_grad)
        grads = {f"d{name}": g for name, g in zip(names, reference)}
        results.append(_central_differences(cost, {name: a[name] for name in names}, grads, 12,
                                            np.random.default_rng(2), "d", key))
        for name, step in steps.items():
            if name == "numpy":
                continue
            got = step()
            errors = {f"d{n}": relative_error(g, r) for n, g, r in zip(names, got, reference)}
            worst = max(errors, key=errors.get)
            dtypes = all(np.asarray(g).dtype == np.float64 for g in got)
            results.append(Result(key, name, "float64", errors[worst], worst, dtypes, TOLERANCE))
    return results


def conv_rows(engines: dict, checks: list, settings) -> list:
    rows = []
    for x_grad, number, key in ((False, "11a", "conv-pool (dW, db)"), (True, "11b", "conv-pool (dX, dW, db)")):
        ok = {r.engine for r in checks if r.workload == key and r.ok}
        steps = _conv_steps(engines, x_grad)
        calls = {name: step for name, step in steps.items() if name == "numpy" or name in ok}
        skipped = {name: "not timed: gradients differ from numpy" for name in steps if name not in calls}
        if "compiled" in engines:
            skipped["compiled"] = "not run here"
        results = interleave(calls, budget=settings.budget, min_rounds=max(settings.min_rounds, 30), warmup=3)
        n = next(iter(results.values())).n
        x = conv_check.SHAPES["x"]
        what = "dX, dW, db" if x_grad else "dW, db; the input needs no gradient"
        row = Row(number, f"conv2d (16 filters 3x3, bias) + max_pool2d 2, forward + backward ({what}), x {x}, "
                          f"float64; {n} rounds")
        row.cells = {name: summary_cell(s) for name, s in results.items()} | skipped
        base = results["numpy"]
        row.ratios = {name: f"{ratio(s.median / base.median)} (paired {ratio(paired_ratio(s, base))})"
                      for name, s in results.items() if name != "numpy"}
        row.raw = {name: vars(s) for name, s in results.items()}
        tg_, pt = results.get("tinygraph"), results.get("torch")
        if tg_ is not None and pt is not None:
            text = (f"tinygraph ≤ 2.0× PyTorch (tinygraph ÷ PyTorch = {tg_.median / pt.median:.2f}×, "
                    f"paired {paired_ratio(tg_, pt):.2f}×; ÷ numpy im2col = {tg_.median / base.median:.2f}×)")
            row.bars.append(Bar(text, tg_.median <= 2.0 * pt.median))
        else:
            row.bars.append(Bar("tinygraph ≤ 2.0× PyTorch (PyTorch not installed or not timed)", None))
        rows.append(row)
    return rows


# ----------------------------------------------------------------- row 12: indexing backward


def _index_inputs(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(INDEX_ROWS), rng.integers(0, INDEX_ROWS, n), rng.standard_normal(n)


def _numpy_index_backward(x, index, g):
    """The scatter by hand: repeated indices add up, by one bincount."""
    return np.bincount(index, weights=g, minlength=x.shape[0])


def _tinygraph_index_backward(x, index, g):
    t = tg.Tensor(x, requires_grad=True)
    out = t[index]
    start = time.perf_counter()
    out.backward(g)
    return time.perf_counter() - start, t.grad


def _torch_index_backward(x, index, g):
    import torch

    t = torch.tensor(x, requires_grad=True)
    out = t[torch.from_numpy(index)]
    gt = torch.from_numpy(g)
    start = time.perf_counter()
    out.backward(gt)
    return time.perf_counter() - start, t.grad.numpy()


def check_index(engines: dict) -> list:
    x, index, g = _index_inputs(10**5)
    reference = _numpy_index_backward(x, index, g)
    # The floor against central differences of its cost sum(g * x[index]) (linear in x: exact up to rounding).
    arrays = {"x": x.copy()}
    results = [_central_differences(lambda: float(np.sum(g * arrays["x"][index])), arrays, {"dx": reference}, 12,
                                    np.random.default_rng(3), "d", "index-backward")]
    for name, run in (("tinygraph", _tinygraph_index_backward), ("torch", _torch_index_backward)):
        if name not in engines:
            continue
        got = run(x, index, g)[1]
        results.append(Result("index-backward", name, "float64", relative_error(got, reference), "dx",
                              np.asarray(got).dtype == np.float64, TOLERANCE))
    return results


def index_row(engines: dict, checks: list, settings) -> Row:
    ok = {r.engine for r in checks if r.workload == "index-backward" and r.ok}
    runs = {"numpy": None, "tinygraph": _tinygraph_index_backward, "torch": _torch_index_backward}
    names = [n for n in runs if n in engines and (n == "numpy" or n in ok)]
    times = {name: {} for name in names}
    rounds = 5 if settings.quick else 15
    for n in INDEX_SIZES:
        x, index, g = _index_inputs(n)
        samples = {name: [] for name in names}
        for r in range(rounds + 1):  # round 0 warms up and is not kept
            for name in names[r % len(names):] + names[: r % len(names)]:
                if name == "numpy":
                    start = time.perf_counter()
                    _numpy_index_backward(x, index, g)
                    seconds = time.perf_counter() - start
                else:
                    seconds = runs[name](x, index, g)[0]
                if r:
                    samples[name].append(seconds)
        for name in names:
            times[name][n] = float(np.median(samples[name]))
    row = Row("12", f"backward of t[index], t of ({INDEX_ROWS},), 10^4 / 10^5 / 10^6 repeated integer indices: "
                    f"median of {rounds} backward passes, and ns per index")
    for name in names:
        row.cells[name] = "; ".join(f"{n:.0e}: {times[name][n] * 1e3:.3g} ms ({times[name][n] / n * 1e9:.2g} ns)"
                                    for n in INDEX_SIZES)
    for name in names:
        if name != "numpy":
            row.ratios[name] = ", ".join(f"{times[name][n] / times['numpy'][n]:.2f}×" for n in INDEX_SIZES)
    for name in engines:
        if name not in names:
            row.cells[name] = "not run here" if name == "compiled" else "not timed: gradients differ from numpy"
    row.raw = {name: {str(n): t for n, t in per.items()} for name, per in times.items()}
    mine = times.get("tinygraph")
    if mine is not None:
        steps = [mine[b] / mine[a] for a, b in zip(INDEX_SIZES, INDEX_SIZES[1:])]
        text = "tinygraph linear: each tenfold of indices ≤ 15× the time (" + ", ".join(f"{s:.1f}×" for s in steps) + ")"
        row.bars.append(Bar(text, all(s <= 15 for s in steps)))
    else:
        row.bars.append(Bar("tinygraph linear in the number of indices", None))
    return row


# ----------------------------------------------------------------- what __main__ calls


def check_all(engines: dict, selected) -> list:
    """The gradient checks of the selected rows 10-12."""
    results = []
    if "10" in selected:
        results += check_softmax(engines)
    if "11" in selected:
        results += check_conv(engines)
    if "12" in selected:
        results += check_index(engines)
    return results


def timed_rows(selected, engines: dict, checks: list, settings, progress) -> list:
    out = []
    if "10" in selected:
        progress("row 10: softmax MLP step")
        out.append(softmax_row(engines, checks, settings))
    if "11" in selected:
        progress("row 11: conv2d + max_pool2d, forward and backward")
        out += conv_rows(engines, checks, settings)
    if "12" in selected:
        progress("row 12: indexing backward, 10^4 to 10^6 indices")
        out.append(index_row(engines, checks, settings))
    return out
