"""Tensor.register_hook: see, and replace, the gradient reaching a tensor (PyTorch's semantics)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck


def test_a_hook_sees_the_total_gradient_once_and_its_replacement_flows_on():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    seen = []

    def double(g):
        seen.append(g.copy())
        return g * 2.0

    h.register_hook(double)
    (h * h + h).sum().backward()  # dL/dh = 2h + 1, summed over the two uses of h
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], 2 * np.array([3.0, 6.0]) + 1)
    np.testing.assert_allclose(x.grad, 3.0 * 2.0 * (2 * np.array([3.0, 6.0]) + 1))


def test_a_leaf_hook_replaces_what_grad_receives():
    w = tg.Tensor([1.0, -1.0], requires_grad=True)
    w.register_hook(lambda g: np.clip(g, -0.5, 0.5))
    (w * np.array([3.0, -0.1])).sum().backward()
    np.testing.assert_allclose(w.grad, [0.5, -0.1])


def test_none_keeps_the_gradient_and_hooks_run_in_order():
    x = tg.Tensor([1.0], requires_grad=True)
    order = []
    x.register_hook(lambda g: order.append("first"))
    x.register_hook(lambda g: (order.append("second"), g + 1.0)[1])
    x.register_hook(lambda g: (order.append("third"), g * 10.0)[1])
    (x * 2.0).sum().backward()
    assert order == ["first", "second", "third"]
    np.testing.assert_allclose(x.grad, [30.0])


def test_remove_and_registering_one_function_twice():
    x = tg.Tensor([1.0], requires_grad=True)

    def add_one(g):
        return g + 1.0

    first = x.register_hook(add_one)
    second = x.register_hook(add_one)
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad, [3.0])
    first.remove()
    first.remove()  # twice: nothing more happens
    x.grad = None
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0])
    second.remove()
    assert not x.node.hooks
    x.grad = None
    (x * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad, [1.0])


def test_the_gradient_a_hook_gets_is_read_only():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = x + 0.0  # add hands the same gradient array to both sides

    def in_place(g):
        g *= 100.0

    y.register_hook(in_place)
    with pytest.raises(ValueError, match="read-only"):
        (y + x).sum().backward()


def test_a_replacement_of_the_wrong_shape_or_kind_is_refused():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: np.ones(3))
    with pytest.raises(ValueError, match=r"register_hook: hook .*returned a gradient of shape \(3,\) for a tensor of shape \(2,\)"):
        (x * 2.0).sum().backward()
    y = tg.Tensor([1.0], requires_grad=True)
    y.register_hook(lambda g: "no")
    with pytest.raises(TypeError, match="register_hook: hook .* returned a str"):
        (y * 2.0).sum().backward()


def test_a_number_or_list_replacement_takes_the_tensors_dtype():
    x = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    x.register_hook(lambda g: [1, 1])
    (x * 2.0).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0]


def test_only_tensors_that_require_grad_take_hooks():
    with pytest.raises(RuntimeError, match="register_hook: this Tensor does not require grad"):
        tg.Tensor([1.0]).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="register_hook: expected a function"):
        tg.Tensor([1.0], requires_grad=True).register_hook(3)


def test_hooks_run_in_tg_grad_and_keep_grad_untouched():
    x = tg.Tensor([2.0], requires_grad=True)
    h = x * x
    h.register_hook(lambda g: g * 0.5)
    (dx,) = tg.grad(h.sum(), x)
    np.testing.assert_allclose(dx, [2.0])  # 2x = 4, halved
    assert x.grad is None


def test_under_create_graph_a_hook_gets_a_tensor_and_its_replacement_is_differentiated():
    x = tg.Tensor([1.5], requires_grad=True)
    h = x * x
    kinds = []

    def scale(g):
        kinds.append(type(g))
        return g * x  # depends on x: the second derivative must see it

    h.register_hook(scale)
    (dx,) = tg.grad(h.sum(), x, create_graph=True)  # dx = (1 * x) * 2x = 2x^2
    assert kinds == [tg.Tensor]
    np.testing.assert_allclose(dx.data, [2 * 1.5**2])
    (d2x,) = tg.grad(dx.sum(), x)
    np.testing.assert_allclose(d2x, [4 * 1.5])


def test_hooks_survive_a_new_value_of_another_shape():
    w = tg.Tensor([1.0], requires_grad=True)
    w.register_hook(lambda g: g * 0.0)
    w.data = np.array([1.0, 2.0])
    (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad, [0.0, 0.0])


def test_an_identity_hook_changes_no_gradient():
    def fn(a, b):
        h = tg.tanh(a @ b)
        h.register_hook(lambda g: g)
        return h * a.sum()

    rng = np.random.default_rng(0)
    assert gradcheck(fn, rng.standard_normal((2, 3)), rng.standard_normal((3, 2)))


# ----------------------------------------------------------------- what a replacement becomes, and how hooks are named


def _three_ones(g):
    return np.ones(3)


class _Refuser:
    """A callable object: it has no __qualname__ of its own, so messages name its class."""

    def __call__(self, g):
        return "no"


@pytest.mark.parametrize(
    "hook, error, message",
    [
        (
            _three_ones,
            ValueError,
            "register_hook: hook _three_ones returned a gradient of shape (3,) for a tensor of shape (2,); "
            "a replacement must have the tensor's shape",
        ),
        (
            _Refuser(),
            TypeError,
            "register_hook: hook _Refuser returned a str; return an array of shape (2,) (or None to keep the gradient)",
        ),
    ],
)
def test_a_refused_replacement_names_the_hook(hook, error, message):
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(hook)
    with pytest.raises(error) as info:
        (x * 2.0).sum().backward()
    assert str(info.value) == message


def test_a_hook_writing_into_a_gradient_shared_with_another_input_is_stopped():
    # add hands one (writeable) gradient array to both of its inputs; a hook on one side
    # that wrote into it would change the other side's gradient too.
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y + x
    y.register_hook(_scale_in_place)
    with pytest.raises(ValueError, match="read-only"):
        tg.tanh(z).sum().backward()


def _scale_in_place(g):
    g *= 100.0


def test_a_tensor_returned_by_a_hook_outside_create_graph_leaves_an_array_in_grad():
    x = tg.Tensor([1.0, -2.0], requires_grad=True)
    x.register_hook(lambda g: tg.Tensor(g) * 4.0)
    (x * 3.0).sum().backward()
    assert type(x.grad) is np.ndarray
    np.testing.assert_array_equal(x.grad, [12.0, 12.0])


def test_a_replacement_of_another_dtype_takes_the_tensors_dtype():
    x = tg.Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    x.register_hook(lambda g: np.array([0.25, 0.5]))  # float64
    (x * 2.0).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [0.25, 0.5])
    h = x * 3.0
    seen = []
    h.register_hook(lambda g: np.array([1.0, 1.0]))  # float64, on an intermediate float32 value
    h.register_hook(lambda g: seen.append(g.dtype))  # the next hook sees the replacement as float32
    h.sum().backward()
    assert seen == [np.float32]


def test_an_array_returned_under_create_graph_is_a_constant_of_the_second_pass():
    x = tg.Tensor([1.5, -0.5], requires_grad=True)
    h = x * x
    h.register_hook(lambda g: np.array([2.0, 3.0]))  # a plain array: no dependence on x
    (dx,) = tg.grad(h.sum(), x, create_graph=True)  # dx = [2, 3] * 2x
    assert isinstance(dx, tg.Tensor)
    np.testing.assert_array_equal(dx.data, [6.0, -3.0])
    (d2x,) = tg.grad(dx.sum(), x)
    np.testing.assert_array_equal(d2x, [4.0, 6.0])


def test_a_read_only_replacement_reaches_grad_as_a_writeable_copy():
    frozen = np.array([0.5, 0.25])
    frozen.flags.writeable = False  # owns its memory, but no one may write it
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: frozen)
    (x * 2.0).sum().backward()
    assert x.grad.flags.writeable and not np.shares_memory(x.grad, frozen)
    x.grad *= 2.0  # an optimizer may scale it in place
    np.testing.assert_array_equal(frozen, [0.5, 0.25])
