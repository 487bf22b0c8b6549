"""The Tensor API: construction and dtypes, array attributes, operators with numpy
broadcasting and a non-Tensor on either side, the method and function forms, and
which results require grad.

Forward values are checked against numpy; derivatives live in test_backward.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygraph as tg
from tinygraph.testing import numerical_gradient

FLOATS = st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False, width=64)


def arrays(shape, elements=FLOATS, dtype=np.float64):
    return hnp.arrays(dtype, shape, elements=elements)


# ----------------------------------------------------------------- construction


@pytest.mark.parametrize(
    "data, dtype",
    [
        (1, np.float64),
        (2.5, np.float64),
        (True, np.float64),
        ([1, 2, 3], np.float64),
        ([[1.0, 2.0]], np.float64),
        ([True, False], np.float64),
        (np.arange(3), np.float64),
        (np.arange(3, dtype=np.int8), np.float64),
        (np.arange(3, dtype=np.uint16), np.float64),
        (np.array([True]), np.float64),
        (np.int32(4), np.float64),
        (np.ones(3, dtype=np.float32), np.float32),
        (np.float32(1.5), np.float32),
        (np.ones(2, dtype=np.float64), np.float64),
    ],
)
def test_data_becomes_a_floating_array(data, dtype):
    t = tg.Tensor(data)
    assert type(t.data) is np.ndarray
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=dtype))


def test_a_floating_array_is_kept_without_copy():
    for dtype in (np.float32, np.float64):
        a = np.arange(6, dtype=dtype).reshape(2, 3)
        t = tg.Tensor(a)
        assert t.data is a
        assert t.numpy() is a


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_ndarray_subclasses_become_plain_arrays():
    # np.matrix would make * a matrix product.
    m = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    t = tg.Tensor(m)
    assert type(t.data) is np.ndarray
    np.testing.assert_array_equal((t * t).numpy(), [[1.0, 4.0], [9.0, 16.0]])
    np.testing.assert_array_equal((tg.Tensor(np.ones((2, 2))) * m).numpy(), [[1.0, 2.0], [3.0, 4.0]])


def test_a_tensor_from_a_tensor_shares_its_data_but_not_its_graph():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    t = tg.Tensor(y)
    assert t.data is y.data
    assert not t.requires_grad and t.grad_fn is None


def test_defaults_and_constructor_arguments():
    t = tg.Tensor([1.0])
    assert t.grad is None and t.requires_grad is False and t.name is None and t.is_leaf
    w = tg.Tensor([1.0], requires_grad=True, name="W1")
    assert w.requires_grad is True and w.name == "W1" and w.is_leaf and w.grad_fn is None
    assert tg.Tensor([1.0], requires_grad=np.True_).requires_grad is True


# ----------------------------------------------------------------- attributes


@settings(max_examples=25)
@given(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4), st.sampled_from([np.float32, np.float64]))
def test_array_attributes_follow_numpy(shape, dtype):
    a = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    t = tg.Tensor(a)
    assert t.shape == a.shape and t.ndim == a.ndim and t.dtype == a.dtype and t.size == a.size
    assert t.T.shape == a.T.shape
    np.testing.assert_array_equal(t.T.numpy(), a.T)
    assert t.T.dtype == dtype
    if a.ndim:
        assert len(t) == len(a)


def test_item_gives_a_python_float():
    for data in (3.5, [3.5], [[3.5]], np.float32(3.5)):
        value = tg.Tensor(data).item()
        assert type(value) is float and value == 3.5
    assert float(tg.Tensor([[2.0]])) == 2.0


def test_detach_shares_data_and_is_cut_from_the_graph():
    x = tg.Tensor([1.0, 2.0], requires_grad=True, name="x")
    y = x * 3
    d = y.detach()
    assert d.data is y.data
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    z = (d * x).sum()  # d is a constant now
    z.backward()
    np.testing.assert_array_equal(x.grad, [3.0, 6.0])
    assert d.grad is None


def test_retain_grad_returns_the_tensor():
    x = tg.Tensor([1.0], requires_grad=True)
    y = x * 2
    assert y.retain_grad() is y
    assert x.retain_grad() is x


def test_repr_shows_the_graph_role():
    assert repr(tg.Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    x = tg.Tensor([1.0], requires_grad=True, name="x")
    assert "requires_grad=True" in repr(x) and "'x'" in repr(x)
    assert "grad_fn=<mul>" in repr(x * 2)
    assert "float32" in repr(tg.Tensor(np.ones(1, np.float32)))


def test_name_can_be_set_and_is_validated():
    y = tg.Tensor([1.0], requires_grad=True) * 2
    assert y.named("Z1") is y and y.name == "Z1"
    with pytest.raises(TypeError, match="name"):
        y.name = 3


# ----------------------------------------------------------------- operators


# Each op's operators, methods, functions and numpy forms are columns of the op table (tests/test_ops.py).


def test_python_scalars_on_either_side():
    t = tg.Tensor([1.0, 2.0, 4.0])
    cases = {
        "1 - t": (1 - t, 1 - t.data),
        "2 * t": (2 * t, 2 * t.data),
        "t * 2": (t * 2, t.data * 2),
        "3 + t": (3 + t, 3 + t.data),
        "t - 0.5": (t - 0.5, t.data - 0.5),
        "1 / t": (1 / t, 1 / t.data),
        "t / 4": (t / 4, t.data / 4),
        "-t": (-t, -t.data),
        "+t": (+t, t.data),
        "t ** 2.0": (t**2.0, t.data**2.0),
        "t ** 2": (t**2, t.data**2),
        "t ** 0.5": (t**0.5, t.data**0.5),
        "t ** -1": (t**-1, t.data**-1.0),
        "2 ** t": (2**t, 2.0**t.data),
    }
    for label, (got, expected) in cases.items():
        assert isinstance(got, tg.Tensor), label
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-15, err_msg=label)


def test_numpy_scalars_and_arrays_on_the_left_give_tensors():
    t = tg.Tensor([1.0, 2.0])
    for got in (np.float64(2.0) * t, np.float32(2.0) * t, np.int64(2) * t, np.array([2.0, 2.0]) * t):
        assert isinstance(got, tg.Tensor)
        np.testing.assert_array_equal(got.numpy(), [2.0, 4.0])
    got = np.ones((3, 2)) @ t
    assert isinstance(got, tg.Tensor) and got.shape == (3,)
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    assert (np.ones(2) - w).requires_grad and (np.ones(2) / w).requires_grad


@settings(max_examples=25)
@given(st.data())
def test_matmul_follows_numpy_shapes(data):
    kind = data.draw(st.sampled_from(["mm", "mv", "vm", "vv", "batched"]))
    n, k, m, b = (data.draw(st.integers(1, 3)) for _ in range(4))
    shape_x = {"mm": (n, k), "mv": (n, k), "vm": (k,), "vv": (k,), "batched": (b, n, k)}[kind]
    shape_y = {"mm": (k, m), "mv": (k,), "vm": (k, m), "vv": (k,), "batched": (k, m)}[kind]
    x, y = data.draw(arrays(shape_x)), data.draw(arrays(shape_y))
    expected = np.matmul(x, y)
    for got in (tg.Tensor(x) @ tg.Tensor(y), tg.matmul(x, y), tg.Tensor(x) @ y, x @ tg.Tensor(y)):
        assert isinstance(got, tg.Tensor) and got.shape == expected.shape
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-14, atol=1e-14)


# ----------------------------------------------------------------- methods and functions


@st.composite
def array_and_axis(draw):
    a = draw(arrays(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)))
    if a.ndim == 0:
        return a, None
    axis = draw(
        st.none()
        | st.integers(-a.ndim, a.ndim - 1)
        | st.lists(st.integers(0, a.ndim - 1), min_size=1, max_size=a.ndim, unique=True).map(tuple)
    )
    return a, axis


@settings(max_examples=30)
@given(array_and_axis(), st.booleans())
def test_sum_and_mean_follow_numpy(pair, keepdims):
    a, axis = pair
    t = tg.Tensor(a)
    for got, expected in (
        (t.sum(axis=axis, keepdims=keepdims), a.sum(axis=axis, keepdims=keepdims)),
        (t.mean(axis=axis, keepdims=keepdims), a.mean(axis=axis, keepdims=keepdims)),
    ):
        assert got.shape == np.shape(expected)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-13, atol=1e-15)
    assert t.sum().shape == () and t.mean().shape == ()


def test_reshape_spellings():
    a = np.arange(12.0)
    t = tg.Tensor(a)
    for got in (t.reshape(3, 4), t.reshape((3, 4)), t.reshape([3, 4]), t.reshape(3, -1), t.reshape(-1, 4)):
        assert got.shape == (3, 4)
        np.testing.assert_array_equal(got.numpy(), a.reshape(3, 4))
    assert tg.Tensor([5.0]).reshape(()).shape == ()
    assert tg.Tensor(5.0).reshape(1, 1).shape == (1, 1)


def test_transpose_spellings():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = tg.Tensor(a)
    np.testing.assert_array_equal(t.transpose().numpy(), a.transpose())
    np.testing.assert_array_equal(t.transpose(1, 0, 2).numpy(), a.transpose(1, 0, 2))
    np.testing.assert_array_equal(t.transpose((2, 0, 1)).numpy(), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(t.transpose(-1, 0, 1).numpy(), a.transpose(-1, 0, 1))
    np.testing.assert_array_equal(t.T.numpy(), a.T)
    assert tg.Tensor(2.0).T.shape == ()


def test_sigmoid_is_stable_at_the_extremes():
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        out = tg.sigmoid([-1000.0, -40.0, 0.0, 40.0, 1000.0]).numpy()
    assert np.all(np.isfinite(out))
    assert out[0] == 0.0 and out[2] == 0.5 and out[4] == 1.0
    np.testing.assert_allclose(out[1], np.exp(-40.0) / (1 + np.exp(-40.0)), rtol=1e-15)


def test_comparisons_give_plain_boolean_arrays():
    t = tg.Tensor([0.0, 1.0, 2.0], requires_grad=True)
    for got, expected in ((t > 1.0, [False, False, True]), (t <= 1.0, [True, True, False]), (t >= t, [True] * 3)):
        assert type(got) is np.ndarray and got.dtype == bool
        np.testing.assert_array_equal(got, expected)


# ----------------------------------------------------------------- who requires grad


def test_results_require_grad_exactly_when_an_input_does():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    c = tg.Tensor([3.0, 4.0])
    assert (w * c).requires_grad and (c * w).requires_grad and (w + 1).requires_grad
    assert not (c * c).requires_grad and not (c + 1).requires_grad
    assert (w * c).grad_fn is not None and (c * c).grad_fn is None
    assert (c * c).is_leaf
    with tg.no_grad():
        assert not (w * c).requires_grad and (w * c).grad_fn is None


def test_no_grad_is_a_context_manager_and_a_decorator_and_nests():
    w = tg.Tensor([1.0], requires_grad=True)
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        with tg.no_grad():
            assert not tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
        leaf = tg.Tensor([1.0], requires_grad=True)  # a leaf made here still requires grad
    assert tg.is_grad_enabled() and leaf.requires_grad

    @tg.no_grad()
    def step(t):
        """Doc."""
        return t * 2

    assert not step(w).requires_grad and tg.is_grad_enabled()
    assert step.__name__ == "step" and step.__doc__ == "Doc."

    with pytest.raises(ZeroDivisionError):
        with tg.no_grad():
            raise ZeroDivisionError
    assert tg.is_grad_enabled()


# ----------------------------------------------------------------- dtypes end to end


# Every op keeps float32 (a column of the op table); these are the ways a non-Tensor operand is coerced.
F32_CASES = {
    "add scalar": lambda x, w: x + 1,
    "radd": lambda x, w: 1 + x,
    "sub scalar": lambda x, w: x - 2.5,
    "rsub": lambda x, w: 1 - x,
    "mul scalar": lambda x, w: x * 3,
    "rmul": lambda x, w: 2 * x,
    "div scalar": lambda x, w: x / 3,
    "rdiv": lambda x, w: 1 / x,
    "numpy float32 scalar": lambda x, w: np.float32(2.0) * x,
    "int array": lambda x, w: x * np.array([1, 2], dtype=np.int64),
    "bool": lambda x, w: x * True,
    "pow int": lambda x, w: x**3,
    "rpow": lambda x, w: 2**x,
    "bce int targets": lambda x, w: tg.binary_cross_entropy_with_logits(x, np.array([[1, 0], [0, 1]])),
}


@pytest.mark.parametrize("name", sorted(F32_CASES))
def test_float32_stays_float32_through_forward_and_backward(name):
    x = tg.Tensor(np.array([[0.5, 1.5], [2.0, 0.25]], dtype=np.float32), requires_grad=True)
    w = tg.Tensor(np.array([0.3, 0.7], dtype=np.float32), requires_grad=True)
    out = F32_CASES[name](x, w)
    assert out.dtype == np.float32, name
    root = out.sum()
    assert root.dtype == np.float32
    root.backward()
    for leaf in (x, w):
        if leaf.grad is not None:
            assert type(leaf.grad) is np.ndarray and leaf.grad.dtype == np.float32, name
    assert x.grad is not None or w.grad is not None


def test_float32_gradients_of_gradients_stay_float32():
    x = tg.Tensor(np.array([0.3, -0.2], dtype=np.float32), requires_grad=True)
    (g,) = tg.grad((x.sigmoid() * x.tanh() + x**3).sum(), x, create_graph=True)
    assert g.dtype == np.float32
    (h,) = tg.grad(g.sum(), x)
    assert h.dtype == np.float32


def test_float32_mixed_with_float64_arrays_follows_numpy_and_grads_keep_the_leaf_dtype():
    x = tg.Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    y = x * np.array([1.0, 2.0])  # a float64 array promotes, as in numpy
    assert y.dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [1.0, 2.0])


# ----- numpy functions that are not ufuncs


def test_np_dot_records_a_matmul_as_the_document_writes_it():
    rng = np.random.default_rng(0)
    W = tg.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    X = rng.standard_normal((3, 4))
    Z = np.dot(W, X)
    assert isinstance(Z, tg.Tensor) and Z.grad_fn.name == "matmul"
    Z.sum().backward()
    want = numerical_gradient(lambda w: float(np.sum(np.dot(w, X))), W.data)
    np.testing.assert_allclose(W.grad, want, rtol=1e-7)


def test_np_sum_mean_transpose_reshape_stay_on_the_graph():
    x = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    for result, name in [
        (np.sum(x, axis=0), "sum"), (np.mean(x), "mean"), (np.transpose(x), "transpose"), (np.reshape(x, (3, 2)), "reshape"),
    ]:
        assert isinstance(result, tg.Tensor) and result.grad_fn.name == name


def test_other_numpy_functions_refuse_a_tensor_that_requires_grad_but_accept_constants():
    x = tg.Tensor([1.0, -2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"np.cumsum is not differentiable"):
        np.cumsum(x)
    assert np.allclose(tg.Tensor([1.0, 2.0]), [1.0, 2.0])


def test_shared_constants_cannot_leak_between_graphs():
    x = tg.Tensor([1.0], requires_grad=True)
    constant = (x * 2).grad_fn.parents[1]  # the shared leaf node of the number 2
    assert constant.is_leaf and not constant.requires_grad and constant.saved[0].item() == 2.0
    with pytest.raises(ValueError):
        constant.saved[0][...] = 7.0  # a user meddling with a node's input: the shared array is read-only
    y = tg.Tensor([1.0], requires_grad=True) * 2
    assert y.data.tolist() == [2.0] and y.grad_fn.needs == (True, False)


# ----------------------------------------------------------------- results that must never be silently wrong


def test_equality_is_elementwise_like_numpy():
    P = tg.Tensor([[1.0, 0.0, 1.0]])
    Y = tg.Tensor([[1.0, 0.0, 0.0]])
    assert np.mean(P == Y) == pytest.approx(2 / 3)  # an accuracy line written the numpy way
    assert np.mean(P == tg.Tensor(P.data.copy())) == 1.0  # equal values, different Tensors
    np.testing.assert_array_equal(P == 1.0, [[True, False, True]])
    np.testing.assert_array_equal(P != 1.0, [[False, True, False]])
    np.testing.assert_array_equal(P == P.data, [[True, True, True]])
    np.testing.assert_array_equal(P.data == P, [[True, True, True]])  # numpy on the left defers to Tensor
    np.testing.assert_array_equal(np.equal(P, Y), [[True, True, False]])
    w = tg.Tensor([2.0], requires_grad=True)
    assert isinstance(w * 1 == w, np.ndarray)  # no gradient, a plain boolean array


def test_tensors_stay_dict_keys_and_set_members_by_identity():
    a, b = tg.Tensor([1.0]), tg.Tensor([1.0])
    table = {a: "a", b: "b"}
    assert table[a] == "a" and table[b] == "b" and len({a, b, a}) == 2


def test_changing_a_saved_array_in_place_makes_backward_refuse():
    w = tg.Tensor([1.0], requires_grad=True, name="w")
    o = (w * w).sum()
    w.data *= 5  # the forward saw w = 1; dL/dw at 5 would be silently wrong
    with pytest.raises(RuntimeError, match=r"Tensor 'w' was changed in place after 'mul'"):
        o.backward()


def test_changing_an_input_in_place_between_forward_and_backward_is_caught_too():
    W = tg.Tensor([[1.0, 2.0]], requires_grad=True)
    X = tg.Tensor([[1.0], [1.0]], name="X")  # a constant: dW = g @ X.T reads it
    cost = (W @ X).sum()
    X.data += 1.0
    with pytest.raises(RuntimeError, match="'X' was changed in place"):
        cost.backward()


def test_a_write_through_another_view_of_a_saved_array_is_caught():
    w = tg.Tensor(np.arange(4.0), requires_grad=True, name="w")
    v = w.reshape(2, 2)  # a view of w's array
    loss = (v * v).sum()  # saves v's array
    w.data *= 2.0
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


def test_the_usual_training_loop_updating_in_place_after_backward_keeps_working():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((3, 20)), (rng.random((1, 20)) > 0.5).astype(float)
    W = tg.Tensor(np.zeros((1, 3)), requires_grad=True)
    b = tg.Tensor(np.zeros((1, 1)), requires_grad=True)
    costs = []
    for _ in range(20):
        cost = tg.binary_cross_entropy_with_logits(W @ X + b, Y)
        cost.backward()
        W.data -= 0.5 * W.grad  # the document's update, in place, after backward
        b.data -= 0.5 * b.grad
        W.grad = b.grad = None
        costs.append(cost.item())
    assert costs[-1] < costs[0]


def test_a_retained_graph_stays_valid_after_an_out_of_place_update():
    w = tg.Tensor([3.0], requires_grad=True, name="w")
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    w.data = w.data - 0.1 * w.grad  # a new array: the graph's saved w is untouched, so its gradient is still right
    w.grad = None
    loss.backward(retain_graph=True)
    np.testing.assert_array_equal(w.grad, [6.0])  # d(w*w)/dw at the forward's w = 3
    w.data *= 2.0  # in place, but on the new array, which the graph never saw
    w.grad = None
    loss.backward()
    np.testing.assert_array_equal(w.grad, [6.0])


def test_optimizer_steps_between_backward_calls_on_a_retained_graph_are_allowed():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    opt = tg.optim.GD([w], lr=0.1)
    loss.backward(retain_graph=True)
    opt.step()  # out of place, as every optimizer
    loss.backward()
    np.testing.assert_allclose(w.grad, [4.0, 8.0])  # accumulated: twice 2w at the forward's w


def test_a_write_to_another_part_of_the_same_buffer_is_no_false_alarm():
    buffer = np.arange(8.0)
    even = tg.Tensor(buffer[0::2], requires_grad=True)  # interleaved views: their bounds overlap, no element does
    odd = tg.Tensor(buffer[1::2], name="odd")
    loss = (even * even).sum()
    odd.data *= 3.0
    loss.backward()
    np.testing.assert_array_equal(even.grad, 2 * buffer[0::2])


# ----------------------------------------------------------------- a review's findings, pinned


def test_a_write_through_a_temporary_view_is_caught():
    w = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True, name="w")
    o = (w * w).sum()
    w[1:].data *= 5  # the view is gone before backward; w's array, which mul saved, changed
    with pytest.raises(RuntimeError, match="changed in place"):
        o.backward()


def test_a_write_through_numpys_out_is_caught():
    X = tg.Tensor([1.0, 2.0], name="X")
    w = tg.Tensor([1.0, 1.0], requires_grad=True)
    o = (w * X).sum()
    np.multiply(X, 5, out=X)
    with pytest.raises(RuntimeError, match="'X' was changed in place"):
        o.backward()


def test_grad_of_the_wrong_shape_is_refused_when_assigned():
    x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"grad: a gradient of shape \(3, 1\) cannot belong to a Tensor of shape \(3,\)"):
        x.grad = np.zeros((3, 1))
    x.grad = [0.5, 0.5, 0.5]  # array-likes become arrays of the tensor's dtype
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.5, 2.5, 2.5])


def test_create_graph_gradients_keep_the_inputs_dtype_and_so_do_optimizer_steps():
    x = tg.Tensor(np.float32([1.0, 2.0]), requires_grad=True)
    (x * np.array([1.0, 2.0])).sum().backward(create_graph=True)  # a float64 constant promotes the product
    assert x.grad.dtype == np.float32
    x.grad = np.array([1.0, 1.0])  # a float64 gradient
    tg.optim.GD([x], lr=0.1).step()
    assert x.dtype == np.float32


def test_boolean_questions_about_values_are_answered_on_tensors_that_require_grad():
    loss = (tg.Tensor([1.0, 2.0], requires_grad=True) * 2).sum()
    assert np.isfinite(loss) and not np.isnan(loss)
    assert np.allclose(loss, 6.0) and np.array_equal(loss, 6.0)
    with pytest.raises(TypeError, match="np.cumsum is not differentiable"):
        np.cumsum(loss)


def test_a_new_dtype_keeps_the_gradient_and_a_removed_hook_stays_removed():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_hook(lambda g: seen.append(1))
    (w * w).sum().backward()
    w.data = w.data.astype(np.float32)  # a new leaf node for the new dtype
    assert w.grad.dtype == np.float32 and w.grad.tolist() == [2.0, 4.0]
    handle.remove()
    (w * w).sum().backward()
    assert seen == [1]


def test_grad_names_grad_outputs_for_a_non_scalar_output():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="grad: the output has shape \\(2,\\); without grad_outputs="):
        tg.grad(x * 2, x)
