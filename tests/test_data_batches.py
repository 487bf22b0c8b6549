"""tinygraph.data.batches: mini-batches over (features, N) data."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph.data import batches


@st.composite
def datasets(draw):
    n = draw(st.integers(0, 40))
    features = draw(st.integers(1, 4))
    X = np.arange(features * n, dtype=np.float64).reshape(features, n)  # column j holds j, j + n, ...
    flat = draw(st.booleans())
    Y = np.arange(n) if flat else np.arange(n)[None, :]
    return X, Y


@given(data=datasets(), batch_size=st.integers(1, 50), seed=st.integers(0, 2**32 - 1), shuffle=st.booleans())
def test_every_sample_once_per_epoch_in_batches_of_the_size_asked(data, batch_size, seed, shuffle):
    X, Y = data
    n = X.shape[1]
    parts = list(batches(X, Y, batch_size, shuffle=shuffle, rng=seed))
    sizes = [xb.shape[-1] for xb, _ in parts]
    assert all(size == batch_size for size in sizes[:-1])
    assert sum(sizes) == n and (not sizes or 1 <= sizes[-1] <= batch_size)
    assert len(parts) == -(-n // batch_size)
    seen = np.concatenate([yb.reshape(-1) for _, yb in parts]) if parts else np.array([], dtype=int)
    assert sorted(seen.tolist()) == list(range(n))  # every sample exactly once
    if not shuffle:
        assert seen.tolist() == list(range(n))
    for xb, yb in parts:
        assert xb.shape[0] == X.shape[0] and yb.ndim == Y.ndim
        np.testing.assert_array_equal(xb, X[:, yb.reshape(-1)])  # X and Y stay paired


@given(n=st.integers(2, 60), batch_size=st.integers(1, 20), seed=st.integers(0, 2**32 - 1))
def test_the_order_depends_only_on_the_seed(n, batch_size, seed):
    def order(X, Y):
        return np.concatenate([yb.reshape(-1) for _, yb in batches(X, Y, batch_size, rng=seed)])

    rng = np.random.default_rng(seed + 1)
    first = order(np.arange(n)[None, :], np.arange(n))
    other_values = order(rng.standard_normal((3, n)), np.arange(n)[None, :])  # other data, other layout
    np.testing.assert_array_equal(first, other_values)
    np.testing.assert_array_equal(first, order(np.arange(n)[None, :], np.arange(n)))  # same seed, same order


def test_a_generator_moves_on_from_epoch_to_epoch():
    rng = np.random.default_rng(0)
    X, Y = np.arange(50.0)[None, :], np.arange(50)
    first = np.concatenate([y for _, y in batches(X, Y, 7, rng=rng)])
    second = np.concatenate([y for _, y in batches(X, Y, 7, rng=rng)])
    assert sorted(first) == sorted(second) and not np.array_equal(first, second)


def test_a_batch_as_big_as_the_data_is_the_full_batch():
    X, Y = np.ones((3, 5)), np.zeros((1, 5))
    ((xb, yb),) = list(batches(X, Y, 5, shuffle=False))
    assert xb.shape == (3, 5) and np.shares_memory(xb, X)
    assert len(list(batches(X, Y, 100))) == 1


def test_tensors_are_cut_too():
    X = tg.Tensor(np.arange(6.0).reshape(2, 3), name="X")
    (xb, yb), (xb2, _) = batches(X, tg.Tensor([[0.0, 1.0, 1.0]]), 2, shuffle=False)
    assert isinstance(xb, np.ndarray) and xb.shape == (2, 2) and xb2.shape == (2, 1)


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((np.ones((2, 5)), np.ones((1, 5)), 0), {}, ValueError, "batches: batch_size must be at least 1, got 0"),
        ((np.ones((2, 5)), np.ones((1, 5)), -3), {}, ValueError, "at least 1, got -3"),
        ((np.ones((2, 5)), np.ones((1, 5)), 2.5), {}, TypeError, "batches: batch_size must be an integer, got float 2.5"),
        ((np.ones((2, 5)), np.ones((1, 5)), True), {}, TypeError, "batch_size must be an integer"),
        ((np.ones((2, 5)), np.ones((1, 4)), 2), {}, ValueError,
         r"batches: X \(2, 5\) holds 5 samples \(its last axis\) but Y \(1, 4\) holds 4"),
        ((np.ones((5, 2)), np.ones(5), 2), {}, ValueError, r"X \(5, 2\) holds 2 samples"),
        ((np.ones((2, 5)), np.ones((5, 1)), 2), {}, ValueError, r"Y must be \(1, N\) or \(N,\), one label per sample, got shape \(5, 1\)"),
        ((np.float64(1.0), np.ones(1), 1), {}, ValueError, "batches: X is a scalar"),
        ((np.ones((2, 5)), np.ones(5), 2), {"rng": "seed"}, TypeError, "rng must be a numpy Generator, an int seed or None, got str"),
    ],
)
def test_bad_arguments_are_refused_at_the_call(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        batches(*args, **kwargs)  # not at the first next(): the error points at the call
