"""Pieces the indexing, join and contraction ops share (tinygraph/_ops/_parts.py): the array
behind a value, and op parameters written as numpy source for ``tg.compile``'s emitters.

The source text is what a compiled function's ``.source`` shows, so it is pinned exactly,
and each text must evaluate back to the value it was written from.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph._ops._parts import index_literal, literal, value_of


def _evaluate(text: str):
    return eval(text, {"np": np})  # the emitters' own output, evaluated as tg.compile does


@pytest.mark.parametrize(
    "value, text",
    [
        (None, "None"),
        (True, "True"),
        (np.bool_(False), "False"),  # a numpy bool is a bool, not the integer 0
        (3, "3"),
        (np.int64(-7), "-7"),
        (2.5, "2.5"),
        (np.float32(0.5), "0.5"),
        (float("nan"), "np.nan"),
        (float("inf"), "np.inf"),
        (-np.inf, "-np.inf"),
        ((), "()"),
        ((4,), "(4,)"),  # a one-element tuple keeps its comma
        ((1, None, -2), "(1, None, -2)"),
        (((0, 1), 2), "((0, 1), 2)"),
        (np.array([[True], [False]]), "np.array([[True], [False]], dtype=np.bool_)"),
        (np.array([1.5, -np.inf], dtype=np.float32), "np.array([1.5, -np.inf], dtype=np.float32)"),
        (np.array([0, 2], dtype=np.int64), "np.array([0, 2], dtype=np.int64)"),
        (np.array(3.0), "np.array(3.0, dtype=np.float64)"),
    ],
)
def test_literal_writes_numpy_source_that_evaluates_back_to_the_value(value, text):
    assert literal(value) == text
    back = _evaluate(text)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape
        np.testing.assert_array_equal(back, value)
    elif isinstance(value, float) and np.isnan(value):
        assert np.isnan(back)
    else:
        plain = value.item() if isinstance(value, np.generic) else value  # numpy scalars are written as Python numbers
        assert back == plain and type(back) is type(plain)


@pytest.mark.parametrize(
    "index, text",
    [
        ((), "()"),
        ((0,), "0"),
        ((slice(None),), ":"),
        ((slice(1, 3),), "1:3"),  # no step: no second colon
        ((slice(None, None, -1),), "::-1"),
        ((slice(0, 5, 2),), "0:5:2"),
        ((slice(-3, None, 2),), "-3::2"),
        ((slice(None, 4, None),), ":4"),
        ((Ellipsis, slice(1, None)), "..., 1:"),
        ((None, -1), "None, -1"),
        ((np.array([0, 2]), slice(2, 0, -1)), "np.array([0, 2], dtype=np.int64), 2:0:-1"),
        ((np.array([True, False, True]),), "np.array([True, False, True], dtype=np.bool_)"),
    ],
)
def test_index_literal_writes_the_text_between_the_brackets(index, text):
    assert index_literal(index) == text
    x = np.arange(60.0).reshape(3, 4, 5)
    np.testing.assert_array_equal(eval(f"x[{text}]", {"np": np, "x": x}), x[index])


@pytest.mark.parametrize("index", [np.s_[::-1], np.s_[1:3], np.s_[::2], np.s_[3:0:-2], np.s_[:, ::-1]])
def test_compiled_slices_give_the_eager_values_and_gradients(index):
    x = tg.Tensor(np.arange(1.0, 13.0).reshape(4, 3), requires_grad=True)
    weights = np.arange(1.0, 13.0).reshape(4, 3)[index] * 0.5

    def loss(t):
        return (t[index] * weights).sum()

    step = tg.compile(loss)
    compiled = step(x)
    compiled.backward()
    got = np.array(x.grad)
    x.grad = None
    eager = loss(x)
    eager.backward()
    assert compiled.item() == eager.item()
    np.testing.assert_array_equal(got, x.grad)


def test_value_of_is_the_array_itself_or_the_tensors_array():
    a = np.array([1.0, 2.0])
    assert value_of(a) is a
    s = np.float64(2.0)
    assert value_of(s) is s
    t = tg.Tensor(a)
    assert value_of(t) is t.data
