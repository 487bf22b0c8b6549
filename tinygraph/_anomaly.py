"""Anomaly mode: the op that made the first NaN or inf, forward or backward, and where it was built.

Off, it costs nothing: no flag is tested per op. ``detect_anomaly`` swaps checking
versions in for the module-level functions every op and every backward step go through
(``tensor.apply``/``apply1``/``apply2``, the ``apply`` hook of ``Op.apply``, and the
backward pass's ``_propagate``, whose writes to the gradient table are checked, and
``_receive``, which takes the seeds), and puts the plain ones back when the last block
exits.

Threads: the swap is process-wide, made under a lock and counted, so blocks nested or
running at once in several threads install the checks once and remove them when the
last one exits. Whether an op is checked is decided per thread (a thread-local depth):
only ops and backward passes run by a thread inside a ``detect_anomaly`` block are
checked, and other threads pay one thread-local read per op while any thread has
anomaly mode on.
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
import threading

import numpy as np

from tinygraph import _graph, tensor
from tinygraph._shapes import fmt

__all__ = ["detect_anomaly", "is_anomaly_enabled", "recording_sites", "format_site"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class _Local(threading.local):
    checks = 0  # depth of detect_anomaly blocks in this thread
    sites = 0  # depth of blocks that record where ops are built (anomaly mode, the checkers)
    node = None  # the node whose backward rule is running, for the backward check
    saved = None  # what that node saved (the plain step releases it before the message is written)
    g = None  # the gradient reaching that node's output


_local = _Local()
_lock = threading.Lock()
_users = 0
_PLAIN = {
    "apply": tensor.apply,
    "apply1": tensor.apply1,
    "apply2": tensor.apply2,
    "_propagate": _graph._propagate,
    "_receive": _graph._receive,
}


def is_anomaly_enabled() -> bool:
    """Whether this thread is inside a ``detect_anomaly`` block."""
    return _local.checks > 0


# ----------------------------------------------------------------- where an op was built


def _user_site():
    """(file, line, function) of the first frame outside the tinygraph package."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
    if frame is None:  # pragma: no cover - only tinygraph on the stack
        return None
    return frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name


def format_site(site, *, code: bool = False) -> str:
    """``file:line`` (relative to the current folder when inside it), and the line's code if asked."""
    if site is None:
        return "unknown"
    filename, line, _function = site
    shown = filename
    try:
        relative = os.path.relpath(filename)
        if not relative.startswith(".."):
            shown = relative
    except ValueError:  # pragma: no cover - another drive on Windows
        pass
    text = f"{shown}:{line}"
    if code:
        source = linecache.getline(filename, line).strip()
        if source:
            text += f"\n    {source}"
    return text


# ----------------------------------------------------------------- describing values


def stats(array) -> str:
    """Shape, min, max and the count of NaN and inf of an array, for messages."""
    array = np.asarray(array)
    if array.dtype.kind not in "fc":
        array = array.astype(np.float64)
    nan = int(np.isnan(array).sum())
    inf = int(np.isinf(array).sum())
    finite = array[np.isfinite(array)]
    if array.size == 1 and not nan and not inf:
        return f"shape {fmt(array.shape)}, value {array.item():.6g}"
    values = f"min {finite.min():.6g}, max {finite.max():.6g}" if finite.size else "no finite values"
    return f"shape {fmt(array.shape)}, {values}, {nan} NaN, {inf} inf"


def describe_rule(rule) -> str:
    """The op's name, with the parameters it was built with: ``'pow' (p=-1.0)``."""
    params = []
    for cls in type(rule).__mro__:
        for slot in cls.__dict__.get("__slots__", ()):
            if slot not in ("__dict__", "__weakref__") and hasattr(rule, slot):
                params.append(f"{slot}={getattr(rule, slot)!r}")
    params += [f"{k}={v!r}" for k, v in getattr(rule, "__dict__", {}).items()]
    return f"'{rule.name}'" + (f" ({', '.join(params)})" if params else "")


def _input(node) -> str:
    """How a message names an input node: its label, and the op that made it."""
    label = f" {node.label!r}" if node.label else ""
    made = f"made by '{node.name}'" if node.parents else "a leaf"
    return f"{label} ({made}, shape {fmt(node.shape)})"


def _where(node_or_none, site) -> str:
    scope = None if node_or_none is None else node_or_none.scope
    if node_or_none is None:
        scope = _graph._state.scope
    in_scope = f" in scope {scope!r}" if scope else ""
    return f"{in_scope}, built at {format_site(site, code=True)}"


# ----------------------------------------------------------------- forward


def _after(rule, inputs, out) -> None:
    """Record where ``out``'s node was built, and refuse a NaN or inf in ``out``."""
    local = _local
    site = None
    if local.sites:
        site = _user_site()
        node = out._node
        if node is not None and node.parents:
            node.site = site
    if local.checks:
        data = out._data
        if not np.isfinite(data).all():
            raise _forward_error(rule, inputs, out, site)


def _forward_error(rule, inputs, out, site) -> FloatingPointError:
    data = out._data
    nan, inf = int(np.isnan(data).sum()), int(np.isinf(data).sum())
    lines = [
        f"detect_anomaly: {describe_rule(rule)} returned {nan} NaN and {inf} inf among the {data.size} values of its "
        f"output (shape {fmt(data.shape)}){_where(out._node, site)}"
    ]
    for i, value in enumerate(inputs):
        if isinstance(value, tensor.Tensor):
            name = f" ({value.name!r})" if value.name else ""
            lines.append(f"  input {i}{name}: {stats(value.data)}")
        else:
            lines.append(f"  input {i} (a constant {type(value).__name__}): {stats(value)}")
    err = FloatingPointError("\n".join(lines))
    err.op, err.node, err.site = rule.name, out._node, site
    return err


def _checked_apply(rule, *inputs):
    out = _PLAIN["apply"](rule, *inputs)
    if len(inputs) > 2:  # one and two inputs went through the checked apply1/apply2 already
        _after(rule, inputs, out)
    return out


def _checked_apply1(rule, a):
    out = _PLAIN["apply1"](rule, a)
    _after(rule, (a,), out)
    return out


def _checked_apply2(rule, a, b):
    out = _PLAIN["apply2"](rule, a, b)
    _after(rule, (a, b), out)
    return out


# ----------------------------------------------------------------- backward


def _checked_propagate(node, g, grads, heap, retain_graph, create_graph):
    local = _local
    if not local.checks:
        return _PLAIN["_propagate"](node, g, grads, heap, retain_graph, create_graph)
    before, local.node = local.node, node
    try:
        # The saved arrays are released by the plain step; the message may need them.
        local.saved, local.g = node.saved, g
        return _PLAIN["_propagate"](node, g, _CheckedGrads(grads, node), heap, retain_graph, create_graph)
    except FloatingPointError:
        raise
    except Exception as err:
        if hasattr(err, "add_note"):
            err.add_note(f"(detect_anomaly) the forward of '{node.name}' was built at "
                         f"{format_site(node.site, code=True)}")
        raise
    finally:
        local.node = before
        local.saved = local.g = None


class _CheckedGrads:
    """The pass's gradient table, as one node's backward step sees it: what it stores is checked."""

    __slots__ = ("grads", "node")

    def __init__(self, grads: dict, node):
        self.grads, self.node = grads, node

    def get(self, key, default=None):
        return self.grads.get(key, default)

    def __getitem__(self, key):
        return self.grads[key]

    def __contains__(self, key):
        return key in self.grads

    def __setitem__(self, parent, g):
        # What the step stores for a parent: its gradient from this node, plus what the
        # parent had already received (finite, or it would have been refused then).
        data = g.data if isinstance(g, tensor.Tensor) else g
        if not np.isfinite(data).all():
            raise _backward_error(self.node, parent, data)
        self.grads[parent] = g


def _checked_receive(grads, heap, parent, g):
    if _local.checks:
        data = g.data if isinstance(g, tensor.Tensor) else g
        if not np.isfinite(data).all():
            raise _backward_error(_local.node, parent, data)
    return _PLAIN["_receive"](grads, heap, parent, g)


def _backward_error(node, parent, gradient) -> FloatingPointError:
    nan, inf = int(np.isnan(gradient).sum()), int(np.isinf(gradient).sum())
    if node is None:
        err = FloatingPointError(
            f"detect_anomaly: the gradient backward() started from ({stats(gradient)}) is not finite"
        )
        err.op, err.node, err.site = None, parent, None
        return err
    index = next(i for i, p in enumerate(node.parents) if p is parent)
    built = (
        f"built at {format_site(node.site, code=True)}"
        if node.site is not None
        else "built outside detect_anomaly, so where is unknown (build the forward inside the block too)"
    )
    scope = f" in scope {node.scope!r}" if node.scope else ""
    lines = [
        f"detect_anomaly: the backward of {describe_rule(node.rule)}{scope} returned {nan} NaN and {inf} inf "
        f"in the gradient for its input {index}{_input(parent)}; its forward was {built}"
    ]
    g = _local.g
    if g is not None:
        lines.append(f"  the gradient reaching its output: {stats(g.data if isinstance(g, tensor.Tensor) else g)}")
    saved = getattr(_local, "saved", None)
    if isinstance(saved, tuple):
        names = tuple(node.rule.saves) + tuple(node.rule.residuals)
        for i, value in enumerate(saved):
            name = names[i] if i < len(names) else f"saved {i}"
            if isinstance(value, np.ndarray):
                lines.append(f"  {name} (saved for backward): {stats(value)}")
    err = FloatingPointError("\n".join(lines))
    err.op, err.node, err.site = node.name, node, node.site
    return err


# ----------------------------------------------------------------- switching the checks in and out

_CHECKED = {
    "apply": _checked_apply,
    "apply1": _checked_apply1,
    "apply2": _checked_apply2,
    "_propagate": _checked_propagate,
    "_receive": _checked_receive,
}


def _install(functions: dict) -> None:
    tensor.apply, tensor.apply1, tensor.apply2 = functions["apply"], functions["apply1"], functions["apply2"]
    _graph.hooks.apply = functions["apply"]
    _graph._propagate, _graph._receive = functions["_propagate"], functions["_receive"]


def _enter(checks: bool) -> None:
    global _users
    with _lock:
        if _users == 0:
            _install(_CHECKED)
        _users += 1
    _local.sites += 1
    if checks:
        _local.checks += 1


def _exit(checks: bool) -> None:
    global _users
    _local.sites -= 1
    if checks:
        _local.checks -= 1
    with _lock:
        _users -= 1
        if _users == 0:
            _install(_PLAIN)


class detect_anomaly:
    """Context manager (and decorator) that finds the first NaN or inf and the op that made it.

    Inside the block:

    - forward: every op's output is checked; the first one holding a NaN or an inf raises
      ``FloatingPointError`` naming the op (and its parameters), its name scope, its
      inputs (shape, min, max, NaN and inf counts) and the file:line that built it;
    - every recorded node remembers that file:line (the first frame outside tinygraph);
    - backward: the first node whose backward returns a gradient that is not finite for
      one of its inputs raises ``FloatingPointError`` naming the node, that input, the
      values its backward read and the file:line of its forward. Build the forward inside
      the block too, or that line is unknown. Any other error raised by a backward rule
      gets a note with the same line.

    Outside the block nothing is checked and nothing is recorded, at no cost (see
    ``tinygraph/_anomaly.py`` for how, and for threads). Each op costs a few
    microseconds more inside it.

    Examples
    --------
    >>> import tinygraph as tg
    >>> import numpy as np
    >>> x = tg.Tensor([1.0, 0.0], requires_grad=True)
    >>> with tg.detect_anomaly(), np.errstate(divide="ignore"):  # doctest: +ELLIPSIS
    ...     y = tg.log(x)
    Traceback (most recent call last):
    FloatingPointError: detect_anomaly: 'log' returned 0 NaN and 1 inf among the 2 values of its output ...

    As a decorator:

    >>> @tg.detect_anomaly()
    ... def step(x):
    ...     return (x * 2).sum()
    >>> step(x).item()
    2.0
    """

    def __enter__(self):
        _enter(checks=True)
        return self

    def __exit__(self, *exc):
        _exit(checks=True)
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with detect_anomaly():
                return func(*args, **kwargs)

        return wrapper


class recording_sites:
    """Record where each op is built (``node.site``), without the NaN checks: for the checkers' reports."""

    def __enter__(self):
        _enter(checks=False)
        return self

    def __exit__(self, *exc):
        _exit(checks=False)
        return False
