"""Edge paths of the backward pass (tinygraph/_graph.py) that the rest of the suite let through.

Each test pins a behaviour that a deliberately broken engine got wrong while every other
test still passed (a mutation run, issue 13). Gradients are compared with central finite
differences of the same function, never only with another formula.
"""

from __future__ import annotations

import gc

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import _graph
from tinygraph.testing import gradcheck, numerical_gradient

A = np.array([0.3, -1.2, 2.0])
A.flags.writeable = False  # Tensor(A) shares A: a test writing through .data must not change it for the others


def _tanh_sum(v) -> float:
    return float(np.sum(np.tanh(v)))


# ----------------------------------------------------------------- several roots


def test_two_roots_that_are_the_same_tensor_count_twice():
    x = tg.Tensor(A, requires_grad=True)
    y = tg.tanh(x).sum()
    (twice,) = tg.grad([y, y], x)
    np.testing.assert_allclose(twice, 2 * numerical_gradient(_tanh_sum, A), rtol=1e-7)


def test_two_roots_on_the_same_tensor_add_their_seeds():
    x = tg.Tensor(A, requires_grad=True)
    y = tg.tanh(x)
    u, v = np.array([1.0, -2.0, 0.5]), np.array([0.25, 3.0, -1.0])
    (got,) = tg.grad([y, y], x, grad_outputs=[u, v])
    want = numerical_gradient(lambda p: float(np.sum((u + v) * np.tanh(p))), A)
    np.testing.assert_allclose(got, want, rtol=1e-7)


def test_a_leaf_given_twice_as_a_root_gets_both_seeds():
    x = tg.Tensor(A, requires_grad=True)
    u, v = np.array([1.0, 2.0, 3.0]), np.array([10.0, 20.0, 30.0])
    (got,) = tg.grad([x, x], x, grad_outputs=[u, v])
    np.testing.assert_array_equal(got, u + v)


def test_two_different_roots_sum_their_gradients():
    x = tg.Tensor(A, requires_grad=True)
    first, second = tg.tanh(x).sum(), (x * x).sum()
    (got,) = tg.grad([first, second], x)
    want = numerical_gradient(lambda p: _tanh_sum(p) + float(np.sum(p * p)), A)
    np.testing.assert_allclose(got, want, rtol=1e-7)


# ----------------------------------------------------------------- retained non-leaves


def test_a_retained_non_leaf_accumulates_across_two_backward_calls():
    x = tg.Tensor(A, requires_grad=True)
    h = tg.tanh(x).retain_grad()
    loss = (h * h).sum()
    loss.backward(retain_graph=True)
    once = np.array(h.grad)
    loss.backward()
    dl_dh = numerical_gradient(lambda v: float(np.sum(v * v)), h.data)
    np.testing.assert_allclose(once, dl_dh, rtol=1e-7)
    np.testing.assert_allclose(h.grad, 2 * dl_dh, rtol=1e-7)
    # ...and the leaf below it too, as leaves always do.
    np.testing.assert_allclose(x.grad, 2 * numerical_gradient(lambda v: float(np.sum(np.tanh(v) ** 2)), A), rtol=1e-7)


def test_a_retained_non_leaf_used_twice_gets_the_sum_of_both_paths():
    x = tg.Tensor(A, requires_grad=True)
    h = (x * 2.0).retain_grad()
    (tg.tanh(h).sum() + (h * 3.0).sum()).backward()
    want = numerical_gradient(lambda v: _tanh_sum(v) + float(np.sum(3.0 * v)), h.data)
    np.testing.assert_allclose(h.grad, want, rtol=1e-7)


def test_a_retained_non_leaf_that_was_dropped_is_skipped():
    x = tg.Tensor(A, requires_grad=True)
    loss = (tg.tanh(x).retain_grad() * 2.0).sum()  # the retained tanh output is dropped at once
    gc.collect()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * (1 - np.tanh(A) ** 2), rtol=1e-12)


def test_retained_gradients_belong_to_their_tensor():
    x = tg.Tensor(A, requires_grad=True)
    h = (x + 0.0).retain_grad()
    h.sum().backward()  # add passes g through to x untouched: h and x must not share it
    h.grad += 100.0
    np.testing.assert_array_equal(x.grad, np.ones(3))


def test_tg_grad_leaves_retained_gradients_alone():
    x = tg.Tensor(A, requires_grad=True)
    h = tg.tanh(x).retain_grad()
    tg.grad((h * h).sum(), x)
    assert h.grad is None and x.grad is None


# ----------------------------------------------------------------- what backward writes and where


def test_backward_through_a_shared_subgraph_sums_every_path():
    x = tg.Tensor(A, requires_grad=True)
    h = tg.tanh(x)
    z = h * h + h.sigmoid() * h
    z.sum().backward()

    def f(v):
        t = np.tanh(v)
        return float(np.sum(t * t + t / (1 + np.exp(-t))))

    np.testing.assert_allclose(x.grad, numerical_gradient(f, A), rtol=1e-7)


def test_constants_get_no_gradient_and_their_inputs_are_untouched():
    x = tg.Tensor(A, requires_grad=True)
    c = tg.Tensor([1.0, 2.0, 3.0])
    (x * c + c * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, c.data)


def test_grad_of_an_input_that_the_outputs_do_not_depend_on_is_none():
    x = tg.Tensor(A, requires_grad=True)
    unused = tg.Tensor([1.0], requires_grad=True)
    gx, gu = tg.grad(tg.tanh(x).sum(), [x, unused])
    assert gu is None
    np.testing.assert_allclose(gx, numerical_gradient(_tanh_sum, A), rtol=1e-7)


def test_grad_with_respect_to_an_intermediate_and_a_leaf_at_once():
    x = tg.Tensor(A, requires_grad=True)
    h = x * 2.0
    gh, gx = tg.grad(tg.tanh(h).sum(), [h, x])
    np.testing.assert_allclose(gh, numerical_gradient(_tanh_sum, 2 * A), rtol=1e-7)
    np.testing.assert_allclose(gx, numerical_gradient(lambda v: _tanh_sum(2 * v), A), rtol=1e-7)


def test_a_second_backward_without_retain_graph_is_refused_naming_the_op():
    x = tg.Tensor(A, requires_grad=True)
    loss = tg.tanh(x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="backward: the graph through '(sum|tanh)' was already freed"):
        loss.backward()


def test_a_float32_leaf_gets_a_float32_gradient_from_float64_seeds():
    x = tg.Tensor(np.array([0.5, 1.5], dtype=np.float32), requires_grad=True)
    (x * np.array([2.0, 3.0])).sum().backward()  # the product is float64, the leaf float32
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 3.0])


# ----------------------------------------------------------------- grad mode and name scopes


def test_grad_mode_is_exactly_false_inside_no_grad():
    with tg.no_grad():
        assert tg.is_grad_enabled() is False
    assert tg.is_grad_enabled() is True


def test_no_grad_as_a_decorator_passes_keyword_arguments():
    @tg.no_grad()
    def scaled(t, *, factor=1.0):
        return t * factor

    w = tg.Tensor(A, requires_grad=True)
    out = scaled(w, factor=3.0)
    np.testing.assert_array_equal(out.data, 3.0 * A)
    assert not out.requires_grad


def test_exceptions_pass_through_name_scope_and_no_grad():
    with pytest.raises(KeyError):
        with tg.name_scope("layer"):
            raise KeyError("inside")
    with pytest.raises(KeyError):
        with tg.no_grad():
            raise KeyError("inside")
    assert tg.is_grad_enabled() and tg.Tensor(1.0).scope is None


# ----------------------------------------------------------------- user-defined ops: what the class declares


def test_an_op_without_a_name_is_named_after_its_class():
    class Twice(tg.Op):
        def forward(self, x):
            return 2.0 * x

        def backward(self, ctx, g):
            return 2.0 * g

    out = Twice.apply(tg.Tensor(A, requires_grad=True))
    assert Twice.name == "Twice" and out.grad_fn.name == "Twice"


def test_an_op_whose_backward_does_not_match_saves_is_refused_when_defined():
    with pytest.raises(TypeError) as info:

        class Lopsided(tg.Op):
            saves = ("x", "y")

            def forward(self, x, y):
                return x * y

            def backward(self, ctx, g, x):
                return g * x, g

    assert str(info.value) == (
        "Lopsided.backward(self, ctx, g, ...) takes 1 saved value(s) after g, but saves = ('x', 'y') names 2"
    )


def test_an_op_whose_backward_takes_saved_values_as_star_args():
    class Product(tg.Op):
        saves = ("x", "y")

        def forward(self, x, y):
            return x * y

        def backward(self, ctx, g, *saved):
            x, y = saved
            return g * y, g * x

    gradcheck(Product.apply, A, A[::-1].copy())


def test_an_op_with_any_number_of_inputs():
    class Total(tg.Op):
        def forward(self, *arrays):
            return sum(arrays[1:], arrays[0])

        def backward(self, ctx, g):
            return tuple(g for _ in ctx.parents)

    xs = [tg.Tensor(A * k, requires_grad=True) for k in (1.0, 2.0, 3.0, 4.0)]
    np.testing.assert_array_equal(Total.apply(*xs).data, 10.0 * A)
    Total.apply(*xs).sum().backward()
    assert all(np.array_equal(x.grad, np.ones(3)) for x in xs)
    np.testing.assert_array_equal(Total.apply(xs[0]).data, A)
    gradcheck(Total.apply, A, A, A)


# ----------------------------------------------------------------- arrays changed in place after they were saved


def test_an_input_changed_in_place_after_it_was_saved_is_refused_naming_it():
    x = tg.Tensor(A.copy(), requires_grad=True)
    w = tg.Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    loss = (w * x).sum()
    x.data *= 2.0
    with pytest.raises(RuntimeError, match=r"^backward: .* was changed in place after 'mul' \(node \d+\) saved its input 1 of shape \(3,\)") as info:
        loss.backward()
    assert str(info.value).endswith(
        "run the forward again after changing it, or change parameters after backward "
        "(assign a new array, t.data = t.data - lr * t.grad, to keep a retained graph valid)"
    )


def test_an_output_changed_in_place_after_it_was_saved_is_refused_naming_it():
    x = tg.Tensor(A, requires_grad=True)
    y = x.exp()  # exp saves its output
    y.data += 1.0
    with pytest.raises(RuntimeError, match=r"saved its output of shape \(3,\)"):
        y.sum().backward()


def test_every_in_place_write_is_remembered_not_only_the_last():
    x = tg.Tensor(A.copy(), requires_grad=True)
    other = tg.Tensor(np.ones(3))
    loss = (x * x).sum()
    x.data *= 2.0
    other.data *= 2.0  # a later write to another array must not hide the first one
    with pytest.raises(RuntimeError, match="changed in place"):
        loss.backward()


def test_an_op_without_forward_or_backward_says_so():
    class NoForward(tg.Op):
        def backward(self, ctx, g):
            return g

    class NoBackward(tg.Op):
        def forward(self, x):
            return 2.0 * x

    with pytest.raises(NotImplementedError, match=r"^NoForward defines no forward$"):
        NoForward.apply(tg.Tensor(A, requires_grad=True))
    out = NoBackward.apply(tg.Tensor(A, requires_grad=True))
    with pytest.raises(NotImplementedError, match=r"^NoBackward defines no backward$"):
        out.sum().backward()


# ----------------------------------------------------------------- gradients as user ops return them


def test_a_user_op_may_return_numbers_and_lists_as_gradients():
    class Shifted(tg.Op):
        def forward(self, x, y):
            return x + y

        def backward(self, ctx, g):
            return g.tolist(), float(g.sum())  # a list for x, a number for the scalar y

    x, y = tg.Tensor([1.0, 2.0], requires_grad=True), tg.Tensor(0.5, requires_grad=True)
    Shifted.apply(x, y).sum().backward()
    assert type(x.grad) is np.ndarray and x.grad.tolist() == [1.0, 1.0]
    assert type(y.grad) is np.ndarray and y.grad.shape == () and y.grad == 2.0


def test_a_wrongly_shaped_gradient_is_reported_at_its_input_index():
    class ThirdIsWrong(tg.Op):
        def forward(self, x, y, z):
            return x + y + z

        def backward(self, ctx, g):
            return g, g, np.ones((5,))

    x, y, z = (tg.Tensor(np.ones(3), requires_grad=True) for _ in range(3))
    with pytest.raises(ValueError, match=r"^ThirdIsWrong: the gradient for input 2 has shape \(5,\)"):
        ThirdIsWrong.apply(x, y, z).sum().backward()


# ----------------------------------------------------------------- who owns a gradient


def test_a_tensor_seed_is_never_handed_out_as_a_gradient():
    x = tg.Tensor(A, requires_grad=True)
    seed = tg.Tensor(np.array([1.0, 2.0, 3.0]))
    (x + 0.0).backward(seed)  # add passes the seed straight through
    assert not np.shares_memory(x.grad, seed.data)
    x.grad += 1.0
    assert seed.data.tolist() == [1.0, 2.0, 3.0]


def test_create_graph_gradients_of_two_leaves_through_add_are_distinct_and_writeable():
    x, y = tg.Tensor(A, requires_grad=True), tg.Tensor(A * 2.0, requires_grad=True)
    (x + y).sum().backward(create_graph=True)
    assert isinstance(x.grad, tg.Tensor) and isinstance(y.grad, tg.Tensor)
    assert x.grad is not y.grad and not np.shares_memory(x.grad.data, y.grad.data)
    assert x.grad.data.flags.writeable and y.grad.data.flags.writeable


def test_create_graph_with_a_seed_that_requires_grad_stays_differentiable_in_the_seed():
    x = tg.Tensor(A, requires_grad=True)
    v = tg.Tensor(np.array([1.0, -1.0, 2.0]), requires_grad=True)
    (gx,) = tg.grad(x + 0.0, x, grad_outputs=v, create_graph=True)
    assert gx is not v and not np.shares_memory(gx.data, v.data)
    (dv,) = tg.grad((gx * gx).sum(), v)  # d/dv of |v|^2 = 2 v
    np.testing.assert_allclose(dv, 2 * v.data)


def test_create_graph_gradient_of_a_view_is_copied():
    x = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (gx,) = tg.grad(x.reshape(3, 2).sum(), x, create_graph=True)
    assert gx.data.base is None and gx.data.flags.writeable and gx.shape == (2, 3)


# ----------------------------------------------------------------- residuals: what forward computed, kept for backward


class _Exp(tg.Op):
    """exp, keeping exp(x) as a residual; counts how each path was taken."""

    name = "exp_kept"
    formula = "dx = g * exp(x)"
    saves = ("x",)
    residuals = ("e",)
    calls: list = []

    def forward(self, x):
        _Exp.calls.append("forward")
        return np.exp(x)

    def forward_with_residuals(self, x):
        _Exp.calls.append("with residuals")
        e = np.exp(x)
        return e, (e * 1.0,)

    def backward(self, ctx, g, x, e):
        _Exp.calls.append("backward " + ("residual" if e is not None else "recomputed"))
        return g * (tg.exp(x) if e is None else e)


def test_residuals_are_computed_only_when_the_op_is_recorded_and_reach_backward():
    _Exp.calls.clear()
    x = tg.Tensor([0.5, -1.0], requires_grad=True)
    with tg.no_grad():
        _Exp.apply(x)
    _Exp.apply(tg.Tensor([1.0]))
    assert _Exp.calls == ["forward", "forward"]
    _Exp.calls.clear()
    _Exp.apply(x).sum().backward()
    assert _Exp.calls == ["with residuals", "backward residual"]
    np.testing.assert_allclose(x.grad, numerical_gradient(lambda a: np.exp(a).sum(), x.data.copy()), rtol=1e-7)


def test_residuals_arrive_as_none_under_create_graph_so_second_derivatives_stay_right():
    _Exp.calls.clear()
    x = tg.Tensor([0.5, -1.0], requires_grad=True)
    (dx,) = tg.grad(_Exp.apply(x).sum(), x, create_graph=True)
    assert "backward recomputed" in _Exp.calls
    dx.sum().backward()
    np.testing.assert_allclose(x.grad, np.exp(x.data), rtol=1e-12)  # d2/dx2 exp = exp


def test_residuals_of_a_two_input_op_reach_backward():
    class MulKept(tg.Op):
        name = "mul_kept"
        formula = ("da = g * b", "db = g * a")
        saves = ()
        residuals = ("a", "b")

        def forward(self, a, b):
            return a * b

        def forward_with_residuals(self, a, b):
            return a * b, (a.copy(), b.copy())

        def backward(self, ctx, g, a, b):
            return g * b, g * a

    a = tg.Tensor([1.5, -2.0], requires_grad=True)
    b = tg.Tensor([0.5, 3.0], requires_grad=True)
    MulKept.apply(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad, b.data)
    np.testing.assert_array_equal(b.grad, a.data)


def test_a_residual_op_reaches_backward_through_the_general_apply():
    class Sum3(tg.Op):
        name = "sum3_kept"
        formula = ("da = g", "db = g", "dc = g")
        residuals = ("shape",)

        def forward(self, a, b, c):
            return a + b + c

        def forward_with_residuals(self, a, b, c):
            return a + b + c, (np.ones_like(a + b + c),)

        def backward(self, ctx, g, ones):
            return g * ones, g * ones, g * ones

    xs = [tg.Tensor([1.0, 2.0], requires_grad=True) for _ in range(3)]
    Sum3.apply(*xs).sum().backward()
    for x in xs:
        np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_an_op_naming_residuals_without_forward_with_residuals_is_refused_when_defined():
    with pytest.raises(TypeError, match=r"Broken names residuals = \('r',\) but defines no forward_with_residuals"):

        class Broken(tg.Op):
            residuals = ("r",)

            def forward(self, x):
                return x

            def backward(self, ctx, g, r):
                return g


def test_backward_must_take_the_saved_values_and_the_residuals():
    with pytest.raises(TypeError, match=r"takes 1 saved value\(s\) after g, but saves = \('x',\) and residuals = \('r',\) name 2"):

        class Short(tg.Op):
            saves = ("x",)
            residuals = ("r",)

            def forward(self, x):
                return x

            def forward_with_residuals(self, x):
                return x, (x,)

            def backward(self, ctx, g, x):
                return g


@pytest.mark.parametrize("returned", ["out only", "list", "too few"])
def test_forward_with_residuals_must_return_out_and_a_tuple_of_residuals(returned):
    class Sloppy(tg.Op):
        name = "sloppy"
        residuals = ("r", "s")

        def forward(self, x):
            return x * 2.0

        def forward_with_residuals(self, x):
            out = x * 2.0
            return {"out only": out, "list": (out, [x, x]), "too few": (out, (x,))}[returned]

        def backward(self, ctx, g, r, s):
            return 2.0 * g

    with pytest.raises(TypeError, match=r"sloppy: forward_with_residuals must return \(out, residuals\) with a tuple of 2"):
        Sloppy.apply(tg.Tensor([1.0], requires_grad=True))


# ----------------------------------------------------------------- in-place writes: which ones count, and how they are told


def _refusal(what: str, node, value: str, shape: str) -> str:
    return (
        f"backward: {what} was changed in place after '{node.name}' (node {node.id}) saved {value} of shape {shape} "
        "for backward, so its gradient would be computed at the new values; run the forward again after changing it, "
        "or change parameters after backward (assign a new array, t.data = t.data - lr * t.grad, to keep a retained "
        "graph valid)"
    )


def test_the_refusal_names_the_tensor_and_which_saved_value_was_changed():
    # One row per way of naming: a named input 0 (slot 0 is an input, not the output), an
    # unnamed input 1 (named by its shape), and the output.
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="x")
    prod = x * np.array([3.0, 4.0])  # mul saves both inputs: x is input 0
    loss = prod.sum()
    x.data *= 2.0
    with pytest.raises(RuntimeError) as info:
        loss.backward()
    assert str(info.value) == _refusal("Tensor 'x'", prod.node, "its input 0", "(2,)")

    w = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    c = tg.Tensor(np.ones((1, 3)))
    prod = w * c  # c is input 1, broadcast: the message gives the saved array's own shape
    loss = prod.sum()
    c.data *= 2.0
    with pytest.raises(RuntimeError) as info:
        loss.backward()
    assert str(info.value) == _refusal("a Tensor of shape (1, 3)", prod.node, "its input 1", "(1, 3)")

    y = tg.Tensor(np.array([0.5]), requires_grad=True).exp()  # exp saves its output
    y.name = "y"
    y.data += 1.0
    with pytest.raises(RuntimeError) as info:
        y.sum().backward()
    assert str(info.value) == _refusal("Tensor 'y'", y.node, "its output", "(1,)")


def test_a_write_made_before_the_forward_does_not_refuse_its_backward():
    w = tg.Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    w.data *= 2.0  # before the graph was recorded: the graph saves the new values
    loss = (w * w).sum()
    other = tg.Tensor(np.ones(2))
    other.data *= 3.0  # a later write elsewhere makes backward look at the recorded writes
    loss.backward()
    np.testing.assert_array_equal(w.grad, [4.0, -8.0, 12.0])


def test_a_parameter_written_twice_refuses_graphs_recorded_between_the_writes():
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True, name="w")
    w.data *= 2.0
    prod = w * w
    loss = prod.sum()
    w.data *= 2.0  # the same array again: its record must move to this write
    with pytest.raises(RuntimeError) as info:
        loss.backward()
    assert str(info.value) == _refusal("Tensor 'w'", prod.node, "its input 0", "(2,)")
    after = (w * w).sum()  # recorded after both writes: nothing to refuse
    after.backward()
    np.testing.assert_array_equal(w.grad, [8.0, 16.0])


@pytest.mark.parametrize(
    "saved, written, refused",
    [
        (slice(0, 3), slice(3, 6), False),  # the written bytes start where the saved ones end
        (slice(3, 6), slice(0, 3), False),  # ...or end where they start
        (slice(0, 3), slice(2, 4), True),  # one element in common
        (slice(2, 5), slice(0, 3), True),
        (slice(0, 6), slice(5, 6), True),
    ],
)
def test_a_write_through_a_view_that_is_gone_refuses_only_graphs_that_saved_those_bytes(saved, written, refused):
    memory = np.arange(1.0, 7.0)
    x = tg.Tensor(memory[saved], requires_grad=True)
    loss = (x * x).sum()
    view = tg.Tensor(memory[written])
    view.data += 10.0
    del view  # the written view is gone: only the byte range it covered is left to compare
    gc.collect()
    if refused:
        with pytest.raises(RuntimeError, match="was changed in place after 'mul'"):
            loss.backward()
    else:
        loss.backward()
        np.testing.assert_array_equal(x.grad, 2 * memory[saved])


def test_writes_through_views_of_two_parameters_are_both_remembered():
    first, second = np.arange(4.0), np.arange(4.0)
    a, b = tg.Tensor(first, requires_grad=True), tg.Tensor(second, requires_grad=True)
    loss = (a * b).sum()
    tg.Tensor(first[1:3]).data *= 2.0  # a view write on each parameter: the second must not replace the first
    tg.Tensor(second[:1]).data *= 2.0
    with pytest.raises(RuntimeError, match="saved its input 0 of shape"):
        loss.backward()


def test_a_write_through_a_strided_view_of_a_view_reaches_the_owner_of_the_memory():
    memory = np.arange(12.0)
    # as_strided makes an array whose base is a helper object holding a view: the record
    # must follow that chain down to the array that owns the memory.
    strided = np.lib.stride_tricks.as_strided(memory[2:], shape=(3,), strides=(3 * memory.itemsize,))
    x = tg.Tensor(memory[:6], requires_grad=True)
    loss = (x * x).sum()
    view = tg.Tensor(strided)
    view.data *= 0.5  # memory[2], memory[5], memory[8]: two of them are saved by the graph
    del view, strided
    gc.collect()
    with pytest.raises(RuntimeError, match="was changed in place after 'mul'"):
        loss.backward()


def test_when_disjointness_is_too_hard_to_prove_backward_assumes_the_worst():
    # Two strided views of one buffer that share no element, but proving it needs more
    # work than the engine allows (numpy's TooHardError): it refuses rather than risk a
    # gradient computed at changed values.
    memory = np.zeros(72_000)
    item = memory.itemsize
    saved = np.lib.stride_tricks.as_strided(memory, shape=(28, 17, 35), strides=(656 * item, 871 * item, 574 * item))
    written = np.lib.stride_tricks.as_strided(
        memory[981:], shape=(17, 10, 47), strides=(1589 * item, 277 * item, 902 * item)
    )
    assert not np.shares_memory(saved, written)  # exactly: disjoint
    x = tg.Tensor(saved, requires_grad=True)
    loss = (x * 2.0).sum()
    w = tg.Tensor(written)
    w.data += 1.0
    with pytest.raises(RuntimeError, match="was changed in place after 'mul'"):
        loss.backward()


def test_records_of_written_views_go_away_with_the_memory():
    # A training loop that assigns new arrays and writes through views of them must not
    # pile up records of arrays that are gone.
    for _ in range(3):
        memory = np.ones(4)
        tg.Tensor(memory[1:]).data *= 2.0
        assert any(record[1]() is memory for record in _graph._writes.values())
        del memory
    gc.collect()
    assert [record for record in _graph._writes.values() if record[1]() is None] == []


# ----------------------------------------------------------------- the leaf rule, nodes and the released marker


def test_the_leaf_rule_has_neither_forward_nor_backward():
    leaf = tg.Tensor([1.0], requires_grad=True).node
    with pytest.raises(RuntimeError) as info:
        leaf.rule.forward()
    assert str(info.value) == "leaf: a leaf has no forward"
    with pytest.raises(RuntimeError) as info:
        leaf.rule.backward(leaf, np.ones(1))
    assert str(info.value) == "leaf: a leaf has no backward"


def test_a_node_shows_its_op_id_label_and_shape():
    x = tg.Tensor(np.zeros((2, 3)), requires_grad=True)
    y = tg.tanh(x)
    assert repr(y.node) == f"<tanh node {y.node.id} (2, 3)>"  # no label: nothing after the id
    y.name = "h"
    assert repr(y.node) == f"<tanh node {y.node.id} 'h' (2, 3)>"


def test_a_released_node_shows_released():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.sum().backward()
    assert repr(y.node.saved) == "<released>"


# ----------------------------------------------------------------- user ops: how many inputs they take


def test_a_user_op_checks_how_many_inputs_it_is_given():
    # Defined here, not at import, so that the class is built by the code under test.
    class Scale(tg.Op):
        saves = ("w",)

        def forward(self, x, w, b=None):
            return x * w if b is None else x * w + b

        def backward(self, ctx, g, w):
            return g * w, None, g

    assert (Scale.arity, Scale.min_arity, Scale.input_names) == (3, 2, ("x", "w", "b"))
    x, w = tg.Tensor([1.0, 2.0], requires_grad=True), tg.Tensor([3.0, 4.0])
    np.testing.assert_array_equal(Scale.apply(x, w).data, [3.0, 8.0])
    np.testing.assert_array_equal(Scale.apply(x, w, np.ones(2)).data, [4.0, 9.0])
    for inputs in [(x,), (x, w, w, w)]:
        with pytest.raises(TypeError) as info:
            Scale.apply(*inputs)
        assert str(info.value) == f"Scale: takes 3 input(s), got {len(inputs)}"

    class Twice(tg.Op):
        def forward(self, x, y):
            return 2 * x + y

        def backward(self, ctx, g):
            return 2 * g, g

    assert (Twice.arity, Twice.min_arity) == (2, 2)
    with pytest.raises(TypeError) as info:
        Twice.apply(x)
    assert str(info.value) == "Twice: takes 2 input(s), got 1"


# ----------------------------------------------------------------- node_gradients: the gradients pictures show


def test_node_gradients_are_plain_arrays_of_each_nodes_dtype():
    x = tg.Tensor(np.array([0.5, -1.0], dtype=np.float32), requires_grad=True)
    h = tg.tanh(x)
    root = (h * h).sum()
    got = _graph.node_gradients(root.node)
    assert all(type(g) is np.ndarray and g.dtype == np.float32 for g in got.values())
    assert got[root.node].shape == () and got[root.node] == 1.0
    want = numerical_gradient(lambda v: float(np.sum(np.tanh(v) ** 2)), x.data.astype(np.float64))
    np.testing.assert_allclose(got[x.node], want, rtol=1e-3)
    np.testing.assert_allclose(got[h.node], 2 * h.data, rtol=1e-6)
    assert x.grad is None  # nothing written to .grad


def test_grad_mode_is_exactly_false_while_node_gradients_runs():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3.0
    modes = []
    h.register_hook(lambda g: modes.append(tg.is_grad_enabled()))
    _graph.node_gradients(h.sum().node)
    assert modes == [False] and modes[0] is False


def test_a_residual_changed_in_place_is_refused_even_after_a_residual_that_is_no_array():
    # Residuals are whatever forward_with_residuals kept: a count (no array), then a view
    # of the input. Writing the input in place changes that view, so backward must refuse,
    # naming the value as one the op computed (it is neither an input nor the output).
    class Flat(tg.Op):
        residuals = ("n", "flat")

        def forward(self, x):
            return 2.0 * x

        def forward_with_residuals(self, x):
            return 2.0 * x, (x.size, x.reshape(-1))

        def backward(self, ctx, g, n, flat):
            return 2.0 * g

    x = tg.Tensor(np.ones((2, 2)), requires_grad=True)
    out = Flat.apply(x)
    loss = out.sum()
    x.data *= 3.0
    with pytest.raises(RuntimeError) as info:
        loss.backward()
    assert str(info.value) == _refusal("a Tensor of shape (2, 2)", out.node, "a value it computed", "(4,)")


def test_the_refusal_names_the_tensor_as_it_is_called_at_the_latest_write():
    w = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    w.data *= 0.5  # written while it had no name
    w.name = "w"
    prod = w * w
    loss = prod.sum()
    w.data *= 2.0
    with pytest.raises(RuntimeError) as info:
        loss.backward()
    assert str(info.value) == _refusal("Tensor 'w'", prod.node, "its input 0", "(2,)")


def test_writes_through_two_arrays_over_one_buffer_are_remembered_apart():
    # Two arrays made from one buffer each own their view of it, so their records must not
    # collide: the refusal names the first write that changed what the graph saved.
    buffer = bytearray(np.arange(4.0).tobytes())
    first, second = np.frombuffer(buffer), np.frombuffer(buffer)
    x = tg.Tensor(first, requires_grad=True)
    loss = (x * x).sum()
    a, b = tg.Tensor(first[1:], name="a"), tg.Tensor(second[1:], name="b")
    a.data *= 2.0
    b.data *= 2.0
    with pytest.raises(RuntimeError, match="^backward: Tensor 'a' was changed in place"):
        loss.backward()
