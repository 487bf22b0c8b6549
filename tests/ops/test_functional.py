"""The function forms (tinygraph/functional.py): each is named, documented and signed as
its op declares it, and ``tg.grad``: what it returns, when it keeps the graph, and every
error message of it and of the seeds it starts backward with, in full."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import numerical_gradient

# ----------------------------------------------------------------- the public face of the forms

# The signature a reader sees in help(): inputs first (optional ones default to None), then
# the op's own parameters; a variadic or hand-written form keeps its own.
SIGNATURES = {
    "relu": "(x)",
    "add": "(x, y)",
    "cross_entropy": "(logits, target, axis=0)",
    "sum": "(x, axis=None, keepdims=False)",
    "conv2d": "(x, w, b=None, stride=1, padding=0)",
    "power": "(x, p)",
    "clip": "(x, lo=None, hi=None, **numpy_names)",
    "where": "(condition, x=None, y=None)",
}


@pytest.mark.parametrize("name, signature", sorted(SIGNATURES.items()))
def test_function_forms_show_their_inputs_and_parameters(name, signature):
    assert str(inspect.signature(getattr(tg, name))) == signature


@pytest.mark.parametrize("name", ["relu", "add", "subtract", "negative", "power", "sum", "conv2d", "cross_entropy", "reshape"])
def test_function_forms_are_named_and_documented_by_their_op(name):
    form = getattr(tg.functional, name)
    assert form.__name__ == form.__qualname__ == name
    assert form.__doc__ == form.op.__doc__ and form.__doc__
    assert name in tg.functional.__all__ and "grad" in tg.functional.__all__


@pytest.mark.parametrize("method", ["relu", "exp", "sum", "reshape", "transpose", "clip"])
def test_tensor_methods_are_named_and_documented_by_their_op(method):
    function = getattr(tg.Tensor, method)
    assert function.__name__ == function.__qualname__ == method
    assert function.__doc__ and function.__doc__ == getattr(tg.functional, method).op.__doc__


@pytest.mark.parametrize("method", ["relu", "exp", "log", "tanh", "sigmoid", "abs"])
def test_methods_of_ops_without_parameters_take_only_the_tensor(method):
    # help(t.exp) shows (self), and an argument given by mistake is refused
    assert str(inspect.signature(getattr(tg.Tensor, method))) == "(self)"
    with pytest.raises(TypeError):
        getattr(tg.Tensor([1.0]), method)(0)


def test_function_forms_take_optional_inputs_by_keyword_or_not_at_all():
    x = np.arange(2 * 1 * 4 * 3, dtype=float).reshape(2, 1, 4, 3) / 10
    w = np.array([[[[0.5, -1.0], [2.0, 0.25]]]])
    b = np.array([0.75])
    without = tg.conv2d(x, w).data
    np.testing.assert_allclose(tg.conv2d(x, w, b=b).data, without + 0.75)
    np.testing.assert_allclose(tg.conv2d(x, w, b).data, without + 0.75)
    np.testing.assert_allclose(tg.conv2d(x, w=w, b=b, stride=2).data, without[:, :, ::2, ::2] + 0.75)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: tg.relu(), "relu() missing 1 required positional argument: 'x'"),
        (lambda: tg.relu(1.0, 2.0), "relu() takes 1 positional argument but 2 were given"),
        (lambda: tg.relu(y=1.0), "relu() got an unexpected keyword argument 'y'"),
        (lambda: tg.add(1.0), "add() missing 1 required positional argument: 'y'"),
        (lambda: tg.add(1.0, 2.0, 3.0), "add() takes 2 positional arguments but 3 were given"),
        (lambda: tg.sum(), "sum: takes 1 input(s), got 0"),
        (lambda: tg.conv2d(np.ones((1, 1, 2, 2))), "conv2d: takes 3 input(s), got 1"),
        (lambda: tg.concatenate(), "concatenate: missing the sequence of inputs"),
        # all inputs given, one of them None: the input itself is refused, not counted as missing
        (lambda: tg.conv2d(None, np.ones((1, 1, 1, 1)), np.ones(1)), "conv2d: expected numbers, got an array of dtype object from NoneType"),
        (lambda: tg.conv2d(np.ones((1, 1, 2, 2)), None, None), "conv2d: expected numbers, got an array of dtype object from NoneType"),
    ],
)
def test_function_forms_called_with_the_wrong_inputs_say_which(call, message):
    with pytest.raises(TypeError) as info:
        call()
    assert str(info.value) == message


def test_forms_of_two_input_ops_with_parameters_take_them_after_the_inputs():
    z = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    y = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    by_rows = tg.cross_entropy(z, y, axis=1)
    np.testing.assert_allclose(by_rows.data, tg.cross_entropy(z.T, y.T).data)
    np.testing.assert_allclose(by_rows.data, tg.cross_entropy(z.T, target=y.T, axis=0).data)


def test_variadic_forms_take_one_sequence_of_inputs_then_their_parameters():
    a = tg.Tensor([[1.0], [2.0]], requires_grad=True)
    assert tg.concatenate([a, a], 1).tolist() == [[1.0, 1.0], [2.0, 2.0]]
    assert tg.concatenate((a, a, a)).shape == (6, 1)
    tg.concatenate([a, a * 2.0], axis=1).sum().backward()
    assert a.grad.tolist() == [[3.0], [3.0]]


# ----------------------------------------------------------------- tg.grad


def test_grad_returns_gradients_without_filling_dot_grad():
    x = tg.Tensor([0.5, -1.5], requires_grad=True)
    y = tg.Tensor([2.0, 3.0], requires_grad=True)
    gx, gy = tg.grad((x * y).sum(), [x, y])
    np.testing.assert_array_equal(gx, [2.0, 3.0])
    np.testing.assert_array_equal(gy, [0.5, -1.5])
    assert x.grad is None and y.grad is None


def test_grad_of_an_input_the_outputs_do_not_depend_on_is_none():
    x = tg.Tensor([1.0], requires_grad=True)
    unused = tg.Tensor([2.0], requires_grad=True)
    assert tg.grad((x * 3).sum(), [unused, x])[0] is None


def test_grad_takes_one_grad_output_as_a_tensor_an_array_or_a_list():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    v = np.array([3.0, -4.0])
    for seed in (v, tg.Tensor(v), [v], (tg.Tensor(v),)):
        (g,) = tg.grad(x * 5, x, grad_outputs=seed, retain_graph=True)
        np.testing.assert_array_equal(g, [15.0, -20.0])


def test_grad_sums_over_several_outputs_each_with_its_grad_output():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    (g,) = tg.grad([x * 2, x * x], [x], grad_outputs=[np.array([1.0, 0.0]), np.array([0.0, 1.0])])
    np.testing.assert_array_equal(g, [2.0, 4.0])


def test_grad_of_a_one_element_output_of_any_shape_needs_no_grad_output():
    x = tg.Tensor(np.array([[1.5]], dtype=np.float32), requires_grad=True)
    (g,) = tg.grad(x * x, x)
    assert g.shape == (1, 1) and g.dtype == np.float32 and g.tolist() == [[3.0]]


def test_grad_frees_the_graph_unless_asked_to_keep_it_and_keeps_it_under_create_graph():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 3).sum()
    tg.grad(y, x)
    with pytest.raises(RuntimeError, match="freed"):
        tg.grad(y, x)
    y = (x.exp() * 3).sum()
    tg.grad(y, x, retain_graph=True)
    np.testing.assert_allclose(tg.grad(y, x)[0], 3 * np.exp([1.0, 2.0]))
    y = (x.exp() * 3).sum()
    (g,) = tg.grad(y, x, create_graph=True)  # kept: differentiated again, and y once more
    assert isinstance(g, tg.Tensor) and g.requires_grad
    np.testing.assert_allclose(tg.grad(y, x)[0], 3 * np.exp([1.0, 2.0]))
    y = (x.exp() * 3).sum()
    tg.grad(y, x, retain_graph=False, create_graph=True)
    with pytest.raises(RuntimeError, match="freed"):
        tg.grad(y, x)


def test_grad_under_create_graph_differentiates_through_a_grad_output_that_requires_grad():
    # d/ds of (J^T s) . u is J u: the seed s takes part in the recorded backward.
    x0 = np.array([0.3, -0.7])
    x = tg.Tensor(x0, requires_grad=True)
    s = tg.Tensor([1.0, 2.0], requires_grad=True)
    (vjp,) = tg.grad(x * x * x, x, grad_outputs=s, create_graph=True)
    (js,) = tg.grad((vjp * np.array([0.5, -1.0])).sum(), s)
    want = numerical_gradient(lambda v: float(np.sum(3 * x0 * x0 * v * np.array([0.5, -1.0]))), np.array([1.0, 2.0]))
    np.testing.assert_allclose(js, want, rtol=1e-7)


def test_grad_results_are_the_callers_own_writeable_arrays():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    seed = np.array([3.0, 4.0])
    g1, g2 = tg.grad(x + 0.0, [x, x], grad_outputs=seed)
    assert not np.shares_memory(g1, seed) and not np.shares_memory(g1, g2)
    g1 += 1.0
    assert seed.tolist() == [3.0, 4.0] and g2.tolist() == [3.0, 4.0]


X = tg.Tensor(np.ones(3), requires_grad=True)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: tg.grad((X * X).sum(), [X, tg.Tensor([1.0, 2.0])]), RuntimeError, "grad: input 1 (shape (2,)) does not require grad"),
        (lambda: tg.grad(tg.Tensor([1.0]).sum(), X), RuntimeError, "grad: output 0 does not require grad: it does not depend on any input"),
        (lambda: tg.grad([X.sum()], [X], grad_outputs=[None, None]), ValueError, "grad: 1 output(s) but 2 grad_outputs"),
        (lambda: tg.grad([X.sum(), X.sum()], X, grad_outputs=tg.Tensor(1.0)), ValueError, "grad: 2 output(s) but 1 grad_outputs"),
        (lambda: tg.grad([X.sum(), X.sum()], X, grad_outputs=np.ones(2)), ValueError, "grad: 2 output(s) but 1 grad_outputs"),
        (lambda: tg.grad(X.sum(), [np.ones(3)]), TypeError, "grad: outputs and inputs must be Tensors, got ndarray"),
        (lambda: tg.grad([X.sum(), 1.0], X, grad_outputs=[None, None]), TypeError, "grad: outputs and inputs must be Tensors, got float"),
        (
            lambda: tg.grad(X * 2, X),
            ValueError,
            "grad: the output has shape (3,); without grad_outputs= it must be a scalar (one-element) Tensor, "
            "so reduce it first (e.g. .sum() or .mean()) or pass grad_outputs of that shape",
        ),
        (
            lambda: tg.grad(X[:2] * 2, X),
            ValueError,
            "grad: the output has shape (2,); without grad_outputs= it must be a scalar (one-element) Tensor, "
            "so reduce it first (e.g. .sum() or .mean()) or pass grad_outputs of that shape",
        ),
        (
            lambda: tg.grad(X * 2, X, grad_outputs=np.ones(2)),
            ValueError,
            "grad: grad_outputs has shape (2,) but the output has shape (3,); they must match",
        ),
        (
            lambda: tg.grad(X * 2, X, grad_outputs=tg.Tensor(np.ones((1, 3)))),
            ValueError,
            "grad: grad_outputs has shape (1, 3) but the output has shape (3,); they must match",
        ),
        (
            lambda: (X * 2).backward(),
            ValueError,
            "backward: the output has shape (3,); without grad= it must be a scalar (one-element) Tensor, "
            "so reduce it first (e.g. .sum() or .mean()) or pass grad of that shape",
        ),
        (
            lambda: (X * 2).backward(grad=np.ones((3, 1))),
            ValueError,
            "backward: grad has shape (3, 1) but the output has shape (3,); they must match",
        ),
        (
            lambda: (X * 2).backward(grad=tg.Tensor(np.ones(4)), create_graph=True),
            ValueError,
            "backward: grad has shape (4,) but the output has shape (3,); they must match",
        ),
    ],
)
def test_grad_and_backward_errors_in_full(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


# ----------------------------------------------------------------- backward's seed and its defaults


def test_backward_seeds_with_the_outputs_dtype_and_fills_arrays_by_default():
    x = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x * x).sum().backward()
    assert type(x.grad) is np.ndarray and x.grad.dtype == np.float32 and x.grad.tolist() == [2.0, 4.0]
    y = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (y * 3).backward(grad=[1, -2])  # a list seed takes the output's dtype
    assert y.grad.dtype == np.float32 and y.grad.tolist() == [3.0, -6.0]


def test_backward_frees_the_graph_by_default_and_keeps_it_when_asked_or_under_create_graph():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    loss = (x.exp() * 2).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="freed"):
        loss.backward()
    loss = (x.exp() * 2).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    loss = (x.exp() * 2).sum()
    x.grad = None
    loss.backward(create_graph=True)
    assert isinstance(x.grad, tg.Tensor)
    x.grad = None
    loss.backward()  # the graph create_graph kept
    np.testing.assert_allclose(x.grad, 2 * np.exp([1.0, 2.0]))


def test_backward_with_a_tensor_seed_under_create_graph_records_the_seed():
    x = tg.Tensor([0.5, 1.5], requires_grad=True)
    s = tg.Tensor([2.0, -1.0], requires_grad=True)
    (x * x).backward(grad=s, create_graph=True)
    # x.grad = 2 x s, a Tensor on the graph of both x and s
    (gs,) = tg.grad(x.grad.sum(), s)
    np.testing.assert_allclose(gs, [1.0, 3.0])


def test_grad_under_create_graph_never_hands_back_the_seeds_array():
    # A hook that detaches the gradient makes a new Tensor on the seed's own array; what
    # tg.grad returns must still be the caller's own, or writing to it would change the seed.
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g.detach())
    seed = tg.Tensor([3.0, 4.0])
    (g,) = tg.grad(x + 0.0, x, grad_outputs=seed, create_graph=True)
    assert g.tolist() == [3.0, 4.0] and not np.shares_memory(g.data, seed.data)


def test_the_seed_reaching_the_output_has_the_outputs_dtype_and_is_an_array_without_create_graph():
    # What a hook or retain_grad on the output itself sees is the seed.
    for seed in (None, [1, -2], np.array([1.0, -2.0]), tg.Tensor([1.0, -2.0])):
        x = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
        out = (x * 3).sum() if seed is None else x * 3
        seen = []
        out.register_hook(seen.append)
        out.retain_grad()
        out.backward(grad=seed)
        want = [1.0] if seed is None else [1.0, -2.0]
        assert type(seen[0]) is np.ndarray and seen[0].dtype == np.float32
        assert np.ravel(seen[0]).tolist() == want
        assert type(out.grad) is np.ndarray and out.grad.dtype == np.float32
    y = tg.Tensor(np.array([[0.5]], dtype=np.float32), requires_grad=True) * 2
    (itself,) = tg.grad(y, y)  # the gradient of an output with respect to itself is its seed
    assert itself.dtype == np.float32 and itself.tolist() == [[1.0]]


def test_second_derivatives_flow_through_the_values_ops_saved():
    # mul saves both inputs; under create_graph they come back as Tensors on x's node, so
    # d2/dx2 of x**3 (written x * x * x) is 6x, not the 4x of a graph cut at the saved values.
    x = tg.Tensor(0.5, requires_grad=True)
    (dx,) = tg.grad(x * x * x, x, create_graph=True)
    (d2x,) = tg.grad(dx, x)
    assert dx.item() == 0.75 and d2x.item() == 3.0
