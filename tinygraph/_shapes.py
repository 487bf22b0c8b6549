"""Shapes and dtypes: the one un-broadcast, operand coercion and the text of shape errors.

Everything here works on numpy arrays and, where noted, on Tensors too (through the
methods both share), so the backward pass can run on either.
"""

from __future__ import annotations

import numbers

import numpy as np

# dtype kinds numpy uses: b bool, i/u integers, f floats, c complex, and the rest are not numbers.
_PROMOTED_KINDS = frozenset("biu")


def fmt(shape: tuple) -> str:
    """A shape as numpy prints it: ``(3, 4)``, ``(2,)``, ``()``."""
    return str(tuple(shape))


def as_float_array(data, *, what: str = "Tensor") -> np.ndarray:
    """Coerce user data to a floating numpy array, without copying when it already is one.

    Floating arrays keep their dtype (float32 stays float32); bools, integers, lists and
    Python numbers become float64. Strings, objects and complex numbers are refused.
    """
    if type(data) is np.ndarray:
        array = data
    else:  # subclasses too: np.matrix would turn * into a matrix product
        try:
            array = np.asarray(data)
        except (ValueError, TypeError) as err:  # ragged lists and the like
            raise TypeError(f"{what}: cannot make a numeric array from {type(data).__name__}: {err}") from None
    kind = array.dtype.kind
    if kind == "f":
        return array
    if kind in _PROMOTED_KINDS:
        return array.astype(np.float64)
    if kind == "c":
        raise TypeError(f"{what}: complex data ({array.dtype}) is not supported; tinygraph differentiates real functions")
    raise TypeError(f"{what}: expected numbers, got an array of dtype {array.dtype} from {type(data).__name__}")


def as_operand(value, dtype: np.dtype, *, what: str) -> np.ndarray:
    """Coerce the non-Tensor side of a binary op next to a Tensor of ``dtype``.

    Python numbers and bool/int arrays take the Tensor's dtype, so ``2 * t`` or
    ``t - 1`` never upcast a float32 Tensor; float arrays keep theirs and numpy's
    promotion applies, as it would between two arrays.
    """
    kind = type(value)
    if kind is float or kind is int or kind is bool:  # the common case, checked cheaply
        return np.asarray(value, dtype=dtype)
    if type(value) is np.ndarray:
        array = value
    elif isinstance(value, numbers.Real) and not isinstance(value, np.floating):
        return np.asarray(value, dtype=dtype)  # other Python-like numbers, numpy integers
    else:
        array = np.asarray(value)
    if array.dtype.kind in _PROMOTED_KINDS:
        return array.astype(dtype)
    return as_float_array(array, what=what)


def sum_to_shape(grad, shape: tuple, *, op: str = "backward", index: int = 0):
    """Sum a gradient down to ``shape``, undoing numpy broadcasting.

    The adjoint of broadcasting: axes that broadcasting added in front are summed away,
    and axes that were 1 in ``shape`` are summed with ``keepdims``. Works on arrays and on
    Tensors alike. A gradient that ``shape`` could not have broadcast to is an error of
    the op that produced it, and the message says which op and which input.

    Examples
    --------
    >>> import numpy as np
    >>> sum_to_shape(np.ones((4, 3, 5)), (3, 1)).tolist() == [[20.0]] * 3
    True
    """
    gshape = grad.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    if lead >= 0:
        axes = list(range(lead))  # axes broadcasting added in front
        for i, size in enumerate(shape):
            if size != gshape[lead + i]:
                if size != 1:
                    break
                axes.append(lead + i)  # axes that were 1 and got stretched
        else:
            # One reduction for both kinds of axes; keepdims keeps even a full
            # reduction an array (not a numpy scalar), and reshape drops the front axes.
            summed = grad.sum(axis=tuple(axes), keepdims=True)
            return summed.reshape(shape) if lead else summed
    raise ValueError(
        f"{op}: the gradient for input {index} has shape {fmt(gshape)}, "
        f"which does not reduce to the input's shape {fmt(shape)}"
    )


def broadcast_to(value, shape: tuple):
    """``np.broadcast_to`` for arrays (a read-only view, no copy) and Tensors (an op)."""
    if isinstance(value, (np.ndarray, np.generic)):  # 0-d results of numpy are scalars
        return np.broadcast_to(value, shape)
    return value.broadcast_to(shape)


def normalize_axes(axis, ndim: int, *, op: str, shape: tuple) -> tuple:
    """Turn ``axis`` (None, an int or a tuple of ints, negatives allowed) into sorted non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if not isinstance(axis, (tuple, list)) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, numbers.Integral) or isinstance(a, (bool, np.bool_)):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r} for shape {fmt(shape)}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for shape {fmt(shape)}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))
