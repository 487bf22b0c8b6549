"""How the backward of t[index] scales with the number of (repeated) integer indices.

    .venv/bin/python scripts/time_indexing_backward.py

For 10^4, 10^5 and 10^6 indices into 1,000 rows: the time of one backward (best of 5)
and the time per index, which stays flat when the scatter is linear. Three index kinds
take the three paths of the scatter: whole rows of a vector and of a matrix (bincount)
and pairs of positions (np.add.at). A measurement to read, not a test: nothing here
asserts a time.
"""

from __future__ import annotations

import time

import numpy as np

import tinygraph as tg


def best_backward_seconds(x: np.ndarray, index, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t = tg.Tensor(x, requires_grad=True)
        out = t[index]
        seed = np.ones(out.shape)
        start = time.perf_counter()
        out.backward(seed)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'index':<28} {'n':>9} {'backward':>12} {'per index':>12}")
    for label, shape, make in [
        ("t[i], t of (1000,)", (1000,), lambda n: (rng.integers(0, 1000, n),)),
        ("t[i], t of (1000, 16)", (1000, 16), lambda n: (rng.integers(0, 1000, n),)),
        ("t[i, j], t of (1000, 16)", (1000, 16), lambda n: (rng.integers(0, 1000, n), rng.integers(0, 16, n))),
    ]:
        x = rng.standard_normal(shape)
        for n in (10**4, 10**5, 10**6):
            seconds = best_backward_seconds(x, make(n))
            print(f"{label:<28} {n:>9,} {seconds * 1e3:>9.2f} ms {seconds / n * 1e9:>9.1f} ns")


if __name__ == "__main__":
    main()
