"""check_graph: blame the node. Every node's backward against its own forward, one node at a time.

A gradient check of a whole function says *that* a derivative is wrong; checking each
node of the recorded graph on its own says *which* op's backward is. For every node, at
the inputs it recorded, the backward rule is given a random dL/d(out) ``v`` and its
result is compared with central differences of ``sum(v * forward(...))``, in float64.
A wrong backward fails at its own node only: the nodes after it are checked with their
own ``v``, not with the wrong gradient it passes on.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace

import numpy as np

from tinygraph._anomaly import format_site
from tinygraph._graph import RELEASED, _as_gradient_tuple, no_grad, topological_order
from tinygraph._shapes import fmt, sum_to_shape
from tinygraph.tensor import Tensor
from tinygraph.testing._hints import diagnose, sizes_of


@dataclass(frozen=True)
class NodeCheck:
    """The check of one node: its op, where it is, and its worst element.

    ``input``, ``element``, ``analytic`` and ``numeric`` describe the element whose
    analytic derivative is furthest from the finite differences (relative to the
    tolerance) over all the node's inputs that need a gradient; ``analytic`` and
    ``numeric`` are derivatives of ``sum(v * out)`` for the node's random ``v``.
    """

    node: object = field(repr=False)
    op: str
    scope: str | None
    site: tuple | None  # (file, line, function) where the op was built, when recorded
    depth: int  # longest path from a leaf: 1 for an op on leaves only
    passed: bool
    number: int = 0  # the row of the report: op nodes counted from 1 in creation order
    input: int | None = None
    input_name: str | None = None
    element: tuple | None = None
    analytic: float = float("nan")
    numeric: float = float("nan")
    tolerance: float = float("nan")
    elements: int = 0  # elements compared
    one_sided: int = 0  # elements that agree only with a one-sided difference (a kink)
    skipped: int = 0  # elements whose forward failed on both sides of the point
    hint: str | None = None
    problem: str | None = None  # the backward raised, or returned an unusable gradient
    #: The forward's output dtype when it rounds to less than float64 (an astype to
    #: float32): checked with a step and tolerances fitted to that precision.
    precision: str | None = None

    @property
    def ratio(self) -> float:
        """analytic / numeric at the worst element (nan when numeric is 0)."""
        return self.analytic / self.numeric if self.numeric else float("nan")

    @property
    def built_at(self) -> str | None:
        """``file:line`` where the op was built, if known (under ``detect_anomaly`` or a checker)."""
        return None if self.site is None else format_site(self.site)

    def where(self, *, number: bool = True) -> str:
        """The op, its row ``#`` in the report (if ``number``), its scope and where it was built."""
        parts = [f"#{self.number}"] if number else []
        if self.scope:
            parts.append(f"scope {self.scope!r}")
        if self.site is not None:
            parts.append(f"built at {self.built_at}")
        return f"'{self.op}'" + (f" ({', '.join(parts)})" if parts else "")

    def describe(self, *, hint: bool = True, number: bool = True) -> str:
        """One paragraph: :meth:`where`, the worst element, the values and (if ``hint``) the hint."""
        text = self.where(number=number)
        if self.problem:
            return f"{text}: {self.problem}" + (f"\n  hint: {self.hint}" if self.hint and hint else "")
        if self.input is None:
            return f"{text}: nothing to compare"
        name = f" {self.input_name!r}" if self.input_name else ""
        text += (f", input {self.input}{name}, element {self.element}: analytic {_number(self.analytic)}, "
                 f"numeric {_number(self.numeric)}")
        if not self.passed:
            text += f", ratio {self.ratio:.4g}"
        if self.hint and hint:
            text += f"\n  hint: {self.hint}"
        return text


class GraphCheck:
    """What :func:`check_graph` found: one :class:`NodeCheck` per op node, in creation order.

    Iterate over it for the per-node results; ``str()`` is a table; ``failures`` lists
    the nodes whose backward disagrees with their forward, and ``first_failure`` is the
    one nearest the leaves (the likeliest root cause when several fail), or None.
    """

    def __init__(self, root: Tensor, results: list, *, eps: float, atol: float, rtol: float):
        self.root = root
        self.results = results
        self.eps, self.atol, self.rtol = eps, atol, rtol

    def __iter__(self):
        return iter(self.results)

    def __len__(self):
        return len(self.results)

    def __getitem__(self, i):
        return self.results[i]

    @property
    def failures(self) -> list:
        return [r for r in self.results if not r.passed]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def first_failure(self) -> NodeCheck | None:
        """The failing node nearest the leaves (fewest ops between it and a leaf), or None."""
        failures = self.failures
        return min(failures, key=lambda r: (r.depth, r.number)) if failures else None

    def draw(self, **kwargs):
        """``tg.draw`` of the checked graph with the failing nodes highlighted."""
        from tinygraph.viz import draw

        return draw(self.root, highlight=[r.node for r in self.failures], **kwargs)

    def __repr__(self):
        return f"<GraphCheck: {len(self.results)} op nodes, {len(self.failures)} failed>"

    def __str__(self):
        head = (
            f"check_graph: {len(self.results)} op nodes, each backward against central differences of its own "
            f"forward (float64, eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g}): "
            + (f"{len(self.failures)} FAILED" if self.failures else "all pass")
        )
        rows = [("#", "op", "scope", "built at", "input", "element", "analytic", "numeric", "result")]
        for r in self.results:
            name = f" {r.input_name!r}" if r.input_name else ""
            if r.problem:
                result = "FAIL (see below)"
            elif r.passed:
                result = "ok" + (f", one-sided at {r.one_sided}" if r.one_sided else "")
                result += f", {r.skipped} skipped" if r.skipped else ""
                result += f", {r.precision} forward" if r.precision else ""
            else:
                result = f"FAIL, ratio {r.ratio:.4g}"
            rows.append((
                str(r.number), r.op, r.scope or "-", r.built_at or "-",
                "-" if r.input is None else f"{r.input}{name}",
                "-" if r.element is None else str(r.element),
                _number(r.analytic), _number(r.numeric), result,
            ))
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        right = {0, 6, 7}
        lines = [head]
        for row in rows:
            cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
            lines.append("  ".join(cells).rstrip())
        first = self.first_failure
        if first is not None:
            lines.append(f"first failure (nearest the leaves): {first.describe()}")
        return "\n".join(lines)


def _number(value: float) -> str:
    return "-" if value != value else f"{value + 0.0:.6g}"  # + 0.0: no "-0"


class _Input:
    """A parent node as a backward rule sees it during the check: in float64."""

    dtype = np.dtype(np.float64)

    def __init__(self, node):
        self._node = node

    def __getattr__(self, name):
        return getattr(self._node, name)


class _Context(_Input):
    """The node as its backward rule sees it during the check (``ctx``): in float64."""

    def __init__(self, node):
        super().__init__(node)
        self.parents = tuple(_Input(p) for p in node.parents)


def _weights(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    # Size 0.5 to 1.5 and random signs: no element hidden, none special.
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def check_graph(root, *, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-5) -> GraphCheck:
    """Check every node's backward against central differences of that node's own forward.

    For each op node of the graph below ``root``, at the inputs it recorded (in float64):
    its backward rule gets a random ``v`` as dL/d(out), and what it returns for each
    input that needs a gradient is compared, element by element, with the derivative of
    ``sum(v * forward(inputs))`` by central differences. A wrong backward fails at its
    own node, however deep in the graph, and nowhere else.

    Non-smooth points are not false alarms: an element passes when the analytic value
    agrees with the central difference **or** lies between the two one-sided
    differences, ``(f(x + eps) - f(x)) / eps`` and ``(f(x) - f(x - eps)) / eps`` (each
    within the tolerance). Where the forward is smooth the three agree to O(eps), so
    nothing is hidden; at a kink within eps of the point (relu at 0, a tie of max, abs at
    0) the interval between the one-sided slopes holds every subgradient, so whichever
    convention the op chose (relu'(0) = 0, the first of tied maxima, an even split) is
    accepted. Where the forward fails or is not finite on one side (a domain edge, e.g.
    ``log`` of a negative), the step shrinks (down to eps / 1000) until both sides are
    inside; failing that, the valid side decides, and elements where both fail are
    skipped and counted. Near a pole, where the derivative changes by more than the
    tolerance over one step, pass a smaller ``eps``.

    Parameters
    ----------
    root : Tensor
        A one-element Tensor (a loss) that requires grad, before ``backward()`` or after
        ``backward(retain_graph=True)``: the check needs the arrays saved for backward.
    eps : float
        Finite-difference step.
    atol, rtol : float
        An element passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Returns
    -------
    GraphCheck
        Iterable of :class:`NodeCheck` (op, scope, line where it was built when recorded
        under ``detect_anomaly``, worst input and element, analytic and numeric values,
        pass or fail), ``str()`` a table, ``first_failure`` the failing node nearest the
        leaves or None.

    Notes
    -----
    An op whose forward rounds its output below float64 (``astype(np.float32)``) is
    checked with a step and tolerances fitted to that precision, and says so.

    Values: leaves hold theirs on their nodes; the forward of every op is run again from
    the leaves, in creation order, and an input a node saved for backward is taken from
    what it saved. Cost: two forward calls of a node per element of each input that
    needs a gradient, so check small graphs (a few samples, narrow layers).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> from tinygraph.testing import check_graph
    >>> class Cube(tg.Op):
    ...     name = "cube"
    ...     saves = ("x",)
    ...     def forward(self, x):
    ...         return x ** 3
    ...     def backward(self, ctx, g, x):
    ...         return g * 3 * x                     # wrong: 3 x**2
    >>> w = tg.Tensor([0.5, -1.0, 2.0], requires_grad=True)
    >>> loss = tg.tanh(Cube.apply(w * 2.0)).sum()
    >>> report = check_graph(loss)
    >>> [(r.op, r.passed) for r in report]
    [('mul', True), ('cube', False), ('tanh', True), ('sum', True)]
    >>> report.first_failure.op
    'cube'
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"check_graph: root must be a Tensor, got {type(root).__name__}")
    if not root.requires_grad or root.node is None:
        raise RuntimeError("check_graph: the root does not require grad, so no graph was recorded")
    if root.size != 1:
        raise ValueError(
            f"check_graph: the root must have one element (a loss), got shape {fmt(root.shape)}; reduce it first"
        )
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if not (isinstance(value, numbers.Real) and value >= 0 and np.isfinite(value)) or (name == "eps" and not value):
            raise ValueError(f"check_graph: {name} must be a finite number {'> 0' if name == 'eps' else '>= 0'}, got {value!r}")
    nodes = list(reversed(topological_order([root.node])))  # creation order: leaves and parents first
    for node in nodes:
        if node.parents and node.saved is RELEASED:
            raise RuntimeError(
                f"check_graph: the graph was freed by backward() ('{node.name}', node {node.id}); call check_graph "
                "before backward(), or after backward(retain_graph=True)"
            )
    rng = np.random.default_rng(20240229)
    values: dict = {}
    depth: dict = {}
    results = []
    with no_grad(), np.errstate(all="ignore"):
        for node in nodes:
            if not node.parents:
                values[node] = np.array(node.saved[0], dtype=np.float64)
                depth[node] = 0
                continue
            depth[node] = 1 + max(depth[p] for p in node.parents)
            xs = _inputs_of(node, values)
            try:
                raw = np.asarray(node.rule.forward(*[x.copy() for x in xs]))
                out = np.array(raw, dtype=np.float64)
            except Exception as err:  # noqa: BLE001 - reported, not hidden
                raise RuntimeError(
                    f"check_graph: the forward of '{node.name}' (node {node.id}) failed when run again at its "
                    f"recorded inputs: {type(err).__name__}: {err}"
                ) from err
            values[node] = out
            if any(node.needs):
                result = _check_node(node, xs, out, depth[node], rng, eps, atol, rtol, raw.dtype)
                results.append(replace(result, number=len(results) + 1))
    return GraphCheck(root, results, eps=eps, atol=atol, rtol=rtol)


def _inputs_of(node, values: dict) -> list:
    """The node's inputs in float64: what it saved for backward where it did, else the recomputed values."""
    xs = [values[p] for p in node.parents]
    for slot, array in zip(node.rule.save_slots, node.saved):
        if 0 <= slot < len(xs) and isinstance(array, np.ndarray) and array.shape == xs[slot].shape:
            xs[slot] = np.array(array, dtype=np.float64)
    return [np.array(x, dtype=np.float64, order="C") for x in xs]


def _result(node, depth, **fields) -> NodeCheck:
    return NodeCheck(node=node, op=node.name, scope=node.scope, site=node.site, depth=depth, **fields)


def _check_node(node, xs, out, depth, rng, eps, atol, rtol, dtype) -> NodeCheck:
    rule = node.rule
    precision = None
    resolution = np.finfo(dtype).eps if dtype.kind == "f" else 0.0
    if resolution > np.finfo(np.float64).eps:
        # The forward rounds its output (to float32, say): finite differences of eps
        # would measure the rounding. The step that balances rounding and truncation
        # error is ~resolution^(1/3); the error left is ~resolution^(2/3) < its sqrt.
        precision = str(dtype)
        eps = max(eps, resolution ** (1 / 3))
        atol, rtol = max(atol, resolution**0.5), max(rtol, resolution**0.5)
    v = _weights(rng, out.shape)
    saved = tuple(out.copy() if slot < 0 else xs[slot].copy() for slot in rule.save_slots)
    saved += (None,) * len(rule.residuals)  # run again here: backward recomputes them from the inputs
    ctx = _Context(node)
    try:
        grads = _as_gradient_tuple(ctx, rule.backward(ctx, v.copy(), *saved))
    except Exception as err:  # noqa: BLE001 - a backward that raises is a failure of this node
        return _result(node, depth, passed=False, problem=f"its backward raised {type(err).__name__}: {err}")

    def phi(inputs) -> float:
        try:
            value = np.asarray(rule.forward(*inputs), dtype=np.float64)
        except Exception:  # noqa: BLE001 - outside the op's domain: that side gives no difference
            return float("nan")
        return float(np.sum(v * value)) if value.shape == out.shape else float("nan")

    checked = []  # (index, analytic, central, excess, one_sided, skipped)
    for i, (parent, need, gi) in enumerate(zip(node.parents, node.needs, grads)):
        if not need:
            continue
        if gi is None:
            gi = np.zeros(parent.shape)
        elif isinstance(gi, Tensor):
            gi = gi.data
        try:
            gi = np.asarray(gi, dtype=np.float64)
        except (TypeError, ValueError):
            return _result(node, depth, passed=False, input=i,
                           problem=f"its backward returned a {type(gi).__name__} for input {i}, not an array")
        if gi.shape != parent.shape:
            try:
                gi = sum_to_shape(gi, parent.shape, op=node.name, index=i)
            except ValueError as err:
                hint = diagnose(gi, np.zeros(parent.shape), atol=atol, what=f"input {i}")
                return _result(node, depth, passed=False, input=i, input_name=parent.label,
                               problem=str(err), hint=hint)
        central, forward, backward = _differences(phi, xs, i, eps)
        checked.append((i, gi, central, forward, backward))

    if not checked:  # pragma: no cover - a recorded node always has an input that needs a gradient
        return _result(node, depth, passed=True)
    worst = None
    one_sided = skipped = elements = 0
    failed = False
    per_input = {}
    for i, a, c, f, b in checked:
        # Errors in units of the tolerance: an element passes at <= 1, against the
        # central difference or anywhere between the two one-sided ones (a kink).
        near_c = _in_tolerances(np.abs(a - c), c, atol, rtol)
        low, high = np.fmin(f, b), np.fmax(f, b)
        outside = np.fmax(low - a, a - high)
        near_fb = _in_tolerances(np.where(outside > 0, outside, 0.0), np.fmax(np.abs(low), np.abs(high)), atol, rtol)
        best = np.fmin(near_c, near_fb)
        best = np.where(np.isnan(best), np.inf, best)
        no_numeric = np.isnan(c) & np.isnan(f) & np.isnan(b)
        best = np.where(no_numeric & np.isfinite(a), 0.0, best)  # nothing to compare: skipped
        best = np.where(np.isfinite(a), best, np.inf)  # a NaN or inf gradient never passes
        ok = best <= 1.0
        failed |= not ok.all()
        elements += a.size
        skipped += int(no_numeric.sum())
        one_sided += int((ok & ~(near_c <= 1.0) & ~no_numeric).sum())
        shown = np.where(np.isnan(c), np.where(np.isnan(f), b, f), c)
        per_input[i] = (a, shown)
        if a.size:
            flat = int(np.argmax(best))
            k = np.unravel_index(flat, a.shape)
            score = best.reshape(-1)[flat]
            if worst is None or score > worst[0]:
                numeric = shown[k]
                worst = (score, i, tuple(int(j) for j in k), float(a[k]), float(numeric), atol + rtol * abs(numeric))
    if worst is None:
        return _result(node, depth, passed=True, elements=0)
    _, i, k, a_k, n_k, tol_k = worst
    hint = None
    if failed:
        a_i, n_i = per_input[i]
        others = [(f"input {j}", a_j, n_j) for j, (a_j, n_j) in per_input.items() if j != i]
        sizes = sizes_of(*[(f"input {j}", p.shape) for j, p in enumerate(node.parents)], ("the output", out.shape))
        hint = diagnose(a_i, n_i, atol=atol, others=others, sizes=sizes, what=f"input {i}")
    return _result(
        node, depth, passed=not failed, input=i, input_name=node.parents[i].label, element=k, analytic=a_k,
        numeric=n_k, tolerance=tol_k, elements=elements, one_sided=one_sided, skipped=skipped, hint=hint,
        precision=precision,
    )


def _in_tolerances(error: np.ndarray, reference: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    """``error`` in units of ``atol + rtol * |reference|`` (0 where both are 0, nan where unknown)."""
    tolerance = atol + rtol * np.abs(reference)
    with np.errstate(divide="ignore", invalid="ignore"):
        units = error / tolerance
    return np.where((error == 0) & ~np.isnan(reference), 0.0, units)


def _differences(phi, xs: list, i: int, eps: float):
    """Central, forward and backward differences of ``phi`` in every element of input ``i``."""
    point = list(xs)
    x = xs[i].copy()
    point[i] = x
    flat = x.reshape(-1)  # a view: x is C-contiguous
    here = phi(point)
    central, forward, backward = (np.full(x.shape, np.nan) for _ in range(3))
    c, f, b = central.reshape(-1), forward.reshape(-1), backward.reshape(-1)
    for k in range(flat.size):
        kept = flat[k]
        flat[k] = kept + eps
        up = phi(point)
        flat[k] = kept - eps
        down = phi(point)
        step = eps
        while not (np.isfinite(up) and np.isfinite(down)) and step > eps * 1e-3:
            # A domain edge within eps (the forward refuses, or is not finite, on one
            # side): smaller steps, until both sides are inside or the step is too small.
            step /= 10.0
            flat[k] = kept + step
            up = phi(point)
            flat[k] = kept - step
            down = phi(point)
        flat[k] = kept
        c[k] = (up - down) / (2.0 * step)
        f[k] = (up - here) / step
        b[k] = (here - down) / step
    for d in (central, forward, backward):
        d[~np.isfinite(d)] = np.nan
    return central, forward, backward
