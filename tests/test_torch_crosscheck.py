"""An independent second oracle: PyTorch, in float64, agrees with tinygraph to 1e-10 on
composite functions, the document's deep network and the losses' edge cases.

Finite differences stay the primary oracle (test_backward.py); this file only runs
where torch is installed.
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygraph as tg

torch = pytest.importorskip("torch")
F = torch.nn.functional

TOL = dict(rtol=1e-10, atol=1e-10)


def both(arrays):
    """The same values as tinygraph leaves and as torch leaves, all requiring grad."""
    ours = [tg.Tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    return ours, theirs


def assert_same_gradients(ours, theirs, ours_loss, theirs_loss, grad_tol=TOL):
    np.testing.assert_allclose(ours_loss.item(), theirs_loss.item(), **TOL)
    ours_loss.backward()
    theirs_loss.backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.grad is not None and b.grad is not None, i
        np.testing.assert_allclose(a.grad, b.grad.numpy(), **grad_tol, err_msg=f"input {i}")


COMPOSITES = {
    # name: (shapes, function written once for both libraries: (lib, *inputs) -> scalar)
    "affine tanh with broadcast bias": (
        [(4, 3), (3, 5), (4, 1)],
        lambda lib, W, X, b: (lib.tanh(W @ X + b) * (X.sum(axis=0) if lib is tg else X.sum(dim=0))).mean(),
    ),
    "ratio, powers, exp and log": (
        [(2, 3), (3,)],
        lambda lib, x, y: ((x * x + 1.0) ** 1.5 / (y.exp() + 2) - (1 - x).sigmoid() * (y * y + 0.5).log()).sum(),
    ),
    "relu, transpose and reshape": (
        [(2, 3), (2, 3)],
        lambda lib, x, y: (((x - 0.1).relu() @ y.T).reshape(4) * 2 ** 0.5 - y.T.reshape(6).tanh().mean()).sum(),
    ),
    "scalars on both sides": (
        [(3,)],
        lambda lib, x: (1 - x).sum() + (2 / (x * x + 1)).sum() + (x / 4).mean() + (-x).exp().sum(),
    ),
    "batched matmul": (
        [(2, 3, 4), (4, 2)],
        lambda lib, x, y: lib.sigmoid(x @ y).mean(),
    ),
}


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_composite_functions(name):
    shapes, fn = COMPOSITES[name]
    rng = np.random.default_rng(sorted(COMPOSITES).index(name))
    arrays = [rng.standard_normal(s) for s in shapes]
    ours, theirs = both(arrays)
    assert_same_gradients(ours, theirs, fn(tg, *ours), fn(torch, *theirs))


def _document_forward(lib, X, Y, params, L, logits):
    A = X
    for l in range(1, L):
        A = lib.relu(params[f"W{l}"] @ A + params[f"b{l}"])
    Z = params[f"W{L}"] @ A + params[f"b{L}"]
    if lib is tg:
        return tg.binary_cross_entropy_with_logits(Z, Y) if logits else tg.binary_cross_entropy(tg.sigmoid(Z), Y)
    return F.binary_cross_entropy_with_logits(Z, Y) if logits else F.binary_cross_entropy(torch.sigmoid(Z), Y)


@pytest.mark.parametrize("logits", [False, True])
def test_the_documents_deep_network(logits):
    rng = np.random.default_rng(20)
    n_units = [12, 5, 5, 5, 3, 1]  # the document's layer sizes on a small input
    L = len(n_units) - 1
    N = 16
    X, Y = rng.standard_normal((n_units[0], N)), (rng.random((1, N)) > 0.5).astype(float)
    names, arrays = [], []
    for l in range(1, L + 1):
        names += [f"W{l}", f"b{l}"]
        arrays += [rng.standard_normal((n_units[l], n_units[l - 1])) * 0.7, rng.standard_normal((n_units[l], 1)) * 0.1]
    ours, theirs = both(arrays)
    loss_ours = _document_forward(tg, tg.Tensor(X), tg.Tensor(Y), dict(zip(names, ours)), L, logits)
    loss_theirs = _document_forward(torch, torch.tensor(X), torch.tensor(Y), dict(zip(names, theirs)), L, logits)
    assert_same_gradients(ours, theirs, loss_ours, loss_theirs)


def test_binary_cross_entropy_at_exactly_zero_and_one():
    p = np.array([[0.0, 0.0, 1.0, 1.0, 0.3]])
    y = np.array([[0.0, 1.0, 0.0, 1.0, 0.6]])
    ours, theirs = both([p])
    # Both floor the denominator y_hat (1 - y_hat) at 1e-12; torch's constant is a C float
    # (9.9999999600e-13), so the two huge gradients (about 2e11) differ in the 9th digit.
    assert_same_gradients(
        ours,
        theirs,
        tg.binary_cross_entropy(ours[0], y),
        F.binary_cross_entropy(theirs[0], torch.tensor(y)),
        grad_tol=dict(rtol=1e-8, atol=1e-10),
    )


def test_logits_loss_far_out():
    z = np.array([[-1000.0, -40.0, -1e-3, 0.0, 35.0, 1000.0]])
    y = np.array([[1.0, 0.0, 1.0, 0.5, 0.0, 0.0]])
    ours, theirs = both([z])
    assert_same_gradients(
        ours, theirs, tg.binary_cross_entropy_with_logits(ours[0], y), F.binary_cross_entropy_with_logits(theirs[0], torch.tensor(y))
    )


def test_subgradient_conventions():
    x = np.array([-1.0, 0.0, 2.0])
    ours, theirs = both([x])
    assert_same_gradients(ours, theirs, (ours[0].relu() + ours[0] ** 0).sum(), (theirs[0].relu() + theirs[0] ** 0).sum())


def test_hessian_vector_product_and_second_derivatives():
    rng = np.random.default_rng(21)
    W, v, a = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(4)

    def f(lib, x, W):
        h = lib.tanh(W @ x)
        return (lib.sigmoid(h) * h).sum() + (x**3).mean() + (x.exp() * 0.1).sum()

    x = tg.Tensor(a, requires_grad=True)
    (g,) = tg.grad(f(tg, x, tg.Tensor(W)), x, create_graph=True)
    (hv,) = tg.grad(g, x, grad_outputs=v)

    xt = torch.tensor(a, requires_grad=True)
    (gt,) = torch.autograd.grad(f(torch, xt, torch.tensor(W)), xt, create_graph=True)
    (hvt,) = torch.autograd.grad(gt, xt, grad_outputs=torch.tensor(v))
    np.testing.assert_allclose(g.numpy(), gt.detach().numpy(), **TOL)
    np.testing.assert_allclose(hv, hvt.numpy(), **TOL)


# ----------------------------------------------------------------- indexing, selection, joins and shape ops (issue 10, part A)


INDEXES = {
    "ints and slices": (slice(1, None), slice(0, 3, 2)),  # torch has no negative steps
    "repeated rows": ([2, 0, 2, 2],),
    "pairs of positions": ([0, 0, 3], [1, 1, 2]),
    "mask": (np.array([True, False, True, True]),),
    "new axes and ellipsis": (None, Ellipsis, 1),
}


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_indexing_with_repeats_masks_and_new_axes(name):
    index = INDEXES[name]
    rng = np.random.default_rng(30)
    ours, theirs = both([rng.standard_normal((4, 3))])
    torch_index = tuple(torch.tensor(i) if isinstance(i, (list, np.ndarray)) else i for i in index)
    weights = rng.standard_normal(ours[0].data[index].shape)
    assert_same_gradients(
        ours, theirs, (ours[0][index] ** 2 * weights).sum(), (theirs[0][torch_index] ** 2 * torch.tensor(weights)).sum()
    )


def test_reductions_with_ties_share_the_gradient_like_amax():
    x = np.array([[1.0, 3.0, 3.0, -2.0], [0.5, 0.5, 0.5, 0.5], [2.0, -1.0, 0.0, 2.0]])
    ours, theirs = both([x])
    a, b = ours[0], theirs[0]
    assert_same_gradients(
        ours,
        theirs,
        (tg.max(a, axis=1) * [1.0, 2.0, 3.0]).sum() + a.min() + tg.max(a, axis=(0, 1), keepdims=True).sum(),
        (torch.amax(b, dim=1) * torch.tensor([1.0, 2.0, 3.0])).sum() + torch.amin(b) + torch.amax(b, dim=(0, 1), keepdim=True).sum(),
    )


def test_pointwise_kinks_and_ties():
    # abs'(0) = 0, clip's gradient 1 on its bounds, maximum/minimum split ties half and half: torch's choices too.
    x = np.array([-2.0, -1.0, 0.0, 0.5, 1.0, 3.0])
    y = np.array([-2.0, 0.0, 0.0, 1.0, 1.0, -3.0])
    ours, theirs = both([x, y])
    a, b = ours
    c, d = theirs
    assert_same_gradients(
        ours,
        theirs,
        (abs(a) * 3 + tg.clip(a, -1.0, 1.0) * 5 + tg.maximum(a, b) * 7 + tg.minimum(a, b) * 11 + tg.square(b)).sum()
        + tg.sqrt(a * a + 1.0).sum(),
        (c.abs() * 3 + c.clamp(-1.0, 1.0) * 5 + torch.maximum(c, d) * 7 + torch.minimum(c, d) * 11 + d.square()).sum()
        + (c * c + 1.0).sqrt().sum(),
    )


def test_where_var_and_std():
    rng = np.random.default_rng(31)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((1, 4))
    condition = x > 0
    ours, theirs = both([x, y])
    a, b = ours
    c, d = theirs
    assert_same_gradients(
        ours,
        theirs,
        tg.where(condition, a, b * 2).sum() + a.var(axis=1, ddof=1).sum() + tg.std(a, axis=0, keepdims=True).sum() + a.std(),
        torch.where(torch.tensor(condition), c, d * 2).sum() + c.var(dim=1, correction=1).sum()
        + c.std(dim=0, correction=0, keepdim=True).sum() + c.std(correction=0),
    )


def test_joins_and_axes():
    rng = np.random.default_rng(32)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((2, 1))
    ours, theirs = both([x, y])
    a, b = ours
    c, d = theirs
    ours_parts = tg.split(tg.concatenate([a, b, a], axis=1), [2, 5], axis=1)
    theirs_parts = torch.tensor_split(torch.cat([c, d, c], dim=1), [2, 5], dim=1)
    weights = [rng.standard_normal(p.shape) for p in ours_parts]
    assert_same_gradients(
        ours,
        theirs,
        sum((p * w).sum() for p, w in zip(ours_parts, weights))
        + (tg.stack([a, a * b], axis=-1) ** 2).sum()
        + (tg.swapaxes(tg.expand_dims(a, 0), 0, 2) * np.arange(6.0).reshape(3, 2, 1)).sum()
        + tg.squeeze(b[None], axis=(0, 2)).sum(),
        sum((p * torch.tensor(w)).sum() for p, w in zip(theirs_parts, weights))
        + (torch.stack([c, c * d], dim=-1) ** 2).sum()
        + (c.unsqueeze(0).transpose(0, 2) * torch.arange(6.0, dtype=torch.float64).reshape(3, 2, 1)).sum()
        + d[None].squeeze(2).squeeze(0).sum(),
    )


@pytest.mark.parametrize(
    "spec, shapes",
    [
        ("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk", [(2, 2, 3), (2, 3, 2)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]),
        ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]), ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]), ("i,j->ij", [(2,), (3,)]),
    ],
)
def test_einsum_and_its_second_derivatives(spec, shapes):
    rng = np.random.default_rng(len(spec))
    arrays = [rng.standard_normal(s) for s in shapes]
    ours, theirs = both(arrays)
    out_ours, out_theirs = tg.einsum(spec, *ours), torch.einsum(spec, *theirs)
    weights = rng.standard_normal(out_ours.shape)
    loss_ours, loss_theirs = (out_ours * out_ours * weights).sum(), (out_theirs * out_theirs * torch.tensor(weights)).sum()
    grads_ours = tg.grad(loss_ours, ours, create_graph=True)
    grads_theirs = torch.autograd.grad(loss_theirs, theirs, create_graph=True)
    for g, h in zip(grads_ours, grads_theirs):
        np.testing.assert_allclose(g.data, h.detach().numpy(), **TOL)
    second_ours = tg.grad(sum((g * g).sum() for g in grads_ours), ours)
    second_theirs = torch.autograd.grad(sum((h * h).sum() for h in grads_theirs), theirs)
    for g, h in zip(second_ours, second_theirs):
        np.testing.assert_allclose(g, h.numpy(), **TOL)


# ----------------------------------------------------------------- softmax family, multi-class losses, conv and pooling (issue 10, part B)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_family_along_each_axis(axis):
    rng = np.random.default_rng(30)
    x = rng.standard_normal((4, 3, 5)) * 3
    x[0, 0, 0] = 1e4  # stability: a logit far above the rest
    weights = rng.standard_normal((4, 3, 5))
    for ours_fn, theirs_fn in [
        (lambda t: tg.softmax(t, axis=axis), lambda t: F.softmax(t, dim=axis)),
        (lambda t: tg.log_softmax(t, axis=axis), lambda t: F.log_softmax(t, dim=axis)),
    ]:
        ours, theirs = both([x])
        assert_same_gradients(
            ours, theirs, (ours_fn(ours[0]) * weights).sum(), (theirs_fn(theirs[0]) * torch.tensor(weights)).sum()
        )
    ours, theirs = both([x])
    w2 = weights.sum(axis=axis, keepdims=True)
    assert_same_gradients(
        ours,
        theirs,
        (tg.logsumexp(ours[0], axis=axis, keepdims=True) * w2).sum(),
        (torch.logsumexp(theirs[0], dim=axis, keepdim=True) * torch.tensor(w2)).sum(),
    )


def test_cross_entropy_with_labels_in_both_layouts():
    rng = np.random.default_rng(31)
    Z = rng.standard_normal((10, 7)) * 4  # (classes, samples): the library's layout
    Z[3, 2] = -1e4
    labels = rng.integers(0, 10, size=7)
    ours, theirs = both([Z])
    # PyTorch puts samples first: (N, C), so its input is Z transposed.
    assert_same_gradients(ours, theirs, tg.cross_entropy(ours[0], labels), F.cross_entropy(theirs[0].T, torch.tensor(labels)))
    # Images-like logits (N, C, d): the class axis is 1, as in PyTorch.
    Z3 = rng.standard_normal((2, 4, 3))
    labels3 = rng.integers(0, 4, size=(2, 3))
    ours, theirs = both([Z3])
    assert_same_gradients(
        ours, theirs, tg.cross_entropy(ours[0], labels3, axis=1), F.cross_entropy(theirs[0], torch.tensor(labels3))
    )


def test_cross_entropy_with_probability_targets():
    rng = np.random.default_rng(32)
    Z = rng.standard_normal((6, 4))  # (N, C) here, classes on axis 1
    P = rng.random((6, 4))
    P /= P.sum(axis=1, keepdims=True)
    P[0] = 0.0  # a sample whose target does not sum to 1: the gradient is softmax * sum(p) - p
    ours, theirs = both([Z, P])
    assert_same_gradients(ours, theirs, tg.cross_entropy(ours[0], ours[1], axis=1), F.cross_entropy(theirs[0], theirs[1]))


def test_mse_loss():
    rng = np.random.default_rng(33)
    ours, theirs = both([rng.standard_normal((3, 5)), rng.standard_normal((3, 5))])
    assert_same_gradients(ours, theirs, tg.mse_loss(*ours), F.mse_loss(*theirs))


@pytest.mark.parametrize(
    "x_shape, w_shape, stride, padding, bias",
    [
        ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, True),
        ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1, True),
        ((1, 2, 8, 5), (3, 2, 2, 3), (3, 1), (0, 2), False),
        ((3, 1, 5, 5), (2, 1, 5, 5), 1, 0, True),  # the kernel covers the whole image
        ((2, 2, 4, 4), (2, 2, 1, 1), 3, 1, True),  # a stride that skips rows and columns
    ],
)
def test_conv2d(x_shape, w_shape, stride, padding, bias):
    rng = np.random.default_rng(34)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape)] + ([rng.standard_normal(w_shape[0])] if bias else [])
    ours, theirs = both(arrays)
    out_ours = tg.conv2d(*ours, stride=stride, padding=padding)
    out_theirs = F.conv2d(*theirs, stride=stride, padding=padding)
    weights = rng.standard_normal(out_theirs.shape)
    assert_same_gradients(ours, theirs, (out_ours * weights).sum(), (out_theirs * torch.tensor(weights)).sum())


@pytest.mark.parametrize("kernel_size, stride", [(2, None), (3, 1), ((2, 3), (1, 2)), (3, 2)])
def test_max_pool2d(kernel_size, stride):
    rng = np.random.default_rng(35)
    x = rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) / 10.0  # no ties: PyTorch gives a tie to one element
    ours, theirs = both([x])
    out_ours = tg.max_pool2d(ours[0], kernel_size, stride)
    out_theirs = F.max_pool2d(theirs[0], kernel_size, stride)
    weights = rng.standard_normal(out_theirs.shape)
    assert_same_gradients(ours, theirs, (out_ours * weights).sum(), (out_theirs * torch.tensor(weights)).sum())


def test_a_small_cnn_and_its_second_derivatives():
    """conv -> tanh -> max-pool -> conv -> linear -> cross-entropy: gradients and a Hessian-vector product."""
    rng = np.random.default_rng(36)
    X = rng.standard_normal((5, 1, 8, 8))
    labels = rng.integers(0, 3, size=5)
    arrays = [rng.standard_normal(s) * 0.5 for s in [(4, 1, 3, 3), (4,), (2, 4, 2, 2), (2,), (3, 8), (3, 1)]]
    vs = [rng.standard_normal(a.shape) for a in arrays]

    def ours_loss(W1, b1, W2, b2, W3, b3):
        A = tg.max_pool2d(tg.tanh(tg.conv2d(tg.Tensor(X), W1, b1, padding=1)), 2)  # (5, 4, 4, 4)
        A = tg.tanh(tg.conv2d(A, W2, b2, stride=2))  # (5, 2, 2, 2)
        return tg.cross_entropy(W3 @ A.reshape(5, 8).T + b3, labels)

    def theirs_loss(W1, b1, W2, b2, W3, b3):
        A = F.max_pool2d(torch.tanh(F.conv2d(torch.tensor(X), W1, b1, padding=1)), 2)
        A = torch.tanh(F.conv2d(A, W2, b2, stride=2))
        return F.cross_entropy((W3 @ A.reshape(5, 8).T + b3).T, torch.tensor(labels))

    ours, theirs = both(arrays)
    grads = tg.grad(ours_loss(*ours), ours, create_graph=True)
    hvp = tg.grad(sum((g * v).sum() for g, v in zip(grads, vs)), ours)
    grads_t = torch.autograd.grad(theirs_loss(*theirs), theirs, create_graph=True)
    hvp_t = torch.autograd.grad(sum((g * torch.tensor(v)).sum() for g, v in zip(grads_t, vs)), theirs)
    for i in range(len(arrays)):
        np.testing.assert_allclose(grads[i].data, grads_t[i].detach().numpy(), **TOL, err_msg=f"gradient {i}")
        np.testing.assert_allclose(hvp[i], hvp_t[i].numpy(), **TOL, err_msg=f"Hessian-vector product {i}")
