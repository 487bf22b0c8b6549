"""What is written on the picture from the engine: gradients and values of the drawn tensors.

Like :mod:`tinygraph.viz._layout`, this module reads engine nodes (``node.saved``,
``node.grad``, ``node_gradients``); the DOT writer only receives the arrays.
"""

from __future__ import annotations

import numpy as np

from tinygraph._graph import RELEASED, node_gradients
from tinygraph._ops import OPS
from tinygraph.tensor import Tensor
from tinygraph.viz._layout import Picture, leaf_value


def _plain(array):
    """``.grad`` holds Tensors after backward(create_graph=True); show their arrays."""
    return array.data if isinstance(array, Tensor) else array


def gradients(picture: Picture):
    """The gradient to show on each tensor, and a note for the graph label (or None).

    Leaves show their ``.grad``; intermediate results show the ``.grad`` kept by
    ``retain_grad()``, or dL/d(result) recomputed with ``node_gradients`` while the
    graph is still retained. Raises when no gradient exists at all.
    """
    grads: dict = {}
    for item in list(picture.leaf_ids) + picture.ops:
        if item.grad is not None:
            grads[item] = _plain(item.grad)
    if not grads:
        raise RuntimeError(
            "draw: show_grads=True but no tensor in this graph has a gradient yet: call backward() on the root "
            "first (backward(retain_graph=True) also shows the gradients of intermediate results), "
            "or draw without show_grads"
        )
    missing = [op for op in picture.ops if op not in grads and picture.out_drawn[op]]
    note = None
    if missing:
        if picture.root.data.size != 1:
            every = {}
            note = "gradients of intermediate results need a one-element root (or retain_grad() on them)"
        else:
            try:
                every = node_gradients(picture.root_node)
            except RuntimeError:
                every = {}
                note = (
                    "gradients of intermediate results were freed by backward(): "
                    "call backward(retain_graph=True) or retain_grad() to show them"
                )
        for op in missing:
            if op in every:
                grads[op] = _plain(every[op])
    if not any(picture.out_drawn[op] and op not in grads for op in picture.ops):
        note = None
    return grads, note


_DETERMINISTIC_OPS = frozenset(OPS.values())


def values(picture: Picture) -> dict:
    """The data of every tensor drawn: leaves hold theirs; results come from the root,
    retained tensors, arrays saved for backward, or by re-running a built-in op's forward."""
    values: dict = {leaf: leaf_value(leaf) for leaf in picture.leaf_ids}
    values[picture.root_node] = picture.root.data
    for op in picture.ops:
        saved = op.saved
        if saved is RELEASED:
            continue
        for slot, array in zip(op.rule.save_slots, saved):
            owner = op if slot < 0 else op.parents[slot]
            if owner.parents and owner not in values:
                values[owner] = array
    with np.errstate(all="ignore"):
        for op in picture.ops:  # creation order: inputs are known before their readers
            # User ops may be random (dropout) or costly, so only built-in ops are re-run.
            if op in values or type(op.rule) not in _DETERMINISTIC_OPS:
                continue
            inputs = [values.get(p) for p in picture.inputs[op]]
            if any(v is None for v in inputs):
                continue
            try:
                values[op] = op.rule.forward(*inputs)
            except Exception:  # noqa: BLE001, S112 - a value we cannot show is not worth failing the picture
                continue
    return values

