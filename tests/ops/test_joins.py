"""concatenate, stack and split (tinygraph/_ops/joins.py) against numpy: values and shapes
along every axis (negative ones too, and axis=None), each input's gradient is its own
slice of g (also when only some inputs ask for one), the numpy forms, the compiled code,
and every error message in full."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(112917)


def _seeded_backward(out):
    g = RNG.standard_normal(out.shape)
    out.backward(g)
    return g


# ----------------------------------------------------------------- concatenate


@pytest.mark.parametrize(
    "shapes, axis",
    [
        ([(2, 3), (1, 3), (4, 3)], 0),
        ([(2, 3), (2, 1), (2, 2)], 1),
        ([(2, 3), (2, 5)], -1),
        ([(2, 1, 4), (2, 3, 4)], -2),
        ([(2, 3)], 0),
        ([(2, 3), (4,), (1, 1, 1)], None),
        ([(3,)], None),
    ],
)
def test_concatenate_is_numpys_and_each_input_gets_its_slice_of_the_gradient(shapes, axis):
    arrays = [RNG.standard_normal(s) for s in shapes]
    tensors = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = tg.concatenate(tensors, axis=axis)
    want = np.concatenate(arrays, axis=axis)
    assert out.shape == want.shape and np.array_equal(out.data, want)
    g = _seeded_backward(out)
    pieces = np.split(g.reshape(-1) if axis is None else g, np.cumsum([
        int(np.prod(s)) if axis is None else s[axis] for s in shapes])[:-1], axis=0 if axis is None else axis)
    for t, piece in zip(tensors, pieces):
        assert t.grad.shape == t.shape
        assert np.array_equal(t.grad, piece.reshape(t.shape))
    assert gradcheck(lambda *xs: tg.concatenate(xs, axis=axis), *arrays)


@pytest.mark.parametrize("axis", [0, None])
@pytest.mark.parametrize("wanted", [(0,), (1,), (2,), (0, 2)])
def test_concatenate_gives_the_inputs_that_ask_the_gradient_they_get_when_all_ask(axis, wanted):
    arrays = [RNG.standard_normal(s) for s in [(1, 3), (2, 3), (3, 3)]]
    every = [tg.Tensor(a, requires_grad=True) for a in arrays]
    some = [tg.Tensor(a, requires_grad=i in wanted) for i, a in enumerate(arrays)]
    g = RNG.standard_normal(np.concatenate(arrays, axis=axis).shape)
    tg.concatenate(every, axis=axis).backward(g)
    tg.concatenate(some, axis=axis).backward(g)
    for i, (full, part) in enumerate(zip(every, some)):
        if i in wanted:
            assert np.array_equal(part.grad, full.grad)
        else:
            assert part.grad is None


def test_concatenate_second_derivatives_flow_through_the_slices():
    a, b = RNG.standard_normal((2, 2)), RNG.standard_normal((3, 2))
    assert gradgradcheck(lambda a, b: tg.concatenate([a, b]) ** 3, a, b)
    assert gradgradcheck(lambda a, b: tg.concatenate([a, b], axis=None) ** 3, a, b)


def test_concatenate_default_axis_is_0_and_numpy_forms_reach_it():
    a, b = tg.Tensor(np.ones((1, 2))), tg.Tensor(np.zeros((2, 2)))
    assert tg.concatenate([a, b]).shape == (3, 2)
    assert isinstance(np.concatenate([a, b], axis=-2), tg.Tensor)
    assert np.concatenate([a, b], axis=None).shape == (6,)


def test_joins_keep_float32_and_give_each_input_a_gradient_of_its_own_dtype():
    a = tg.Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    b = tg.Tensor(np.ones(3), requires_grad=True)
    both = tg.concatenate([a, b])
    assert both.dtype == np.float64  # numpy's promotion
    both.backward(np.arange(5.0) + 0.25)
    assert (a.grad.dtype, b.grad.dtype) == (np.float32, np.float64)
    assert a.grad.tolist() == [0.25, 1.25] and b.grad.tolist() == [2.25, 3.25, 4.25]
    c = tg.Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    stacked = tg.stack([c, c * 2], axis=1)
    assert stacked.dtype == np.float32 and tg.concatenate([c, c]).dtype == np.float32
    assert all(piece.dtype == np.float32 for piece in tg.split(c, 2))
    stacked.backward(np.full((2, 2), 0.5, dtype=np.float32))
    assert c.grad.dtype == np.float32 and c.grad.tolist() == [1.5, 1.5]


# ----------------------------------------------------------------- stack


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3])
@pytest.mark.parametrize("count", [1, 3])
def test_stack_is_numpys_and_each_input_gets_its_slice_of_the_gradient(axis, count):
    arrays = [RNG.standard_normal((2, 3)) for _ in range(count)]
    tensors = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = tg.stack(tensors, axis=axis)
    want = np.stack(arrays, axis=axis)
    assert out.shape == want.shape and np.array_equal(out.data, want)
    g = _seeded_backward(out)
    for i, t in enumerate(tensors):
        assert np.array_equal(t.grad, np.take(g, i, axis=axis))
    assert gradcheck(lambda *xs: tg.stack(xs, axis=axis), *arrays)


def test_stack_default_axis_is_a_new_first_axis():
    a, b = tg.Tensor([1.0, 2.0]), tg.Tensor([3.0, 4.0])
    assert tg.stack([a, b]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert np.stack([a, b]).tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize("wanted", [(0,), (1,), (0, 1)])
def test_stack_gives_the_inputs_that_ask_their_own_slice(wanted):
    arrays = [RNG.standard_normal(3), RNG.standard_normal(3)]
    tensors = [tg.Tensor(a, requires_grad=i in wanted) for i, a in enumerate(arrays)]
    g = RNG.standard_normal((3, 2))
    tg.stack(tensors, axis=1).backward(g)
    for i, t in enumerate(tensors):
        assert np.array_equal(t.grad, g[:, i]) if i in wanted else t.grad is None


def test_stack_second_derivatives():
    a, b = RNG.standard_normal(3), RNG.standard_normal(3)
    assert gradgradcheck(lambda a, b: tg.stack([a, b], axis=-1) ** 3, a, b)


# ----------------------------------------------------------------- split


@pytest.mark.parametrize(
    "shape, how, axis",
    [
        ((6, 2), 3, 0),
        ((2, 4), 4, 1),  # as many sections as elements: pieces of one
        ((2, 4), 1, -1),  # one section: the whole
        ((5,), [2, 3], 0),
        ((5,), [-2], 0),
        ((5,), [], 0),
        ((5,), [3, 1], 0),  # positions out of order give an empty piece, as in numpy
        ((3, 5), np.array([1, 4]), 1),
        ((5,), (0, 5), 0),
        ((6,), np.array(2), 0),  # a 0-d array is a number of sections, as in numpy
        ((0, 2), 3, 0),  # an empty axis splits into empty sections
    ],
)
def test_split_gives_numpys_pieces_and_gradients_flow_back_from_each(shape, how, axis):
    x = RNG.standard_normal(shape)
    t = tg.Tensor(x, requires_grad=True)
    pieces = tg.split(t, how, axis=axis)
    want = np.split(x, how, axis=axis)
    assert len(pieces) == len(want)
    for p, w in zip(pieces, want):
        assert p.shape == w.shape and np.array_equal(p.data, w)
    weights = [RNG.standard_normal(w.shape) for w in want]
    sum(((p * w).sum() for p, w in zip(pieces, weights)), tg.Tensor(0.0)).backward()
    assert np.array_equal(t.grad, np.zeros(shape) if t.size == 0 else _put_back(weights, how, shape, axis))


def _put_back(weights, how, shape, axis):
    """Each piece's weights at its place in x: what the gradient of sum(piece * weights) is."""
    grad = np.zeros(shape)
    n = shape[axis]
    if np.ndim(how) == 0:
        bounds = list(range(0, n + 1, n // int(how)))
    else:
        bounds = [0, *np.ravel(how).tolist(), n]
    for w, start, stop in zip(weights, bounds[:-1], bounds[1:]):
        index = (slice(None),) * (axis % len(shape)) + (slice(start, stop),)
        grad[index] += w
    return grad


def test_split_of_a_list_or_an_array_gives_tensors():
    pieces = tg.split([1.0, 2.0, 3.0, 4.0], 2)
    assert [p.tolist() for p in pieces] == [[1.0, 2.0], [3.0, 4.0]]
    assert all(isinstance(p, tg.Tensor) for p in pieces)
    assert [p.tolist() for p in tg.split(np.arange(4.0), [1])] == [[0.0], [1.0, 2.0, 3.0]]


def test_split_flattens_nested_positions():
    assert [p.tolist() for p in tg.split(np.arange(5.0), [[1], [3]])] == [[0.0], [1.0, 2.0], [3.0, 4.0]]


def test_split_inside_a_compiled_function():
    def halves_product(x):
        a, b = tg.split(x, 2, axis=1)
        return (a * b).sum()

    x = RNG.standard_normal((2, 4))
    eager, traced = tg.Tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
    step = tg.compile(halves_product)
    want, got = halves_product(eager), step(traced)
    np.testing.assert_allclose(got.data, want.data, rtol=1e-14)
    want.backward()
    got.backward()
    np.testing.assert_allclose(traced.grad, eager.grad, rtol=1e-14)


# ----------------------------------------------------------------- compiled code


@pytest.mark.parametrize(
    "join, shapes, wants",
    [
        (lambda *xs: tg.concatenate(xs, axis=1), [(2, 1), (2, 3)], (True, True)),
        (lambda *xs: tg.concatenate(xs, axis=None), [(2, 1), (3,), (2, 2)], (True, True, True)),
        (lambda *xs: tg.concatenate(xs, axis=None), [(2, 1), (3,), (2, 2)], (False, True, False)),
        (lambda *xs: tg.concatenate(xs, axis=-1), [(2, 2), (2, 3)], (True, False)),
        (lambda *xs: tg.stack(xs, axis=-1), [(2, 3), (2, 3), (2, 3)], (True, False, True)),
        (lambda *xs: tg.stack(xs), [(4,), (4,)], (True, True)),
    ],
)
def test_compiled_joins_give_the_eager_values_and_gradients(join, shapes, wants):
    arrays = [RNG.standard_normal(s) for s in shapes]
    eager = [tg.Tensor(a, requires_grad=w) for a, w in zip(arrays, wants)]
    traced = [tg.Tensor(a, requires_grad=w) for a, w in zip(arrays, wants)]
    step = tg.compile(join)
    want, got = join(*eager), step(*traced)
    assert got.shape == want.shape
    np.testing.assert_array_equal(got.data, want.data)
    g = RNG.standard_normal(want.shape)
    want.backward(g)
    got.backward(g)
    for e, t, w in zip(eager, traced, wants):
        if w:
            assert t.grad.shape == e.grad.shape
            np.testing.assert_array_equal(t.grad, e.grad)
        else:
            assert t.grad is None


# ----------------------------------------------------------------- errors

A = tg.Tensor(np.ones((2, 3)))


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: tg.concatenate([A, A], dtype=float), TypeError,
         "concatenate: out= and dtype= are not supported on Tensors (cast the result with .astype)"),
        (lambda: np.concatenate([A, A], out=np.empty((4, 3))), TypeError,
         "concatenate: out= and dtype= are not supported on Tensors (cast the result with .astype)"),
        (lambda: tg.stack([A, A], dtype=float), TypeError,
         "stack: out= and dtype= are not supported on Tensors (cast the result with .astype)"),
        (lambda: tg.stack([A, A], out=np.empty((2, 2, 3))), TypeError,
         "stack: out= and dtype= are not supported on Tensors (cast the result with .astype)"),
        (lambda: tg.stack([A, A], axis=None), TypeError, "stack: axis must be an int, got None"),
        (lambda: tg.stack([A, A], axis=1.5), TypeError, "stack: axis must be an int, got 1.5"),
        (lambda: tg.stack([A, A], axis=True), TypeError, "stack: axis must be an int, got True"),
        (lambda: tg.concatenate([A, A], axis=1.5), TypeError, "concatenate: axis must be an int or None, got 1.5"),
        (lambda: tg.concatenate([A, A], axis=np.bool_(False)), TypeError,
         "concatenate: axis must be an int or None, got np.False_"),
        (lambda: tg.concatenate([A, A], axis=2), ValueError, "concatenate: axis 2 is out of range for shape (2, 3)"),
        (lambda: tg.concatenate([], axis=None), ValueError, "concatenate: needs at least one array to join"),
        (lambda: tg.concatenate([]), ValueError, "concatenate: needs at least one array to join"),
        (lambda: tg.concatenate([np.ones((2, 2)), np.ones(3)]), ValueError,
         "concatenate: input 0 has shape (2, 2) but input 1 has shape (3,); all inputs need the same number of axes"),
        (lambda: tg.concatenate([np.ones(2), np.float64(1)]), ValueError,
         "concatenate: input 1 is 0-d (shape ()); only arrays with axes can be joined"),
        (lambda: tg.concatenate([np.ones((2, 2)), np.ones((2, 3)), np.ones((3, 3))]), ValueError,
         "concatenate: input 0 has shape (2, 2) but input 1 has shape (2, 3); "
         "they may differ only along axis 0, the joined axis"),
        (lambda: tg.stack([]), ValueError, "stack: needs at least one array to stack"),
        (lambda: tg.stack([np.ones(2), np.ones(3), np.ones(3)]), ValueError,
         "stack: input 0 has shape (2,) but input 1 has shape (3,); stacked arrays need one shape"),
        (lambda: tg.stack([np.ones(3), np.ones(3), np.ones(2)]), ValueError,
         "stack: input 0 has shape (3,) but input 2 has shape (2,); stacked arrays need one shape"),
        (lambda: tg.stack([np.ones(2)], axis=2), ValueError,
         "stack: axis 2 is out of range for stacking shape (2,) (a result of 2 axes)"),
        (lambda: tg.stack([np.ones(2)], axis=-3), ValueError,
         "stack: axis -3 is out of range for stacking shape (2,) (a result of 2 axes)"),
        (lambda: tg.split(A, 2, axis=1.5), TypeError, "split: axis must be an int, got 1.5"),
        (lambda: tg.split(A, 2, axis=None), TypeError, "split: axis must be an int, got None"),
        (lambda: tg.split(A, 2, axis=5), ValueError, "split: axis 5 is out of range for shape (2, 3)"),
        (lambda: tg.split(np.float64(1.0), 1), ValueError, "split: cannot split a 0-d array (shape ())"),
        (lambda: tg.split(np.ones(5), 0), ValueError, "split: the number of sections must be positive, got 0"),
        (lambda: tg.split(np.ones(5), -2), ValueError, "split: the number of sections must be positive, got -2"),
        (lambda: tg.split(np.ones((2, 5)), 2, axis=-1), ValueError,
         "split: 5 element(s) along axis 1 of shape (2, 5) do not divide into 2 equal sections; "
         "give the split positions instead"),
        (lambda: tg.split(np.ones(5), [1.5]), TypeError, "split: positions must be integers, got [1.5]"),
        (lambda: tg.split(np.ones(5), [True]), TypeError, "split: positions must be integers, got [True]"),
    ],
)
def test_joins_refuse_bad_input_naming_the_op_and_the_values(call, error, message):
    with pytest.raises(error) as err:
        call()
    assert str(err.value) == message
