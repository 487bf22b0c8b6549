"""Recognise the usual shapes of a wrong derivative from analytic and numeric gradients.

Each hint is a test on whole arrays, looser than the check itself (the patterns are
exact, the finite differences are not): a constant ratio (a factor of 2, of N or 1/N, a
flipped sign), zeros where the numeric derivative is not, right magnitudes with wrong
signs, another input's gradient in this one's place, a transpose or another reordering.
"""

from __future__ import annotations

import numpy as np

from tinygraph._shapes import fmt

# How close a pattern must hold: looser than the checks, which stay the judges.
_RTOL = 1e-4


def _close(a: np.ndarray, b: np.ndarray, atol: float) -> bool:
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + _RTOL * np.abs(b)))


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= 1e-3 * abs(target)


def sizes_of(*shapes) -> dict:
    """Candidate N for a 1/N hint: every size and axis length above 2 among ``shapes``."""
    sizes = {}
    for what, shape in shapes:
        for i, n in enumerate(shape):
            if n > 2:
                sizes.setdefault(int(n), f"axis {i} of {what}")
        size = int(np.prod(shape, dtype=np.int64))
        if size > 2:
            sizes[size] = f"the size of {what}"
    return sizes


def _factor(r: float, sizes: dict) -> str:
    """Words for ``analytic = r * numeric`` at every element."""
    sign = "a flipped sign and " if r < 0 else ""
    m = abs(r)
    if _near(m, 1.0):
        return "a flipped sign: analytic = -numeric at every element (a minus sign missing or one too many)"
    if _near(m, 2.0):
        return (f"{sign}a factor of 2: analytic = {r:.4g} x numeric at every element "
                "(a derivative such as 2x applied twice, or g + g where g belongs)")
    if _near(m, 0.5):
        return (f"{sign}a factor of 1/2: analytic = {r:.4g} x numeric at every element "
                "(a 2 missing, e.g. d(x^2) written as x)")
    for n, what in sorted(sizes.items()):
        if _near(m, n):
            return (f"{sign}a factor of N = {n} ({what}): analytic = {r:.4g} x numeric at every element "
                    "(a mean's backward that forgets to divide by N)")
        if _near(m, 1.0 / n):
            return (f"{sign}a factor of 1/N, N = {n} ({what}): analytic = numeric x {r:.4g} at every element "
                    "(a division by N that does not belong, e.g. a sum's gradient divided like a mean's)")
    whole = round(m)
    if whole >= 3 and _near(m, whole):
        return (f"{sign}a factor of {whole}: analytic = {r:.4g} x numeric at every element "
                f"(a gradient counted {whole} times, e.g. a broadcast copy summed too often)")
    return f"{sign}a constant factor: analytic = {r:.4g} x numeric at every element (a wrong constant in the formula)"


def diagnose(analytic: np.ndarray, numeric: np.ndarray, *, atol: float, others=(), sizes=None,
             what: str = "input") -> str | None:
    """A hint for a wrong gradient, or None when no pattern is recognised.

    Parameters
    ----------
    analytic, numeric : ndarray
        The gradient the backward gave, and central differences, for one input.
    atol : float
        The check's absolute tolerance (values below ~10 x atol count as zero).
    others : iterable of (label, analytic, numeric)
        The other inputs, to recognise two gradients swapped.
    sizes : dict, optional
        ``{N: what}`` candidates for factors N and 1/N (see :func:`sizes_of`).
    what : str
        What ``analytic`` is the gradient of, for the words ("input 1").
    """
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        if a.ndim >= 2 and a.shape == n.shape[::-1]:
            return (f"transposed: the gradient has shape {fmt(a.shape)} for {what} of shape {fmt(n.shape)} "
                    "(a .T missing, or the operands of a matmul in the wrong order)")
        return None
    if not (np.isfinite(a).all() and np.isfinite(n).all()):
        return None
    zero = 10.0 * atol
    big = np.abs(n) > zero
    if not big.any():
        return (f"numeric is zero at every element but analytic is not: the output does not depend on {what}, "
                "yet the backward returns a gradient for it")
    a_zero = np.abs(a) <= zero
    if a_zero.all():
        return (f"analytic is zero everywhere, numeric is not: the backward returns zeros (or None) for {what}, "
                "ignores ctx.needs, or the gradient never reaches it (a value taken out with .data or np.asarray)")
    for label, other_a, other_n in others:
        other_a, other_n = np.asarray(other_a, dtype=np.float64), np.asarray(other_n, dtype=np.float64)
        if _close(a, other_n, zero) and not _close(a, n, zero):
            if _close(other_a, n, zero):
                return (f"the gradients of {what} and {label} are swapped: each equals the other's numeric "
                        "gradient (return them in the order of forward's parameters)")
            return f"analytic for {what} equals the numeric gradient of {label}: a gradient returned in the wrong place"
    ratio = a[big] / n[big]
    r = float(np.median(ratio))
    if r != 0.0 and _close(a, r * n, zero):
        # A ratio near +1 is a gradient off by less than the patterns' tolerance: nothing to name.
        return None if _near(r, 1.0) else _factor(r, sizes or {})
    if _close(np.abs(a), np.abs(n), zero):
        flipped = int(np.sum(np.sign(a) != np.sign(n)))
        return (f"right magnitudes, wrong signs at {flipped} of {a.size} elements "
                "(an abs(), a sign() or a mask on the wrong side)")
    cut = a_zero & big
    if cut.any() and _close(a[~cut], n[~cut], zero):
        return (f"analytic is zero at {int(cut.sum())} of {a.size} elements where numeric is not, and right "
                "elsewhere: a mask that cuts too much (x > 0 where x >= 0 belongs?)")
    if a.ndim == 2 and a.shape[0] == a.shape[1] and _close(a, n.T, zero):
        return "analytic is the transpose of numeric: a .T missing or one too many"
    if a.size > 1 and _close(np.sort(a, axis=None), np.sort(n, axis=None), zero):
        return ("the right values at the wrong elements: the gradient is reordered "
                "(reversed, transposed or reshaped along the wrong axis)")
    return None
