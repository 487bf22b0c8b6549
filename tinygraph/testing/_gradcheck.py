"""gradcheck and gradgradcheck: analytic derivatives against central finite differences."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from tinygraph.functional import grad as _grad
from tinygraph.tensor import Tensor
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
        numeric value.

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
    analytic = _analytic(out, [leaves[i] for i in active], weights)

    for position, got in zip(active, analytic):
        def projected_at(point, position=position):
            trial = list(leaves)
            trial[position] = Tensor(point, requires_grad=True)
            value = fn(*trial)
            return float(np.sum(np.asarray(value.data, dtype=np.float64) * weights))

        expected = numerical_gradient(projected_at, leaves[position].data, eps=eps)
        _compare(got, expected, position, leaves[position], atol=atol, rtol=rtol, order="")
    return True


def _analytic(out: Tensor, wrt: list, weights: np.ndarray, create_graph: bool = False) -> list:
    if not out.requires_grad:  # fn ignores its inputs: every derivative is zero
        return [np.zeros_like(t.data) for t in wrt]
    grads = _grad(out, wrt, grad_outputs=weights.astype(out.dtype), create_graph=create_graph)
    return [np.zeros_like(t.data) if g is None else g for t, g in zip(wrt, grads)]


def _compare(got, expected: np.ndarray, position: int, leaf: Tensor, *, atol: float, rtol: float, order: str):
    got = np.asarray(got.data if isinstance(got, Tensor) else got, dtype=np.float64)
    if got.shape != expected.shape:
        raise AssertionError(
            f"gradcheck{order}: input {position} has shape {expected.shape} but its analytic gradient has shape {got.shape}"
        )
    bad = ~(np.abs(got - expected) <= atol + rtol * np.abs(expected))
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        name = f" ({leaf.name!r})" if leaf.name else ""
        a, n = got[index], expected[index]
        raise AssertionError(
            f"gradcheck{order}: input {position}{name}, shape {expected.shape}, element {index}: "
            f"dL/dx of L = sum(w * fn(...)) with fixed random weights w: "
            f"analytic {a:.10g}, numeric {n:.10g}, |difference| {abs(a - n):.3g} > "
            f"tolerance {atol + rtol * abs(n):.3g} ({int(bad.sum())} of {bad.size} elements differ)"
        )


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
