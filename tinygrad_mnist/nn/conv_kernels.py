"""The NumPy kernels under `Conv2d`: window products on channels-last images, by chunks.

`conv.py` says what a convolution is (im2col: gather every window into a row, then one
matrix product); this file makes it fast, and every choice here was measured on the W5
network (benchmarks/bench.py, one BLAS thread; docs/extending.md, "Making it fast"):

- *Channels last* (NHWC in memory). One window row, ordered (kh, kw, c), is then KH
  contiguous runs of KW * C numbers, so gathering the windows is a copy of long runs
  (80 floats for 5x5 over 16 channels, against 14 in the NCHW layout).
- *A few images at a time*. The column matrix of the whole batch is 40 MB for W5's second
  convolution; made and consumed in chunks of about `CHUNK_BYTES`, it never leaves the
  cache, and the chunk's products run at their in-cache rate.
- *The input gradient as a product*. The adjoint of the gather (adding every window back
  where it came from) cost more than the three products together; instead, the input's
  gradient is the output's gradient, spread out by the stride and padded, correlated with
  the flipped kernel: the same gather and product as the forward pass.

Arrays here are NHWC; `conv.py` hands NCHW-shaped views of them to the rest of the library.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

# About this many bytes of columns per chunk: they stay in the core's 1 MB L2 cache (on W5,
# 0.5 MB to 4 MB chunks measure within 10% of each other; the whole 40 MB batch at once,
# streamed through memory, took 1.6x as long).
CHUNK_BYTES = 2**20


def padded_channels_last(x: np.ndarray, top: int, bottom: int, left: int, right: int,
                         step=(1, 1)) -> np.ndarray:
    """NCHW `x` as a fresh NHWC array with zero borders (a negative border crops instead).

    With `step` > 1 the pixels are spread `step` apart with zeros between them (used for
    the gradient of a strided convolution).
    """
    n, c, h, w = x.shape
    spread_h, spread_w = (h - 1) * step[0] + 1, (w - 1) * step[1] + 1
    out = np.zeros((n, max(top, 0) + spread_h + max(bottom, 0),
                    max(left, 0) + spread_w + max(right, 0), c), x.dtype)
    out[:, max(top, 0):max(top, 0) + spread_h:step[0],
        max(left, 0):max(left, 0) + spread_w:step[1]] = x.transpose(0, 2, 3, 1)
    # Cropping keeps the strides: each row of a window still is one contiguous run.
    return out[:, max(-top, 0):out.shape[1] - max(-bottom, 0),
               max(-left, 0):out.shape[2] - max(-right, 0)]


def windows(padded: np.ndarray, kernel, stride, out_size) -> np.ndarray:
    """A view (N, OH, OW, KH, KW * C) of every window of NHWC `padded`, nothing copied.

    The last two axes are one window row ordered (kh, kw, c): because the channels are
    innermost and contiguous, the KW * C numbers of a kernel row are one run in memory.
    """
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_size
    n, _, _, c = padded.shape
    s_n, s_h, s_w, s_c = padded.strides
    assert s_w == c * s_c, "the channels must be contiguous"
    return as_strided(padded, (n, oh, ow, kh, kw * c), (s_n, s_h * sh, s_w * sw, s_h, s_c),
                      writeable=False)


def offset_windows(padded: np.ndarray, kernel, stride, out_size) -> np.ndarray:
    """A view (KH, KW, N, OH, OW) of every window of one-channel NHWC `padded`.

    Kernel offset first: each (kh, kw) is the image shifted by that offset, whose rows are
    runs of OW pixels (at stride 1 across), where a window row of a one-channel image is
    a run of only KW.
    """
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_size
    s_n, s_h, s_w, _ = padded.strides
    return as_strided(padded, (kh, kw, padded.shape[0], oh, ow),
                      (s_h, s_w, s_n, s_h * sh, s_w * sw), writeable=False)


def column_chunks(padded: np.ndarray, kernel, stride, out_size):
    """Yield (start, stop, columns): the column matrix of images start:stop, built in one
    reused buffer; a row per output pixel, a column per kernel weight ordered (kh, kw, c).

    For a one-channel input (the first layer) the buffer is filled offset by offset and
    the matrix is its transposed view, which BLAS reads as well (W5's first layer: the
    forward pass 1.9x and the kernel's gradient 1.3x faster than window by window).
    """
    n, c = padded.shape[0], padded.shape[3]
    (oh, ow), width = out_size, kernel[0] * kernel[1] * c
    step = max(1, min(n, CHUNK_BYTES // (oh * ow * width * padded.itemsize)))
    by_offset = c == 1 and stride[1] == 1 and ow > kernel[1]
    view = offset_windows(padded, kernel, stride, out_size) if by_offset \
        else windows(padded, kernel, stride, out_size)
    buffer = np.empty(step * oh * ow * width, padded.dtype)
    for start in range(0, n, step):
        stop = min(start + step, n)
        if by_offset:
            chunk = buffer[:(stop - start) * oh * ow * width].reshape(
                kernel[0], kernel[1], stop - start, oh, ow)
            np.copyto(chunk, view[:, :, start:stop])
            yield start, stop, chunk.reshape(width, -1).T
        else:
            chunk = buffer[:(stop - start) * oh * ow * width].reshape(stop - start, *view.shape[1:])
            np.copyto(chunk, view[start:stop])
            yield start, stop, chunk.reshape(-1, width)


def correlate(padded: np.ndarray, matrix: np.ndarray, kernel, stride, out_size,
              bias=None) -> np.ndarray:
    """Every window of NHWC `padded` times `matrix` (KH * KW * C, O), plus `bias` (O,) if
    given: an (N, OH, OW, O) array.

    The columns are made a chunk of images at a time (`column_chunks`) and multiplied
    straight into the output; the bias is added to each chunk while it is in the cache.
    """
    n, (oh, ow), out_channels = padded.shape[0], out_size, matrix.shape[1]
    out = np.empty((n, oh, ow, out_channels), np.result_type(padded, matrix))
    for start, stop, columns in column_chunks(padded, kernel, stride, out_size):
        product = out[start:stop].reshape(-1, out_channels)
        np.matmul(columns, matrix, out=product)
        if bias is not None:
            product += bias
    return out


def correlate_weight_gradient(padded: np.ndarray, grad: np.ndarray, kernel, stride,
                              out_size) -> np.ndarray:
    """The sum over all windows of `grad` (N, OH, OW, O) times the window: (O, KH * KW * C).

    The gradient of `correlate`'s `matrix` (transposed), with the columns rebuilt chunk
    by chunk in the cache rather than kept from the forward pass (40 MB for W5 that a
    product then had to stream back from memory).
    """
    out_channels = grad.shape[3]
    total = np.zeros((out_channels, kernel[0] * kernel[1] * padded.shape[3]),
                     np.result_type(padded, grad))
    for start, stop, columns in column_chunks(padded, kernel, stride, out_size):
        total += grad[start:stop].reshape(-1, out_channels).T @ columns
    return total
