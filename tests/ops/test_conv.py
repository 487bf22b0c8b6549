"""conv2d, max_pool2d, im2col and col2im (tinygraph/_ops/conv.py) against loops written
out by hand: values and gradients at asymmetric strides and paddings (rows and columns
differ, so a swapped pair shows), gradients asked for only some inputs, second
derivatives, the tie rule of pooling, dtypes, the compiled code, and every error message
in full."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import tinygraph as tg
from tinygraph.testing import gradcheck, gradgradcheck

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for the op table's loop oracles
from test_ops import _windows_loop  # noqa: E402

RNG = np.random.default_rng(20261129)

# (x shape, w shape, stride, padding): rows and columns always differ somewhere, and some
# strides leave the last rows or columns of the image outside every window.
GEOMETRIES = [
    ((2, 3, 5, 6), (4, 3, 3, 2), (2, 1), (1, 0)),
    ((1, 2, 4, 7), (3, 2, 2, 3), (1, 3), (0, 2)),
    ((2, 1, 6, 5), (2, 1, 3, 3), (2, 2), (1, 1)),
    ((1, 2, 3, 4), (2, 2, 1, 2), (1, 1), (0, 0)),
    ((1, 1, 7, 4), (1, 1, 4, 1), (3, 1), (2, 0)),
    ((1, 2, 3, 4), (2, 2, 5, 4), (1, 2), (1, 0)),  # the kernel is exactly the padded image: one window
]


def _pad(x, padding):
    ph, pw = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def _conv_loops(x, w, b, stride, padding):
    """out[n, f, p, q] = b[f] + sum_{c,i,j} x_pad[n, c, p*sh + i, q*sw + j] * w[f, c, i, j], by loops."""
    xp = _pad(x, padding)
    n, _, hp, wp = xp.shape
    f, _, kh, kw = w.shape
    sh, sw = stride
    ho, wo = (hp - kh) // sh + 1, (wp - kw) // sw + 1
    out = np.zeros((n, f, ho, wo))
    for p in range(ho):
        for q in range(wo):
            patch = xp[:, :, p * sh : p * sh + kh, q * sw : q * sw + kw]
            out[:, :, p, q] = np.einsum("ncij,fcij->nf", patch, w)
    return out if b is None else out + b.reshape(1, -1, 1, 1)


def _scatter_loops(cols, size, stride, padding):
    n, c, ho, wo, kh, kw = cols.shape
    (ph, pw), (sh, sw) = padding, stride
    out = np.zeros((n, c, size[0] + 2 * ph, size[1] + 2 * pw))
    for p in range(ho):
        for q in range(wo):
            out[:, :, p * sh : p * sh + kh, q * sw : q * sw + kw] += cols[:, :, p, q]
    return out[:, :, ph : ph + size[0], pw : pw + size[1]]


def _pool_loops(x, kernel, stride):
    kh, kw = kernel
    sh, sw = stride
    ho, wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.zeros(x.shape[:2] + (ho, wo))
    for p in range(ho):
        for q in range(wo):
            out[:, :, p, q] = x[:, :, p * sh : p * sh + kh, q * sw : q * sw + kw].max(axis=(2, 3))
    return out


# ----------------------------------------------------------------- conv2d


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GEOMETRIES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d_is_the_cross_correlation_written_as_loops(x_shape, w_shape, stride, padding, with_bias):
    x, w = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)
    b = RNG.standard_normal(w_shape[:1]) if with_bias else None
    out = tg.conv2d(x, w, b, stride=stride, padding=padding)
    want = _conv_loops(x, w, b, stride, padding)
    assert out.shape == want.shape
    np.testing.assert_allclose(out.data, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GEOMETRIES)
def test_conv2d_gradients_match_finite_differences(x_shape, w_shape, stride, padding):
    x, w, b = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape), RNG.standard_normal(w_shape[:1])
    assert gradcheck(lambda x, w, b: tg.conv2d(x, w, b, stride=stride, padding=padding), x, w, b)
    assert gradcheck(lambda x, w: tg.conv2d(x, w, stride=stride, padding=padding), x, w)


@pytest.mark.parametrize("wanted", [(0,), (1,), (2,), (0, 2), (1, 2), (0, 1)])
def test_conv2d_gives_each_input_that_asks_the_same_gradient_as_when_all_ask(wanted):
    """The backward computes only what is needed; what it computes must not depend on the others."""
    x_shape, w_shape, stride, padding = GEOMETRIES[0]
    arrays = [RNG.standard_normal(x_shape), RNG.standard_normal(w_shape), RNG.standard_normal(w_shape[:1])]
    seed = RNG.standard_normal(tg.conv2d(*arrays, stride=stride, padding=padding).shape)
    every = [tg.Tensor(a, requires_grad=True) for a in arrays]
    tg.conv2d(*every, stride=stride, padding=padding).backward(seed)
    some = [tg.Tensor(a, requires_grad=i in wanted) for i, a in enumerate(arrays)]
    tg.conv2d(*some, stride=stride, padding=padding).backward(seed)
    for i, (full, part) in enumerate(zip(every, some)):
        if i in wanted:
            np.testing.assert_allclose(part.grad, full.grad, rtol=1e-12, atol=1e-12)
        else:
            assert part.grad is None


def test_conv2d_without_bias_gives_the_gradients_of_x_and_w_alone():
    x_shape, w_shape, stride, padding = GEOMETRIES[1]
    x, w = tg.Tensor(RNG.standard_normal(x_shape)), tg.Tensor(RNG.standard_normal(w_shape), requires_grad=True)
    out = tg.conv2d(x, w, stride=stride, padding=padding)
    out.backward(np.ones(out.shape))
    # d(sum out)/dw[f, c, i, j] is the sum of every window's (c, i, j) element.
    windows = _windows_loop(x.data, w_shape[2:], stride, padding)
    np.testing.assert_allclose(w.grad, np.broadcast_to(windows.sum(axis=(0, 2, 3)), w_shape), rtol=1e-12)
    assert x.grad is None


def test_conv2d_bias_gradient_is_the_output_gradient_summed_over_samples_and_positions():
    x = tg.Tensor(RNG.standard_normal((2, 1, 4, 5)))
    w = tg.Tensor(RNG.standard_normal((3, 1, 2, 2)))
    b = tg.Tensor(np.zeros(3), requires_grad=True)
    out = tg.conv2d(x, w, b, stride=(1, 2))
    seed = RNG.standard_normal(out.shape)
    out.backward(seed)
    np.testing.assert_allclose(b.grad, seed.sum(axis=(0, 2, 3)), rtol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GEOMETRIES[:3])
def test_conv2d_second_derivatives_match_finite_differences(x_shape, w_shape, stride, padding):
    x, w, b = RNG.standard_normal(x_shape), RNG.standard_normal(w_shape), RNG.standard_normal(w_shape[:1])
    assert gradgradcheck(lambda x, w, b: tg.conv2d(x, w, b, stride=stride, padding=padding), x, w, b)


def test_conv2d_keeps_float32_in_values_and_gradients():
    x = tg.Tensor(RNG.standard_normal((1, 2, 5, 4)).astype(np.float32), requires_grad=True)
    w = tg.Tensor(RNG.standard_normal((3, 2, 2, 3)).astype(np.float32), requires_grad=True)
    b = tg.Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    out = tg.conv2d(x, w, b, stride=(2, 1), padding=(0, 1))
    assert out.dtype == np.float32
    out.sum().backward()
    assert (x.grad.dtype, w.grad.dtype, b.grad.dtype) == (np.float32,) * 3


def test_conv2d_accepts_strides_and_paddings_as_lists_and_numpy_ints():
    x, w = RNG.standard_normal((1, 1, 5, 6)), RNG.standard_normal((1, 1, 2, 2))
    want = _conv_loops(x, w, None, (2, 1), (1, 0))
    got = tg.conv2d(x, w, stride=[np.int64(2), 1], padding=(np.int32(1), 0))
    np.testing.assert_allclose(got.data, want, rtol=1e-12)
    assert tg.conv2d(x, w, stride=3, padding=2).shape == _conv_loops(x, w, None, (3, 3), (2, 2)).shape


# ----------------------------------------------------------------- im2col and col2im


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GEOMETRIES)
def test_im2col_gives_every_window_and_col2im_adds_them_back(x_shape, w_shape, stride, padding):
    x = RNG.standard_normal(x_shape)
    kernel = w_shape[2:]
    windows = tg.im2col(x, kernel_size=kernel, stride=stride, padding=padding)
    want = _windows_loop(x, kernel, stride, padding)
    assert windows.shape == want.shape
    assert np.array_equal(windows.data, want)
    cols = RNG.standard_normal(want.shape)
    back = tg.col2im(cols, image_size=x_shape[2:], stride=stride, padding=padding)
    assert back.shape == x_shape
    np.testing.assert_allclose(back.data, _scatter_loops(cols, x_shape[2:], stride, padding), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GEOMETRIES)
def test_im2col_and_col2im_are_adjoint_and_each_others_gradient(x_shape, w_shape, stride, padding):
    x = RNG.standard_normal(x_shape)
    kernel = w_shape[2:]
    cols = RNG.standard_normal(_windows_loop(x, kernel, stride, padding).shape)
    # <im2col(x), cols> == <x, col2im(cols)>
    left = np.sum(tg.im2col(x, kernel, stride, padding).data * cols)
    right = np.sum(x * tg.col2im(cols, x_shape[2:], stride, padding).data)
    np.testing.assert_allclose(left, right, rtol=1e-12)
    assert gradcheck(lambda x: tg.im2col(x, kernel, stride, padding), x)
    assert gradcheck(lambda c: tg.col2im(c, x_shape[2:], stride, padding), cols)
    assert gradgradcheck(lambda x: tg.im2col(x, kernel, stride, padding) ** 2, x)
    assert gradgradcheck(lambda c: tg.col2im(c, x_shape[2:], stride, padding) ** 2, cols)


def test_im2col_without_padding_is_a_read_only_view_of_the_images():
    x = np.arange(24.0).reshape(1, 2, 3, 4)
    windows = tg.im2col(x, (2, 2)).data
    assert np.shares_memory(windows, x)
    assert not windows.flags.writeable


def test_col2im_counts_the_windows_covering_each_pixel():
    ones = np.ones((1, 1, 2, 3, 2, 2))  # 2 x 2 windows at stride (2, 1) on a 5 x 4 image
    counts = tg.col2im(ones, image_size=(5, 4), stride=(2, 1)).data[0, 0]
    assert counts.tolist() == [[1, 2, 2, 1], [1, 2, 2, 1], [1, 2, 2, 1], [1, 2, 2, 1], [0, 0, 0, 0]]
    padded = tg.col2im(np.ones((1, 1, 3, 2, 2, 2)), image_size=(2, 3), stride=1, padding=(1, 0)).data[0, 0]
    assert padded.tolist() == [[2, 4, 2], [2, 4, 2]]  # the padding's share of each window is cropped
    row = tg.col2im(np.ones((1, 1, 1, 3, 1, 2)), image_size=(1, 4)).data[0, 0]  # an image of one row
    assert row.tolist() == [[1, 2, 2, 1]]
    assert tg.im2col(np.arange(4.0).reshape(1, 1, 1, 4), (1, 2), stride=(1, 2)).data[0, 0, 0].tolist() == [[[0, 1]], [[2, 3]]]


def test_im2col_and_col2im_keep_float32():
    x = np.ones((1, 1, 4, 4), dtype=np.float32)
    assert tg.im2col(x, 2, 2, 1).dtype == np.float32
    assert tg.col2im(np.ones((1, 1, 3, 3, 2, 2), dtype=np.float32), (4, 4), 1).dtype == np.float32


# ----------------------------------------------------------------- max_pool2d


@pytest.mark.parametrize(
    "shape, kernel, stride",
    [((2, 3, 5, 6), (2, 3), None), ((1, 2, 6, 5), (3, 2), (2, 1)), ((1, 1, 4, 7), 2, (1, 3)), ((1, 1, 3, 3), 1, None)],
)
def test_max_pool2d_is_the_maximum_of_each_window(shape, kernel, stride):
    x = RNG.standard_normal(shape)
    out = tg.max_pool2d(x, kernel, stride)
    pair = (kernel, kernel) if isinstance(kernel, int) else kernel
    want = _pool_loops(x, pair, pair if stride is None else stride)
    assert out.shape == want.shape
    assert np.array_equal(out.data, want)
    assert gradcheck(lambda x: tg.max_pool2d(x, kernel, stride), x)


def test_max_pool2d_gradient_goes_to_the_maximum_of_each_window():
    x = tg.Tensor([[[[1.0, 7.0, 2.0], [4.0, 3.0, 9.0], [5.0, 0.0, 8.0]]]], requires_grad=True)
    out = tg.max_pool2d(x, 2, stride=1)  # windows overlap: 7, 9 / 5, 9
    assert out.data.tolist() == [[[[7.0, 9.0], [5.0, 9.0]]]]
    out.backward(np.array([[[[1.0, 10.0], [100.0, 1000.0]]]]))
    assert x.grad.tolist() == [[[[0.0, 1.0, 0.0], [0.0, 0.0, 1010.0], [100.0, 0.0, 0.0]]]]


def test_max_pool2d_two_elements_tied_at_the_maximum_get_half_each():
    x = tg.Tensor([[[[3.0, 1.0, 0.0, 6.0], [3.0, 2.0, 6.0, 5.0]]]], requires_grad=True)
    tg.max_pool2d(x, 2).backward(np.array([[[[2.0, 4.0]]]]))
    assert x.grad.tolist() == [[[[1.0, 0.0, 0.0, 2.0], [1.0, 0.0, 2.0, 0.0]]]]


def test_max_pool2d_three_elements_tied_get_a_third_each_and_others_keep_theirs():
    x = tg.Tensor([[[[4.0, 4.0, 0.0, 1.0], [4.0, 1.0, 2.0, 0.0]]]], requires_grad=True)
    tg.max_pool2d(x, 2).backward(np.array([[[[3.0, 5.0]]]]))
    assert x.grad.tolist() == [[[[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 5.0, 0.0]]]]


def test_max_pool2d_float32_ties_share_in_float32_arithmetic():
    # Two overlapping windows, three maxima tied in each; the middle column's maxima get a
    # third of both gradients. In float32 each third is rounded before the two add up,
    # which differs in the last bit from working in float64 and rounding once at the end.
    x = tg.Tensor(np.array([[[[5.0, 5.0, 5.0], [5.0, 0.0, 5.0]]]], dtype=np.float32), requires_grad=True)
    out = tg.max_pool2d(x, 2, stride=1)
    assert out.dtype == np.float32
    g = np.array([[[[0.1, 0.2]]]], dtype=np.float32)
    out.backward(g)
    assert x.grad.dtype == np.float32
    third = np.float32(1 / 3)
    left, right = g[0, 0, 0, 0] * third, g[0, 0, 0, 1] * third
    assert left + right != np.float32(float(g[0, 0, 0, 0]) / 3 + float(g[0, 0, 0, 1]) / 3)  # the case is a telling one
    assert x.grad.tolist() == [[[[left, left + right, right], [left, 0.0, right]]]]


@pytest.mark.parametrize("other_window", [[3.0, 1.0], [3.0, 3.0]], ids=["no ties elsewhere", "ties elsewhere"])
def test_max_pool2d_window_holding_a_nan_has_a_nan_gradient_whatever_the_other_windows(other_window):
    # No element equals a NaN maximum, so the window has no maximum to give its gradient to:
    # 0 / 0, NaN, as for max. (It once gave 0 instead when no other window had a tie.)
    x = tg.Tensor([[[[1.0, np.nan, 0.0, other_window[0]], [0.5, 0.2, other_window[1], 1.0]]]], requires_grad=True)
    with np.errstate(invalid="ignore"):
        tg.max_pool2d(x, 2).sum().backward()
    assert np.isnan(x.grad[..., :2]).all()
    share = 1.0 / sum(v == 3.0 for v in other_window)
    assert x.grad[..., 2:].tolist() == [[[[0.0, share], [share if other_window[1] == 3.0 else 0.0, 0.0]]]]


def test_max_pool2d_float32_gradient_under_create_graph_stays_float32():
    x = tg.Tensor(np.array([[[[2.0, 2.0], [2.0, 1.0]]]], dtype=np.float32), requires_grad=True)
    (gx,) = tg.grad(tg.max_pool2d(x, 2).sum() * 3, [x], create_graph=True)
    assert gx.dtype == np.float32
    np.testing.assert_allclose(gx.data, [[[[1.0, 1.0], [1.0, 0.0]]]], rtol=1e-6)


def test_max_pool2d_of_an_empty_batch_is_empty_and_so_is_its_gradient():
    x = tg.Tensor(np.zeros((0, 2, 4, 4)), requires_grad=True)
    out = tg.max_pool2d(x, 2)
    assert out.shape == (0, 2, 2, 2)
    out.sum().backward()
    assert x.grad.shape == (0, 2, 4, 4)


def test_max_pool2d_second_derivative_is_zero_almost_everywhere():
    x = RNG.standard_normal((1, 2, 4, 5))
    assert gradgradcheck(lambda x: tg.max_pool2d(x, 2, (1, 2)) ** 2, x)


@pytest.mark.parametrize(
    "op, shapes",
    [
        (lambda x, w, b: tg.conv2d(x, w, b, stride=(1, 2), padding=1), [(2, 2, 5, 5), (3, 2, 2, 3), (3,)]),
        (lambda x: tg.max_pool2d(x, 3, stride=1), [(2, 2, 5, 5)]),
        (lambda x: tg.max_pool2d(x, 2), [(1, 2, 4, 6)]),
        (lambda x: tg.im2col(x, 2, 1, 1), [(1, 2, 4, 4)]),
        (lambda c: tg.col2im(c, (4, 4), 1, 1), [(1, 2, 5, 5, 2, 2)]),
    ],
)
def test_conv_family_leaves_its_inputs_and_the_output_gradient_unchanged(op, shapes):
    arrays = [RNG.standard_normal(s) for s in shapes]
    tensors = [tg.Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = op(*tensors)
    g = RNG.standard_normal(out.shape)
    seed = g.copy()
    out.backward(seed)
    assert np.array_equal(seed, g)
    for t, a in zip(tensors, arrays):
        assert np.array_equal(t.data, a)
    assert gradcheck(op, *arrays)


# ----------------------------------------------------------------- compiled code


def _compiled_matches_eager(fn, arrays, wants):
    eager = [tg.Tensor(a.copy(), requires_grad=want) for a, want in zip(arrays, wants)]
    traced = [tg.Tensor(a.copy(), requires_grad=want) for a, want in zip(arrays, wants)]
    step = tg.compile(fn)
    want_out = fn(*eager)
    got_out = step(*traced)
    assert got_out.shape == want_out.shape and got_out.dtype == want_out.dtype
    np.testing.assert_allclose(got_out.data, want_out.data, rtol=1e-12, atol=1e-12)
    seed = RNG.uniform(0.5, 1.5, want_out.shape)
    want_out.backward(seed)
    got_out.backward(seed)
    for e, t, want in zip(eager, traced, wants):
        if want:
            assert t.grad.dtype == e.grad.dtype
            np.testing.assert_allclose(t.grad, e.grad, rtol=1e-12, atol=1e-12)
        else:
            assert t.grad is None
    return step


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GEOMETRIES)
@pytest.mark.parametrize("wants", [(True, True, True), (True, False, False), (False, True, False), (False, False, True)])
def test_compiled_conv2d_gives_the_eager_values_and_gradients(x_shape, w_shape, stride, padding, wants):
    arrays = [RNG.standard_normal(x_shape), RNG.standard_normal(w_shape), RNG.standard_normal(w_shape[:1])]
    _compiled_matches_eager(lambda x, w, b: tg.conv2d(x, w, b, stride=stride, padding=padding), arrays, wants)


@pytest.mark.parametrize("wants", [(True, True), (True, False), (False, True)])
def test_compiled_conv2d_without_bias(wants):
    x_shape, w_shape, stride, padding = GEOMETRIES[2]
    arrays = [RNG.standard_normal(x_shape), RNG.standard_normal(w_shape)]
    _compiled_matches_eager(lambda x, w: tg.conv2d(x, w, stride=stride, padding=padding), arrays, wants)


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", GEOMETRIES)
def test_compiled_im2col_and_col2im_give_the_eager_values_and_gradients(x_shape, w_shape, stride, padding):
    kernel = w_shape[2:]
    x = RNG.standard_normal(x_shape)
    _compiled_matches_eager(lambda x: tg.im2col(x, kernel, stride, padding) * 1.25, [x], [True])
    cols = RNG.standard_normal(_windows_loop(x, kernel, stride, padding).shape)
    _compiled_matches_eager(lambda c: tg.col2im(c, x_shape[2:], stride, padding), [cols], [True])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel, stride", [(2, None), ((3, 2), (1, 2)), ((2, 2), 1)])
def test_compiled_max_pool2d_gives_the_eager_values_and_gradients_with_ties(dtype, kernel, stride):
    x = np.round(RNG.standard_normal((2, 2, 5, 6)) * 2).astype(dtype)  # small integers: many ties
    if dtype == np.float32:
        step = tg.compile(lambda x: tg.max_pool2d(x, kernel, stride))
        eager, traced = tg.Tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
        want, got = tg.max_pool2d(eager, kernel, stride), step(traced)
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got.data, want.data)
        want.sum().backward()
        got.sum().backward()
        assert traced.grad.dtype == np.float32
        np.testing.assert_allclose(traced.grad, eager.grad, rtol=1e-6)
    else:
        _compiled_matches_eager(lambda x: tg.max_pool2d(x, kernel, stride), [x], [True])


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: tg.im2col(np.ones((1, 1, 4, 4)), kernel_size=0), ValueError,
         "im2col: kernel_size must be positive, got 0"),
        (lambda: tg.im2col(np.ones((1, 1, 4, 4)), kernel_size=2, stride=(1, 0)), ValueError,
         "im2col: stride must be positive, got (1, 0)"),
        (lambda: tg.im2col(np.ones((1, 1, 4, 4)), kernel_size=2, padding=-1), ValueError,
         "im2col: padding must be non-negative, got -1"),
        (lambda: tg.im2col(np.ones((1, 1, 4, 4)), kernel_size=True), TypeError,
         "im2col: kernel_size must be an int or a pair of ints, got True"),
        (lambda: tg.im2col(np.ones((1, 1, 4, 4)), kernel_size=[2, np.bool_(True)]), TypeError,
         "im2col: kernel_size must be an int or a pair of ints, got [2, np.True_]"),
        (lambda: tg.im2col(np.ones((1, 1, 4, 4)), kernel_size=(2,)), TypeError,
         "im2col: kernel_size must be an int or a pair of ints, got (2,)"),
        (lambda: tg.im2col(np.ones((1, 4, 4)), kernel_size=2), ValueError,
         "im2col: x must be a batch of images (N, C, H, W), got shape (1, 4, 4)"),
        (lambda: tg.im2col(np.ones((1, 1, 4, 3)), kernel_size=(2, 6), padding=(0, 1)), ValueError,
         "im2col: the kernel (2, 6) is larger than the padded input (4, 5) (x of shape (1, 1, 4, 3), padding (0, 1))"),
        (lambda: tg.im2col(np.ones((1, 1, 4, 3)), kernel_size=(7, 2), padding=(1, 0)), ValueError,
         "im2col: the kernel (7, 2) is larger than the padded input (6, 3) (x of shape (1, 1, 4, 3), padding (1, 0))"),
        (lambda: tg.im2col(np.ones((1, 1, 3, 8)), kernel_size=(5, 2)), ValueError,
         "im2col: the kernel (5, 2) is larger than the padded input (3, 8) (x of shape (1, 1, 3, 8), padding (0, 0))"),
        (lambda: tg.im2col(np.ones((1, 1, 8, 3)), kernel_size=(2, 5)), ValueError,
         "im2col: the kernel (2, 5) is larger than the padded input (8, 3) (x of shape (1, 1, 8, 3), padding (0, 0))"),
        (lambda: tg.col2im(np.ones((1, 1, 2, 2, 2)), image_size=3), ValueError,
         "col2im: expects windows (N, C, H', W', kh, kw), got shape (1, 1, 2, 2, 2)"),
        (lambda: tg.col2im(np.ones((1, 1, 2, 2, 2, 2)), image_size=(0, 3)), ValueError,
         "col2im: image_size must be positive, got (0, 3)"),
        (lambda: tg.col2im(np.ones((1, 1, 2, 2, 2, 2)), image_size=3, stride=0), ValueError,
         "col2im: stride must be positive, got 0"),
        (lambda: tg.col2im(np.ones((1, 1, 2, 2, 2, 2)), image_size=3, padding=(0, -2)), ValueError,
         "col2im: padding must be non-negative, got (0, -2)"),
        (lambda: tg.col2im(np.ones((1, 1, 2, 2, 2, 2)), image_size=2.0), TypeError,
         "col2im: image_size must be an int or a pair of ints, got 2.0"),
        (lambda: tg.col2im(np.ones((1, 1, 2, 3, 2, 2)), image_size=3), ValueError,
         "col2im: windows of shape (1, 1, 2, 3, 2, 2) do not come from images of size (3, 3) "
         "(stride (1, 1), padding (0, 0)), which give (2, 2) windows"),
        (lambda: tg.col2im(np.ones((1, 1, 2, 2, 4, 2)), image_size=(3, 3), stride=(1, 2)), ValueError,
         "col2im: the kernel (4, 2) is larger than the padded input (3, 3) "
         "(the image of shape (1, 1, 3, 3), padding (0, 0))"),
        (lambda: tg.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), stride=(1, 2, 3)), TypeError,
         "conv2d: stride must be an int or a pair of ints, got (1, 2, 3)"),
        (lambda: tg.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), padding="1"), TypeError,
         "conv2d: padding must be an int or a pair of ints, got '1'"),
        (lambda: tg.conv2d(np.ones((2, 3, 4, 4)), np.ones((5, 2, 3, 1))), ValueError,
         "conv2d: x has 3 channels (shape (2, 3, 4, 4)) but the filters w expect 2 (shape (5, 2, 3, 1))"),
        (lambda: tg.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 2, 2))), ValueError,
         "conv2d: w must be filters (F, C, kh, kw), got shape (1, 2, 2)"),
        (lambda: tg.conv2d(np.ones((1, 4, 4)), np.ones((1, 1, 2, 2))), ValueError,
         "conv2d: x must be a batch of images (N, C, H, W), got shape (1, 4, 4)"),
        (lambda: tg.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 2, 2)), np.ones(3)), ValueError,
         "conv2d: b must have shape (F,) = (2,) for w of shape (2, 1, 2, 2), got (3,)"),
        (lambda: tg.conv2d(np.ones((1, 1, 4, 4)), np.ones((2, 1, 2, 7)), padding=(0, 1)), ValueError,
         "conv2d: the kernel (2, 7) is larger than the padded input (4, 6) (x of shape (1, 1, 4, 4), padding (0, 1))"),
        (lambda: tg.max_pool2d(np.ones((1, 1, 4, 4)), 0), ValueError,
         "max_pool2d: kernel_size must be positive, got 0"),
        (lambda: tg.max_pool2d(np.ones((1, 1, 4, 4)), 2, stride=1.0), TypeError,
         "max_pool2d: stride must be an int or a pair of ints, got 1.0"),
        (lambda: tg.max_pool2d(np.ones((1, 1, 4, 4)), (1, 5)), ValueError,
         "max_pool2d: the kernel (1, 5) is larger than the padded input (4, 4) (x of shape (1, 1, 4, 4), padding (0, 0))"),
    ],
)
def test_conv_family_refuses_bad_input_naming_the_op_and_the_values(call, error, message):
    with pytest.raises(error) as err:
        call()
    assert str(err.value) == message
