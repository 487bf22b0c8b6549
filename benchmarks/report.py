"""The rows of the table, their bars, and the markdown they print as."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks.timing import Summary

#: Column order; every ratio divides by the first.
ENGINE_ORDER = ("numpy", "tinygraph", "compiled", "torch")


@dataclass
class Bar:
    """A target a row is held to; ``passed`` is None when it could not be judged."""

    text: str
    passed: bool | None

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "MISS", None: "n/a"}[self.passed]


@dataclass
class Row:
    number: str
    workload: str
    cells: dict = field(default_factory=dict)  # engine -> text
    ratios: dict = field(default_factory=dict)  # engine -> text (vs numpy)
    bars: list = field(default_factory=list)
    raw: dict = field(default_factory=dict)  # the numbers behind the cells, for --json


# ----------------------------------------------------------------- number formats


def seconds(value: float) -> str:
    """A duration with a unit that keeps three significant figures readable."""
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.3g} ms"
    return f"{value * 1e6:.3g} µs"


def number(x: float) -> str:
    """Three significant figures, without exponents: 0.0123, 4.57, 1,760."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def summary_cell(s: Summary, unit: str = "", scale: float = 1.0) -> str:
    """``median (IQR q1–q3)``; with ``unit`` the values are multiplied by ``scale`` and labelled."""
    if unit:
        return f"{number(s.median * scale)} {unit} (IQR {number(s.q1 * scale)}–{number(s.q3 * scale)})"
    return f"{seconds(s.median)} (IQR {seconds(s.q1)}–{seconds(s.q3)})"


def size(n_bytes: float) -> str:
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n_bytes) >= factor:
            return f"{n_bytes / factor:.3g} {unit}"
    return f"{n_bytes:.0f} B"


def ratio(x: float) -> str:
    return f"{x:.2f}×"


# ----------------------------------------------------------------- markdown


def table(rows, engines) -> list:
    """The markdown table; ``engines`` maps names to engine modules (their ``LABEL`` heads the columns)."""
    shown = [e for e in ENGINE_ORDER if e in engines]
    ratio_cols = [e for e in shown if e != "numpy"]
    header = ["#", "workload"] + [engines[e].LABEL for e in shown]
    header += [f"{engines[e].LABEL} ÷ numpy" for e in ratio_cols] + ["bar", "result"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [row.number, row.workload]
        cells += [row.cells.get(e, "—") for e in shown]
        cells += [row.ratios.get(e, "—") for e in ratio_cols]
        cells.append("; ".join(b.text for b in row.bars) or "—")
        cells.append(" ".join(b.verdict for b in row.bars) or "—")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def verdicts(rows) -> list:
    """One line per bar: the PASS/MISS list under the table."""
    lines = []
    for row in rows:
        for bar in row.bars:
            lines.append(f"- row {row.number}: {bar.text}: **{bar.verdict}**")
    return lines
