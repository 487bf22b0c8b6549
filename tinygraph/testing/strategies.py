"""Hypothesis strategies for property-testing derivatives.

Values come from a :class:`Domain`: a well-conditioned interval, optionally kept a
margin away from points where a function has a kink (relu at 0) or a pole (1/x at 0).
Finite differences straddling such a point measure the average of two slopes, not the
derivative, so a test must not draw there.

Examples
--------
>>> from hypothesis import given
>>> from tinygraph.testing import gradcheck
>>> from tinygraph.testing import strategies as tgst
>>> import tinygraph as tg
>>> @given(tgst.arrays(tgst.shapes(), tgst.AWAY_FROM_ZERO))
... def test_relu(x):
...     gradcheck(tg.relu, x)
>>> test_relu()
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Domain", "REAL", "POSITIVE", "AWAY_FROM_ZERO", "PROBABILITY", "BINARY",
    "elements", "shapes", "arrays", "broadcastable_shapes", "matmul_shapes", "binary_targets",
]  # fmt: skip

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as err:  # pragma: no cover - hypothesis is a test dependency
    raise ImportError(
        'tinygraph.testing.strategies needs hypothesis: pip install hypothesis (or pip install -e ".[test]" in a tinygraph checkout)'
    ) from err


@dataclass(frozen=True)
class Domain:
    """Where an op's inputs may be drawn: ``[low, high]`` minus ``margin`` around ``avoid``."""

    low: float = -3.0
    high: float = 3.0
    avoid: tuple = ()
    margin: float = 1e-2
    values: tuple = ()  # a discrete domain: draw only these (e.g. 0/1 targets)

    def __post_init__(self):
        if not self.low <= self.high:
            raise ValueError(f"Domain: low {self.low} is above high {self.high}")
        if self.margin < 0:
            raise ValueError(f"Domain: margin must be >= 0, got {self.margin}")

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high and all(abs(value - p) >= self.margin for p in self.avoid)


#: Any real input, in a range where exp and friends stay well conditioned.
REAL = Domain()
#: Strictly positive, away from 0 (log, 1/x, fractional powers).
POSITIVE = Domain(0.1, 4.0)
#: Real, but not near 0 (relu's kink, a divisor's pole).
AWAY_FROM_ZERO = Domain(avoid=(0.0,))
#: Probabilities kept off 0 and 1, where cross-entropy's slope grows without bound.
PROBABILITY = Domain(0.05, 0.95)
#: Targets of a binary classifier.
BINARY = Domain(0.0, 1.0, values=(0.0, 1.0))


def elements(domain: Domain = REAL) -> st.SearchStrategy:
    """Floats in ``domain`` (never NaN or infinite)."""
    if domain.values:
        return st.sampled_from(list(domain.values))
    values = st.floats(domain.low, domain.high, allow_nan=False, allow_infinity=False, width=64)
    if domain.avoid:
        values = values.filter(domain.contains)
    return values


def shapes(*, min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes, small enough for element-by-element finite differences."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def arrays(shape, domain: Domain = REAL, dtype=np.float64) -> st.SearchStrategy:
    """Arrays of ``shape`` (a tuple or a strategy of tuples) with values from ``domain``."""
    return hnp.arrays(dtype, shape, elements=elements(domain))


def broadcastable_shapes(num_shapes: int = 2, *, max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy:
    """Tuples of ``num_shapes`` shapes that broadcast together, as numpy defines it.

    Sizes of 1 and missing leading axes are drawn often, so the un-broadcasting of
    gradients is exercised, not just equal shapes.
    """
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=0, max_dims=max_dims, min_side=1, max_side=max_side
    ).map(lambda drawn: drawn.input_shapes)


@st.composite
def matmul_shapes(draw, *, max_side: int = 5, vectors: bool = True, batch: bool = True):
    """A pair of shapes ``x @ y`` accepts: matrices, and optionally vectors and stacks.

    Batch (stack) axes are drawn broadcast-compatible, so their gradients must be summed back.
    """
    n, k, m = (draw(st.integers(1, max_side)) for _ in range(3))
    left, right = (n, k), (k, m)
    if vectors and draw(st.booleans()):
        kind = draw(st.sampled_from(["vector @ matrix", "matrix @ vector", "vector @ vector"]))
        left = (k,) if kind.startswith("vector") else left
        right = (k,) if kind.endswith("vector") else right
    elif batch and draw(st.booleans()):
        stacks = draw(broadcastable_shapes(2, max_dims=2, max_side=3))
        left, right = stacks[0] + left, stacks[1] + right
    return left, right


def binary_targets(shape) -> st.SearchStrategy:
    """0/1 target arrays, the document's Y."""
    return arrays(shape, BINARY)


# --- strategies for indexing, axes and joins (issue 10, part A) ---
__all__ += ["axes", "index_expressions", "concatenate_shapes"]


def axes(ndim: int, *, allow_none: bool = True, allow_tuple: bool = True) -> st.SearchStrategy:
    """An ``axis`` argument over ``ndim`` axes: None, an int (negatives too) or a tuple of distinct axes.

    >>> from hypothesis import given
    >>> @given(axes(3))
    ... def test_sum_axes(axis):
    ...     assert np.ones((2, 3, 4)).sum(axis=axis).ndim < 3
    >>> test_sum_axes()
    """
    options = [st.none()] if allow_none else []
    if ndim:
        options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            chosen = st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)
            options.append(chosen.flatmap(lambda picked: st.tuples(*[st.sampled_from([a, a - ndim]) for a in picked])))
    if not options:
        raise ValueError("axes: a 0-d array has no axis to draw; allow None")
    return st.one_of(options)


def _is_whole(part) -> bool:
    return isinstance(part, slice) and part == slice(None)


@st.composite
def index_expressions(draw, shape, *, arrays: bool = True, masks: bool = True, newaxis: bool = True,
                      ellipsis: bool = True):
    """Index expressions numpy accepts for an array of ``shape``: ints, slices (negative
    steps too), None, Ellipsis, integer arrays (positions repeat often, so a scatter must
    accumulate) and boolean masks over one or more axes.

    >>> from hypothesis import given
    >>> import tinygraph as tg
    >>> @given(index_expressions((3, 4)))
    ... def test_getitem(index):
    ...     x = np.arange(12.0).reshape(3, 4)
    ...     assert np.array_equal(tg.Tensor(x)[index].numpy(), x[index])
    >>> test_getitem()
    """
    shape = tuple(shape)
    ndim = len(shape)
    kinds = ["basic"]
    if ndim and arrays and all(shape):
        kinds.append("arrays")
    if ndim and masks:
        kinds.append("mask")
    kind = draw(st.sampled_from(kinds))
    array_axes, mask_at, common = set(), None, ()
    if kind == "arrays":  # one shared shape: the integer arrays broadcast together
        common = draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4))
        array_axes = set(draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=min(ndim, 2), unique=True)))
    elif kind == "mask":
        mask_at = draw(st.integers(0, ndim - 1))
    parts, axis = [], 0
    while axis < ndim:
        n = shape[axis]
        if axis == mask_at:
            span = draw(st.integers(1, ndim - axis))
            parts.append(draw(hnp.arrays(np.bool_, shape[axis : axis + span])))
            axis += span
            continue
        if axis in array_axes:
            parts.append(draw(hnp.arrays(np.intp, common, elements=st.integers(-n, n - 1))))
        else:
            choice = draw(st.sampled_from(["whole", "int", "slice"] if n else ["whole", "slice"]))
            if choice == "int":
                parts.append(draw(st.integers(-n, n - 1)))
            elif choice == "slice":
                bound = st.none() | st.integers(-n - 1, n + 1)
                parts.append(slice(draw(bound), draw(bound), draw(st.none() | st.sampled_from([1, 2, -1, -2]))))
            else:
                parts.append(slice(None))
        axis += 1
    if ellipsis and draw(st.booleans()):  # '...' stands for a run (maybe empty) of whole axes
        start = draw(st.integers(0, len(parts)))
        stop = start
        while stop < len(parts) and _is_whole(parts[stop]):
            stop += 1
        parts[start:stop] = [Ellipsis]
    else:
        while parts and _is_whole(parts[-1]) and draw(st.booleans()):
            parts.pop()
    if newaxis:
        for _ in range(draw(st.integers(0, 2))):
            parts.insert(draw(st.integers(0, len(parts))), None)
    if len(parts) == 1 and draw(st.booleans()):
        return parts[0]
    return tuple(parts)


@st.composite
def concatenate_shapes(draw, num_shapes: int = 2, *, max_dims: int = 3, max_side: int = 4):
    """``(shapes, axis)``: ``num_shapes`` shapes that ``concatenate`` joins along ``axis``
    (equal except along that axis, which may be negative).

    >>> from hypothesis import given
    >>> @given(concatenate_shapes(3))
    ... def test_join(drawn):
    ...     shapes, axis = drawn
    ...     assert np.concatenate([np.ones(s) for s in shapes], axis=axis).ndim == len(shapes[0])
    >>> test_join()
    """
    base = draw(shapes(min_dims=1, max_dims=max_dims, max_side=max_side))
    axis = draw(st.integers(-len(base), len(base) - 1))
    at = axis % len(base)
    sizes = draw(st.lists(st.integers(1, max_side), min_size=num_shapes, max_size=num_shapes))
    return tuple(base[:at] + (n,) + base[at + 1 :] for n in sizes), axis



# --- strategies for class labels, images and kernels (issue 10, part B) ---
__all__ += ["class_labels", "class_probabilities", "conv2d_geometry", "pool2d_geometry", "distinct_arrays"]


def _class_axis(logits_shape, axis: int) -> tuple:
    shape = tuple(logits_shape)
    if not shape or not -len(shape) <= axis < len(shape):
        raise ValueError(f"class_labels: axis {axis} is not an axis of logits of shape {shape}")
    return shape, axis % len(shape)


def class_labels(logits_shape, axis: int = 0) -> st.SearchStrategy:
    """Integer class labels for logits of ``logits_shape`` (classes along ``axis``): int64
    arrays of that shape without ``axis``, values in [0, C), as ``cross_entropy`` takes them.

    >>> from hypothesis import given
    >>> @given(class_labels((10, 5)))
    ... def test_labels(labels):
    ...     assert labels.shape == (5,) and labels.dtype.kind == "i" and ((labels >= 0) & (labels < 10)).all()
    >>> test_labels()
    """
    shape, axis = _class_axis(logits_shape, axis)
    return hnp.arrays(np.int64, shape[:axis] + shape[axis + 1 :], elements=st.integers(0, shape[axis] - 1))


def class_probabilities(logits_shape, axis: int = 0) -> st.SearchStrategy:
    """Probability targets of ``logits_shape``: non-negative, each sample summing to 1 along ``axis``.

    >>> from hypothesis import given
    >>> @given(class_probabilities((3, 4)))
    ... def test_sums(p):
    ...     assert np.allclose(p.sum(axis=0), 1.0)
    >>> test_sums()
    """
    shape, axis = _class_axis(logits_shape, axis)
    weights = arrays(shape, Domain(0.05, 1.0))
    return weights.map(lambda w: w / w.sum(axis=axis, keepdims=True))


def _int_or_pair(low: int, high: int) -> st.SearchStrategy:
    """An int, or a pair of ints (rows, columns), in [low, high]: ops take both spellings."""
    return st.integers(low, high) | st.tuples(st.integers(low, high), st.integers(low, high))


def _as_pair(value) -> tuple:
    return tuple(value) if isinstance(value, tuple) else (value, value)


@st.composite
def conv2d_geometry(draw, *, max_batch: int = 2, max_channels: int = 2, max_filters: int = 3, max_side: int = 5,
                    max_kernel: int = 3, max_stride: int = 2, max_padding: int = 1):
    """``(x_shape, w_shape, stride, padding)`` that ``conv2d`` accepts: images (N, C, H, W),
    filters (F, C, kh, kw), and a kernel that fits the padded image. ``stride`` and
    ``padding`` are drawn as an int or a (rows, columns) pair.

    >>> from hypothesis import given
    >>> import tinygraph as tg
    >>> @given(conv2d_geometry())
    ... def test_shapes(geometry):
    ...     x_shape, w_shape, stride, padding = geometry
    ...     out = tg.conv2d(np.ones(x_shape), np.ones(w_shape), stride=stride, padding=padding)
    ...     assert out.shape[:2] == (x_shape[0], w_shape[0])
    >>> test_shapes()
    """
    n, c, f = (draw(st.integers(1, m)) for m in (max_batch, max_channels, max_filters))
    stride = draw(_int_or_pair(1, max_stride))
    padding = draw(_int_or_pair(0, max_padding))
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    side = [draw(st.integers(max(1, k - 2 * p), max(max_side, k))) for k, p in zip(kernel, _as_pair(padding))]
    return (n, c, side[0], side[1]), (f, c) + kernel, stride, padding


@st.composite
def pool2d_geometry(draw, *, max_batch: int = 2, max_channels: int = 2, max_side: int = 5, max_kernel: int = 3,
                    max_stride: int = 3):
    """``(x_shape, kernel_size, stride)`` that ``max_pool2d`` accepts; ``stride`` may be None
    (the kernel size), an int or a pair.

    >>> from hypothesis import given
    >>> import tinygraph as tg
    >>> @given(pool2d_geometry())
    ... def test_shapes(geometry):
    ...     x_shape, kernel_size, stride = geometry
    ...     assert tg.max_pool2d(np.ones(x_shape), kernel_size, stride).ndim == 4
    >>> test_shapes()
    """
    kernel = draw(_int_or_pair(1, max_kernel))
    stride = draw(st.none() | _int_or_pair(1, max_stride))
    side = [draw(st.integers(k, max(max_side, k))) for k in _as_pair(kernel)]
    return (draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels)), side[0], side[1]), kernel, stride


def distinct_arrays(shape, gap: float = 0.1) -> st.SearchStrategy:
    """Arrays of ``shape`` whose values all differ by at least ``gap``: no near-ties, so the
    finite differences of a maximum (max_pool2d, max) never straddle a change of winner.

    >>> from hypothesis import given
    >>> @given(distinct_arrays((2, 3)))
    ... def test_distinct(x):
    ...     assert len(set(x.ravel().tolist())) == 6
    >>> test_distinct()
    """
    size = int(np.prod(shape))
    return st.permutations(range(size)).map(lambda order: (np.array(order, dtype=np.float64) - size / 2).reshape(shape) * gap)
