"""gradcheck and gradgradcheck: analytic derivatives against central finite differences."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from tinygraph._anomaly import recording_sites
from tinygraph.functional import grad as _grad
from tinygraph.tensor import Tensor
from tinygraph.testing._check_graph import check_graph
from tinygraph.testing._hints import diagnose, sizes_of
from tinygraph.testing._numeric import numerical_gradient


def _leaves(inputs) -> list:
    """Fresh float64 leaves: arrays and grad-requiring Tensors are differentiated, other Tensors are constants."""
    leaves = []
    for value in inputs:
        if isinstance(value, Tensor):
            leaves.append(Tensor(np.array(value.data, dtype=np.float64), requires_grad=value.requires_grad, name=value.name))
        else:
            leaves.append(Tensor(np.array(value, dtype=np.float64), requires_grad=True))
    return leaves


def _projected(fn: Callable, leaves: Sequence[Tensor], weights: np.ndarray | None):
    """fn(*leaves) and the fixed random weights that reduce it to one number."""
    out = fn(*leaves)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if weights is None:
        weights = _weights(np.random.default_rng(20240229), out.shape)
    return out, weights


def _weights(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Random weights of size 0.5 to 1.5 and random sign: none so small that it hides an element."""
    return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)


def gradcheck(fn: Callable, *inputs, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-5) -> bool:
    """Check ``fn``'s backward against central finite differences, in float64.

    ``fn`` maps Tensors to a Tensor of any shape. It is reduced to one number by a fixed
    random weighting, ``L = sum(w * fn(*inputs))``, and dL/d(input) from tinygraph's
    backward is compared, element by element, with ``(L(x + eps) - L(x - eps)) / 2 eps``.

    Parameters
    ----------
    fn : callable
        Takes one Tensor per input and returns a Tensor.
    *inputs : array_like or Tensor
        The point. Arrays, and Tensors with ``requires_grad=True``, are differentiated;
        Tensors without it are held constant. Everything is copied to float64.
    eps : float
        Finite-difference step.
    atol, rtol : float
        An element passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Returns
    -------
    bool
        True; a mismatch raises instead.

    Raises
    ------
    AssertionError
        Naming the input (position and name), the element index, the analytic and the
        numeric value and their ratio; a hint when the error has a recognisable
        pattern (a factor of 2, N or 1/N, a flipped sign, zeros, wrong signs, two
        inputs' gradients swapped, a transpose); and the op to blame, found by running
        :func:`check_graph` on ``fn``'s graph (with the line that built it).

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> from tinygraph.testing import gradcheck
    >>> W = np.array([[0.5, -1.0]]); X = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 2.0]])
    >>> gradcheck(lambda W, X: tg.sigmoid(W @ X), W, X)
    True
    """
    leaves = _leaves(inputs)
    out, weights = _projected(fn, leaves, None)
    active = [i for i, t in enumerate(leaves) if t.requires_grad]
    if not active:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    # A gradient of the wrong shape is refused by the engine itself (a ValueError naming the op).
    analytic = _analytic(out, [leaves[i] for i in active], weights)

    numeric = {}
    for position in active:
        def projected_at(point, position=position):
            trial = list(leaves)
            trial[position] = Tensor(point, requires_grad=True)
            value = fn(*trial)
            return float(np.sum(np.asarray(value.data, dtype=np.float64) * weights))

        numeric[position] = numerical_gradient(projected_at, leaves[position].data, eps=eps)
    got = dict(zip(active, analytic))
    for position in active:
        message = _compare(got[position], numeric[position], position, leaves[position], atol=atol, rtol=rtol, order="")
        if message is not None:
            others = [(f"input {j}", got[j], numeric[j]) for j in active if j != position]
            sizes = sizes_of(*[(f"input {j}", t.shape) for j, t in enumerate(leaves)], ("the output", out.shape))
            hint = diagnose(_array(got[position]), numeric[position], atol=atol, others=others, sizes=sizes,
                            what=f"input {position}")
            if hint:
                message += f"\n  hint: {hint}"
            blame = _blame(fn, leaves, weights, hint=not hint, eps=eps, atol=atol, rtol=rtol)
            raise AssertionError(message + blame)
    return True


def _array(g) -> np.ndarray:
    return np.asarray(g.data if isinstance(g, Tensor) else g, dtype=np.float64)


_UNRECORDED = (
    "something the graph did not record (an array taken out with .data, np.asarray or .detach(), "
    "e.g. inside a backward under create_graph)"
)


def _blame(fn: Callable, leaves: list, weights: np.ndarray, *, hint: bool = True, **tolerances) -> str:
    """A line naming the op whose backward disagrees with its own forward, from check_graph."""
    try:
        with recording_sites():  # so that the report can say where each op was built
            out = fn(*leaves)
            if not isinstance(out, Tensor):
                return ""
            if not out.requires_grad:
                return f"\n  blame: fn's result has no recorded path to its inputs, so no op to blame: it depends on them through {_UNRECORDED}"
            root = (out * weights.astype(out.dtype)).sum()
        report = check_graph(root, **tolerances)
    except Exception as err:  # noqa: BLE001 - the blame is extra: never hide the mismatch behind it
        return f"\n  blame: check_graph could not run ({type(err).__name__}: {err})"
    first = report.first_failure
    if first is None:
        return (
            "\n  blame: check_graph finds every recorded op's backward consistent with its own forward here, so fn "
            f"reaches its inputs through {_UNRECORDED}, or a kink lies within eps of the point"
        )
    others = [r for r in report.failures if r is not first]
    more = ""
    if others:
        named = ", ".join(r.where(number=False) for r in others[:5])
        more = f"\n  also failing: {named}" + (f" and {len(others) - 5} more" if len(others) > 5 else "")
    return f"\n  blame: check_graph finds the wrong backward in {first.describe(hint=hint, number=False)}{more}"


def _analytic(out: Tensor, wrt: list, weights: np.ndarray, create_graph: bool = False) -> list:
    if not out.requires_grad:  # fn ignores its inputs: every derivative is zero
        return [np.zeros_like(t.data) for t in wrt]
    grads = _grad(out, wrt, grad_outputs=weights.astype(out.dtype), create_graph=create_graph)
    return [np.zeros_like(t.data) if g is None else g for t, g in zip(wrt, grads)]


def _compare(got, expected: np.ndarray, position: int, leaf: Tensor, *, atol: float, rtol: float, order: str):
    """The failure message for one input, or None when every element agrees."""
    got = _array(got)
    if got.shape != expected.shape:  # the caller adds the hint (a transpose), once
        return f"gradcheck{order}: input {position} has shape {expected.shape} but its analytic gradient has shape {got.shape}"
    bad = ~(np.abs(got - expected) <= atol + rtol * np.abs(expected))
    if not bad.any():
        return None
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    name = f" ({leaf.name!r})" if leaf.name else ""
    a, n = got[index], expected[index]
    message = (
        f"gradcheck{order}: input {position}{name}, shape {expected.shape}, element {index}: "
        f"dL/dx of L = sum(w * fn(...)) with fixed random weights w: "
        f"analytic {a:.10g}, numeric {n:.10g}, |difference| {abs(a - n):.3g} > "
        f"tolerance {atol + rtol * abs(n):.3g} ({int(bad.sum())} of {bad.size} elements differ)"
    )
    return message + "\n  " + _ratios(got, expected, bad, index)


def _ratios(got: np.ndarray, expected: np.ndarray, bad: np.ndarray, index: tuple) -> str:
    """analytic / numeric at the reported element, and its range over the elements that differ."""
    n = expected[index]
    text = f"ratio analytic/numeric {got[index] / n + 0.0:.6g} at this element" if n else "numeric is 0 at this element"
    with np.errstate(all="ignore"):
        ratios = got[bad] / expected[bad]
    ratios = ratios[np.isfinite(ratios)]
    if bad.sum() > 1 and ratios.size:
        low, high = ratios.min(), ratios.max()
        if np.isclose(low, high, rtol=1e-6, atol=0):
            text += f", the same at all {ratios.size} elements that differ" if ratios.size == bad.sum() else ""
        else:
            text += f", from {low:.4g} to {high:.4g} over the elements that differ"
    return text


def gradgradcheck(fn: Callable, *inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4) -> bool:
    """Check second derivatives: the backward of ``fn``'s backward, against finite differences.

    The first derivative is taken with ``create_graph=True`` and reduced by fixed random
    weights, ``H(x) = sum_i <dL/dx_i, u_i>``; then ``gradcheck`` compares the engine's
    gradient of ``H`` (a Hessian-vector product) with finite differences of ``H``.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> from tinygraph.testing import gradgradcheck
    >>> gradgradcheck(lambda x: tg.tanh(x) * x, np.array([0.3, -1.2]))
    True
    """
    leaves = _leaves(inputs)
    out, weights = _projected(fn, leaves, None)
    active = [i for i, t in enumerate(leaves) if t.requires_grad]
    rng = np.random.default_rng(7)
    directions = {i: _weights(rng, leaves[i].shape) for i in active}

    def first_derivative_projected(*xs):
        out = fn(*xs)
        wrt = [xs[i] for i in active]
        grads = _analytic(out, wrt, weights, create_graph=True)
        total = Tensor(0.0)
        for i, g in zip(active, grads):
            total = total + (g * directions[i]).sum()
        return total

    try:
        return gradcheck(first_derivative_projected, *leaves, eps=eps, atol=atol, rtol=rtol)
    except AssertionError as err:
        raise AssertionError(str(err).replace("gradcheck:", "gradgradcheck (second order):", 1)) from None
