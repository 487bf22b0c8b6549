"""The conventions of the indexing, selection, join and shape ops (issue 10, part A) that
the op table's random draws do not pin: tie and kink rules, accumulation of repeated
indices, numpy habits on Tensors (issue 9, item 12), and the code emitters of every one of
these ops, run as the numpy they write.

Gradients are checked against central finite differences (gradcheck); where a convention
is a choice (a tie, a kink, a zero variance) the test states the value chosen.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygraph as tg
from tinygraph._graph import topological_order
from tinygraph._shapes import sum_to_shape
from tinygraph.testing import gradcheck, gradgradcheck

T = tg.Tensor


def leaf(values):
    return T(np.array(values, dtype=float), requires_grad=True)


# ----------------------------------------------------------------- indexing


def test_repeated_indices_add_up():
    x = leaf([10.0, 20.0, 30.0])
    x[[0, 2, 0, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]
    x = leaf(np.arange(6.0).reshape(3, 2))
    (x[[1, 1, 2]] * [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]).sum().backward()  # whole rows, repeated
    assert x.grad.tolist() == [[0.0, 0.0], [4.0, 6.0], [5.0, 6.0]]
    x = leaf(np.zeros((2, 3)))
    x[[0, 0, 1], [2, 2, 0]].sum().backward()  # two integer arrays: pairs of positions
    assert x.grad.tolist() == [[0.0, 0.0, 2.0], [1.0, 0.0, 0.0]]


def test_every_kind_of_index_matches_numpy_and_finite_differences():
    a = np.arange(24.0).reshape(2, 3, 4) / 7
    for index in [
        1, -1, (0, 2), (slice(None), 1), (Ellipsis, -1), (None, 0, Ellipsis, None), (slice(None, None, -1), slice(1, None, 2)),
        [1, 0, 1], ([0, 1, 1], slice(None), [3, 3, 0]), a[..., 0] > 1, (a > 1.5), (0, a[0, :, 0] > 0.2), (), Ellipsis,
        (np.array([[0, 1], [1, 1]]), Ellipsis), ([], slice(None)),
    ]:
        np.testing.assert_array_equal(T(a)[index].numpy(), a[index], err_msg=repr(index))
        gradcheck(lambda x, index=index: x[index] * 3.0, a)


def test_a_mask_from_a_comparison_selects_and_routes_gradients():
    x = leaf([-1.0, 2.0, -3.0, 4.0])
    y = x[x > 0]
    assert y.tolist() == [2.0, 4.0]
    (y * y).sum().backward()
    assert x.grad.tolist() == [0.0, 4.0, 0.0, 8.0]


def test_the_scatter_is_an_op_so_gradients_of_gradients_flow_through_indexing():
    x = leaf([1.0, 2.0, 3.0])
    (g,) = tg.grad((x[[0, 0, 2]] ** 3).sum(), x, create_graph=True)
    assert "scatter_add" in [node.name for node in topological_order([g.node])]
    np.testing.assert_allclose(g.data, [6.0, 0.0, 27.0])  # 3 x^2, twice for x0
    (h,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(h, [12.0, 0.0, 18.0])  # 6 x, twice for x0
    gradgradcheck(lambda x: (x[[0, 0, 2], None] * x[[1, 2, 2]]).sum(axis=0), np.array([1.0, -2.0, 0.5]))


def test_the_index_is_copied_so_changing_it_later_cannot_change_the_gradient():
    index = np.array([0, 0, 1])
    x = leaf([1.0, 2.0, 3.0])
    y = x[index]
    index[:] = 2
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 1.0, 0.0]


def test_scatter_add_accumulates_like_np_add_at():
    values = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    for index in [([0, 2, 0],), ([0, 2, 0], Ellipsis), ([1, 1, 1], [0, 1, 1])]:
        want = np.zeros((3, 2))
        np.add.at(want, index, values if len(index) < 2 or index[1] is Ellipsis else values[:, 0])
        got = tg.scatter_add(values if len(index) < 2 or index[1] is Ellipsis else values[:, 0], index, (3, 2))
        np.testing.assert_array_equal(got.numpy(), want)
    gradcheck(lambda v: tg.scatter_add(v, ([2, 0, 2],), (4, 2)), values)
    assert tg.scatter_add(np.float32([1.0]), [0], (2,)).dtype == np.float32


def test_iteration_yields_rows_on_the_graph():
    x = leaf(np.arange(6.0).reshape(3, 2))
    rows = list(x)
    assert len(rows) == len(x) == 3 and all(r.grad_fn.name == "getitem" for r in rows)
    assert [r.tolist() for r in rows] == x.tolist()
    sum(r * float(i) for i, r in enumerate(x)).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]
    first, *_ = tg.Tensor([5.0, 6.0])
    assert first.item() == 5.0


# ----------------------------------------------------------------- ties and kinks


@pytest.mark.parametrize("reduce", [tg.max, tg.min])
def test_tied_extremes_share_the_gradient_equally(reduce):
    x = leaf([[2.0, 2.0, 2.0, -2.0], [7.0, 1.0, 7.0, 1.0]]) * (1.0 if reduce is tg.max else -1.0)
    x.retain_grad()
    reduce(x, axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[1 / 3, 1 / 3, 1 / 3, 0.0], [0.5, 0.0, 0.5, 0.0]])
    y = leaf([[3.0, 3.0], [3.0, 1.0]])
    reduce(y * (1.0 if reduce is tg.max else -1.0)).backward()  # over all axes, keepdims off
    np.testing.assert_allclose(np.abs(y.grad), [[1 / 3, 1 / 3], [1 / 3, 0.0]])


def test_a_two_way_tie_is_what_central_differences_measure():
    # max(a, a) moves by eps one way and not at all the other: the central difference is 1/2 each.
    gradcheck(lambda x: tg.max(x), np.array([1.0, 1.0, -2.0]))
    gradcheck(lambda x, y: tg.maximum(x, y), np.array([1.0, 0.0]), np.array([1.0, 2.0]))
    gradcheck(lambda x, y: tg.minimum(x, y), np.array([1.0, 0.0]), np.array([1.0, 2.0]))


def test_maximum_and_minimum_split_ties_half_and_half():
    x, y = leaf([1.0, 2.0, 3.0]), leaf([2.0, 2.0, 2.0])
    tg.maximum(x, y).sum().backward()
    assert x.grad.tolist() == [0.0, 0.5, 1.0] and y.grad.tolist() == [1.0, 0.5, 0.0]
    x = leaf([[0.0, -1.0, 4.0]])
    tg.minimum(x, np.zeros((2, 1))).sum().backward()  # broadcast: each x meets two zeros
    assert x.grad.tolist() == [[1.0, 2.0, 0.0]]


def test_abs_has_slope_zero_at_zero():
    x = leaf([-2.0, 0.0, 3.0, -0.0])
    abs(x).sum().backward()
    assert x.grad.tolist() == [-1.0, 0.0, 1.0, 0.0]
    assert np.abs(x).grad_fn.name == "abs" and np.absolute(x).grad_fn.name == "abs" and x.abs().grad_fn.name == "abs"


def test_sqrt_at_zero_has_an_infinite_slope():
    x = leaf([0.0, 4.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        x.sqrt().sum().backward()
    assert x.grad.tolist() == [np.inf, 0.25]


def test_clip_passes_the_gradient_on_its_bounds_and_inside():
    x = leaf([-2.0, -1.0, 0.0, 1.0, 2.0])
    x.clip(-1.0, 1.0).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]  # bounds included, as torch.clamp
    for form in [lambda t: tg.clip(t, 0.0, None), lambda t: t.clip(min=0.0), lambda t: np.clip(t, 0.0, None)]:
        x = leaf([-1.0, 0.0, 1.0])
        form(x).sum().backward()
        assert x.grad.tolist() == [0.0, 1.0, 1.0]
    x = leaf([[0.5, 2.5], [-3.0, 1.0]])
    y = np.clip(x, [[0.0, 0.0]], [[1.0], [2.0]])  # array bounds broadcast, like numpy's
    np.testing.assert_array_equal(y.numpy(), np.clip(x.numpy(), [[0.0, 0.0]], [[1.0], [2.0]]))
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    gradcheck(lambda t: t.clip(-0.5, 0.5), np.array([[-1.0, 0.2], [0.3, 2.0]]))


def test_std_at_zero_variance_has_gradient_zero_not_nan():
    x = leaf([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])
    std = x.std(axis=1)
    assert std.tolist()[0] == 0.0
    std.sum().backward()
    assert np.isfinite(x.grad).all() and x.grad[0].tolist() == [0.0, 0.0, 0.0]
    # The subgradient 0 is also what central differences see: std is symmetric about equal values.
    gradcheck(lambda t: t.std(axis=1), np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]]))
    z = leaf([5.0, 5.0])
    (g,) = tg.grad(z.std(), z, create_graph=True)
    assert np.isfinite(g.data).all() and g.data.tolist() == [0.0, 0.0]


def test_var_and_std_take_ddof_like_numpy():
    a = np.array([[1.0, 4.0, 2.0], [0.5, -1.0, 3.0]])
    for kw in [{}, {"ddof": 1}, {"axis": 0, "ddof": 1, "keepdims": True}, {"axis": (0, 1)}, {"axis": -1, "correction": 1}]:
        numpy_kw = {("ddof" if k == "correction" else k): v for k, v in kw.items()}
        np.testing.assert_allclose(T(a).var(**kw).numpy(), a.var(**numpy_kw), rtol=1e-13)
        np.testing.assert_allclose(np.std(T(a), **kw).numpy(), a.std(**numpy_kw), rtol=1e-13)
        gradcheck(lambda x, kw=kw: x.var(**kw), a)
        gradcheck(lambda x, kw=kw: tg.std(x, **kw), a)


# ----------------------------------------------------------------- where


def test_where_takes_a_mask_or_a_01_tensor_and_gives_it_no_gradient():
    x, y = leaf([1.0, -2.0, 3.0]), leaf([10.0, 20.0, 30.0])
    condition = T([1.0, 0.0, 1.0], requires_grad=True)
    out = tg.where(condition, x, y)
    assert out.tolist() == [1.0, 20.0, 3.0]
    out.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0] and y.grad.tolist() == [0.0, 1.0, 0.0]
    assert condition.grad is None
    assert np.where(x > 0, x, 0.0).grad_fn.name == "where"


def test_where_broadcasts_all_three_and_sums_gradients_back():
    x = leaf([[1.0], [2.0]])
    out = tg.where(np.array([[True, False, True]]), x, 0.0)
    assert out.shape == (2, 3)
    out.sum().backward()
    assert x.grad.tolist() == [[2.0], [2.0]]


def test_where_with_only_a_condition_lists_positions_as_numpy_does():
    (rows,) = np.where(T([0.0, 1.0, 1.0]))
    assert rows.tolist() == [1, 2]


# ----------------------------------------------------------------- joins


def test_concatenate_along_none_joins_flattened_inputs():
    a, b = leaf([[1.0, 2.0]]), leaf([3.0])
    c = tg.concatenate([a, b], axis=None)
    assert c.tolist() == [1.0, 2.0, 3.0]
    (c * [1.0, 2.0, 3.0]).sum().backward()
    assert a.grad.tolist() == [[1.0, 2.0]] and b.grad.tolist() == [3.0]


def test_numpy_joins_record_and_mix_tensors_with_arrays():
    a = leaf([[1.0, 2.0]])
    c = np.concatenate([a, np.zeros((1, 2)), a], axis=0)
    s = np.stack([a, np.ones((1, 2))], axis=-1)
    assert c.grad_fn.name == "concatenate" and c.shape == (3, 2)
    assert s.grad_fn.name == "stack" and s.shape == (1, 2, 2)
    (c.sum() + s.sum()).backward()
    assert a.grad.tolist() == [[3.0, 3.0]]
    assert tg.concatenate([a]).grad_fn.name == "concatenate"  # one input is a copy


def test_split_gives_slices_that_join_back():
    x = leaf(np.arange(12.0).reshape(3, 4))
    for pieces, want in [(2, [(3, 2), (3, 2)]), ([1, 3], [(3, 1), (3, 2), (3, 1)]), ([-1], [(3, 3), (3, 1)])]:
        parts = tg.split(x, pieces, axis=1)
        assert [p.shape for p in parts] == want and all(p.grad_fn.name == "getitem" for p in parts)
        np.testing.assert_array_equal(tg.concatenate(parts, axis=1).numpy(), x.numpy())
    top, rest = np.split(x, [1])
    (rest * 2).sum().backward()  # only the pieces used send gradients back
    assert x.grad.tolist() == [[0.0] * 4, [2.0] * 4, [2.0] * 4]
    gradcheck(lambda t: tg.concatenate(tg.split(t, 3)[::-1]), np.arange(6.0))


# ----------------------------------------------------------------- einsum


@pytest.mark.parametrize(
    "spec, shapes",
    [
        ("ij->ji", [(2, 3)]), ("ii", [(3, 3)]), ("ii->i", [(3, 3)]), ("ij->", [(2, 3)]), ("ij", [(2, 3)]),
        ("iji->j", [(2, 3, 2)]), ("...ii->...i", [(2, 3, 3)]), ("i,i,i->", [(3,), (3,), (3,)]),
        ("ab,bc,cd,de->ae", [(2, 3), (3, 2), (2, 2), (2, 1)]), ("Ba,aB", [(2, 3), (3, 2)]), ("i,j", [(2,), (3,)]),
        ("ii,ij->j", [(2, 2), (2, 3)]),
    ],
)
def test_einsum_single_operands_diagonals_and_chains(spec, shapes):
    rng = np.random.default_rng(len(spec))
    arrays = [rng.standard_normal(s) for s in shapes]
    np.testing.assert_allclose(tg.einsum(spec, *arrays).numpy(), np.einsum(spec, *arrays), rtol=1e-12, atol=1e-12)
    assert np.einsum(spec, *[T(a) for a in arrays]).shape == np.einsum(spec, *arrays).shape
    gradcheck(lambda *xs: tg.einsum(spec, *xs), *arrays)
    gradgradcheck(lambda *xs: tg.einsum(spec, *xs) * tg.einsum(spec, *xs), *arrays)


def test_einsum_uses_one_op_per_pair_of_operands():
    a, b, c = leaf(np.ones((2, 3))), leaf(np.ones((3, 4))), leaf(np.ones((4, 5)))
    out = tg.einsum("ij,jk,kl->il", a, b, c)
    assert [n.name for n in topological_order([out.node]) if n.parents] == ["einsum", "einsum"]
    out.sum().backward()
    assert a.grad.tolist() == [[20.0] * 3] * 2


# ----------------------------------------------------------------- numpy habits (issue 9, item 12)


def test_astype_casts_and_casts_the_gradient_back():
    x = leaf([1.5, 2.5])
    y = x.astype(np.float32)
    assert y.dtype == np.float32 and y.grad_fn.name == "astype"
    (y * np.float32(3.0)).sum().backward()
    assert x.grad.dtype == np.float64 and x.grad.tolist() == [3.0, 3.0]
    z = T(np.float32([1.0, 2.0]), requires_grad=True)
    z.astype("float64").sum().backward()
    assert z.grad.dtype == np.float32
    (g,) = tg.grad(x.astype(np.float32).sum() ** 2, x, create_graph=True)  # a cast inside a gradient
    assert g.dtype == np.float64 and g.tolist() == [8.0, 8.0]


def test_copy_flatten_len_and_argmax_behave_as_on_arrays():
    x = leaf([[3.0, 1.0], [2.0, 5.0]])
    c = x.copy()
    assert c.data is not x.data and not np.shares_memory(c.data, x.data) and c.grad_fn.name == "copy"
    assert np.copy(x).grad_fn.name == "copy"
    f = x.flatten()
    assert f.shape == (4,) and f.grad_fn.name == "reshape" and len(x) == 2
    (c.sum() + f.sum()).backward()
    assert x.grad.tolist() == [[2.0, 2.0], [2.0, 2.0]]
    assert x.argmax() == 3 and x.argmin() == 1
    assert x.argmax(axis=0).tolist() == [0, 1] and x.argmin(axis=-1, keepdims=True).tolist() == [[1], [0]]
    assert np.argmax(x) == 3 and np.argmin(x, axis=1).tolist() == [1, 0]  # a Tensor that requires grad too
    assert x.argmax(axis=0).dtype.kind == "i"


def test_numpy_forms_record_the_new_ops():
    x = leaf([[1.0, -4.0], [9.0, 0.0]])
    for result, name in [
        (np.sqrt(abs(x)), "sqrt"), (np.abs(x), "abs"), (np.square(x), "square"), (np.maximum(x, 0.0), "maximum"),
        (np.minimum(0.0, x), "minimum"), (np.max(x, axis=0), "max"), (np.amin(x), "min"), (np.var(x), "var"),
        (np.std(x, axis=1), "std"), (np.expand_dims(x, 0), "expand_dims"), (np.squeeze(x[None]), "squeeze"),
        (np.swapaxes(x, 0, 1), "swapaxes"), (np.einsum("ij->j", x), "einsum"), (np.clip(x, 0, 1), "clip"),
    ]:
        assert isinstance(result, tg.Tensor) and result.grad_fn.name == name, name


def test_numpy_functions_on_a_tensor_without_grad_answer_as_numpy():
    x = T([[3.0, 1.0], [2.0, 5.0]])
    np.testing.assert_array_equal(np.cumsum(x), np.cumsum(x.numpy()))
    np.testing.assert_array_equal(np.sort(x, axis=None), [1.0, 2.0, 3.0, 5.0])


# ----------------------------------------------------------------- the code emitters, run


def _run_emitted(out: tg.Tensor, seed: np.ndarray):
    """The forward and the gradients of the leaves, computed only from the ops' emitted numpy text."""
    nodes = topological_order([out.node])
    env, names = {"np": np}, {}
    for node in reversed(nodes):  # oldest first
        names[node] = name = f"v{node.id}"
        if node.parents:
            env[name] = np.asarray(eval(node.rule.emit_forward(node, *[names[p] for p in node.parents]), env))
        else:
            env[name] = node.saved[0]
    grads = {out.node: seed}
    for node in nodes:
        if not node.parents or node not in grads:
            continue
        env[f"g{node.id}"] = grads[node]
        saved = [names[node] if slot < 0 else names[node.parents[slot]] for slot in node.rule.save_slots]
        texts = node.rule.emit_backward(node, f"g{node.id}", *saved)
        assert len(texts) == len(node.parents), node.name
        for parent, need, text in zip(node.parents, node.needs, texts):
            if need:
                gi = sum_to_shape(np.asarray(eval(text, env)), parent.shape)
                grads[parent] = grads[parent] + gi if parent in grads else gi
    return env[names[out.node]], grads


def _part_a_cases():
    """The op table's rows of these ops (tests/ is not a package: the table is loaded by path)."""
    name = "_part_a_op_table"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("test_ops.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up there
        spec.loader.exec_module(module)
    mine = {
        "getitem", "scatter_add", "max", "min", "maximum", "minimum", "where", "abs", "sqrt", "square", "clip", "var",
        "std", "concatenate", "stack", "expand_dims", "squeeze", "swapaxes", "einsum", "astype", "copy",
    }  # fmt: skip
    return [case for case in sys.modules[name].CASES if case.name in mine]


@pytest.mark.parametrize("case", _part_a_cases(), ids=lambda case: case.name)
@settings(max_examples=20)
@given(data=st.data())
def test_emitted_numpy_matches_forward_and_backward(case, data):
    arrays, params = data.draw(case.draw_inputs(True))
    leaves = [T(a, requires_grad=True) for a in arrays]
    out = case.fn(*leaves, **params)
    seed = np.linspace(0.5, 1.5, out.size).reshape(out.shape).astype(out.dtype)
    value, grads = _run_emitted(out, seed)
    np.testing.assert_allclose(value, out.numpy(), rtol=1e-12, atol=1e-12)
    assert value.dtype == out.dtype
    out.backward(seed)
    for t in leaves:
        np.testing.assert_allclose(grads.get(t.node, np.zeros(t.shape)), t.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_emitted_backward_keeps_the_dtype(dtype):
    x = T(np.arange(6, dtype=dtype).reshape(2, 3), requires_grad=True)
    out = (x[[0, 0, 1]].max(axis=1) + tg.einsum("ij->j", x).sum() + x.std()).sum()
    _, grads = _run_emitted(out, np.ones((), dtype=dtype))
    assert grads[x.node].dtype == dtype


@pytest.mark.parametrize("case", _part_a_cases(), ids=lambda case: case.name)
@settings(max_examples=10)
@given(data=st.data())
def test_compiled_functions_agree_with_the_eager_graph(case, data):
    """tg.compile builds straight-line numpy from the emitters: same value, same gradients."""
    arrays, params = data.draw(case.draw_inputs(True))
    out_shape = case.fn(*[T(a) for a in arrays], **params).shape
    weights = np.linspace(-1.0, 2.0, int(np.prod(out_shape))).reshape(out_shape)

    def loss(*xs):
        return (case.fn(*xs, **params) * weights).sum()

    eager = [T(a, requires_grad=True) for a in arrays]
    compiled = [T(a, requires_grad=True) for a in arrays]
    want, got = loss(*eager), tg.compile(loss)(*compiled)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    want.backward()
    got.backward()
    for e, c in zip(eager, compiled):
        np.testing.assert_allclose(c.grad, e.grad, rtol=1e-12, atol=1e-12)
