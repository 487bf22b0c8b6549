"""Function forms of the ops, for code that reads like numpy: ``tg.relu(W @ X + b)``."""

from __future__ import annotations

from tinygraph import _ops
from tinygraph._graph import check_seed, run_backward
from tinygraph.tensor import Tensor, apply1, apply2


def matmul(x, y) -> Tensor:
    """Matrix product ``x @ y`` (numpy's rules; the document's ``np.dot(W, X)`` for 2-D).

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.matmul([[1.0, 2.0]], [[3.0], [4.0]]).item()
    11.0
    """
    return apply2(_ops.MatMul(), x, y)


def relu(x) -> Tensor:
    """max(0, x), elementwise; its derivative at 0 is taken as 0.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.relu([-1.0, 0.0, 2.0]).numpy().tolist()
    [0.0, 0.0, 2.0]
    """
    return apply1(_ops.ReLU(), x)


def sigmoid(x) -> Tensor:
    """1 / (1 + e^-x), elementwise, stable for large |x|.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.sigmoid([0.0, 1000.0, -1000.0]).numpy().tolist()
    [0.5, 1.0, 0.0]
    """
    return apply1(_ops.Sigmoid(), x)


def tanh(x) -> Tensor:
    """Hyperbolic tangent, elementwise.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.tanh([0.0]).item()
    0.0
    """
    return apply1(_ops.Tanh(), x)


def exp(x) -> Tensor:
    """e ** x, elementwise.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.exp([0.0]).item()
    1.0
    """
    return apply1(_ops.Exp(), x)


def log(x) -> Tensor:
    """Natural logarithm, elementwise; negative inputs are refused.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.log([1.0]).item()
    0.0
    """
    return apply1(_ops.Log(), x)


def broadcast_to(x, shape) -> Tensor:
    """Repeat ``x`` along broadcast axes to ``shape``; the gradient sums back.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.broadcast_to([[1.0], [2.0]], (2, 3)).shape
    (2, 3)
    """
    return apply1(_ops.BroadcastTo(tuple(shape)), x)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned rather than stored in ``.grad``.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
        What to differentiate; a non-scalar output needs its entry of ``grad_outputs``.
    inputs : Tensor or sequence of Tensor
        What to differentiate with respect to (leaves or intermediate results).
    grad_outputs : array_like or sequence, optional
        dL/d(output) for each output; ones for one-element outputs when omitted.
    retain_graph : bool, optional
        Keep the graph for another backward; defaults to ``create_graph``.
    create_graph : bool
        Record this backward pass, so the returned gradients can be differentiated again.

    Returns
    -------
    list
        One gradient per input (arrays, or Tensors under ``create_graph``); ``None`` for
        an input that ``outputs`` do not depend on.

    Examples
    --------
    A second derivative: d²/dx² tanh(x) = -2 tanh(x)(1 - tanh(x)²).

    >>> import numpy as np
    >>> import tinygraph as tg
    >>> x = tg.Tensor(0.5, requires_grad=True)
    >>> (dx,) = tg.grad(tg.tanh(x), x, create_graph=True)
    >>> (d2x,) = tg.grad(dx, x)
    >>> t = np.tanh(0.5)
    >>> bool(np.isclose(d2x, -2 * t * (1 - t * t)))
    True
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} output(s) but {len(grad_outputs)} grad_outputs")
    for t in outputs + inputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: outputs and inputs must be Tensors, got {type(t).__name__}")
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: input {i} (shape {t.shape}) does not require grad")
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad: it does not depend on any input")
    seeds = [check_seed(o, g, create_graph=create_graph) for o, g in zip(outputs, grad_outputs)]
    retain = create_graph if retain_graph is None else retain_graph
    return run_backward(outputs, seeds, retain_graph=retain, create_graph=create_graph, capture=inputs)
