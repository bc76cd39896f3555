"""`Conv2d`: a 2-D convolution over NCHW images, as one `Function` built on im2col.

A convolution slides a small kernel over the image and takes a dot product at each
position. Gather every window into one row ("im2col": one row per output pixel, one
column per kernel weight) and the whole convolution becomes a single matrix product,
which is what BLAS is fastest at. The backward pass is two more products: one gives the
weight gradient, the other the input's gradient, itself a convolution (of the output's
gradient with the flipped kernel). The kernels that do this fast, channels-last and a few
images at a time, are in `conv_kernels.py`.
"""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_mnist.nn.conv_gradients import conv2d_gradients
from tinygrad_mnist.nn.conv_kernels import (
    correlate,
    correlate_weight_gradient,
    padded_channels_last,
)
from tinygrad_mnist.nn.init import get_initializer
from tinygrad_mnist.nn.layer import Layer
from tinygrad_mnist.tensor import Function, Tensor
from tinygrad_mnist.utils.checks import check_positive_int


def pair(name: str, value, owner: str, minimum: int = 1) -> tuple[int, int]:
    """`value` (an int or a pair of ints, each >= `minimum`) as a pair; else an error naming it."""
    values = (value, value) if isinstance(value, numbers.Integral) else value
    if (not isinstance(values, (tuple, list)) or len(values) != 2
            or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) for v in values)):
        raise TypeError(f"{owner}: {name} must be an int or a pair of ints, got {value!r}")
    if min(values) < minimum:
        raise ValueError(f"{owner}: {name} must be >= {minimum}, got {value!r}")
    return int(values[0]), int(values[1])


def output_size(owner: str, shape: tuple, kernel, stride, padding) -> tuple[int, int]:
    """The (height, width) of sliding `kernel` over NCHW `shape`; an error if it cannot fit."""
    if len(shape) != 4:
        raise ValueError(f"{owner}: expected a 4-D input (batch, channels, height, width), "
                         f"got shape {shape}")
    padded = (shape[2] + 2 * padding[0], shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(f"{owner}: kernel {kernel[0]}x{kernel[1]} is larger than the padded "
                         f"image {padded[0]}x{padded[1]} (input shape {shape}, padding {padding})")
    return ((padded[0] - kernel[0]) // stride[0] + 1, (padded[1] - kernel[1]) // stride[1] + 1)


def pad_images(x: np.ndarray, padding, value=0.0) -> np.ndarray:
    """`x` (NCHW) with `padding` rows and columns of `value` around each image."""
    if padding == (0, 0):
        return x
    (ph, pw) = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def window_slice(offset: tuple[int, int], out_size, stride) -> tuple:
    """The index of the pixels that kernel position `offset` touches, one per output pixel."""
    (i, j), (oh, ow), (sh, sw) = offset, out_size, stride
    return (slice(None), slice(None), slice(i, i + sh * (oh - 1) + 1, sh),
            slice(j, j + sw * (ow - 1) + 1, sw))


class Conv2dFunction(Function):
    """`x` (N, C, H, W) convolved with `weight` (O, C, KH, KW), plus `bias` (O,) if given.

    Cross-correlation, as in PyTorch: the kernel is not flipped. The work is done
    channels-last by the kernels of `conv_kernels.py` (gather, then one product per
    chunk of images); the output is an NCHW view of NHWC memory, which the next layers
    (ReLU, pooling, the next convolution) keep, so no layer converts back and forth.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0)):
        out_channels, _, kh, kw = weight.shape
        (ph, pw) = padding
        padded = padded_channels_last(x, ph, ph, pw, pw)
        out_size = output_size("conv2d", x.shape, (kh, kw), stride, padding)
        # One row per kernel weight, ordered (kh, kw, c) like a window row.
        matrix = weight.transpose(2, 3, 1, 0).reshape(-1, out_channels)
        out = correlate(padded, matrix, (kh, kw), stride, out_size, bias)  # (N, OH, OW, O)
        ctx.padded, ctx.weight, ctx.x_shape = padded, weight, x.shape
        ctx.stride, ctx.padding, ctx.weight_shape = stride, padding, weight.shape
        return out.transpose(0, 3, 1, 2)  # NCHW, as a view of the channels-last memory

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad
        n, out_channels, oh, ow = grad.shape
        _, in_channels, kh, kw = ctx.weight_shape
        grad_nhwc = np.ascontiguousarray(grad.transpose(0, 2, 3, 1))  # a view when it came so
        grad_x = grad_weight = None
        if need[0]:
            grad_x = input_gradient(grad, ctx.weight, ctx.x_shape, ctx.stride, ctx.padding)
        if need[1]:
            total = correlate_weight_gradient(ctx.padded, grad_nhwc, (kh, kw), ctx.stride,
                                              (oh, ow))  # (O, KH * KW * C)
            grad_weight = total.reshape(out_channels, kh, kw, in_channels).transpose(0, 3, 1, 2)
        if len(need) == 2:
            return grad_x, grad_weight
        return grad_x, grad_weight, (grad_nhwc.reshape(-1, out_channels).sum(axis=0)
                                     if need[2] else None)

    @staticmethod
    def backward_graph(ctx, grad):
        """The gradients as convolutions themselves, differentiable again (conv_gradients.py)."""
        return conv2d_gradients(ctx, grad)


def input_gradient(grad, weight, x_shape, stride, padding) -> np.ndarray:
    """The gradient of a convolution's input: `grad` correlated with the flipped kernel.

    Input pixel y took part in output pixels (y + padding - i) / stride for each kernel
    row i; spreading `grad` out by the stride (zeros between), padding it by
    `kernel - 1 - padding` (cropping where that is negative) and correlating it with the
    kernel flipped in both directions, channels in and out swapped, adds exactly those
    terms. Measured on W5's second layer: one gather and product, 12 ms a batch, where
    the gradient of every window (10 ms of product) added back onto the image one kernel
    offset at a time took another 25 ms.
    """
    (kh, kw), (ph, pw), (sh, sw) = weight.shape[2:], padding, stride
    h, w = x_shape[2:]
    oh, ow = grad.shape[2:]
    top, left = kh - 1 - ph, kw - 1 - pw
    # Rows and columns past the last window's reach (stride leftovers) get zero gradient.
    bottom = h + kh - 1 - top - ((oh - 1) * sh + 1)
    right = w + kw - 1 - left - ((ow - 1) * sw + 1)
    spread = padded_channels_last(grad, top, bottom, left, right, step=stride)
    flipped = weight[:, :, ::-1, ::-1].transpose(2, 3, 0, 1).reshape(-1, x_shape[1])
    return correlate(spread, flipped, (kh, kw), (1, 1), (h, w)).transpose(0, 3, 1, 2)


def conv2d(x, weight, bias=None, stride=1, padding=0) -> Tensor:
    """Convolve NCHW images `x` with `weight` (out, in, kh, kw); shapes are checked first."""
    stride = pair("stride", stride, "conv2d")
    padding = pair("padding", padding, "conv2d", minimum=0)
    return _conv2d("conv2d", x, weight, bias, stride, padding)


def _conv2d(owner, x, weight, bias, stride, padding) -> Tensor:
    x_shape = tuple(np.shape(x.data if isinstance(x, Tensor) else x))
    weight_shape = tuple(np.shape(weight.data if isinstance(weight, Tensor) else weight))
    if len(weight_shape) != 4:
        raise ValueError(f"{owner}: weight must have shape (out_channels, in_channels, kh, kw), "
                         f"got {weight_shape}")
    output_size(owner, x_shape, weight_shape[2:], stride, padding)
    if x_shape[1] != weight_shape[1]:
        raise ValueError(f"{owner}: expected {weight_shape[1]} input channels, got input of "
                         f"shape {x_shape} (batch, channels, height, width)")
    if bias is None:
        return Conv2dFunction.apply(x, weight, stride=stride, padding=padding)
    return Conv2dFunction.apply(x, weight, bias, stride=stride, padding=padding)


class Conv2d(Layer):
    """`Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True)`.

    Inputs are NCHW, `(batch, in_channels, height, width)`. `weight` has shape
    `(out_channels, in_channels, kh, kw)` and `bias` `(out_channels,)`, as in PyTorch
    and ONNX. `kernel_size`, `stride` and `padding` (zeros added on each side) are an
    int or a pair. The weight is drawn by `init` with fan-in `in_channels * kh * kw`
    (He by default); the bias starts at zero. `seed` is an int or a Generator.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 bias: bool = True, init="he_uniform", seed=None, dtype=np.float32):
        self.in_channels = check_positive_int("in_channels", in_channels, "Conv2d")
        self.out_channels = check_positive_int("out_channels", out_channels, "Conv2d")
        self.kernel_size = pair("kernel_size", kernel_size, "Conv2d")
        self.stride = pair("stride", stride, "Conv2d")
        self.padding = pair("padding", padding, "Conv2d", minimum=0)
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        # Initialisers see (fan_in, fan_out) matrices, the layout Dense uses; transpose after.
        drawn = np.asarray(get_initializer(init)((fan_in, self.out_channels),
                                                 np.random.default_rng(seed)), dtype=dtype)
        if drawn.shape != (fan_in, self.out_channels):
            raise ValueError(f"Conv2d: init returned shape {drawn.shape}, expected "
                             f"{(fan_in, self.out_channels)}")
        shape = (self.out_channels, self.in_channels, *self.kernel_size)
        self.weight = Tensor(np.ascontiguousarray(drawn.T).reshape(shape), requires_grad=True)
        self.bias = Tensor(np.zeros(self.out_channels, dtype=dtype), requires_grad=True) \
            if bias else None

    def forward(self, x):
        return _conv2d("Conv2d", x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels} -> {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")
