"""What tinygraph.testing.strategies promises its users: bounds, dtypes and shapes of what
it draws, the edge cases it claims to reach, and the errors for arguments it cannot serve.

Each property is checked on a few deterministic draws: ``can_draw`` asks Hypothesis to find
one example (so "reaches the edge case" and "never leaves the bounds" are both testable), and
``draws`` lists a fixed sample. Kept small: these tests run once per mutant in the mutation run.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, settings
from hypothesis.errors import NoSuchExample

import tinygraph as tg
from tinygraph.testing import strategies as tgst

_SEARCH = settings(
    max_examples=100, database=None, derandomize=True, phases=[Phase.generate], deadline=None,
    suppress_health_check=list(HealthCheck),
)


def can_draw(strategy, condition) -> bool:
    """Whether ``strategy`` produces an example satisfying ``condition`` in a bounded, fixed search."""
    try:
        find(strategy, condition, settings=_SEARCH)
    except NoSuchExample:
        return False
    return True


def draws(strategy, n: int = 30) -> list:
    """``n`` examples of ``strategy``, the same ones every run."""
    seen = []
    try:
        find(strategy, lambda value: seen.append(value) or len(seen) >= n, settings=_SEARCH)
    except NoSuchExample:  # pragma: no cover - the strategy ran dry before n examples
        pass
    return seen


# ----------------------------------------------------------------- Domain


def test_domain_refuses_an_empty_interval_and_a_negative_margin_with_the_values():
    with pytest.raises(ValueError) as info:
        tgst.Domain(2.0, 1.0)
    assert str(info.value) == "Domain: low 2.0 is above high 1.0"
    with pytest.raises(ValueError) as info:
        tgst.Domain(margin=-0.5)
    assert str(info.value) == "Domain: margin must be >= 0, got -0.5"


def test_domain_accepts_a_single_point_and_margins_of_zero_or_more():
    assert tgst.Domain(1.5, 1.5).contains(1.5)  # low == high: one point, not empty
    assert tgst.Domain(avoid=(0.0,), margin=0.0).contains(0.0)  # no margin: the point itself is allowed
    assert not tgst.Domain(avoid=(0.0,), margin=1.5).contains(1.0)  # margins above 1 are fine


def test_domain_contains_both_ends_and_the_points_exactly_one_margin_away():
    d = tgst.Domain(-1.0, 2.0, avoid=(0.5,), margin=0.25)
    assert d.contains(-1.0) and d.contains(2.0)
    assert not d.contains(-1.0 - 1e-9) and not d.contains(2.0 + 1e-9)
    assert d.contains(0.75) and d.contains(0.25)  # at exactly the margin: allowed
    assert not d.contains(0.7) and not d.contains(0.5)
    # The distance is to the avoided point, on either side: -0.5 is far from +0.5.
    assert tgst.Domain(avoid=(0.5,), margin=0.25).contains(-0.5)
    # A point outside [low, high] is refused even when it is far from every avoided point.
    assert not tgst.Domain(-1.0, 1.0, avoid=(0.0,)).contains(2.0)


# ----------------------------------------------------------------- elements and arrays


@pytest.mark.parametrize("domain", [tgst.REAL, tgst.POSITIVE, tgst.PROBABILITY, tgst.Domain(-1.0, 1.0, avoid=(0.2,), margin=0.3)])
def test_elements_stay_finite_inside_the_domain(domain):
    values = draws(tgst.elements(domain))
    assert values and all(isinstance(v, float) and np.isfinite(v) and domain.contains(v) for v in values)


def test_elements_reach_both_ends_of_the_domain():
    d = tgst.Domain(-1.0, 1.0)
    assert can_draw(tgst.elements(d), lambda v: v <= -0.9)
    assert can_draw(tgst.elements(d), lambda v: v >= 0.9)


def test_elements_of_a_discrete_domain_are_its_values_only():
    values = draws(tgst.elements(tgst.BINARY))
    assert set(values) == {0.0, 1.0}


def test_arrays_have_the_shape_dtype_and_domain_asked_for():
    for x in draws(tgst.arrays((2, 3), tgst.POSITIVE), 10):
        assert x.shape == (2, 3) and x.dtype == np.float64 and np.all((x >= 0.1) & (x <= 4.0))
    for x in draws(tgst.arrays(tgst.shapes(min_dims=1, max_dims=1), tgst.AWAY_FROM_ZERO, dtype=np.float32), 10):
        assert x.ndim == 1 and x.dtype == np.float32 and np.all(np.abs(x) >= 0.0099)


def test_binary_targets_are_zeros_and_ones_of_the_shape():
    targets = draws(tgst.binary_targets((3, 2)), 10)
    assert all(t.shape == (3, 2) and t.dtype == np.float64 for t in targets)
    assert set(np.concatenate([t.ravel() for t in targets]).tolist()) == {0.0, 1.0}


# ----------------------------------------------------------------- shapes


def test_shapes_by_default_run_from_a_scalar_to_three_axes_of_sides_one_to_four():
    found = draws(tgst.shapes(), 60)
    assert all(len(s) <= 3 and all(1 <= n <= 4 for n in s) for s in found)
    assert can_draw(tgst.shapes(), lambda s: s == ())
    assert can_draw(tgst.shapes(), lambda s: len(s) == 3)
    assert can_draw(tgst.shapes(), lambda s: 1 in s)
    assert can_draw(tgst.shapes(), lambda s: 4 in s)
    assert not can_draw(tgst.shapes(), lambda s: len(s) > 3 or any(n > 4 or n < 1 for n in s))


def test_shapes_follow_their_bounds():
    assert not can_draw(tgst.shapes(min_dims=2, max_dims=2, min_side=2, max_side=3),
                        lambda s: len(s) != 2 or any(n < 2 or n > 3 for n in s))
    assert can_draw(tgst.shapes(min_dims=2, max_dims=2, min_side=2, max_side=3), lambda s: s == (3, 2))


# ----------------------------------------------------------------- broadcastable shapes


def test_broadcastable_shapes_are_pairs_by_default_that_numpy_broadcasts():
    found = draws(tgst.broadcastable_shapes(), 40)
    for pair in found:
        assert isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(s, tuple) for s in pair)
        np.broadcast_shapes(*pair)
        assert all(len(s) <= 3 and all(1 <= n <= 4 for n in s) for s in pair)
    assert not can_draw(tgst.broadcastable_shapes(), lambda p: any(len(s) > 3 or any(n > 4 or n < 1 for n in s) for s in p))


def test_broadcastable_shapes_reach_scalars_ones_and_missing_axes():
    assert can_draw(tgst.broadcastable_shapes(), lambda p: () in p)  # a 0-d operand
    assert can_draw(tgst.broadcastable_shapes(), lambda p: len(p[0]) != len(p[1]))  # missing leading axes
    assert can_draw(tgst.broadcastable_shapes(), lambda p: any(a != b for a, b in zip(p[0][::-1], p[1][::-1])))  # a 1 against n
    assert can_draw(tgst.broadcastable_shapes(), lambda p: any(len(s) == 3 for s in p))
    assert can_draw(tgst.broadcastable_shapes(), lambda p: any(4 in s for s in p))


def test_broadcastable_shapes_follow_their_arguments():
    for triple in draws(tgst.broadcastable_shapes(3, max_dims=2, max_side=2), 20):
        assert len(triple) == 3 and all(len(s) <= 2 and all(n <= 2 for n in s) for s in triple)
        np.broadcast_shapes(*triple)


def test_matmul_shapes_reach_vectors_and_stacks():
    pairs = tgst.matmul_shapes()
    for left, right in draws(pairs, 20):
        np.matmul(np.ones(left), np.ones(right))
    assert can_draw(pairs, lambda p: len(p[0]) == 1 and len(p[1]) == 1)
    assert can_draw(pairs, lambda p: len(p[0]) > 2 or len(p[1]) > 2)
    assert not can_draw(tgst.matmul_shapes(vectors=False, batch=False), lambda p: len(p[0]) != 2 or len(p[1]) != 2)


# ----------------------------------------------------------------- axes


def _valid_axes(axis, ndim):
    if axis is None:
        return True
    picked = axis if isinstance(axis, tuple) else (axis,)
    return all(isinstance(a, int) and -ndim <= a < ndim for a in picked) and len({a % ndim for a in picked}) == len(picked)


def test_axes_are_none_ints_or_tuples_of_distinct_axes_in_range():
    for axis in draws(tgst.axes(3), 60):
        assert _valid_axes(axis, 3)
        np.ones((2, 3, 4)).sum(axis=axis)
    assert not can_draw(tgst.axes(3), lambda a: not _valid_axes(a, 3))
    assert not can_draw(tgst.axes(3), lambda a: a == ())  # a tuple names at least one axis


@pytest.mark.parametrize(
    "what, condition",
    [
        ("None", lambda a: a is None),
        ("the first axis, counted from the end", lambda a: a == -3),
        ("the last axis", lambda a: a == 2),
        ("a tuple with a negative axis", lambda a: isinstance(a, tuple) and any(x < 0 for x in a)),
        ("a tuple naming axis 0", lambda a: isinstance(a, tuple) and 0 in a),
        ("a tuple naming the last axis", lambda a: isinstance(a, tuple) and 2 in a),
        ("a tuple of one axis", lambda a: isinstance(a, tuple) and len(a) == 1),
        ("a tuple of every axis", lambda a: isinstance(a, tuple) and len(a) == 3),
    ],
)
def test_axes_reach_each_kind_of_axis_argument(what, condition):
    assert can_draw(tgst.axes(3), condition), what


def test_axes_leave_out_what_is_not_allowed():
    assert not can_draw(tgst.axes(2, allow_none=False), lambda a: a is None)
    assert not can_draw(tgst.axes(2, allow_tuple=False), lambda a: isinstance(a, tuple))
    assert can_draw(tgst.axes(2, allow_tuple=False), lambda a: a is None)
    assert draws(tgst.axes(0), 5) == [None]  # a 0-d array: None is the only axis argument (drawn once: no repeats)


def test_axes_of_a_0d_array_without_none_is_refused():
    with pytest.raises(ValueError) as info:
        tgst.axes(0, allow_none=False)
    assert str(info.value) == "axes: a 0-d array has no axis to draw; allow None"


# ----------------------------------------------------------------- index expressions and joins


def test_index_expressions_index_numpy_arrays_and_tensors_alike():
    x = np.arange(24.0).reshape(2, 3, 4)
    for index in draws(tgst.index_expressions((2, 3, 4)), 25):
        np.testing.assert_array_equal(tg.Tensor(x)[index].numpy(), x[index])


def test_an_ellipsis_may_stand_for_no_axis_before_a_partial_slice():
    # '...' stands for a run, maybe empty, of whole axes (':'): it can come right before a
    # slice that selects part of its axis, and never swallows one.
    def ellipsis_then_partial_slice(index):
        return (isinstance(index, tuple) and len(index) == 2 and index[0] is Ellipsis
                and isinstance(index[1], slice) and index[1] != slice(None))

    assert can_draw(tgst.index_expressions((4,), arrays=False, masks=False, newaxis=False), ellipsis_then_partial_slice)


def test_concatenate_shapes_agree_except_along_the_axis():
    for shapes, axis in draws(tgst.concatenate_shapes(3), 20):
        assert len(shapes) == 3 and -len(shapes[0]) <= axis < len(shapes[0])
        np.concatenate([np.ones(s) for s in shapes], axis=axis)


# ----------------------------------------------------------------- class labels and probabilities


def test_class_labels_default_to_classes_along_axis_0():
    labels = draws(tgst.class_labels((3, 5)), 20)
    assert all(y.shape == (5,) and y.dtype == np.int64 and np.all((y >= 0) & (y < 3)) for y in labels)
    assert can_draw(tgst.class_labels((3, 5)), lambda y: 0 in y and 2 in y)  # the first and the last class


def test_class_labels_along_another_axis():
    for y in draws(tgst.class_labels((2, 4, 3), axis=-1), 10):
        assert y.shape == (2, 4) and np.all((y >= 0) & (y < 3))


@pytest.mark.parametrize("shape, axis", [((3, 4), 2), ((3, 4), -3), ((), 0)])
def test_class_labels_refuse_an_axis_the_logits_do_not_have(shape, axis):
    with pytest.raises(ValueError) as info:
        tgst.class_labels(shape, axis)
    assert str(info.value) == f"class_labels: axis {axis} is not an axis of logits of shape {shape}"
    with pytest.raises(ValueError):
        tgst.class_probabilities(shape, axis)


def test_class_probabilities_sum_to_one_per_sample_along_the_class_axis():
    for p in draws(tgst.class_probabilities((3, 4)), 10):  # classes along axis 0 by default
        assert p.shape == (3, 4) and np.all(p > 0)
        np.testing.assert_allclose(p.sum(axis=0), np.ones(4))
    for p in draws(tgst.class_probabilities((2, 3), axis=1), 10):
        np.testing.assert_allclose(p.sum(axis=1), np.ones(2))


def test_class_probabilities_spread_from_near_zero_but_never_reach_it():
    # Class weights are drawn in [0.05, 1]: with two classes a probability lies in
    # [0.05 / 1.05, 1 / 1.05], off 0 and 1 where a log-loss is infinite, yet close to them.
    two = tgst.class_probabilities((2,))
    assert not can_draw(two, lambda p: p.min() < 0.05 / 1.05 - 1e-12)
    assert can_draw(two, lambda p: p.min() < 0.1)
    assert can_draw(two, lambda p: abs(p[0] - p[1]) < 0.01)


# ----------------------------------------------------------------- images, kernels and ties


def _pair(value):
    return value if isinstance(value, tuple) else (value, value)


def test_conv2d_geometry_is_accepted_by_conv2d_and_stays_in_its_bounds():
    for x_shape, w_shape, stride, padding in draws(tgst.conv2d_geometry(), 25):
        n, c, h, w = x_shape
        f, c2, kh, kw = w_shape
        assert 1 <= n <= 2 and 1 <= c <= 2 and c2 == c and 1 <= f <= 3 and 1 <= kh <= 3 and 1 <= kw <= 3
        assert all(1 <= s <= 2 for s in _pair(stride)) and all(0 <= p <= 1 for p in _pair(padding))
        ph, pw = _pair(padding)
        assert h + 2 * ph >= kh and w + 2 * pw >= kw  # the kernel fits the padded image
    out = tg.conv2d(np.ones((1, 1, 2, 3)), np.ones((1, 1, 3, 3)), stride=(1, 2), padding=(1, 0))
    assert out.shape == (1, 1, 2, 1)


@pytest.mark.parametrize(
    "what, condition",
    [
        ("an int stride", lambda g: isinstance(g[2], int)),
        ("a pair of strides", lambda g: isinstance(g[2], tuple) and g[2][0] != g[2][1]),
        ("stride 2 in a pair", lambda g: isinstance(g[2], tuple) and g[2][0] == 2),
        ("stride 2 in a pair's second place", lambda g: isinstance(g[2], tuple) and g[2][1] == 2),
        ("an int padding", lambda g: isinstance(g[3], int) and g[3] == 1),
        ("a pair of paddings", lambda g: isinstance(g[3], tuple) and g[3][0] != g[3][1]),
        ("no padding in a pair", lambda g: isinstance(g[3], tuple) and 0 in g[3]),
        ("an image smaller than the kernel, made up by padding", lambda g: g[0][2] < g[1][2] or g[0][3] < g[1][3]),
    ],
)
def test_conv2d_geometry_reaches_each_spelling(what, condition):
    assert can_draw(tgst.conv2d_geometry(), condition), what


def test_pool2d_geometry_fits_and_reaches_none_int_and_pair_strides():
    for x_shape, kernel, stride in draws(tgst.pool2d_geometry(), 25):
        kh, kw = _pair(kernel)
        assert x_shape[2] >= kh and x_shape[3] >= kw and 1 <= kh <= 3 and 1 <= kw <= 3
        assert stride is None or all(1 <= s <= 3 for s in _pair(stride))
    geometry = tgst.pool2d_geometry()
    assert can_draw(geometry, lambda g: g[2] is None)
    assert can_draw(geometry, lambda g: isinstance(g[2], int) and g[2] == 1)
    assert can_draw(geometry, lambda g: isinstance(g[1], tuple) and g[1][0] != g[1][1])
    assert can_draw(geometry, lambda g: isinstance(g[2], tuple) and 3 in g[2])


def test_distinct_arrays_are_evenly_spaced_by_the_gap_around_zero():
    # The values 0..size-1, shuffled, centred and scaled: every gap exactly `gap`, and
    # all of them close to 0 (inside the domains of the ops they feed).
    for x in draws(tgst.distinct_arrays((2, 3)), 10):
        assert x.shape == (2, 3) and x.dtype == np.float64
        np.testing.assert_allclose(np.sort(x, axis=None), (np.arange(6) - 3) * 0.1, atol=1e-12)
    for x in draws(tgst.distinct_arrays((4,), gap=0.5), 5):
        np.testing.assert_allclose(np.sort(x), [-1.0, -0.5, 0.0, 0.5], atol=1e-12)
    assert can_draw(tgst.distinct_arrays((3,)), lambda x: x[0] > x[1])  # shuffled, not sorted


def test_elements_are_never_infinite_even_in_an_unbounded_domain():
    # "never NaN or infinite": an open-ended domain still draws finite floats only.
    unbounded = tgst.Domain(0.0, float("inf"))
    assert not can_draw(tgst.elements(unbounded), lambda v: not np.isfinite(v))
    assert can_draw(tgst.elements(unbounded), lambda v: v > 1e300)  # though as large as float64 goes
