"""Convolution and pooling over batches of images (N, C, H, W).

The design, in four ops:

- ``im2col`` gives the sliding windows of the (padded) images as one array
  (N, C, H', W', kh, kw): numpy's ``sliding_window_view``, a view, no copy.
- ``col2im`` is its adjoint: it adds every window back onto the image it came from
  (overlapping windows add up) and crops the padding. The two are each other's
  backward, so gradients of any order flow through them.
- ``conv2d`` is one fused op: forward is a ``tensordot`` of the windows with the
  filters; its backward is written in the op table's vocabulary (transpose, reshape,
  ``@``, ``sum``) plus ``im2col``/``col2im``, so under ``create_graph=True`` it records
  ops whose own backward rules give second derivatives.
- ``max_pool2d`` takes the maximum of each window; its backward shares each window's
  gradient equally among the elements tied at the maximum (the tie rule of ``max``)
  and scatters it back with ``col2im``.

No Python loop runs over samples or pixels: the only loop, in ``col2im`` for
overlapping windows, runs over the kh * kw offsets inside a kernel.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinygraph._ops._base import Primitive, is_array
from tinygraph._shapes import fmt

# ----------------------------------------------------------------- geometry


def _pair(value, what: str, op: str, *, least: int) -> tuple:
    """An int or a pair of ints as a pair (rows, columns), each at least ``least``."""
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    whole = all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in pair)
    if len(pair) != 2 or not whole:
        raise TypeError(f"{op}: {what} must be an int or a pair of ints, got {value!r}")
    if min(pair) < least:
        kind = "positive" if least > 0 else "non-negative"
        raise ValueError(f"{op}: {what} must be {kind}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _output_size(op: str, shape: tuple, kernel: tuple, stride: tuple, padding: tuple, what: str = "x") -> tuple:
    """(H', W') of the windows of images of ``shape``, or an error naming the shapes."""
    if len(shape) != 4:
        raise ValueError(f"{op}: {what} must be a batch of images (N, C, H, W), got shape {fmt(shape)}")
    padded = (shape[2] + 2 * padding[0], shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(
            f"{op}: the kernel {fmt(kernel)} is larger than the padded input {fmt(padded)} "
            f"({what} of shape {fmt(shape)}, padding {fmt(padding)})"
        )
    return (padded[0] - kernel[0]) // stride[0] + 1, (padded[1] - kernel[1]) // stride[1] + 1


def _windows(x: np.ndarray, kernel: tuple, stride: tuple, padding: tuple) -> np.ndarray:
    """The windows of the padded images, (N, C, H', W', kh, kw): a read-only view."""
    ph, pw = padding
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    view = sliding_window_view(x, kernel, axis=(2, 3))
    sh, sw = stride
    return view if sh == sw == 1 else view[:, :, ::sh, ::sw]


def _scatter(cols: np.ndarray, size: tuple, stride: tuple, padding: tuple) -> np.ndarray:
    """Add each window of ``cols`` (N, C, H', W', kh, kw) back onto its place in (N, C, H, W) images."""
    n, c, ho, wo, kh, kw = cols.shape
    (h, w), (sh, sw), (ph, pw) = size, stride, padding
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for i, j, rows, columns in _offsets((kh, kw), (sh, sw), (ho, wo)):
        out[:, :, rows, columns] += cols[:, :, :, :, i, j]
    return out[:, :, ph : ph + h, pw : pw + w] if ph or pw else out


def _offsets(kernel: tuple, stride: tuple, size: tuple):
    """(i, j, rows, columns) for each offset (i, j) inside the kernel: the slices of the
    image that offset reads in every window at once. Looping over these (kh * kw passes,
    each over all samples and positions) keeps numpy's inner loops long."""
    (kh, kw), (sh, sw), (ho, wo) = kernel, stride, size
    for i in range(kh):
        for j in range(kw):
            yield i, j, slice(i, i + sh * (ho - 1) + 1, sh), slice(j, j + sw * (wo - 1) + 1, sw)


def im2col(v, kernel: tuple, stride: tuple, padding: tuple):
    """The windows of an array (numpy) or of a Tensor (the recorded ``im2col`` op)."""
    if is_array(v):
        return _windows(v, kernel, stride, padding)
    return Im2Col.apply(v, kernel_size=kernel, stride=stride, padding=padding)


def col2im(v, size: tuple, stride: tuple, padding: tuple):
    """The adjoint of ``im2col`` on an array (numpy) or a Tensor (the recorded ``col2im`` op)."""
    if is_array(v):
        return _scatter(v, size, stride, padding)
    return Col2Im.apply(v, image_size=size, stride=stride, padding=padding)


# ----------------------------------------------------------------- emitted numpy text


def _windows_text(x: str, kernel: tuple, stride: tuple, padding: tuple) -> str:
    (ph, pw), (sh, sw) = padding, stride
    padded = f"np.pad({x}, ((0, 0), (0, 0), ({ph}, {ph}), ({pw}, {pw})))" if ph or pw else x
    return f"np.lib.stride_tricks.sliding_window_view({padded}, {kernel!r}, axis=(2, 3))[:, :, ::{sh}, ::{sw}]"


def _scatter_text(cols: str, cols_shape: tuple, size: tuple, stride: tuple, padding: tuple, like: str) -> str:
    """``col2im`` as one numpy expression: an einsum with 0/1 placement tables P[p, i, h] =
    (p * stride + i == h + padding), one per image axis; ``like`` names an array of the dtype."""
    _, _, ho, wo, kh, kw = cols_shape
    tables = [
        f"(np.arange({n_out})[:, None, None] * {s} + np.arange({k})[None, :, None] "
        f"== np.arange({n_in})[None, None, :] + {p}).astype({like}.dtype)"
        for n_out, k, n_in, s, p in ((ho, kh, size[0], stride[0], padding[0]), (wo, kw, size[1], stride[1], padding[1]))
    ]
    return f"np.einsum('ncpqij,pih,qjw->nchw', {cols}, {tables[0]}, {tables[1]}, optimize=True)"


# ----------------------------------------------------------------- ops


class Im2Col(Primitive):
    """The sliding windows of a batch of images: (N, C, H, W) to (N, C, H', W', kh, kw).

    Entry ``[n, c, p, q, i, j]`` is the padded image ``n``, channel ``c``, at row
    ``p * stride + i`` and column ``q * stride + j``. Zero padding is added on every
    side first. The result is a read-only view of the (padded) images. Its backward is
    ``col2im``; together they are the building blocks of ``conv2d``'s backward.

    Parameters
    ----------
    x : Tensor
        Images (N, C, H, W).
    kernel_size, stride, padding : int or pair of int
        The window (kh, kw), the step between windows (>= 1) and the zeros added on each
        side (>= 0), each as one int or a (rows, columns) pair.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> x = tg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    >>> windows = tg.im2col(x, kernel_size=2, stride=2)
    >>> windows.shape
    (1, 1, 2, 2, 2, 2)
    >>> windows.data[0, 0, 1, 0].tolist()
    [[8.0, 9.0], [12.0, 13.0]]
    """

    name = "im2col"
    formula = "dx = col2im(g)"
    function = "im2col"
    __slots__ = ("kernel_size", "stride", "padding")

    def __init__(self, kernel_size, stride=1, padding=0):
        self.kernel_size = _pair(kernel_size, "kernel_size", self.name, least=1)
        self.stride = _pair(stride, "stride", self.name, least=1)
        self.padding = _pair(padding, "padding", self.name, least=0)

    def forward(self, x):
        _output_size(self.name, x.shape, self.kernel_size, self.stride, self.padding)
        return _windows(x, self.kernel_size, self.stride, self.padding)

    def backward(self, ctx, g):
        return col2im(g, ctx.parents[0].shape[2:], self.stride, self.padding)

    def emit_forward(self, ctx, x):
        return _windows_text(x, self.kernel_size, self.stride, self.padding)

    def emit_backward(self, ctx, g):
        return (_scatter_text(g, ctx.shape, ctx.parents[0].shape[2:], self.stride, self.padding, g),)


class Col2Im(Primitive):
    """The adjoint of ``im2col``: add windows (N, C, H', W', kh, kw) back onto (N, C, H, W) images.

    Where windows overlap their values add up; the padding ``im2col`` added is cropped.
    ``image_size`` (H, W) is needed because a stride can leave the last rows of an
    image outside every window. Its backward is ``im2col``.

    Parameters
    ----------
    cols : Tensor
        Windows (N, C, H', W', kh, kw), as ``im2col`` gives them.
    image_size : int or pair of int
        (H, W) of the images the windows come from.
    stride, padding : int or pair of int
        As given to ``im2col``.

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> ones = tg.Tensor(np.ones((1, 1, 2, 2, 2, 2)))   # 2 x 2 windows of 2 x 2, stride 1, on a 3 x 3 image
    >>> tg.col2im(ones, image_size=(3, 3)).data[0, 0].tolist()   # how many windows cover each pixel
    [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]
    """

    name = "col2im"
    formula = "dcols = im2col(g)"
    function = "col2im"
    __slots__ = ("image_size", "stride", "padding")

    def __init__(self, image_size, stride=1, padding=0):
        self.image_size = _pair(image_size, "image_size", self.name, least=1)
        self.stride = _pair(stride, "stride", self.name, least=1)
        self.padding = _pair(padding, "padding", self.name, least=0)

    def forward(self, cols):
        if cols.ndim != 6:
            raise ValueError(f"col2im: expects windows (N, C, H', W', kh, kw), got shape {fmt(cols.shape)}")
        images = cols.shape[:2] + self.image_size
        fits = _output_size(self.name, images, cols.shape[4:], self.stride, self.padding, what="the image")
        if cols.shape[2:4] != fits:
            raise ValueError(
                f"col2im: windows of shape {fmt(cols.shape)} do not come from images of size {fmt(self.image_size)} "
                f"(stride {fmt(self.stride)}, padding {fmt(self.padding)}), which give {fmt(fits)} windows"
            )
        return _scatter(cols, self.image_size, self.stride, self.padding)

    def backward(self, ctx, g):
        return im2col(g, ctx.parents[0].shape[4:], self.stride, self.padding)

    def emit_forward(self, ctx, cols):
        return _scatter_text(cols, ctx.parents[0].shape, self.image_size, self.stride, self.padding, cols)

    def emit_backward(self, ctx, g):
        return (_windows_text(g, ctx.parents[0].shape[4:], self.stride, self.padding),)


class Conv2d(Primitive):
    """2-D convolution (cross-correlation, as in PyTorch) of images with filters, plus a bias.

    ``out[n, f, p, q] = b[f] + sum over c, i, j of x_pad[n, c, p*sh + i, q*sw + j] * w[f, c, i, j]``.

    Forward takes the windows of the zero-padded images (``sliding_window_view``, no
    copy) and contracts them with the filters in one ``tensordot``. Backward is written
    once in the op table's vocabulary: ``dw`` is the gradient rows times the windows
    (``im2col``), ``dx`` the gradient rows times the filters added back onto the image
    (``col2im``), ``db`` the gradient summed over samples and positions; under
    ``create_graph=True`` these are recorded ops, so second derivatives work.

    Parameters
    ----------
    x : Tensor
        Images (N, C, H, W).
    w : Tensor
        Filters (F, C, kh, kw).
    b : Tensor, optional
        One bias per filter, shape (F,).
    stride : int or pair of int
        Step between windows (rows, columns); >= 1.
    padding : int or pair of int
        Zeros added on each side (rows, columns); >= 0.

    Returns
    -------
    Tensor
        (N, F, H', W') with ``H' = (H + 2 * ph - kh) // sh + 1`` (likewise W').

    Examples
    --------
    >>> import numpy as np
    >>> import tinygraph as tg
    >>> x = tg.Tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    >>> w = tg.Tensor(np.ones((2, 1, 2, 2)), requires_grad=True)
    >>> out = tg.conv2d(x, w, tg.Tensor([0.0, 100.0]), stride=2)
    >>> out.data.tolist()
    [[[[10.0, 18.0], [42.0, 50.0]], [[110.0, 118.0], [142.0, 150.0]]]]
    >>> out.sum().backward()
    >>> x.grad[0, 0].tolist()[0]
    [2.0, 2.0, 2.0, 2.0]
    """

    name = "conv2d"
    formula = (
        "dx = col2im(g · w)  (contracted over filters)",
        "dw = g · im2col(x)  (contracted over samples and positions)",
        "db = g.sum(axis=(0, 2, 3))",
    )
    saves = ("x", "w")
    function = "conv2d"
    __slots__ = ("stride", "padding")

    def __init__(self, stride=1, padding=0):
        self.stride = _pair(stride, "stride", self.name, least=1)
        self.padding = _pair(padding, "padding", self.name, least=0)

    def forward(self, x, w, b=None):
        if w.ndim != 4:
            raise ValueError(f"conv2d: w must be filters (F, C, kh, kw), got shape {fmt(w.shape)}")
        _output_size(self.name, x.shape, w.shape[2:], self.stride, self.padding)
        if x.shape[1] != w.shape[1]:
            raise ValueError(
                f"conv2d: x has {x.shape[1]} channels (shape {fmt(x.shape)}) but the filters w expect {w.shape[1]} "
                f"(shape {fmt(w.shape)})"
            )
        if b is not None and b.shape != w.shape[:1]:
            raise ValueError(f"conv2d: b must have shape (F,) = {fmt(w.shape[:1])} for w of shape {fmt(w.shape)}, got {fmt(b.shape)}")
        windows = _windows(x, w.shape[2:], self.stride, self.padding)
        out = np.tensordot(windows, w, axes=((1, 4, 5), (1, 2, 3)))  # (N, H', W', F)
        if b is not None:
            out += b  # in place: a fresh array of this size costs page faults on every call
        return out.transpose(0, 3, 1, 2)

    def backward(self, ctx, g, x, w):
        needs = ctx.needs
        n, c, h, wd = ctx.parents[0].shape
        f, _, kh, kw = ctx.parents[1].shape
        ho, wo = ctx.shape[2:]
        rows = g.transpose(0, 2, 3, 1).reshape(n * ho * wo, f)  # one row per output position
        dx = dw = None
        if needs[0]:
            cols = (rows @ w.reshape(f, c * kh * kw)).reshape(n, ho, wo, c, kh, kw)
            dx = col2im(cols.transpose(0, 3, 1, 2, 4, 5), (h, wd), self.stride, self.padding)
        if needs[1]:
            windows = im2col(x, (kh, kw), self.stride, self.padding).transpose(0, 2, 3, 1, 4, 5)
            dw = (rows.T @ windows.reshape(n * ho * wo, c * kh * kw)).reshape(f, c, kh, kw)
        if len(needs) == 2:
            return dx, dw
        return dx, dw, (g.sum(axis=(0, 2, 3)) if needs[2] else None)

    def emit_forward(self, ctx, x, w, b=None):
        windows = _windows_text(x, ctx.parents[1].shape[2:], self.stride, self.padding)
        out = f"np.einsum('ncpqij,fcij->nfpq', {windows}, {w}, optimize=True)"
        return out if b is None else f"{out} + {b}.reshape(1, -1, 1, 1)"

    def emit_backward(self, ctx, g, x, w):
        needs = ctx.needs
        dx = dw = None
        if needs[0]:
            cols = f"np.einsum('nfpq,fcij->ncpqij', {g}, {w}, optimize=True)"
            cols_shape = ctx.shape[:1] + ctx.parents[0].shape[1:2] + ctx.shape[2:] + ctx.parents[1].shape[2:]
            dx = _scatter_text(cols, cols_shape, ctx.parents[0].shape[2:], self.stride, self.padding, g)
        if needs[1]:
            windows = _windows_text(x, ctx.parents[1].shape[2:], self.stride, self.padding)
            dw = f"np.einsum('nfpq,ncpqij->fcij', {g}, {windows}, optimize=True)"
        if len(needs) == 2:
            return dx, dw
        return dx, dw, (f"{g}.sum(axis=(0, 2, 3))" if needs[2] else None)


class MaxPool2d(Primitive):
    """The maximum of each ``kernel_size`` window of a batch of images (N, C, H, W).

    ``stride`` defaults to ``kernel_size`` (windows side by side); rows and columns
    that do not fill a window are dropped, as in PyTorch. The gradient of each window
    goes to its maximum; elements tied at the maximum share it equally (the tie rule of
    ``max``), and overlapping windows add their shares.

    Parameters
    ----------
    x : Tensor
        Images (N, C, H, W).
    kernel_size : int or pair of int
    stride : int or pair of int, optional

    Examples
    --------
    >>> import tinygraph as tg
    >>> x = tg.Tensor([[[[1.0, 5.0, 2.0, 2.0], [3.0, 0.0, 2.0, 2.0]]]], requires_grad=True)
    >>> out = tg.max_pool2d(x, 2)
    >>> out.data.tolist()
    [[[[5.0, 2.0]]]]
    >>> out.sum().backward()
    >>> x.grad.tolist()
    [[[[0.0, 1.0, 0.25, 0.25], [0.0, 0.0, 0.25, 0.25]]]]
    """

    name = "max_pool2d"
    formula = "dx = col2im(g * (window == out) / count(window == out))"
    saves = ("x", "out")
    function = "max_pool2d"
    __slots__ = ("kernel_size", "stride")

    def __init__(self, kernel_size, stride=None):
        self.kernel_size = _pair(kernel_size, "kernel_size", self.name, least=1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", self.name, least=1)

    def forward(self, x):
        size = _output_size(self.name, x.shape, self.kernel_size, self.stride, (0, 0))
        out = None
        for _, _, rows, columns in _offsets(self.kernel_size, self.stride, size):
            if out is None:
                out = x[:, :, rows, columns].copy()
            else:
                np.maximum(out, x[:, :, rows, columns], out=out)
        return out

    def _shares(self, x: np.ndarray, out: np.ndarray, dtype) -> np.ndarray:
        """(N, C, H', W', kh, kw): 1 / (number of maxima) at each window's maxima, 0 elsewhere."""
        kh, kw = self.kernel_size
        hit = np.empty((kh, kw) + out.shape, dtype=bool)  # offsets first: every pass below is one long loop
        for i, j, rows, columns in _offsets(self.kernel_size, self.stride, out.shape[2:]):
            np.equal(x[:, :, rows, columns], out, out=hit[i, j])
        share = hit.astype(dtype)
        count = hit.sum(axis=(0, 1))
        # Divide when some window has ties, or has no maximum at all (a NaN: 0 / 0 makes its
        # gradient NaN, as max's is), so that a window's gradient never depends on the others.
        if count.max(initial=1) > 1 or not count.all():
            share /= count
        return share.transpose(2, 3, 4, 5, 0, 1)

    def backward(self, ctx, g, x, out):
        # Which elements are the maximum is constant almost everywhere: read it off the arrays.
        x, out = (v if is_array(v) else v.data for v in (x, out))
        share = self._shares(x, out, ctx.parents[0].dtype)
        n, c, ho, wo = ctx.shape
        return col2im(g.reshape(n, c, ho, wo, 1, 1) * share, ctx.parents[0].shape[2:], self.stride, (0, 0))

    def emit_forward(self, ctx, x):
        return f"np.max({_windows_text(x, self.kernel_size, self.stride, (0, 0))}, axis=(4, 5))"

    def emit_backward(self, ctx, g, x, out):
        hit = f"({_windows_text(x, self.kernel_size, self.stride, (0, 0))} == {out}[..., None, None])"
        share = f"({hit} / np.sum({hit}, axis=(4, 5), keepdims=True)).astype({x}.dtype)"
        cols_shape = ctx.shape + self.kernel_size
        return (_scatter_text(f"({g}[..., None, None] * {share})", cols_shape, ctx.parents[0].shape[2:], self.stride, (0, 0), x),)
