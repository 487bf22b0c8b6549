"""The backward pass: gradients against finite differences (the one oracle), broadcasting
summed back, accumulation, retain_grad, aliasing, no_grad and detach, graph release,
reference counting, iteration instead of recursion, the losses' edge cases,
create_graph (gradients of gradients), tg.grad and user-defined ops.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygraph as tg
from tinygraph import _graph
from tinygraph.testing import numerical_gradient

RTOL, ATOL = 1e-6, 1e-8
FLOATS = st.floats(-2.0, 2.0, allow_nan=False, allow_infinity=False)
AWAY_FROM_ZERO = st.floats(0.5, 2.0) | st.floats(-2.0, -0.5)


def finite_differences(f, *arrays):
    """dF/d(each array) of the scalar ``f(*arrays)`` by central differences."""
    grads = []
    for i, a in enumerate(arrays):

        def partial(v, i=i):
            args = list(arrays)
            args[i] = v
            return f(*args)

        grads.append(numerical_gradient(partial, np.asarray(a, dtype=np.float64)))
    return grads


def through_tinygraph(build):
    """A float-valued function of arrays that runs ``build`` on constant Tensors."""
    return lambda *arrays: build(*[tg.Tensor(a) for a in arrays]).item()


def check_gradients(build, *arrays, rtol=RTOL, atol=ATOL):
    """Backward through ``build`` fills every leaf's .grad with dL/dleaf (shape and value)."""
    leaves = [tg.Tensor(a, requires_grad=True) for a in arrays]
    build(*leaves).backward()
    expected = finite_differences(through_tinygraph(build), *arrays)
    for i, (leaf, want) in enumerate(zip(leaves, expected)):
        assert type(leaf.grad) is np.ndarray, i
        assert leaf.grad.shape == leaf.shape, (i, leaf.grad.shape, leaf.shape)
        np.testing.assert_allclose(leaf.grad, want, rtol=rtol, atol=atol, err_msg=f"input {i}")


# ----------------------------------------------------------------- gradients and broadcasting

# Every op's broadcasting and constant-operand gradients are columns of the op table (tests/test_ops.py).


def test_python_scalars_on_either_side_differentiate():
    a = np.array([[0.5, -1.5, 2.0]])
    check_gradients(lambda x: (1 - x).sum() + (2 * x).sum() + (3 / x).sum() + (x / 4 - 0.5).sum(), a)
    check_gradients(lambda x: (x**2.0 + x**3 + (x * x) ** 0.5 + 2**x).sum(), a)


@pytest.mark.parametrize(
    "shape_x, shape_y",
    [((2, 3), (3, 4)), ((3,), (3, 2)), ((2, 3), (3,)), ((3,), (3,)), ((2, 2, 3), (3, 4)), ((4, 3), (2, 3, 2))],
)
def test_matmul_gradients(shape_x, shape_y):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal(shape_x), rng.standard_normal(shape_y)
    weights = rng.standard_normal(np.matmul(x, y).shape)
    check_gradients(lambda a, b: (a @ b * weights).sum(), x, y)
    check_gradients(lambda a, b: (tg.matmul(a, b) * weights).sum(), x, y)


@st.composite
def reduction_case(draw):
    a = draw(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), elements=FLOATS))
    axis = draw(
        st.none()
        | st.integers(-a.ndim, a.ndim - 1)
        | st.lists(st.integers(0, a.ndim - 1), min_size=1, max_size=a.ndim, unique=True).map(tuple)
    )
    keepdims = draw(st.booleans())
    weights = draw(hnp.arrays(np.float64, a.sum(axis=axis, keepdims=keepdims).shape, elements=FLOATS))
    return a, axis, keepdims, weights


@settings(max_examples=25)
@given(reduction_case(), st.sampled_from(["sum", "mean"]))
def test_sum_and_mean_gradients(case, method):
    a, axis, keepdims, weights = case
    check_gradients(lambda x: (getattr(x, method)(axis=axis, keepdims=keepdims) * weights).sum(), a)


def test_shape_op_gradients():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((2, 3, 4))
    w12 = rng.standard_normal((4, 6))
    check_gradients(lambda x: (x.reshape(4, 6) * w12).sum(), a)
    check_gradients(lambda x: (x.reshape(-1) * w12.reshape(-1)).sum(), a)
    w = rng.standard_normal((4, 2, 3))
    check_gradients(lambda x: (x.transpose(2, 0, 1) * w).sum(), a)
    check_gradients(lambda x: (x.T * w.transpose(0, 2, 1)).sum(), a)
    wb = rng.standard_normal((5, 2, 3, 4))
    check_gradients(lambda x: (tg.broadcast_to(x, (5, 2, 3, 4)) * wb).sum(), a)
    w234 = w.transpose(1, 2, 0)
    check_gradients(lambda x: (tg.broadcast_to(x.sum(axis=0, keepdims=True), (2, 3, 4)) * w234).sum(), a)


def _document_net(X, Y, params):
    """The document's deep network: relu hidden layers, a sigmoid output, the mean cross-entropy."""
    L = len(params) // 2
    A = X
    for l in range(1, L):
        A = tg.relu(params[f"W{l}"] @ A + params[f"b{l}"])
    A_L = tg.sigmoid(params[f"W{L}"] @ A + params[f"b{L}"])
    return tg.binary_cross_entropy(A_L, Y)


def _document_parameters(n_units, rng):
    params = {}
    for l in range(1, len(n_units)):
        params[f"W{l}"] = rng.standard_normal((n_units[l], n_units[l - 1])) * 0.5
        params[f"b{l}"] = rng.standard_normal((n_units[l], 1)) * 0.1  # nonzero: no relu input sits on its kink
    return params


def test_the_documents_deep_network_gradients():
    rng = np.random.default_rng(3)
    n_units = [4, 5, 5, 5, 3, 1]
    X, Y = rng.standard_normal((4, 6)), (rng.random((1, 6)) > 0.5).astype(float)
    params = _document_parameters(n_units, rng)
    names = sorted(params)

    def build(*tensors):
        return _document_net(X, Y, dict(zip(names, tensors)))

    check_gradients(build, *[params[n] for n in names], rtol=1e-5, atol=1e-8)


# ----------------------------------------------------------------- where gradients land


def test_grad_accumulates_across_backward_calls():
    x = tg.Tensor([0.5, -1.0], requires_grad=True)
    (first,) = finite_differences(lambda v: float(np.sum(np.tanh(v) * 3)), x.data)
    (x.tanh() * 3).sum().backward()
    np.testing.assert_allclose(x.grad, first, rtol=RTOL)
    (x.tanh() * 3).sum().backward()  # a new graph
    np.testing.assert_allclose(x.grad, 2 * first, rtol=RTOL)
    loss = (x * x).sum()
    loss.backward(retain_graph=True)
    loss.backward()  # the same graph twice
    np.testing.assert_allclose(x.grad, 2 * first + 4 * x.data, rtol=RTOL)
    x.grad = None
    (x * 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_a_tensor_used_many_times_gets_the_sum_of_its_paths():
    a = np.array([0.3, -0.7, 1.1])
    check_gradients(lambda x: (x * x).sum(), a)
    check_gradients(lambda x: (x + x).sum(), a)
    check_gradients(lambda x: (x / x + x * x * x).sum(), a)

    def diamond(x):
        h = x.sigmoid()
        return (h * h.tanh() + h.exp() - h).sum()

    check_gradients(diamond, a)


def test_a_leaf_root_gets_the_seed():
    x = tg.Tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad == 1.0
    v = tg.Tensor([1.0, 2.0], requires_grad=True)
    v.backward(grad=[3.0, 4.0])
    np.testing.assert_array_equal(v.grad, [3.0, 4.0])


def test_backward_with_an_explicit_gradient_is_a_vector_jacobian_product():
    rng = np.random.default_rng(4)
    a, seed = rng.standard_normal((2, 3)), rng.standard_normal((3, 3))
    W = rng.standard_normal((3, 2))
    x = tg.Tensor(a, requires_grad=True)
    (W @ x).tanh().backward(grad=seed)
    (want,) = finite_differences(lambda v: float(np.sum(seed * np.tanh(W @ v))), a)
    np.testing.assert_allclose(x.grad, want, rtol=RTOL, atol=ATOL)
    y = tg.Tensor(a, requires_grad=True)
    (y * 2).backward(grad=tg.Tensor(np.ones((2, 3))))  # a Tensor seed works too
    np.testing.assert_array_equal(y.grad, np.full((2, 3), 2.0))
    z = tg.Tensor(1.5, requires_grad=True)
    (z * z).reshape(1, 1).backward()  # a one-element root needs no seed
    assert z.grad == 3.0


def test_non_leaf_tensors_keep_grad_only_after_retain_grad():
    a = np.array([0.2, -0.4])
    x = tg.Tensor(a, requires_grad=True)
    h = x.sigmoid()
    kept = (x * 3).retain_grad()
    loss = (h * h).sum() + kept.sum()
    loss.backward()
    assert h.grad is None and loss.grad is None
    np.testing.assert_array_equal(kept.grad, [1.0, 1.0])
    # The retained gradient is dL/dh at h's value.
    h = x.sigmoid()
    h.retain_grad()
    (h * h).sum().backward()
    (want,) = finite_differences(lambda v: float(np.sum(v * v)), h.data)
    np.testing.assert_allclose(h.grad, want, rtol=RTOL)


def test_tensors_that_do_not_require_grad_get_none():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    c = tg.Tensor([3.0, 4.0])
    unused = tg.Tensor([5.0], requires_grad=True)
    (x * c).sum().backward()
    assert c.grad is None and unused.grad is None
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_relu_derivative_at_zero_is_zero():
    x = tg.Tensor([-1.0, 0.0, -0.0, 1e-300, 2.0], requires_grad=True)
    tg.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0, 1.0, 1.0])
    y = tg.Tensor([0.0, 3.0], requires_grad=True)
    (y - y).relu().sum().backward()  # an exact zero made inside the graph
    np.testing.assert_array_equal(y.grad, [0.0, 0.0])
    z = tg.Tensor(0.0, requires_grad=True)
    z.relu().backward()
    assert z.grad == 0.0


def test_pow_zero_has_zero_derivative_even_at_zero():
    x = tg.Tensor([0.0, 2.0, -3.0], requires_grad=True)
    with np.errstate(all="raise"):
        (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_node_gradients_match_the_leaves():
    x = tg.Tensor([0.5, -0.5], requires_grad=True)
    h = x.tanh()
    loss = (h * 2).sum()
    table = _graph.node_gradients(loss.node)
    np.testing.assert_array_equal(table[h.grad_fn], [2.0, 2.0])
    assert x.grad is None  # node_gradients writes no .grad
    loss.backward()
    np.testing.assert_array_equal(table[x.node], x.grad)


# ----------------------------------------------------------------- aliasing


def _disjoint(*arrays):
    return all(not np.shares_memory(p, q) for i, p in enumerate(arrays) for q in arrays[i + 1 :])


def test_leaf_grads_never_alias_each_other_or_the_seed():
    a = tg.Tensor([1.0, 2.0], requires_grad=True)
    b = tg.Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert _disjoint(a.grad, b.grad)
    a.grad += 10.0
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])

    seed = np.array([5.0, 6.0])
    a.grad = b.grad = None
    z = a + b
    z.retain_grad()
    z.backward(grad=seed)
    assert _disjoint(a.grad, b.grad, z.grad, seed)
    seed[:] = 0.0
    a.grad *= 2
    np.testing.assert_array_equal(b.grad, [5.0, 6.0])
    np.testing.assert_array_equal(z.grad, [5.0, 6.0])

    c = tg.Tensor([1.0, 2.0], requires_grad=True)
    own = np.array([7.0, 8.0])
    c.backward(grad=own)  # a leaf root
    assert not np.shares_memory(c.grad, own)


def test_leaf_grads_are_writeable_and_own_their_memory():
    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    for build in (
        lambda t: t.reshape(3, 2),
        lambda t: t.T,
        lambda t: t.transpose(1, 0),
        lambda t: tg.broadcast_to(t, (2, 3)),
        lambda t: t.sum(axis=0),
        lambda t: t.mean(),
        lambda t: +t,
    ):
        x.grad = None
        out = build(x)
        seed = np.ones(out.shape)
        out.backward(grad=seed)
        assert x.grad.flags.writeable and x.grad.flags.owndata
        assert not np.shares_memory(x.grad, seed) and not np.shares_memory(x.grad, x.data)
        x.grad += 1.0  # must not raise (a read-only broadcast view would)


def test_create_graph_leaf_grads_are_distinct_tensors_and_still_differentiable():
    a = tg.Tensor([1.0, 2.0], requires_grad=True)
    b = tg.Tensor([0.5, -1.0], requires_grad=True)
    z = a + b
    (z * z).sum().backward(create_graph=True)  # dL/da = dL/db = 2 (a + b), one Tensor for both
    assert isinstance(a.grad, tg.Tensor) and a.grad is not b.grad
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad.data[:] = 0.0
    np.testing.assert_array_equal(b.grad.numpy(), 2 * (a.data + b.data))
    # b.grad still sits in the graph: d/d(a, b) sum(2 (a + b)) = (2, 2)
    ga, gb = tg.grad(b.grad.sum(), [a, b])
    np.testing.assert_allclose(ga, [2.0, 2.0])
    np.testing.assert_allclose(gb, [2.0, 2.0])

    v = tg.Tensor([3.0, 4.0], requires_grad=True)  # the user's own seed
    x = tg.Tensor([1.0, 1.0], requires_grad=True)
    (x + 0.0).backward(grad=v, create_graph=True)
    assert x.grad is not v and not np.shares_memory(x.grad.data, v.data)
    (gv,) = tg.grad(x.grad.sum(), v)
    np.testing.assert_array_equal(gv, [1.0, 1.0])


# ----------------------------------------------------------------- no_grad and detach


def test_no_grad_records_nothing():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    with tg.no_grad():
        y = (w * 2).sigmoid().sum()
    assert not y.requires_grad and y.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()
    # The document's update rule: W -= learning_rate * dW, outside the graph.
    (w * w).sum().backward()
    with tg.no_grad():
        w.data -= 0.1 * w.grad
    np.testing.assert_allclose(w.data, [0.8, 1.6])
    assert w.requires_grad and w.is_leaf


def test_detach_cuts_the_graph():
    a = np.array([0.5, 1.5])
    x = tg.Tensor(a, requires_grad=True)
    frozen = (x * x).detach()
    (frozen * x).sum().backward()
    # x * x is a constant now: the derivative is its value, not 3 x**2.
    (want,) = finite_differences(lambda v: float(np.sum(frozen.data * v)), a)
    np.testing.assert_allclose(x.grad, want, rtol=RTOL)
    assert not np.allclose(x.grad, 3 * a * a)


# ----------------------------------------------------------------- release and memory


def test_backward_releases_saved_arrays_unless_retain_graph():
    x = tg.Tensor([0.5, 1.0], requires_grad=True)
    h = x.exp()
    loss = (h * x).sum()
    assert isinstance(h.grad_fn.saved, tuple) and h.grad_fn.saved[0] is h.data
    loss.backward(retain_graph=True)
    assert h.grad_fn.saved is not _graph.RELEASED
    loss.backward()
    assert h.grad_fn.saved is _graph.RELEASED and loss.grad_fn.saved is _graph.RELEASED
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        tg.grad(loss, x)


def test_tg_grad_releases_by_default_and_keeps_with_retain_graph():
    x = tg.Tensor([0.5, 1.0], requires_grad=True)
    loss = (x.tanh() * x).sum()
    first = tg.grad(loss, x, retain_graph=True)
    second = tg.grad(loss, x)
    np.testing.assert_array_equal(first[0], second[0])
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        tg.grad(loss, x)


N_SIDE = 400
NBYTES = N_SIDE * N_SIDE * 8  # one (400, 400) float64 array


def _traced_bytes(retain_graph: bool):
    """Bytes alive after building exp-tanh of a (400, 400) leaf, and after its backward."""
    x = tg.Tensor(np.random.default_rng(5).random((N_SIDE, N_SIDE)), requires_grad=True)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        loss = (x * 0.5).exp().tanh().sum()  # exp and tanh each save their (n, n) output
        built = tracemalloc.get_traced_memory()[0] - base
        loss.backward(retain_graph=retain_graph)
        after = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    return x, built, after


def test_saved_arrays_are_freed_after_backward():
    x, built, after = _traced_bytes(retain_graph=False)
    assert built >= 2 * NBYTES  # the two saved outputs are alive while the graph may be needed
    assert after < 1.5 * NBYTES  # only x.grad is left
    assert x.grad.nbytes == NBYTES


def test_saved_arrays_stay_with_retain_graph():
    _, _, after = _traced_bytes(retain_graph=True)
    assert after >= 3 * NBYTES  # two saved outputs and x.grad


class _Square(tg.Op):
    """A user op without __slots__, so its nodes accept weak references."""

    name = "square"
    formula = "dx = 2 g x"
    saves = ("x",)

    def forward(self, x):
        return x * x

    def backward(self, ctx, g, x):
        return 2.0 * g * x


def _build_graph():
    x = tg.Tensor(np.linspace(-1, 1, 5), requires_grad=True)
    W = tg.Tensor(np.ones((3, 5)), requires_grad=True)
    h = _Square.apply(tg.sigmoid(W @ x) * x.sum())
    h.retain_grad()
    loss = tg.binary_cross_entropy(h * 0.5, np.ones(3)) + h.mean()
    return loss, [x, W], [weakref.ref(t) for t in (x, W, h, loss)], weakref.ref(h.grad_fn)


@pytest.mark.parametrize("when", ["before backward", "after backward", "after retain_graph", "after create_graph"])
def test_the_graph_is_freed_by_reference_counting_alone(when):
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        # The user holds the leaves (a graph holds its leaf Tensors only weakly).
        loss, leaves, refs, node_ref = _build_graph()
        if when == "after backward":
            loss.backward()
        elif when == "after retain_graph":
            loss.backward(retain_graph=True)
        elif when == "after create_graph":
            grads = tg.grad(loss, leaves, create_graph=True)
            second = tg.grad(sum(g.sum() for g in grads), leaves)
            assert all(s is not None for s in second)
            del grads, second
        assert node_ref() is not None
        del loss, leaves
        assert node_ref() is None, "the graph survived its root: a reference cycle"
        assert all(r() is None for r in refs)
    finally:
        if was_enabled:
            gc.enable()


def test_backward_is_iterative_on_a_long_chain():
    n = 200_000
    c = 1.0 + 1e-6
    x = tg.Tensor(0.5, requires_grad=True)
    y = x
    for i in range(n):
        y = y * c if i % 2 else y + 1e-6
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)  # far below the depth of the graph: any recursion would fail
    try:
        y.backward()
    finally:
        sys.setrecursionlimit(limit)

    def chain(v):
        v = float(v)
        for i in range(n):
            v = v * c if i % 2 else v + 1e-6
        return v

    (want,) = finite_differences(chain, np.array(0.5))
    np.testing.assert_allclose(x.grad, want, rtol=1e-6)
    ref = weakref.ref(x)  # the first node holds x; x goes when the whole chain goes
    gc.disable()
    try:
        del x, y
        assert ref() is None  # freed by reference counting, without overflowing the stack
    finally:
        gc.enable()


def test_topological_order_of_a_wide_and_deep_graph_needs_no_recursion():
    x = tg.Tensor(np.ones(2), requires_grad=True)
    layer = [x * float(i) for i in range(50)]
    for _ in range(400):
        layer = [layer[i] + layer[(i + 1) % 50] * 0.5 for i in range(50)]
    total = layer[0]
    for t in layer[1:]:
        total = total + t
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(150)
    try:
        order = _graph.topological_order([total.sum().grad_fn])
    finally:
        sys.setrecursionlimit(limit)
    position = {node: i for i, node in enumerate(order)}
    for node in order:  # every node comes before its inputs
        for parent in node.parents:
            if isinstance(parent, tg.Op):
                assert position[node] < position[parent]


# ----------------------------------------------------------------- the losses at the edges


def _bce_reference(p, y):
    with np.errstate(divide="ignore"):
        return float(np.mean(-(y * np.maximum(np.log(p), -100) + (1 - y) * np.maximum(np.log(1 - p), -100))))


def test_binary_cross_entropy_is_finite_for_predictions_of_exactly_zero_and_one():
    y_hat = tg.Tensor([[0.0, 0.0, 1.0, 1.0, 0.5]], requires_grad=True)
    y = np.array([[0.0, 1.0, 0.0, 1.0, 1.0]])
    with np.errstate(all="raise"):
        loss = tg.binary_cross_entropy(y_hat, y)
        loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(y_hat.grad))
    # PyTorch's convention: each log is clipped at -100.
    np.testing.assert_allclose(loss.item(), (100 + 100 - np.log(0.5)) / 5, rtol=1e-15)
    assert y_hat.grad[0, 0] == 0 and y_hat.grad[0, 3] == 0  # right answers pull no further
    assert y_hat.grad[0, 1] < -1e6 and y_hat.grad[0, 2] > 1e6  # wrong ones push hard, finitely


def test_binary_cross_entropy_value_and_gradient_inside_the_interval():
    rng = np.random.default_rng(6)
    p = rng.uniform(0.05, 0.95, (1, 7))
    y = (rng.random((1, 7)) > 0.5).astype(float)
    loss = tg.binary_cross_entropy(p, y)
    np.testing.assert_allclose(loss.item(), _bce_reference(p, y), rtol=1e-14)
    check_gradients(lambda t: tg.binary_cross_entropy(t, y), p)
    y_soft = rng.uniform(0, 1, (1, 7))  # soft targets are allowed and differentiable
    check_gradients(lambda t, s: tg.binary_cross_entropy(t, s), p, y_soft)


def test_logits_loss_gradient_is_exactly_sigmoid_minus_y_over_n():
    rng = np.random.default_rng(7)
    for z_values in (rng.standard_normal((1, 9)) * 3, np.array([[-1000.0, -40.0, 0.0, 40.0, 1000.0]])):
        y = (rng.random(z_values.shape) > 0.5).astype(float)
        z = tg.Tensor(z_values, requires_grad=True)
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            loss = tg.binary_cross_entropy_with_logits(z, y)
            loss.backward()
        assert np.isfinite(loss.item())
        expected = (tg.sigmoid(z_values).numpy() - y) / y.size  # the document's dZ = A - Y, averaged
        assert np.array_equal(z.grad, expected)  # bitwise


def test_logits_loss_value_and_gradient():
    rng = np.random.default_rng(8)
    z = rng.standard_normal((2, 5)) * 2
    y = (rng.random((2, 5)) > 0.5).astype(float)
    got = tg.binary_cross_entropy_with_logits(z, y).item()
    np.testing.assert_allclose(got, _bce_reference(1 / (1 + np.exp(-z)), y), rtol=1e-12)
    check_gradients(lambda t: tg.binary_cross_entropy_with_logits(t, y), z)
    check_gradients(lambda t, s: tg.binary_cross_entropy_with_logits(t, s), z, rng.uniform(0, 1, (2, 5)))
    # Far out, where sigmoid rounds to 0 or 1, the logits form still has the exact loss.
    big = tg.binary_cross_entropy_with_logits([[-800.0, 800.0]], [[1.0, 0.0]]).item()
    assert big == 800.0


# ----------------------------------------------------------------- gradients of gradients


# Each smooth op's second derivative, by tg.grad and by backward(create_graph=True), is a column of the op
# table (tests/test_ops.py); what follows are compositions.


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_hessian_vector_product_through_matmul_and_reductions():
    rng = np.random.default_rng(10)
    W, c = rng.standard_normal((4, 3)), rng.standard_normal((4, 2))
    a, v = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))

    def loss(x):
        return (tg.tanh(W @ x) * c).sum() + (x**3).mean(axis=0).sum() + tg.sigmoid(x.T).reshape(-1).sum()

    def analytic_gradient(x):  # numpy, by hand: the function FD differentiates again
        return W.T @ ((1 - np.tanh(W @ x) ** 2) * c) + 3 * x**2 / x.shape[0] + (_sigmoid(x) * (1 - _sigmoid(x)))

    np.testing.assert_allclose(  # the first derivative itself, against finite differences
        analytic_gradient(a), finite_differences(through_tinygraph(loss), a)[0], rtol=1e-6, atol=1e-8
    )
    (hv_expected,) = finite_differences(lambda x: float(np.sum(analytic_gradient(x) * v)), a)

    x = tg.Tensor(a, requires_grad=True)
    (g,) = tg.grad(loss(x), x, create_graph=True)
    (hv,) = tg.grad(g, x, grad_outputs=v)
    np.testing.assert_allclose(hv, hv_expected, rtol=1e-6, atol=1e-8)
    (hv_again,) = tg.grad(loss(x), x, create_graph=True)
    (hv_again,) = tg.grad((hv_again * v).sum(), x)
    np.testing.assert_allclose(hv_again, hv_expected, rtol=1e-6, atol=1e-8)


def test_jacobian_vector_product_by_differentiating_through_the_seed():
    rng = np.random.default_rng(11)
    W = rng.standard_normal((3, 4))
    a, u = rng.standard_normal(4), rng.standard_normal(4)

    def f(x):
        return tg.tanh(tg.matmul(W, x)) * 2.0

    x = tg.Tensor(a, requires_grad=True)
    s = tg.Tensor(np.zeros(3), requires_grad=True)  # any value: J^T s is linear in s
    (vjp,) = tg.grad(f(x), x, grad_outputs=s, create_graph=True)
    (jvp,) = tg.grad(vjp, s, grad_outputs=u)  # d/ds (J^T s) . u = J u
    expected = np.array(
        [numerical_gradient(lambda t, i=i: float(f(tg.Tensor(a + t * u)).numpy()[i]), np.zeros(1))[0] for i in range(3)]
    )
    np.testing.assert_allclose(jvp, expected, rtol=1e-6, atol=1e-8)


def test_third_derivative():
    x = tg.Tensor([0.4, -0.9], requires_grad=True)
    (g,) = tg.grad(tg.tanh(x).sum(), x, create_graph=True)
    (h,) = tg.grad(g.sum(), x, create_graph=True)
    (t,) = tg.grad(h.sum(), x)

    def second(v):  # d2/dx2 tanh = -2 tanh (1 - tanh^2)
        return -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)

    expected = [numerical_gradient(lambda v: float(second(v).sum()), x.data[i : i + 1])[0] for i in range(2)]
    np.testing.assert_allclose(t, expected, rtol=1e-6)


# ----------------------------------------------------------------- tg.grad


def test_grad_returns_arrays_and_leaves_dot_grad_alone():
    rng = np.random.default_rng(12)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3,))
    x, w = tg.Tensor(a, requires_grad=True), tg.Tensor(b, requires_grad=True)
    unused = tg.Tensor([1.0], requires_grad=True)
    out = ((x * w).tanh()).sum()
    gx, gw, gu = tg.grad(out, [x, w, unused])
    assert x.grad is None and w.grad is None
    assert type(gx) is np.ndarray and gx.shape == a.shape and gw.shape == b.shape and gu is None
    want_x, want_w = finite_differences(lambda p, q: float(np.tanh(p * q).sum()), a, b)
    np.testing.assert_allclose(gx, want_x, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(gw, want_w, rtol=RTOL, atol=ATOL)


def test_gradients_of_zero_dimensional_inputs_are_arrays():
    for dtype in (np.float64, np.float32):
        x = tg.Tensor(np.asarray(2.0, dtype=dtype), requires_grad=True)
        w = tg.Tensor(np.array([1.0, 2.0, 3.0], dtype=dtype), requires_grad=True)
        (gx,) = tg.grad((x * w).sum(), x)  # summed from (3,) down to ()
        assert type(gx) is np.ndarray and gx.shape == () and gx.dtype == dtype and gx == 6.0
        (x * w).mean().backward()
        assert type(x.grad) is np.ndarray and x.grad.shape == () and x.grad.dtype == dtype
        np.testing.assert_allclose(x.grad, 2.0, rtol=1e-6)


def test_grad_with_respect_to_an_intermediate_and_with_several_outputs():
    a = np.array([0.3, 0.8])
    x = tg.Tensor(a, requires_grad=True)
    h = x.sigmoid()
    out1, out2 = (h * h).sum(), (h * 3).sum()
    gh, gx = tg.grad([out1, out2], [h, x])
    np.testing.assert_allclose(gh, 2 * h.data + 3, rtol=1e-15)
    (want,) = finite_differences(lambda v: float(np.sum(_sigmoid(v) ** 2 + 3 * _sigmoid(v))), a)
    np.testing.assert_allclose(gx, want, rtol=RTOL)
    (gx_single,) = tg.grad(x.exp(), x, grad_outputs=np.array([2.0, 1.0]))
    np.testing.assert_allclose(gx_single, [2 * np.exp(0.3), np.exp(0.8)], rtol=1e-15)
    (gx_tuple,) = tg.grad([x.exp()], (x,), grad_outputs=[np.array([1.0, 1.0])])
    np.testing.assert_allclose(gx_tuple, np.exp(a), rtol=1e-15)


# ----------------------------------------------------------------- user-defined ops


class _Softplus(tg.Op):
    """The Op docstring's example: its backward calls tg.sigmoid on arrays."""

    name = "softplus"
    formula = "dx = g * sigmoid(x)"
    saves = ("x",)

    def forward(self, x):
        return np.logaddexp(0.0, x)

    def backward(self, ctx, g, x):
        return g * tg.sigmoid(x)


class _Affine(tg.Op):
    """Three inputs, a gradient left to broadcasting, a list returned."""

    name = "affine"
    formula = ("dx = g * w", "dw = g * x", "db = g")
    saves = ("x", "w")

    def forward(self, x, w, b):
        return x * w + b

    def backward(self, ctx, g, x, w):
        return [g * w, g * x, g]


def test_user_op_gradients_are_arrays_and_match_finite_differences():
    a = np.array([-1.5, 0.0, 2.0])
    x = tg.Tensor(a, requires_grad=True)
    _Softplus.apply(x).sum().backward()
    assert type(x.grad) is np.ndarray  # not a Tensor, although the rule returned one
    check_gradients(lambda t: (_Softplus.apply(t) * np.array([1.0, -2.0, 0.5])).sum(), a)
    rng = np.random.default_rng(13)
    check_gradients(
        lambda x, w, b: (_Affine.apply(x, w, b) ** 2).sum(),
        rng.standard_normal((2, 3)),
        rng.standard_normal((3,)),
        rng.standard_normal((2, 1)),
    )


def test_user_op_second_derivative():
    a = np.array([-1.0, 0.5, 2.0])
    x = tg.Tensor(a, requires_grad=True)
    (g,) = tg.grad(_Softplus.apply(x).sum(), x, create_graph=True)
    (h,) = tg.grad(g.sum(), x)
    expected = [numerical_gradient(lambda v: float(_sigmoid(v).sum()), a[i : i + 1])[0] for i in range(3)]
    np.testing.assert_allclose(h, expected, rtol=1e-6)


def test_user_op_may_return_none_for_an_input():
    class Scale(tg.Op):
        name = "scale"
        saves = ("k",)

        def forward(self, x, k):
            return x * k

        def backward(self, ctx, g, k):
            return g * k, None

    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    k = tg.Tensor([3.0, 4.0], requires_grad=True)
    Scale.apply(x, k).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])
    assert k.grad is None


# ----------------------------------------------------------------- name scopes


def test_name_scopes_nest_and_label_nodes_and_leaves():
    with tg.name_scope("layer1"):
        W = tg.Tensor([[1.0]], requires_grad=True)
        with tg.name_scope("linear"):
            Z = W * 2
        A = Z.relu()
    outside = A + 1
    assert W.scope == "layer1" and Z.scope == "layer1/linear" and A.scope == "layer1"
    assert outside.scope is None and tg.Tensor(1.0).scope is None


# ----- found in review


def test_a_0d_float32_leaf_gets_a_float32_gradient_next_to_float64_arrays():
    x = tg.Tensor(np.float32(1.5), requires_grad=True)
    (x * np.array(2.0)).backward()
    assert x.grad.dtype == np.float32 and x.grad == 2.0


def test_tg_grad_returns_arrays_the_caller_owns():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = tg.Tensor([3.0, 4.0], requires_grad=True)
    v = np.array([1.0, 1.0])
    gx, gy = tg.grad(x + y, [x, y], grad_outputs=v)
    assert gx is not gy and gx is not v and gy is not v
    gx += 100.0
    assert gy.tolist() == [1.0, 1.0] and v.tolist() == [1.0, 1.0]
    (gs,) = tg.grad(x.sum(), [x])
    assert gs.flags.writeable


def test_cross_entropy_target_gradient_stays_finite_under_create_graph_at_0_and_1():
    y_hat = tg.Tensor([0.0, 1.0, 0.5])
    plain = tg.Tensor([0.3, 0.7, 0.2], requires_grad=True)
    (want,) = tg.grad(tg.binary_cross_entropy(y_hat, plain), plain)
    (got,) = tg.grad(tg.binary_cross_entropy(y_hat, plain), plain, create_graph=True)
    assert np.all(np.isfinite(got.data))
    np.testing.assert_allclose(got.data, want, rtol=1e-12)


def test_the_same_no_grad_and_name_scope_objects_can_be_entered_twice():
    quiet, scope = tg.no_grad(), tg.name_scope("a")
    with quiet:
        with quiet:
            pass
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    with scope:
        with scope:
            assert tg.Tensor(1.0).scope == "a/a"
        assert tg.Tensor(1.0).scope == "a"
    assert tg.Tensor(1.0).scope is None


def test_tg_grad_runs_and_frees_only_the_graph_between_outputs_and_inputs():
    x = tg.Tensor([0.3, -0.2], requires_grad=True)
    h = tg.tanh(x)
    loss = (h * h).sum()
    (dh,) = tg.grad(loss, [h])  # needs only the nodes above h
    np.testing.assert_allclose(dh, 2 * np.tanh(x.data))
    assert h.grad_fn.saved is not _graph.RELEASED  # tanh was below h: neither run nor freed
    other = h.sum()
    other.backward()  # a second loss through the shared tanh still works
    np.testing.assert_allclose(x.grad, 1 - np.tanh(x.data) ** 2)


# ----------------------------------------------------------------- what a user op's backward may return, and the errors when it is wrong


def _two_input_op(returned):
    """An op of two inputs whose backward returns ``returned(g)``."""

    class Pair(tg.Op):
        def forward(self, x, y):
            return x * y

        def backward(self, ctx, g):
            return returned(g)

    return Pair


def test_a_list_of_gradients_counts_like_a_tuple():
    x, y = tg.Tensor([1.0, 2.0], requires_grad=True), tg.Tensor([3.0, 4.0], requires_grad=True)
    _two_input_op(lambda g: [g * 2.0, g * 3.0]).apply(x, y).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])
    np.testing.assert_array_equal(y.grad, [3.0, 3.0])


def test_a_one_input_op_may_return_its_gradient_bare():
    class Double(tg.Op):
        def forward(self, x):
            return 2.0 * x

        def backward(self, ctx, g):
            return 2.0 * g  # one gradient, not a tuple of one: rows are not inputs

    x = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    Double.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


@pytest.mark.parametrize(
    "returned, error, message",
    [
        # A bare array of two rows is one gradient, not one per row.
        (lambda g: np.ones((2, 2)), RuntimeError, "Pair: backward returned 1 gradient(s) for 2 input(s)"),
        (lambda g: [g, g, g], RuntimeError, "Pair: backward returned 3 gradient(s) for 2 input(s)"),
        (lambda g: (g,), RuntimeError, "Pair: backward returned 1 gradient(s) for 2 input(s)"),
        (lambda g: (g, g, g), RuntimeError, "Pair: backward returned 3 gradient(s) for 2 input(s)"),
        (
            lambda g: (g, "text"),
            TypeError,
            "Pair: backward returned a str as the gradient for input 1; expected an array of shape (2, 2)",
        ),
        (
            lambda g: ({"g": g}, g),
            TypeError,
            "Pair: backward returned a dict as the gradient for input 0; expected an array of shape (2, 2)",
        ),
    ],
)
def test_a_backward_that_returns_the_wrong_thing_is_refused_naming_the_op(returned, error, message):
    x, y = tg.Tensor(np.ones((2, 2)), requires_grad=True), tg.Tensor(np.ones((2, 2)), requires_grad=True)
    out = _two_input_op(returned).apply(x, y)
    with pytest.raises(error) as info:
        out.sum().backward()
    assert str(info.value) == message


def test_a_gradient_returned_as_a_numpy_scalar_becomes_an_array_of_the_inputs_dtype():
    class Total(tg.Op):
        def forward(self, x):
            return x * 1.0

        def backward(self, ctx, g):
            return np.float64(3.0)  # a numpy scalar (what 0-d arithmetic gives), float64

    x = tg.Tensor(np.float32(2.0), requires_grad=True)
    Total.apply(x).backward()
    assert type(x.grad) is np.ndarray and x.grad.dtype == np.float32 and x.grad == 3.0


def test_backward_through_a_freed_graph_says_how_to_keep_it():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = tg.tanh(x)
    loss = (h * 1.5).sum()
    loss.backward()
    with pytest.raises(RuntimeError) as info:
        loss.backward()
    assert str(info.value) == (
        "backward: the graph through 'sum' was already freed by an earlier backward(); "
        "pass retain_graph=True to the first backward() to backpropagate through it again"
    )


def test_none_for_an_input_that_needs_a_gradient_leaves_it_without_one():
    x, y = tg.Tensor([1.0, 2.0], requires_grad=True), tg.Tensor([3.0, 4.0], requires_grad=True)
    _two_input_op(lambda g: (None, g * 5.0)).apply(x, y).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(y.grad, [5.0, 5.0])


def test_a_create_graph_gradient_that_is_a_view_reaches_grad_as_its_own_array():
    # reshape's backward hands x a writeable view of the gradient mul computed: under
    # create_graph, .grad must still own its memory and stay differentiable.
    x = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    w = np.arange(1.0, 7.0).reshape(3, 2)
    (x.reshape(3, 2) * w).sum().backward(create_graph=True)
    assert isinstance(x.grad, tg.Tensor) and x.grad.data.base is None and x.grad.data.flags.writeable
    np.testing.assert_array_equal(x.grad.data, w.reshape(2, 3))


def test_create_graph_gradients_handed_to_two_leaves_are_two_tensors():
    x, y = tg.Tensor([1.0, 2.0], requires_grad=True), tg.Tensor([3.0, 4.0], requires_grad=True)
    ((x + y) * np.array([5.0, 6.0])).sum().backward(create_graph=True)  # add hands one gradient to both
    assert x.grad is not y.grad and not np.shares_memory(x.grad.data, y.grad.data)
    np.testing.assert_array_equal(x.grad.data, [5.0, 6.0])
    np.testing.assert_array_equal(y.grad.data, [5.0, 6.0])
