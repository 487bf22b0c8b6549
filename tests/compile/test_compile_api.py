"""tg.compile as a user meets it: same values and gradients as eager, one node in the caller's
graph, specialisations per signature, the tracer's refusals, and the generated text itself."""

from __future__ import annotations

import ast
import re
import threading

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def close(got, want, rtol=1e-12):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (got.shape, got.dtype, want.shape, want.dtype)
    assert np.linalg.norm(got - want) <= rtol * np.linalg.norm(want) + 1e-300


def logistic_cost(W, b, X, Y):
    Z = (W @ X + b).named("Z")
    return tg.binary_cross_entropy_with_logits(Z, Y)


def logistic_data(n_x=3, n=8, dtype=np.float64):
    X = RNG.standard_normal((n_x, n)).astype(dtype)
    Y = (RNG.random((1, n)) > 0.5).astype(dtype)
    W = tg.Tensor(RNG.standard_normal((1, n_x)).astype(dtype), requires_grad=True, name="W")
    b = tg.Tensor(np.zeros((1, 1), dtype=dtype), requires_grad=True, name="b")
    return W, b, X, Y


# ----------------------------------------------------------------- same as eager


def test_value_and_gradients_equal_eager():
    W, b, X, Y = logistic_data()
    eager = logistic_cost(W, b, X, Y)
    eager.backward()
    want = W.grad, b.grad
    W.grad = b.grad = None
    step = tg.compile(logistic_cost)
    for _ in range(2):  # the first call traces, the second runs the generated code
        got = step(W, b, X, Y)
        close(got.data, eager.data)
        got.backward()
        close(W.grad, want[0])
        close(b.grad, want[1])
        W.grad = b.grad = None


def test_gradients_match_finite_differences():
    # The standard every op is held to: central differences in float64, first and second order.
    step = tg.compile(lambda x, y: (tg.tanh(x @ y) * tg.sigmoid(y.sum(axis=0))).sum())
    x, y = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    gradcheck(step, x, y)
    gradgradcheck(step, x, y)


def test_later_calls_use_the_new_values():
    step = tg.compile(lambda x: (x * x).sum())
    for value in (1.0, 2.0, -3.0):
        x = tg.Tensor(np.full((2, 2), value), requires_grad=True)
        out = step(x)
        assert out.item() == 4 * value * value
        out.backward()
        assert np.array_equal(x.grad, np.full((2, 2), 2 * value))


def test_one_node_in_the_callers_graph():
    W, b, X, Y = logistic_data()
    step = tg.compile(logistic_cost)
    out = step(W, b, X, Y)
    node = out.grad_fn
    assert node.name == "compiled logistic_cost"
    assert node.parents == (W.node, b.node)  # X and Y need no gradient: no edge, no work
    assert out.name is None or out.name == "out"


def test_specialisations_per_shape_dtype_and_grad_flag():
    traces = []

    def f(x):
        traces.append(x.shape)
        return (x * 2.0).sum()

    step = tg.compile(f)
    step(tg.Tensor(np.ones(3), requires_grad=True))
    step(tg.Tensor(np.zeros(3), requires_grad=True))
    assert len(traces) == 1
    step(tg.Tensor(np.ones(4), requires_grad=True))  # new shape
    step(tg.Tensor(np.ones(4, dtype=np.float32), requires_grad=True))  # new dtype
    step(tg.Tensor(np.ones(4)))  # no gradient wanted
    step(np.ones(4))  # an array: like a Tensor that needs no gradient
    assert len(traces) == 4
    with tg.no_grad():
        out = step(tg.Tensor(np.ones(4), requires_grad=True))
    assert not out.requires_grad and out.item() == 8.0


def test_static_arguments_are_baked_and_keyed():
    traces = []

    def f(x, scale, *, power=2.0):
        traces.append((scale, power))
        return (x**power * scale).sum()

    step = tg.compile(f)
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    assert step(x, 3.0).item() == 15.0
    assert step(x, 3.0).item() == 15.0
    assert step(x, 1.0, power=3.0).item() == 9.0
    assert traces == [(3.0, 2.0), (1.0, 3.0)]


def test_lists_tuples_and_dicts_of_tensors():
    def f(params, X):
        return (params["W"] @ X + params["b"]).sum() + sum(t.sum() for t in params["extra"])

    step = tg.compile(f)
    params = {
        "W": tg.Tensor(RNG.standard_normal((2, 3)), requires_grad=True),
        "b": tg.Tensor(np.zeros((2, 1)), requires_grad=True),
        "extra": [tg.Tensor(np.ones(2), requires_grad=True), tg.Tensor(np.ones(1))],
    }
    X = RNG.standard_normal((3, 4))
    out = step(params, X)
    out.backward()
    close(params["W"].grad, np.tile(X.sum(axis=1), (2, 1)))
    assert np.array_equal(params["b"].grad, np.full((2, 1), 4.0))
    assert np.array_equal(params["extra"][0].grad, np.ones(2))
    assert params["extra"][1].grad is None


def test_as_a_method_decorator():
    class Model:
        def __init__(self, scale):
            self.w = tg.Tensor([scale], requires_grad=True)

        @tg.compile
        def loss(self, x):
            return (self.w * x).sum()

    a, b = Model(2.0), Model(3.0)
    x = np.array([1.0, 2.0])
    assert a.loss(x).item() == 6.0 and b.loss(x).item() == 9.0  # each instance its own parameters
    b.loss(x).backward()
    assert b.w.grad.tolist() == [3.0] and a.w.grad is None


def test_unhashable_argument_is_refused():
    step = tg.compile(lambda x, options: x.sum())
    with pytest.raises(TypeError, match=r"compile: args\[1\] is a set"):
        step(tg.Tensor([1.0]), {1, 2})


def test_fn_must_return_a_tensor():
    with pytest.raises(TypeError, match="compile: <lambda> must return a Tensor, got tuple"):
        tg.compile(lambda x: (x, x))(tg.Tensor([1.0], requires_grad=True))
    with pytest.raises(TypeError, match="compile: expected a function, got int"):
        tg.compile(3)


def test_source_before_the_first_call():
    with pytest.raises(RuntimeError, match="has not been called yet"):
        _ = tg.compile(lambda x: x).source


def test_identity_and_constant_functions():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    out = tg.compile(lambda t: t)(x)
    out.backward(np.array([3.0, 4.0]))
    assert x.grad.tolist() == [3.0, 4.0]
    constant = tg.compile(lambda t: tg.Tensor([5.0]))(x)
    assert constant.tolist() == [5.0] and not constant.requires_grad


def test_backward_frees_the_graph_like_eager():
    step = tg.compile(lambda x: (x * x).sum())
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    out = step(x)
    out.backward(retain_graph=True)
    out.backward()
    assert x.grad.tolist() == [4.0, 8.0]
    with pytest.raises(RuntimeError, match="already freed"):
        out.backward()


def test_in_place_change_after_forward_is_caught():
    step = tg.compile(lambda x, w: (x * w).sum())
    x, w = tg.Tensor([1.0, 2.0], requires_grad=True), tg.Tensor([3.0, 4.0], requires_grad=True)
    out = step(x, w)
    w.data *= 2  # the generated backward would read the new w
    with pytest.raises(RuntimeError, match="changed in place"):
        out.backward()


# ----------------------------------------------------------------- composition


def test_inside_an_outer_graph_and_with_tg_grad():
    inner = tg.compile(lambda h: tg.tanh(h).sum())
    a = tg.Tensor(RNG.standard_normal(3), requires_grad=True)
    (got,) = tg.grad(inner(a * 3.0) * 2.0, a)
    (want,) = tg.grad(tg.tanh(a * 3.0).sum() * 2.0, a)
    close(got, want)


def test_create_graph_runs_fn_again_eagerly():
    step = tg.compile(lambda x: (x**3).sum() + tg.sigmoid(x).sum())
    x = tg.Tensor(np.array([0.5, -2.0]), requires_grad=True)
    (g,) = tg.grad(step(x), x, create_graph=True)
    (hessian_diag,) = tg.grad(g.sum(), x)
    s = 1 / (1 + np.exp(-x.data))
    close(hessian_diag, 6 * x.data + s * (1 - s) * (1 - 2 * s), rtol=1e-10)


def test_captured_parameters_train_like_eager():
    # nn layers and an optimizer: the parameters are captured, read afresh on every call.
    def build():
        rng = np.random.default_rng(3)
        return tg.nn.Sequential(tg.nn.Linear(4, 3, rng=rng, index=1), tg.nn.Activation("tanh"), tg.nn.Linear(3, 1, rng=rng, index=2))

    X, Y = RNG.standard_normal((4, 10)), (RNG.random((1, 10)) > 0.5).astype(float)
    runs = []
    for compiled in (False, True):
        net = build()
        opt = tg.optim.Adam(net.parameters(), lr=0.05)

        def cost(X, Y, net=net):
            return tg.binary_cross_entropy_with_logits(net(X), Y)

        step = tg.compile(cost) if compiled else cost
        costs = []
        for _ in range(5):
            opt.zero_grad()
            loss = step(X, Y)
            loss.backward()
            opt.step()
            costs.append(loss.item())
        runs.append((costs, [p.data.copy() for p in net.parameters()]))
    (eager_costs, eager_params), (compiled_costs, compiled_params) = runs
    close(np.array(compiled_costs), np.array(eager_costs))
    for got, want in zip(compiled_params, eager_params):
        close(got, want)


def test_captured_arrays_are_constants():
    C = np.array([1.0, 2.0])
    step = tg.compile(lambda x: (x * C).sum())
    x = tg.Tensor([1.0, 1.0], requires_grad=True)
    assert step(x).item() == 3.0
    C[:] = 10.0  # baked when traced, like jit: pass data that changes as an argument
    assert step(x).item() == 3.0
    assert "constants c (2,)" in step.source


def test_tensor_computed_outside_from_grad_values_is_refused():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = w * 2.0
    with pytest.raises(RuntimeError, match=r"uses a Tensor of shape \(2,\) that 'mul' computed outside it"):
        tg.compile(lambda x: (x * h).sum())(tg.Tensor([1.0, 1.0]))


def test_compiled_function_called_while_tracing_is_inlined():
    inner = tg.compile(lambda x: tg.tanh(x))
    outer = tg.compile(lambda x: inner(x * 2.0).sum())
    x = tg.Tensor([0.1, 0.2], requires_grad=True)
    outer(x).backward()
    close(x.grad, 2.0 * (1 - np.tanh(2.0 * x.data) ** 2))
    assert "tanh" in outer.source and "compiled" not in outer.source


def test_user_op_with_and_without_emitters():
    class Softplus(tg.Op):
        name = "softplus"
        saves = ("x",)

        def forward(self, x):
            return np.logaddexp(0.0, x)

        def backward(self, ctx, g, x):
            return g * tg.sigmoid(x)

    class EmittingSoftplus(Softplus):
        name = "softplus_emitting"

        def emit_forward(self, ctx, x):
            return f"np.logaddexp(0.0, {x})"

        def emit_backward(self, ctx, g, x):
            return (f"{g} * np.exp(-np.logaddexp(0.0, -{x}))",)

    x = tg.Tensor([0.5, -1.0], requires_grad=True)
    with pytest.raises(TypeError, match="op 'softplus' \\(Softplus\\) has no code emitter"):
        tg.compile(lambda t: Softplus.apply(t).sum())(x)
    tg.compile(lambda t: EmittingSoftplus.apply(t).sum())(x).backward()
    close(x.grad, 1 / (1 + np.exp(-x.data)))


# ----------------------------------------------------------------- residuals of emitters


class TwiceExp(tg.Op):
    """2 e^x, whose emitters share e^x between the forward line and the backward line."""

    name = "twice_exp"
    saves = ("x",)

    def forward(self, x):
        return 2.0 * np.exp(x)

    def backward(self, ctx, g, x):
        return g * 2.0 * tg.exp(x)

    def emit_residuals(self, ctx, x):
        return {"e": f"np.exp({x})", "twice": "2.0 * e"}  # the second reads the first by its name

    def emit_forward(self, ctx, x):
        return ctx.residuals["twice"]

    def emit_backward(self, ctx, g, x):
        return (f"{g} * {ctx.residuals['twice']}",)


def test_residuals_are_computed_once_in_the_forward_and_read_by_the_backward():
    x = tg.Tensor([0.5, -1.0], requires_grad=True)
    f = tg.compile(lambda t: TwiceExp.apply(t).sum())
    f(x).backward()
    close(x.grad, 2.0 * np.exp(x.data))
    assert gradcheck(f, x.data)  # the compiled gradient against central differences of the compiled forward
    source = f.source
    assert source.count("np.exp(") == 1
    assert "e = np.exp(t)" in source and "twice = 2.0 * e" in source
    forward, backward = source.split("def backward")
    assert "return out, (twice,)" in forward  # backward reads the residual, not x
    assert "np.exp" not in backward


def test_residuals_of_two_applications_get_their_own_names():
    a, b = tg.Tensor([0.5, -1.0], requires_grad=True), tg.Tensor([2.0, 0.25], requires_grad=True)
    f = tg.compile(lambda s, t: (TwiceExp.apply(s) * TwiceExp.apply(t)).sum())
    f(a, b).backward()
    close(a.grad, 4.0 * np.exp(a.data) * np.exp(b.data))
    close(b.grad, 4.0 * np.exp(a.data) * np.exp(b.data))
    source = f.source
    # The second application's later residual reads the second's first, renamed with it.
    assert "e = np.exp(s)" in source and "twice = 2.0 * e" in source
    assert "e_2 = np.exp(t)" in source and "twice_2 = 2.0 * e_2" in source


def test_residuals_of_the_same_application_twice_are_computed_once():
    x = tg.Tensor([0.5, -1.0], requires_grad=True)
    f = tg.compile(lambda t: (TwiceExp.apply(t) + TwiceExp.apply(t)).sum())
    f(x).backward()
    close(x.grad, 4.0 * np.exp(x.data))
    assert f.source.count("np.exp(") == 1


@pytest.mark.parametrize("declared, message", [
    (lambda x: [f"np.exp({x})"], "must return a dict of names"),
    (lambda x: {"not a name": f"np.exp({x})"}, "must return a dict of names"),
    (lambda x: {"lambda": f"np.exp({x})"}, "must return a dict of names"),
    (lambda x: {"__e": f"np.exp({x})"}, "must return a dict of names"),
    (lambda x: {"e": 1.0}, "must return a dict of names"),
    (lambda x: {"e": f"np.exp({x}, nonsense=1)"}, "wrote code that fails: np.exp"),
], ids=["list", "bad name", "keyword", "dunder", "not text", "failing text"])
def test_a_wrong_emit_residuals_is_an_error_naming_the_op(declared, message):
    class Bad(TwiceExp):
        name = "twice_exp_bad"

        def emit_residuals(self, ctx, x):
            return declared(x)

    x = tg.Tensor([0.5, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=rf"^compile: the emit_residuals of op 'twice_exp_bad' {message}"):
        tg.compile(lambda t: Bad.apply(t).sum())(x)


@pytest.mark.parametrize("declared", [
    lambda x: {"twice": "2.0 * e", "e": f"np.exp({x})"},  # a name read before it is declared
    lambda x: {"e": "np.exp(x)", "twice": "2.0 * e"},  # the input guessed, not the name given
], ids=["later name", "guessed input"])
def test_a_residual_reading_a_name_it_was_not_given_is_an_error(declared):
    # The name went into the listing as it was written, so it read the variable called
    # so, an argument of 7s here: the sum was 28 (or 2 e^7 + 2 e^7), not 2 e^0.5 + 2 e^-1, with no error.
    class Stray(TwiceExp):
        name = "twice_exp_stray"

        def emit_residuals(self, ctx, x):
            return declared(x)

    f = tg.compile(lambda t, e, x: Stray.apply(t).sum() + (e * x * 0.0).sum())
    with pytest.raises(RuntimeError, match=r"^compile: the emit_residuals of op 'twice_exp_stray' reads [ex] in"):
        f(tg.Tensor([0.5, -1.0], requires_grad=True), np.full(2, 7.0), np.full(2, 7.0))


@pytest.mark.parametrize("name", ["top", "shifted", "exp", "total"])
def test_an_input_called_like_a_residual_is_not_mistaken_for_it(name):
    # cross_entropy's residual expressions read each other by these names; the logits'
    # variable takes the Tensor's name.
    rng = np.random.default_rng(1)
    logits, labels = rng.standard_normal((4, 6)), rng.integers(0, 4, 6)
    eager, compiled = tg.Tensor(logits, requires_grad=True), tg.Tensor(logits, requires_grad=True)
    f = tg.compile(lambda z: tg.cross_entropy((z * 1.0).named(name), labels))
    want, got = tg.cross_entropy(eager * 1.0, labels), f(compiled)
    want.backward()
    got.backward()
    assert f"{name} = " in f.source
    close(got.data, want.data)  # the loss is summed in another order: equal to rounding
    np.testing.assert_array_equal(compiled.grad, eager.grad)


@pytest.mark.parametrize("name", ["__input1__", "x__input1__"])
def test_an_input_called_like_another_inputs_placeholder_is_not_replaced_again(name):
    # The placeholders went in one after the other: logits in a variable named
    # "__input1__" became the target's variable, and the loss was computed from the
    # probabilities alone, with no error (the shapes agree).
    rng = np.random.default_rng(2)
    logits, probs = rng.standard_normal((4, 6)), rng.dirichlet(np.ones(4), 6).T
    eager = [tg.Tensor(logits, requires_grad=True), tg.Tensor(probs, requires_grad=True)]
    compiled = [tg.Tensor(logits, requires_grad=True), tg.Tensor(probs, requires_grad=True)]
    f = tg.compile(lambda z, p: tg.cross_entropy((z * 1.0).named(name), p))
    want, got = tg.cross_entropy(eager[0] * 1.0, eager[1]), f(*compiled)
    want.backward()
    got.backward()
    assert f"np.max({name}, " in f.source
    close(got.data, want.data)
    for c, e in zip(compiled, eager):
        close(c.grad, e.grad)


@pytest.mark.parametrize("bad", [-1.0, 2.5, -0.5, 4.0, np.nan, np.inf, 1e20])
def test_compiled_cross_entropy_refuses_a_label_that_would_pick_a_wrong_class(bad):
    # Compiled code skips value checks, but -1 would wrap to the last class and 2.5 become 2
    # with no sign; the labels are an argument here, so they change after the trace.
    logits = tg.Tensor(np.random.default_rng(2).standard_normal((4, 3)), requires_grad=True)
    f = tg.compile(lambda z, y: tg.cross_entropy(z, y))
    good = np.array([0.0, 3.0, 1.0])
    f(logits, good).backward()
    with np.errstate(invalid="ignore"), pytest.raises(ValueError, match="invalid entry in coordinates array"):
        f(logits, np.array([0.0, bad, 1.0]))
    loss = f(logits, np.array([1.0, 2.0, 0.0]))  # new good labels still give eager's numbers
    close(loss.item(), tg.cross_entropy(logits, np.array([1, 2, 0])).item())


def test_compiled_cross_entropy_computes_its_softmax_once_and_matches_eager_exactly():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((10, 32))
    labels = rng.integers(0, 10, 32)
    eager, compiled = tg.Tensor(logits, requires_grad=True), tg.Tensor(logits, requires_grad=True)
    f = tg.compile(lambda z: tg.cross_entropy(z, labels))
    tg.cross_entropy(eager, labels).backward()
    f(compiled).backward()
    np.testing.assert_array_equal(compiled.grad, eager.grad)  # the same operations, in the same order
    assert f.source.count("np.exp(") == 1 and f.source.count("np.max(") == 1


# ----------------------------------------------------------------- what the tracer refuses


def _reads():
    with_grad_read = {
        "bool": (lambda t: t * 2.0 if bool(t.sum() > 0) else t, "compares traced values"),
        "float": (lambda t: t * float(t.sum()), r"float\(t\) reads a traced value"),
        "int": (lambda t: t * int(t.sum()), r"int\(t\) reads a traced value"),
        "item": (lambda t: t * t.sum().item(), r"t.item\(\) reads a traced value"),
        "data": (lambda t: t * t.data.max(), "t.data reads a traced value"),
        "numpy": (lambda t: t * t.numpy().max(), r"t.numpy\(\) reads a traced value"),
        "tolist": (lambda t: t * max(t.tolist()), r"t.tolist\(\) reads a traced value"),
        "asarray": (lambda t: t * np.asarray(t), r"np.asarray\(t\) reads a traced value"),
        "comparison": (lambda t: t * (t > 0), "compares traced values"),
        "detach": (lambda t: t.detach() * t, r"t.detach\(\) makes a constant"),
        "Tensor": (lambda t: tg.Tensor(t) * t, r"Tensor\(t\) makes a constant"),
    }
    return with_grad_read


@pytest.mark.parametrize("fn, message", list(_reads().values()), ids=list(_reads()))
def test_value_reads_while_tracing_raise_naming_the_line(fn, message):
    x = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=message) as info:
        tg.compile(fn)(x)
    text = str(info.value)
    assert text.startswith("compile: ")
    assert "test_compile_api.py:" in text  # the user's line, not tinygraph's
    assert "frozen" in text
    # The guards are gone afterwards: eager code reads values as usual.
    assert bool(x.sum() < 3) and x.data is not None and float(x.sum()) == 2.0


def test_no_grad_while_tracing_raises():
    def f(t):
        with tg.no_grad():
            mean = t.mean()
        return t - mean

    with pytest.raises(RuntimeError, match=r"tg.no_grad\(\) computes values without recording them.*with tg.no_grad"):
        tg.compile(f)(tg.Tensor([1.0, 2.0], requires_grad=True))
    with tg.no_grad():  # and works again afterwards
        pass


def test_reading_constants_while_tracing_is_fine():
    C = tg.Tensor([2.0, 3.0])  # no gradient: a constant, its value may be read

    def f(t):
        return t * float(C.sum()) + (C > 2.5) * 1.0

    out = tg.compile(f)(tg.Tensor([1.0, 1.0], requires_grad=True))
    assert out.tolist() == [5.0, 6.0]


def test_other_threads_are_not_guarded_while_one_traces():
    started, release = threading.Event(), threading.Event()
    seen = []

    def slow(t):
        started.set()
        release.wait(10)
        return t * 2.0

    worker = threading.Thread(target=lambda: tg.compile(slow)(tg.Tensor([1.0], requires_grad=True)))
    worker.start()
    started.wait(10)
    w = tg.Tensor([4.0], requires_grad=True)
    seen.append(float(w.sum()))  # this thread is not tracing: no error
    release.set()
    worker.join()
    assert seen == [4.0]


# ----------------------------------------------------------------- the generated text


def _names(source):
    tree = ast.parse(source)
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    bound = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    bound |= {a.arg for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) for a in n.args.args}
    return loaded - bound


def test_source_reads_only_numpy_and_its_constants():
    C = np.arange(3.0)
    step = tg.compile(lambda x, y: (tg.exp(x) @ y + C).mean() + tg.relu(x).sum())
    step(RNG.standard_normal((2, 4)), tg.Tensor(RNG.standard_normal((4, 3)), requires_grad=True))
    source = step.source
    assert "tinygraph" not in source and "import" not in source
    assert _names(source) <= {"np", "c"}
    compile(source, "<check>", "exec")


def test_source_is_deterministic():
    def f(x, y):
        h = tg.tanh(x * y + 1.0)
        return (h @ h.T).sum()

    sources = set()
    for seed in range(3):
        rng = np.random.default_rng(seed)
        step = tg.compile(f)
        step(tg.Tensor(rng.standard_normal((2, 3)), requires_grad=True), rng.standard_normal((2, 3)))
        sources.add(step.source)
    assert len(sources) == 1


def test_one_line_per_op_with_comments():
    W, b, X, Y = logistic_data()
    step = tg.compile(logistic_cost)
    step(W, b, X, Y)
    body = [line for line in step.source.splitlines() if line.startswith("    ") and "return" not in line]
    assert all(re.search(r"   # \S", line) for line in body)
    assert [line.split("#")[1].split()[0] for line in body] == [
        "matmul", "add", "binary_cross_entropy_with_logits",  # forward
        "binary_cross_entropy_with_logits", "add,", "matmul",  # backward
    ]  # fmt: skip
    assert "db = dZ.sum(axis=1, keepdims=True)" in step.source


def test_no_work_for_inputs_without_gradient():
    W, b, X, Y = logistic_data()
    step = tg.compile(logistic_cost)
    step(W, b, tg.Tensor(X), Y)
    assert "dX" not in step.source and "dY" not in step.source and "W.T" not in step.source
    step(W, b, tg.Tensor(X, requires_grad=True), Y)  # another specialisation does the work
    assert "dX = W.T @ dZ" in step.source


def test_common_subexpressions_computed_once():
    def f(x):
        return (tg.sigmoid(x) * tg.sigmoid(x)).sum()

    step = tg.compile(f)
    x = tg.Tensor(RNG.standard_normal(3), requires_grad=True)
    step(x).backward()
    s = 1 / (1 + np.exp(-x.data))
    close(x.grad, 2 * s * s * (1 - s), rtol=1e-12)
    assert step.source.count("np.logaddexp(0.0, -x)") == 1
    assert step.source.count("dmul_1 * sigmoid_1") == 1  # the two equal gradients of the product: once


def test_float32_stays_float32():
    W, b, X, Y = logistic_data(dtype=np.float32)
    step = tg.compile(logistic_cost)
    out = step(W, b, X, Y)
    out.backward()
    assert out.dtype == np.float32 and W.grad.dtype == np.float32 and b.grad.dtype == np.float32
    assert "float64" not in step.source


def test_large_intermediates_are_freed_after_their_last_use():
    step = tg.compile(lambda x, w: tg.tanh(tg.relu(w @ x) * 2.0).sum())
    x = RNG.standard_normal((64, 256))
    w = tg.Tensor(RNG.standard_normal((64, 64)), requires_grad=True)
    step(x, w).backward()
    source = step.source
    assert "del wx" in source and "# free: no later line reads it" in source
    # Small ones are left alone, so small listings read as plain algebra.
    small = tg.compile(lambda x, w: tg.tanh(tg.relu(w @ x) * 2.0).sum())
    small(x[:4, :4], tg.Tensor(RNG.standard_normal((4, 4)), requires_grad=True))
    assert "del " not in small.source


def test_dropout_is_refused_while_tracing_rather_than_frozen():
    dropout = tg.nn.Dropout(0.5, rng=0)
    step = tg.compile(lambda a: dropout(a))
    a = tg.Tensor(np.ones((1, 6)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"compile: nn.Dropout draws a random mask"):
        step(a)
    dropout.eval()  # eval mode too: switching back to train later would leave the compiled code without dropout
    with pytest.raises(RuntimeError, match="nn.Dropout"):
        tg.compile(lambda a: dropout(a))(a)
