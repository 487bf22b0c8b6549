"""Function forms of the ops, for code that reads like numpy: ``tg.relu(W @ X + b)``,
and ``grad``, gradients returned rather than stored.

The function forms are built from the op table: each op class names its function (see
``tinygraph._ops``), and this module exports it under that name.
"""

from __future__ import annotations

from tinygraph._graph import Capture, backward_pass, owned
from tinygraph.tensor import FUNCTIONS, Tensor, _seed

globals().update(FUNCTIONS)

__all__ = sorted(FUNCTIONS) + ["grad"]  # noqa: PLE0605  (the op table names the functions)


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
    seeds = [_seed(o, g, create_graph=create_graph, what="grad") for o, g in zip(outputs, grad_outputs)]
    retain = create_graph if retain_graph is None else retain_graph
    roots = [o.node for o in outputs]
    sink = Capture(roots, [t.node for t in inputs])
    backward_pass(roots, seeds, retain_graph=retain, create_graph=create_graph, visit=sink)
    # Like .grad, what tg.grad returns is the caller's own: no two results (nor a result
    # and the caller's grad_outputs) share an array, and every one is writeable.
    handed = {id(s) for s in seeds} | {id(s.data) for s in seeds if isinstance(s, Tensor)}
    return [None if sink.got[t.node] is None else owned(sink.got[t.node], handed) for t in inputs]

