"""Losses beyond the binary case: multi-class cross-entropy (fused with its softmax) and
mean squared error."""

from __future__ import annotations

import math

import numpy as np

from tinygraph._ops._base import Primitive, is_array
from tinygraph._ops.softmax import _finite_max, class_axis, log_softmax, shifted_residuals, softmax
from tinygraph._shapes import fmt


def _some(values: np.ndarray, limit: int = 5) -> str:
    """A few distinct values, as a person would write them (10, -1, 2.5, nan)."""
    distinct = np.unique(values)  # NaNs sort last, and np.unique keeps them
    shown = ", ".join(f"{v:g}" for v in distinct[:limit].tolist())
    return shown + (f", ... ({distinct.size} distinct)" if distinct.size > limit else "")


def _onehot(labels: np.ndarray, shape: tuple, axis: int) -> np.ndarray:
    """True at each sample's label along ``axis`` of ``shape``, False elsewhere."""
    along = [1] * len(shape)
    along[axis] = shape[axis]
    kept = shape[:axis] + (1,) + shape[axis + 1 :]
    return np.arange(shape[axis]).reshape(along) == labels.reshape(kept)


def _label_positions(labels: np.ndarray, shape: tuple, axis: int) -> np.ndarray:
    """The C-order flat positions in ``shape`` of each sample's label along ``axis``."""
    before, classes, after = math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])
    rows = labels.reshape(before, after).astype(np.intp)
    if before > 1:
        rows = rows + (np.arange(before) * classes)[:, None]
    positions = rows * after
    positions += np.arange(after)
    return positions.reshape(-1)


class CrossEntropy(Primitive):
    """Multi-class cross-entropy of ``softmax(logits)`` along ``axis``, averaged over the samples.

    One fused op: stable for logits of any size (log_softmax is computed shifted by the
    maximum), and its gradient with integer labels is exactly ``(softmax(logits) -
    onehot) / N``, the document's ``dZ = A - Y`` for ten classes.

    Parameters
    ----------
    logits : Tensor
        Raw scores, classes along ``axis``: (C, N) in the library's layout.
    target : array_like or Tensor
        Either class labels, of the logits' shape without ``axis`` ((N,) for (C, N)
        logits): an integer array with values in [0, C). Like every tinygraph input they
        reach the op as floats, so a float array of whole numbers (3.0) is accepted as
        the same labels; 2.5, nan, -1 or C are refused when the op is built, naming the
        bad values. Labels get no gradient.
        Or probabilities of the logits' shape (values in [0, 1], e.g. one-hot rows or
        smoothed labels); the loss is then ``-sum(target * log_softmax(logits)) / N``,
        with gradients ``(softmax * sum(target, axis) - target) / N`` for the logits
        (``softmax - target`` when each sample's target sums to 1) and
        ``-log_softmax(logits) / N`` for the target.
    axis : int
        The class axis; 0 by default.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> Z = tg.Tensor([[2.0, 0.0, 1e4], [0.0, 3.0, 0.0]], requires_grad=True)   # 2 classes, 3 samples
    >>> loss = tg.cross_entropy(Z, np.array([0, 1, 0]))
    >>> round(loss.item(), 6)
    0.058505
    >>> loss.backward()
    >>> bool(np.array_equal(Z.grad, (tg.softmax(Z).data - [[1, 0, 1], [0, 1, 0]]) / 3))
    True
    """

    name = "cross_entropy"
    formula = ("dlogits = g * (softmax(logits) - onehot(target)) / N", "dtarget = -g * log_softmax(logits) / N")
    saves = ("logits", "target")
    residuals = ("probs", "picked")
    function = "cross_entropy"
    __slots__ = ("axis",)

    def __init__(self, axis=0):
        self.axis = axis

    def _geometry(self, shape: tuple) -> tuple:
        """(class axis, number of classes C, number of samples N) of logits of ``shape``."""
        if len(shape) == 0:
            raise ValueError("cross_entropy: the logits are a 0-d value; they need a class axis (shape (C, N) or (C,))")
        axis = self.axis
        if type(axis) is not int or not -len(shape) <= axis < len(shape):  # the checks, off the common path
            axis = class_axis(axis, shape, self.name)
        axis %= len(shape)
        classes = shape[axis]
        samples = math.prod(shape) // classes if classes else 0
        if classes == 0 or samples == 0:
            raise ValueError(f"cross_entropy: the logits of shape {fmt(shape)} hold no classes or no samples (axis {axis})")
        return axis, classes, samples

    def _is_labels(self, shape: tuple, target_shape: tuple, axis: int) -> bool:
        labels_shape = shape[:axis] + shape[axis + 1 :]
        if target_shape == labels_shape:
            return True
        if target_shape == shape:
            return False
        raise ValueError(
            f"cross_entropy: target has shape {fmt(target_shape)}, but logits of shape {fmt(shape)} with classes on "
            f"axis {axis} take class labels of shape {fmt(labels_shape)} or probabilities of shape {fmt(shape)}"
        )

    def forward(self, logits, target):
        return self._fused(logits, target, keep=False)[0]

    def forward_with_residuals(self, logits, target):
        """The loss, and for backward the softmax and (for labels) the flat positions of the labels."""
        return self._fused(logits, target, keep=True)

    def _fused(self, logits, target, keep: bool):
        shape = logits.shape
        axis, classes, samples = self._geometry(shape)
        labels = self._is_labels(shape, target.shape, axis)
        if labels:
            good = (target >= 0) & (target < classes) & (target == np.floor(target))  # nan is not good
            if np.count_nonzero(good) != good.size:
                bad = ~good
                raise ValueError(
                    f"cross_entropy: class labels must be whole numbers in [0, {classes}) (the logits {fmt(shape)} "
                    f"have {classes} classes on axis {axis}); got {_some(target[bad])}"
                )
        elif not (target.min() >= 0 and target.max() <= 1):  # written so that nan fails too
            outside = ~((target >= 0) & (target <= 1))
            raise ValueError(
                f"cross_entropy: target probabilities must lie in [0, 1] (shape {fmt(target.shape)}); got {_some(target[outside])}"
            )
        shifted = logits - _finite_max(logits, axis)
        exp = np.exp(shifted)
        total = exp.sum(axis=axis, keepdims=True)
        # A class axis of -inf logits sums to 0: log(0) and 0/0 make its loss and softmax
        # nan (a label at a -inf logit of a finite axis gives inf). The nan or inf loss
        # says so; numpy's warnings on the way would only repeat it.
        with np.errstate(divide="ignore", invalid="ignore"):
            log_total = np.log(total)
            probs = np.divide(exp, total, out=exp) if keep else None  # only backward needs the softmax
            if labels:
                picked = _label_positions(target, shape, axis)
                # -sum(log_softmax at the labels) = sum(log_total) - sum(shifted at the labels)
                loss = (log_total.sum() - shifted.ravel()[picked].sum()) / samples
            else:
                picked = None
                loss = -(target * (shifted - log_total)).sum() / samples
        return np.asarray(loss, dtype=logits.dtype), (probs, picked)

    def backward(self, ctx, g, logits, target, probs, picked):
        # probs and picked are None under create_graph (and when tg.compile or check_graph
        # run the rule): the softmax is then recomputed from the saved logits.
        shape = ctx.parents[0].shape
        axis, _, samples = self._geometry(shape)
        if self._is_labels(shape, ctx.parents[1].shape, axis):
            if probs is None:
                onehot = _onehot(target if is_array(target) else target.data, shape, axis)
                return g * (softmax(logits, axis) - onehot) / samples, None
            dz = np.array(probs, order="C")  # a C-ordered copy: picked are C-order positions
            dz.reshape(-1)[picked] -= 1.0
            dz *= g  # in this order, the same numbers as g * (softmax - onehot) / N
            dz /= samples
            return dz, None
        dz = dt = None
        if ctx.needs[0]:
            p = softmax(logits, axis) if probs is None else probs
            dz = g * (p * target.sum(axis=axis, keepdims=True) - target) / samples
        if ctx.needs[1]:
            dt = -g * log_softmax(logits, axis) / samples
        return dz, dt

    def emit_residuals(self, ctx, logits, target):
        # Computed once in the compiled forward and read again by its backward, as the
        # eager op keeps its softmax: the shifted logits, their exponentials and the sums.
        shape = ctx.parents[0].shape
        axis, classes, _ = self._geometry(shape)
        kept = shifted_residuals(logits, axis) | {
            "exp": "np.exp(shifted)",
            "total": f"np.sum(exp, axis={axis}, keepdims=True)",
        }
        if self._is_labels(shape, ctx.parents[1].shape, axis):
            # Compiled code skips the ops' value checks, but a bad label would pick a wrong
            # class with no sign (-1 wraps to the last class, 2.5 becomes 2). Every label
            # that is not a whole number in [0, C) is moved out of range, where
            # np.ravel_multi_index raises ("invalid entry in coordinates array").
            whole = f"{target}.astype(np.intp) + {classes} * ({target} != np.floor({target}))"
            kept["checked_labels"] = f"np.ravel_multi_index(({whole},), ({classes},))"
        return kept

    def emit_forward(self, ctx, logits, target):
        shape = ctx.parents[0].shape
        axis, _, samples = self._geometry(shape)
        kept = ctx.residuals
        log_p = f"({kept['shifted']} - np.log({kept['total']}))"
        if self._is_labels(shape, ctx.parents[1].shape, axis):
            picked = f"np.take_along_axis({log_p}, np.expand_dims({kept['checked_labels']}, {axis}), axis={axis})"
            return f"np.asarray(-np.sum({picked}) / {samples}, dtype={logits}.dtype)"
        return f"np.asarray(-np.sum({target} * {log_p}) / {samples}, dtype={logits}.dtype)"

    def emit_backward(self, ctx, g, logits, target):
        shape = ctx.parents[0].shape
        axis, classes, samples = self._geometry(shape)
        kept = ctx.residuals
        p = f"({kept['exp']} / {kept['total']})"  # the softmax, as the eager backward's probs
        if self._is_labels(shape, ctx.parents[1].shape, axis):
            classes_along = [-1 if i == axis else 1 for i in range(len(shape))]
            labels = kept["checked_labels"]
            onehot = f"(np.arange({classes}).reshape({tuple(classes_along)!r}) == np.expand_dims({labels}, {axis}))"
            return (f"{g} * ({p} - {onehot}) / {samples}", None)
        dz = f"{g} * ({p} * np.sum({target}, axis={axis}, keepdims=True) - {target}) / {samples}" if ctx.needs[0] else None
        log_p = f"({kept['shifted']} - np.log({kept['total']}))"
        dt = f"-{g} * {log_p} / {samples}" if ctx.needs[1] else None
        return dz, dt


class MSELoss(Primitive):
    """Mean squared error: ``mean((pred - target) ** 2)`` over every element.

    ``pred`` and ``target`` must have the same shape: a (N,) target against (1, N)
    predictions would broadcast to an (N, N) table and average the wrong thing, so it
    is refused rather than silently computed.

    Examples
    --------
    >>> import tinygraph as tg
    >>> tg.mse_loss([[1.0, 2.0, 4.0]], [[1.0, 0.0, 1.0]]).item()
    4.333333333333333
    """

    name = "mse_loss"
    formula = ("dpred = g * 2 * (pred - target) / N", "dtarget = -g * 2 * (pred - target) / N")
    saves = ("pred", "target")
    function = "mse_loss"
    __slots__ = ()

    def forward(self, pred, target):
        if pred.shape != target.shape:
            raise ValueError(
                f"mse_loss: pred has shape {fmt(pred.shape)} but target has shape {fmt(target.shape)}; they must match"
            )
        if pred.size == 0:
            raise ValueError(f"mse_loss: the inputs are empty (shape {fmt(pred.shape)})")
        d = pred - target
        return np.asarray(np.mean(d * d), dtype=pred.dtype)

    def backward(self, ctx, g, pred, target):
        d = g * (pred - target) * (2.0 / pred.size)
        return (d if ctx.needs[0] else None), (-d if ctx.needs[1] else None)

    def emit_forward(self, ctx, pred, target):
        return f"np.asarray(np.mean(({pred} - {target}) * ({pred} - {target})), dtype={pred}.dtype)"

    def emit_backward(self, ctx, g, pred, target):
        d = f"{g} * ({pred} - {target}) * {2.0 / int(np.prod(ctx.parents[0].shape))!r}"
        return (d if ctx.needs[0] else None), (f"-({d})" if ctx.needs[1] else None)
