"""Interleaved timing and the summary statistics of the table."""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Summary:
    """Seconds per call: the median, the interquartile range and the extremes of ``n`` samples.

    ``samples`` keeps the times in round order, so two engines timed in the same rounds
    can be compared round by round (:func:`paired_ratio`).
    """

    median: float
    q1: float
    q3: float
    low: float
    high: float
    n: int
    samples: tuple = ()

    @classmethod
    def of(cls, samples) -> "Summary":
        a = np.asarray(samples, dtype=float)
        q1, median, q3 = np.percentile(a, [25, 50, 75])
        return cls(float(median), float(q1), float(q3), float(a.min()), float(a.max()), len(a), tuple(a.tolist()))

    def scaled(self, factor: float) -> "Summary":
        return Summary.of([v * factor for v in self.samples])


def paired_ratio(a: Summary, b: Summary) -> float:
    """The median over rounds of ``a``'s time over ``b``'s in the same round.

    Engines of one round run back to back, so a slow spell of the machine lifts both
    times of that round; their ratio cancels it, where the ratio of the two medians
    does not. Shown beside the ratio of medians (which the bars are judged on) as a
    measure of how much of a difference is the machine's noise.
    """
    return float(np.median(np.asarray(a.samples) / np.asarray(b.samples)))


def interleave(calls: dict, *, budget: float, min_rounds: int = 5, max_rounds: int = 1000, warmup: int = 1) -> dict:
    """Time each callable in ``calls`` round-robin; ``{name: Summary}``.

    Each round calls every engine once, and the engine that goes first moves by one each
    round, so slow drifts of the machine (frequency, a neighbour's load) and the cache
    state left by the previous engine fall on all of them alike. Rounds continue until
    ``budget`` seconds are spent (within ``min_rounds``..``max_rounds``), judged from the
    warm-up calls, which are not recorded. On a machine much slower than the warm-up
    said (oversubscribed threads, a busy neighbour) rounds stop at three times the
    budget, after at least three.

    The garbage collector stays on, as in a user's program; it is run once before the
    first round so that garbage made earlier is not collected inside a timed call.
    """
    names = list(calls)
    started = time.perf_counter()
    for _ in range(warmup):
        for name in names:
            calls[name]()
    per_round = (time.perf_counter() - started) / max(warmup, 1)
    rounds = int(min(max_rounds, max(min_rounds, budget / max(per_round, 1e-9))))
    samples = {name: [] for name in names}
    gc.collect()
    clock = time.perf_counter
    deadline = clock() + 3 * budget
    for r in range(rounds):
        if r >= 3 and clock() > deadline:
            break
        k = r % len(names)
        for name in names[k:] + names[:k]:
            call = calls[name]
            t0 = clock()
            call()
            samples[name].append(clock() - t0)
    return {name: Summary.of(s) for name, s in samples.items()}
