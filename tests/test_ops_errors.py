"""Misuse of the indexing, selection, join and shape ops (issue 10, part A) raises when the
op is built, with a built-in exception whose message starts with the op's name and names
the shapes, axes or values at fault; with or without a graph being recorded."""

from __future__ import annotations

import re

import numpy as np
import pytest

import tinygraph as tg

T = tg.Tensor


def raises(kind, *fragments):
    """pytest.raises that also checks each fragment appears literally in the message."""
    return pytest.raises(kind, match="(?s)" + "".join(f"(?=.*{re.escape(f)})" for f in fragments))


def ones(*shape, requires_grad=True):
    return T(np.ones(shape), requires_grad=requires_grad)


# ----------------------------------------------------------------- indexing


def test_an_index_out_of_range_is_both_an_index_error_and_a_value_error():
    x = ones(3, 2)
    for kind in (IndexError, ValueError):
        with raises(kind, "getitem", "index 5", "size 3", "(3, 2)", "[5]"):
            x[5]
    with raises(IndexError, "getitem", "index -4", "(3, 2)"):
        x[-4, 0]
    with raises(IndexError, "getitem", "(3, 2)", "[0, 1, 7]"):
        x[[0, 1, 7]]
    with raises(IndexError, "getitem", "too many indices", "(3, 2)"):
        x[0, 0, 0]
    with raises(IndexError, "getitem", "boolean index", "(3, 2)"):
        x[np.array([True, False])]
    with raises(IndexError, "getitem", "broadcast", "(3, 2)"):
        x[[0, 1], [0, 1, 1]]


def test_index_values_must_be_integers_or_booleans():
    x = ones(3, 2)
    with raises(TypeError, "getitem", "integers or booleans", "float64", "[0.0, 1.0]"):
        x[[0.0, 1.0]]
    with raises(TypeError, "getitem", "integers or booleans", "float64", "1.5"):
        x[1.5]
    with raises(TypeError, "getitem", "slice bounds", "1.5"):
        x[0:1.5]
    with raises(ValueError, "getitem", "step", "(3, 2)"):
        x[::0]


@pytest.mark.parametrize("values", [[0.0, 2.0], [1.0, 0.0, 1.0], [0.5]])
def test_a_tensor_as_index_values_is_refused(values):
    # Tensors hold floats: as an index they would be ambiguous between positions and a mask.
    with raises(TypeError, "getitem", "Tensor", f"({len(values)},)", "integer array", "mask"):
        ones(3)[T(values)]
    with raises(TypeError, "getitem", "Tensor"):
        ones(3, 3)[0, T(values)]


def test_scatter_add_checks_the_values_against_the_index():
    with raises(ValueError, "scatter_add", "(4,)", "[0, 1]", "(3,)", "(2,)"):
        tg.scatter_add(np.ones(4), [0, 1], (3,))
    with raises(IndexError, "scatter_add", "index 3", "size 3"):
        tg.scatter_add(np.ones(2), [0, 3], (3,))
    with raises(ValueError, "scatter_add", "shape", "-1"):
        tg.scatter_add(np.ones(2), [0, 1], (-1,))


# ----------------------------------------------------------------- reductions


@pytest.mark.parametrize("name", ["max", "min", "var", "std"])
def test_reductions_over_bad_axes(name):
    x = ones(2, 3)
    with raises(ValueError, name, "axis 2", "(2, 3)"):
        getattr(x, name)(axis=2)
    with raises(ValueError, name, "repeated", "(1, -1)"):
        getattr(tg, name)(x, axis=(1, -1))
    with raises(TypeError, name, "axis", "1.0"):
        getattr(x, name)(axis=1.0)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_and_min_over_an_empty_axis(name):
    with raises(ValueError, name, "empty", "(2, 0)"):
        getattr(ones(2, 0), name)(axis=1)
    assert getattr(ones(2, 0), name)(axis=0).shape == (0,)  # nothing to reduce per result is fine


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_and_std_need_degrees_of_freedom(name):
    with raises(ValueError, name, "ddof=3", "3 value(s)", "(2, 3)"):
        getattr(ones(2, 3), name)(axis=1, ddof=3)
    with raises(ValueError, name, "0 value(s)", "(2, 0)"):
        getattr(ones(2, 0), name)(axis=1)
    with raises(TypeError, name, "ddof", "'1'"):
        getattr(ones(2, 3), name)(ddof="1")


def test_argmax_and_argmin_check_their_axis():
    x = ones(2, 3)
    with raises(ValueError, "argmax", "axis 2", "(2, 3)"):
        x.argmax(axis=2)
    with raises(TypeError, "argmin", "axis", "(0, 1)"):
        x.argmin(axis=(0, 1))
    with raises(ValueError, "argmax", "(0,)", "empty"):
        ones(0).argmax()


# ----------------------------------------------------------------- elementwise


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_pairwise_extremes_need_broadcastable_shapes(name):
    with raises(ValueError, name, "(3, 4)", "(2,)"):
        getattr(tg, name)(ones(3, 4), np.ones(2))


def test_where_needs_a_boolean_condition_and_broadcastable_shapes():
    with raises(ValueError, "where", "boolean", "0.5", "(3,)"):
        tg.where(np.array([0.5, 1.0, 0.0]), ones(3), 0.0)
    with raises(ValueError, "where", "boolean", "2.0"):
        tg.where(T([2.0, 1.0, 0.0]), ones(3), 0.0)
    with raises(TypeError, "where", "boolean", "<U1"):
        tg.where(np.array(["a"]), ones(1), 0.0)
    with raises(ValueError, "where", "(2,)", "(3, 4)", "(3, 1)"):
        tg.where(np.array([True, False]), ones(3, 4), ones(3, 1))
    with raises(TypeError, "where", "both x and y"):
        tg.where(np.array([True]), ones(1))


def test_sqrt_refuses_negative_values():
    with raises(ValueError, "sqrt", "(3,)", "negative", "-2"):
        T([4.0, -2.0, 1.0], requires_grad=True).sqrt()
    with raises(ValueError, "sqrt", "negative"):
        np.sqrt(T([-1.0]))
    assert tg.sqrt([0.0]).item() == 0.0  # zero is fine


def test_clip_checks_its_bounds():
    x = ones(3)
    with raises(ValueError, "clip", "lo is above hi", "2 > 1"):
        x.clip(2.0, 1.0)
    with raises(ValueError, "clip", "lo, hi or both"):
        tg.clip(x, None, None)
    with raises(ValueError, "clip", "NaN"):
        x.clip(np.nan, 1.0)
    with raises(TypeError, "clip", "constants", "requires grad", "tg.maximum"):
        x.clip(ones(3), 2.0)
    with raises(TypeError, "clip", "unexpected argument", "low=0"):
        tg.clip(x, low=0)
    with raises(ValueError, "clip", "(2,)", "(3,)"):
        x.clip(np.zeros(2), None)
    with raises(TypeError, "clip", "lo", "<U1"):
        x.clip("a", 1.0)


def test_astype_takes_floating_dtypes_only():
    with raises(TypeError, "astype", "int64", "t.data.astype('int64')"):
        ones(2).astype(np.int64)
    with raises(TypeError, "astype", "bool"):
        ones(2).astype(bool)
    with raises(TypeError, "astype", "'banana'", "not a dtype"):
        ones(2).astype("banana")


# ----------------------------------------------------------------- joins


def test_concatenate_names_the_shapes_that_do_not_fit():
    with raises(ValueError, "concatenate", "(2, 3)", "(2, 4)", "axis 0"):
        tg.concatenate([ones(2, 3), ones(2, 4)], axis=0)
    with raises(ValueError, "concatenate", "(2, 3)", "(3,)", "number of axes"):
        tg.concatenate([ones(2, 3), ones(3)])
    with raises(ValueError, "concatenate", "0-d"):
        tg.concatenate([T(1.0), T(2.0)])
    with raises(ValueError, "concatenate", "axis 2", "(2, 3)"):
        np.concatenate([ones(2, 3), ones(2, 3)], axis=2)
    with raises(ValueError, "concatenate", "at least one"):
        tg.concatenate([])
    with raises(TypeError, "concatenate", "axis", "1.0"):
        tg.concatenate([ones(2), ones(2)], axis=1.0)
    with raises(TypeError, "concatenate", "out="):
        np.concatenate([ones(2), ones(2)], out=np.zeros(4))


def test_stack_needs_one_shape_and_an_axis_in_range():
    with raises(ValueError, "stack", "(2, 3)", "(3, 2)", "one shape"):
        tg.stack([ones(2, 3), ones(3, 2)])
    with raises(ValueError, "stack", "axis 3", "(2, 3)"):
        np.stack([ones(2, 3), ones(2, 3)], axis=3)
    with raises(ValueError, "stack", "at least one"):
        tg.stack([])


def test_split_needs_equal_sections_or_integer_positions():
    with raises(ValueError, "split", "7", "axis 0", "(7, 2)", "3 equal sections"):
        tg.split(ones(7, 2), 3)
    with raises(ValueError, "split", "0-d"):
        tg.split(T(1.0), 1)
    with raises(ValueError, "split", "positive", "0"):
        tg.split(ones(4), 0)
    with raises(ValueError, "split", "axis 2", "(4, 2)"):
        np.split(ones(4, 2), 2, axis=2)
    with raises(TypeError, "split", "integers", "1.5"):
        tg.split(ones(4), [1.5])


# ----------------------------------------------------------------- axes


def test_axis_ops_name_the_axis_and_the_shape():
    with raises(ValueError, "expand_dims", "axis 3", "(2, 3)"):
        tg.expand_dims(ones(2, 3), 3)
    with raises(ValueError, "expand_dims", "repeated", "(0, -3)"):
        tg.expand_dims(ones(2), (0, -3))
    with raises(TypeError, "expand_dims", "axis", "0.5"):
        tg.expand_dims(ones(2), 0.5)
    with raises(ValueError, "squeeze", "axis 1", "(1, 3)", "size 3"):
        tg.squeeze(ones(1, 3), axis=1)
    with raises(ValueError, "squeeze", "axis 2", "(1, 3)"):
        ones(1, 3).squeeze(axis=2)
    with raises(ValueError, "swapaxes", "axis 2", "(2, 3)"):
        tg.swapaxes(ones(2, 3), 0, 2)
    with raises(TypeError, "swapaxes", "axis", "'a'"):
        ones(2, 3).swapaxes("a", 0)


# ----------------------------------------------------------------- einsum


def test_einsum_explains_what_does_not_fit():
    a, b = ones(2, 3), ones(4, 5)
    with raises(ValueError, "einsum", "'j'", "size 3", "(2, 3)", "4", "(4, 5)"):
        tg.einsum("ij,jk->ik", a, b)
    with raises(ValueError, "einsum", "2 operand(s)", "3"):
        tg.einsum("ij,jk", a, b, b)
    with raises(ValueError, "einsum", "operand 1", "(4, 5)", "'jkl'", "3"):
        tg.einsum("ij,jkl", a, b)
    with raises(ValueError, "einsum", "'1'", "not a subscript letter"):
        tg.einsum("i1,jk", a, b)
    with raises(ValueError, "einsum", "output letter 'z'"):
        tg.einsum("ij,kl->z", a, b)
    with raises(ValueError, "einsum", "repeats 'i'"):
        tg.einsum("ij->ii", a)
    with raises(ValueError, "einsum", "diagonal", "sizes 2 and 3", "(2, 3)"):
        tg.einsum("ii->i", a)
    with raises(ValueError, "einsum", "'...'", "'i'"):
        np.einsum("...i->i", a)
    with raises(ValueError, "einsum", "more than one '->'"):
        tg.einsum("i->i->i", ones(2))
    with raises(TypeError, "einsum", "string"):
        tg.einsum(3, a)
    with raises(TypeError, "einsum", "operands"):
        tg.einsum("ij")
    with raises(TypeError, "einsum", "out="):
        np.einsum("ij->ji", a, out=np.zeros((3, 2)))


# ----------------------------------------------------------------- when the checks run


def test_errors_come_when_the_op_is_built_with_or_without_a_graph():
    with tg.no_grad():
        with raises(ValueError, "concatenate", "(2, 3)", "(2, 4)"):
            tg.concatenate([ones(2, 3), ones(2, 4)])
        with raises(IndexError, "getitem", "index 3"):
            ones(3)[3]
    constant = ones(3, requires_grad=False)
    with raises(ValueError, "sqrt", "negative"):
        (-constant).sqrt()
    with raises(ValueError, "einsum", "'i'"):
        tg.einsum("i,i", constant, np.ones(2))


def test_iterating_over_a_0d_tensor():
    with raises(TypeError, "iteration", "0-d"):
        iter(T(1.0))
