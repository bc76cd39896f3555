"""A convolution's gradients are convolutions too: the ops that make Conv2d differentiable twice.

`Conv2dFunction.backward` computes its two gradients on arrays, as fast as it can. Under
`create_graph=True` they must be Tensors whose own gradients are known, and both are
linear maps that are themselves convolutions:

- the input's gradient, `ConvInputGradient(grad, weight)`, spreads each output pixel's
  gradient back over the window it came from (a "transposed convolution");
- the weight's gradient, `ConvWeightGradient(x, grad)`, correlates the input with the
  output's gradient.

Each of the three (the convolution, `Convolution` here, and these two) is linear in
each input, and the gradient of any one of them is made of the other two, so the three
together are closed under differentiation: any order works. The arrays are computed
here with plain `np.tensordot` over the windows, which is clear rather than fast: these
ops run only when a gradient of a gradient is asked for. (This file needs nothing from
conv.py, which builds on it.)
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinygrad_mnist.tensor import Function


def conv2d_gradients(ctx, grad):
    """The input, weight (and bias) gradients of a convolution as Tensors (its backward_graph).

    `ctx` is the convolution's: its `inputs` (x, weight and maybe a bias), `stride`,
    `padding` and `needs_input_grad`.
    """
    x, weight = ctx.inputs[0], ctx.inputs[1]
    need = ctx.needs_input_grad
    where = {"stride": ctx.stride, "padding": ctx.padding}
    grad_x = ConvInputGradient.apply(grad, weight, x_shape=x.shape, **where) if need[0] else None
    grad_weight = ConvWeightGradient.apply(x, grad, weight_shape=weight.shape, **where) \
        if need[1] else None
    if len(ctx.inputs) == 2:
        return grad_x, grad_weight
    return grad_x, grad_weight, grad.sum(axis=(0, 2, 3)) if need[2] else None


class Convolution(Function):
    """`x` (N, C, H, W) convolved with `weight` (O, C, KH, KW), no bias: Conv2d's product."""

    @staticmethod
    def forward(ctx, x, weight, stride, padding):
        ctx.x, ctx.weight, ctx.stride, ctx.padding = x, weight, stride, padding
        return convolve(x, weight, stride, padding)

    @staticmethod
    def backward(ctx, upstream):
        need_x, need_weight = ctx.needs_input_grad
        where = (ctx.stride, ctx.padding)
        return (input_gradient(upstream, ctx.weight, ctx.x.shape, *where) if need_x else None,
                weight_gradient(ctx.x, upstream, ctx.weight.shape, *where)
                if need_weight else None)

    @staticmethod
    def backward_graph(ctx, upstream):
        return conv2d_gradients(ctx, upstream)


class ConvInputGradient(Function):
    """The gradient of a convolution's input: `grad` (N, O, OH, OW) spread back through `weight`."""

    @staticmethod
    def forward(ctx, grad, weight, x_shape, stride, padding):
        ctx.grad, ctx.weight, ctx.stride, ctx.padding = grad, weight, stride, padding
        return input_gradient(grad, weight, x_shape, stride, padding)

    @staticmethod
    def backward(ctx, upstream):
        need_grad, need_weight = ctx.needs_input_grad
        # <upstream, input_gradient(grad, weight)> = <convolve(upstream, weight), grad>.
        return (convolve(upstream, ctx.weight, ctx.stride, ctx.padding) if need_grad else None,
                weight_gradient(upstream, ctx.grad, ctx.weight.shape, ctx.stride, ctx.padding)
                if need_weight else None)

    @staticmethod
    def backward_graph(ctx, upstream):
        grad, weight = ctx.inputs
        where = {"stride": ctx.stride, "padding": ctx.padding}
        return (Convolution.apply(upstream, weight, **where),
                ConvWeightGradient.apply(upstream, grad, weight_shape=weight.shape, **where))


class ConvWeightGradient(Function):
    """The gradient of a convolution's weight: input `x` correlated with the output's `grad`."""

    @staticmethod
    def forward(ctx, x, grad, weight_shape, stride, padding):
        ctx.x, ctx.grad, ctx.stride, ctx.padding = x, grad, stride, padding
        return weight_gradient(x, grad, weight_shape, stride, padding)

    @staticmethod
    def backward(ctx, upstream):
        need_x, need_grad = ctx.needs_input_grad
        # <upstream, weight_gradient(x, grad)> = <convolve(x, upstream), grad>.
        return (input_gradient(ctx.grad, upstream, ctx.x.shape, ctx.stride, ctx.padding)
                if need_x else None,
                convolve(ctx.x, upstream, ctx.stride, ctx.padding) if need_grad else None)

    @staticmethod
    def backward_graph(ctx, upstream):
        x, grad = ctx.inputs
        where = {"stride": ctx.stride, "padding": ctx.padding}
        return (ConvInputGradient.apply(grad, upstream, x_shape=x.shape, **where),
                Convolution.apply(x, upstream, **where))


# ---------------------------------------------------------- the same maps on arrays


def _padded(x, padding) -> np.ndarray:
    (ph, pw) = padding
    return np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x


def _windows(x, kernel, stride, padding, out_size) -> np.ndarray:
    """Every window of the padded images, (N, C, OH, OW, KH, KW), as a view."""
    windows = sliding_window_view(_padded(x, padding), tuple(kernel), axis=(2, 3))
    return windows[:, :, ::stride[0], ::stride[1]][:, :, :out_size[0], :out_size[1]]


def convolve(x, weight, stride, padding) -> np.ndarray:
    """`x` (N, C, H, W) convolved with `weight` (O, C, KH, KW), no bias: (N, O, OH, OW)."""
    out_size = [(side + 2 * p - k) // s + 1 for side, p, k, s
                in zip(x.shape[2:], padding, weight.shape[2:], stride)]
    windows = _windows(x, weight.shape[2:], stride, padding, out_size)
    return np.tensordot(windows, weight, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)


def input_gradient(grad, weight, x_shape, stride, padding) -> np.ndarray:
    """Each output pixel's gradient times the kernel, added back onto the window it came from."""
    (kh, kw), (ph, pw), (h, w) = weight.shape[2:], padding, x_shape[2:]
    per_window = np.tensordot(grad, weight, axes=([1], [0]))  # (N, OH, OW, C, KH, KW)
    padded = np.zeros((x_shape[0], x_shape[1], h + 2 * ph, w + 2 * pw),
                      np.result_type(grad, weight))
    (oh, ow), (sh, sw) = grad.shape[2:], stride
    for i in range(kh):  # kernel offset (i, j) of every window touched this strided slice
        for j in range(kw):
            padded[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += \
                per_window[..., i, j].transpose(0, 3, 1, 2)
    return padded[:, :, ph:ph + h, pw:pw + w]


def weight_gradient(x, grad, weight_shape, stride, padding) -> np.ndarray:
    """Each kernel weight's gradient: its input pixels times the output's gradient, summed."""
    windows = _windows(x, weight_shape[2:], stride, padding, grad.shape[2:])
    return np.tensordot(grad, windows, axes=([0, 2, 3], [0, 2, 3]))  # (O, C, KH, KW)
