"""abs, sqrt, clip, maximum/minimum, where, astype and copy (tinygraph/_ops/pointwise.py):
their parameters, error messages, dtypes, memory and the compiled forms."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg


def _compiled_and_eager(fn, arrays, wants, dtype=None):
    """(output, gradients) of sum-backward for fn run eagerly, then compiled."""
    results = []
    for run in (fn, tg.compile(fn)):
        inputs = [tg.Tensor(np.array(a, dtype=dtype), requires_grad=w) for a, w in zip(arrays, wants)]
        out = run(*inputs)
        out.backward(np.ones(out.shape, dtype=out.dtype))
        results.append((out, [t.grad for t in inputs]))
    return results


# ---------------------------------------------------------------------- error messages

X = tg.Tensor([1.0, 2.0])

ERRORS = [
    (lambda: tg.clip(X), ValueError, "clip: give lo, hi or both"),
    (
        lambda: tg.clip(X, tg.Tensor(0.0, requires_grad=True), 1.0),
        TypeError,
        "clip: the bounds are constants, but lo is a Tensor that requires grad; "
        "for a learned bound write tg.maximum(tg.minimum(x, hi), lo)",
    ),
    (
        lambda: tg.clip(X, 0.0, tg.Tensor(3.0, requires_grad=True)),
        TypeError,
        "clip: the bounds are constants, but hi is a Tensor that requires grad; "
        "for a learned bound write tg.maximum(tg.minimum(x, hi), lo)",
    ),
    (
        lambda: tg.clip(X, 0.0, np.array(["a"])),
        TypeError,
        "clip: hi must be a number or an array of numbers, got <U1 array(['a'], dtype='<U1')",
    ),
    # A bool is not a bound, even though Python counts it as a number.
    (lambda: tg.clip(X, True, 3.0), TypeError, "clip: lo must be a number or an array of numbers, got bool True"),
    (lambda: tg.clip(X, 0.0, False), TypeError, "clip: hi must be a number or an array of numbers, got bool False"),
    (lambda: tg.clip(X, np.nan, 3.0), ValueError, "clip: lo is NaN"),
    (lambda: tg.clip(X, 0.0, np.nan), ValueError, "clip: hi is NaN"),
    (
        lambda: tg.clip(X, np.zeros(2), np.ones(3)),
        ValueError,
        "clip: lo of shape (2,) and hi of shape (3,) do not broadcast together",
    ),
    (
        lambda: tg.clip(X, np.zeros(3), np.ones(1)),
        ValueError,
        "clip: bounds of shape (3,), (1,) do not broadcast with x of shape (2,)",
    ),
    (lambda: tg.clip(X, 2.0, 1.0), ValueError, "clip: lo is above hi (2 > 1)"),
    (lambda: tg.clip(X, foo=1), TypeError, "clip: unexpected argument foo=1; the bounds are lo and hi"),
    (
        lambda: tg.sqrt([-1.0, 4.0]),
        ValueError,
        "sqrt: input of shape (2,) has negative values (min -1); the square root is real only for x >= 0",
    ),
    (
        lambda: tg.where([True, False], X),
        TypeError,
        "where: give both x and y, or neither (where(condition) lists positions)",
    ),
    (
        # Only the first three offending values are named.
        lambda: tg.where([0.5, 2, 3, 4, 1], np.ones(5), np.zeros(5)),
        ValueError,
        "where: the condition must be boolean (or hold only 0 and 1), got [0.5, 2.0, 3.0] in a float64 array of "
        "shape (5,); compare explicitly, e.g. where(c > 0, x, y)",
    ),
    (lambda: tg.where(["a"], X, X), TypeError, "where: the condition must be boolean, got <U1"),
    (lambda: X.copy(order="Z"), ValueError, "copy: order must be 'K', 'A', 'C' or 'F', got 'Z'"),
    (
        lambda: X.astype(np.int32),
        TypeError,
        "astype: a Tensor holds floats, so it cannot become int32; for an array off the graph use t.data.astype('int32')",
    ),
    (lambda: X.astype("nope"), TypeError, "astype: 'nope' is not a dtype"),
]


@pytest.mark.parametrize(("make", "kind", "message"), ERRORS, ids=[row[2][:48] for row in ERRORS])
def test_pointwise_errors_say_exactly_what_is_wrong(make, kind, message):
    with pytest.raises(kind) as err:
        make()
    assert str(err.value) == message


# ---------------------------------------------------------------------- clip


@pytest.mark.parametrize(
    "spelling",
    [{"min": 0.5, "max": 1.5}, {"a_min": 0.5, "a_max": 1.5}, {"lo": 0.5, "max": 1.5}, {"min": 0.5, "hi": 1.5}],
)
def test_clip_accepts_numpys_names_for_the_bounds(spelling):
    x = tg.Tensor([0.0, 1.0, 2.0])
    assert tg.clip(x, **spelling).tolist() == [0.5, 1.0, 1.5]


def test_clip_with_only_an_upper_bound_named_max():
    assert tg.clip(tg.Tensor([0.0, 2.0]), max=1.25).tolist() == [0.0, 1.25]


@pytest.mark.parametrize(("lo", "hi"), [(None, 1.0), (1.0, None), (1.0, 1.0)])
def test_a_value_sitting_on_a_bound_still_learns(lo, hi):
    x = tg.Tensor([1.0], requires_grad=True)
    tg.clip(x, lo, hi).sum().backward()
    assert x.grad.tolist() == [1.0]


def test_float32_values_on_a_bound_float32_cannot_hold_exactly_get_gradient_one():
    # 0.1 is not a float32: the bound is rounded to the input's dtype, so a float32 value of
    # 0.1 sits on it (and learns), eagerly and compiled alike.
    x = np.array([0.1, 0.1, 0.5, -1.0], dtype=np.float32)
    bounds = [(None, 0.1), (-0.5, 0.1), (None, np.full(4, 0.1)), (np.full(4, -0.5), np.full(4, 0.1))]
    for fn in (lambda t, lo=lo, hi=hi: tg.clip(t, lo, hi) for lo, hi in bounds):
        (eager, (g_eager,)), (compiled, (g_compiled,)) = _compiled_and_eager(fn, [x], [True], np.float32)
        assert g_eager.tolist()[:3] == [1.0, 1.0, 0.0]
        np.testing.assert_array_equal(g_compiled, g_eager)
        assert compiled.dtype == eager.dtype == np.float32
        np.testing.assert_array_equal(compiled.data, eager.data)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compiled_clip_with_array_bounds_matches_eager(dtype):
    x = np.array([[-2.0, 0.25, 3.0], [0.5, 0.75, -0.1]])
    lo, hi = np.array([0.0, 0.2, -1.0]), np.array([[1.0], [0.6]])
    for fn in (lambda t: tg.clip(t, lo, hi), lambda t: tg.clip(t, lo), lambda t: tg.clip(t, None, hi)):
        (eager, (g_eager,)), (compiled, (g_compiled,)) = _compiled_and_eager(fn, [x], [True], dtype)
        assert compiled.dtype == eager.dtype == dtype
        np.testing.assert_array_equal(compiled.data, eager.data)
        np.testing.assert_array_equal(g_compiled, g_eager)


def test_clip_bounds_are_frozen_copies():
    lo = np.array([0.0, 1.0])
    y = tg.clip(tg.Tensor([-1.0, 5.0], requires_grad=True), lo, 3.0)
    lo[:] = 9.0  # the caller's array changes after the op is built: the op keeps its own
    assert y.node.rule.lo.tolist() == [0.0, 1.0]
    assert not y.node.rule.lo.flags.writeable and not y.node.rule.hi.flags.writeable


# ---------------------------------------------------------------------- maximum, minimum, where


@pytest.mark.parametrize("fn", [tg.maximum, tg.minimum])
def test_maximum_and_minimum_gradients_keep_float32(fn):
    x = tg.Tensor(np.array([1.0, 2.0, 3.0], dtype=np.float32), requires_grad=True)
    y = tg.Tensor(np.array([2.0, 2.0, 2.0], dtype=np.float32), requires_grad=True)
    fn(x, y).sum().backward()
    assert x.grad.dtype == y.grad.dtype == np.float32
    assert (x.grad + y.grad).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, c: tg.maximum(x, c),
        lambda x, c: tg.minimum(x, c),
        lambda x, c: tg.where(np.array([True, False, True]), x, c),
        lambda c, x: tg.where(np.array([True, False, True]), c, x),
    ],
    ids=["maximum", "minimum", "where-x", "where-y"],
)
def test_compiled_two_input_op_with_a_constant_still_gives_the_other_its_gradient(fn):
    arrays = [np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 0.0])]
    for wants in ((True, False), (False, True)):
        (_, eager), (_, compiled) = _compiled_and_eager(fn, arrays, wants)
        for want, a, b in zip(wants, eager, compiled):
            assert (a is None) == (b is None) == (not want)
            if want:
                np.testing.assert_array_equal(b, a)


def test_where_condition_is_a_frozen_copy():
    mask = np.array([True, False])
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = tg.where(mask, x, 0.0)
    mask[:] = [False, True]  # changed after the forward: the gradient still follows the old mask
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0]
    assert not y.node.rule.condition.flags.writeable
    assert not tg.where(np.array([1.0, 0.0]), x, 0.0).node.rule.condition.flags.writeable


# ---------------------------------------------------------------------- astype, copy


def test_astype_copies_unless_told_not_to():
    x = tg.Tensor([1.0, 2.0])
    assert not np.shares_memory(x.astype(np.float64).data, x.data)
    assert np.shares_memory(x.astype(np.float64, copy=False).data, x.data)


def test_astype_gradient_is_cast_back_to_the_input_dtype():
    x = tg.Tensor(np.array([1.5, 2.5], dtype=np.float32), requires_grad=True)
    (x.astype(np.float64) * 3.0).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [3.0, 3.0]


@pytest.mark.parametrize(
    ("order", "source_order", "f_contiguous"),
    [("F", "C", True), ("C", "F", False), ("A", "F", True), ("A", "C", False), ("K", "F", True)],
)
def test_copy_lays_the_values_out_in_the_order_asked(order, source_order, f_contiguous):
    base = np.arange(6.0).reshape(2, 3)
    x = tg.Tensor(np.asarray(base, order=source_order))
    y = x.copy(order=order)
    assert y.data.flags.f_contiguous == f_contiguous and y.data.flags.c_contiguous != f_contiguous
    assert not np.shares_memory(y.data, x.data)
    np.testing.assert_array_equal(y.data, base)
