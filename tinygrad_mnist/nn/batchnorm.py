"""`BatchNorm1d` and `BatchNorm2d`: each channel rescaled to zero mean and unit variance.

In training, the statistics are the batch's own, and running averages of them are
kept as buffers (saved with the parameters); in evaluation, the running averages are
used, so one sample's output no longer depends on the others in its batch. This is the
layer that docs/extending.md builds step by step, generalised from features to the
channels of images.
"""

from __future__ import annotations

import numpy as np

from tinygrad_mnist.nn.layer import Layer
from tinygrad_mnist.tensor import Function, Tensor
from tinygrad_mnist.utils.checks import check_number, check_positive_int


class BatchNormFunction(Function):
    """`weight * (x - mean) / sqrt(variance + eps) + bias` per channel (axis 1), one node.

    With `training=True` the mean and variance are `x`'s own, over every axis but the
    channels', and `running_mean` and `running_var` move towards them by `momentum` (in
    place, as PyTorch's `F.batch_norm` does); every sample then moves the statistics,
    so the gradient of `x` carries two correction terms. Otherwise the running
    statistics are used, as constants.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, momentum, eps, training):
        others = (0, *range(2, x.ndim))  # every axis but the channel's
        channels = (1, -1) + (1,) * (x.ndim - 2)  # broadcasts one value per channel
        rows, layout = channel_rows(x)
        count, per_row = x.size // x.shape[1], rows.shape[1] // x.shape[1]
        if training:
            mean = channel_sums(rows, x.shape[1]) / count
            centered = rows - np.tile(mean, per_row)
            variance = channel_dots(centered, centered, x.shape[1]) / count
            # The running variance is the unbiased estimate, as in PyTorch. A batch whose
            # statistics are not finite (one NaN input) leaves them as they were: once
            # in, a NaN would stay in every later evaluation.
            if np.isfinite(mean).all() and np.isfinite(variance).all():
                running_mean += momentum * (mean - running_mean)
                running_var += momentum * (variance * (count / (count - 1)) - running_var)
        else:
            centered, variance = rows - np.tile(running_mean, per_row), running_var
        inverse_std = (1 / np.sqrt(variance + eps)).astype(x.dtype)
        # out = centered * (weight * inverse_std) + bias: `normalised` itself is never
        # made, backward folds inverse_std into its per-channel factors instead. With
        # channel_dots and backward's reordered sum: 3 arrays the size of x a step instead
        # of 6, 11 passes over them instead of 14, and the cnn preset's BatchNorm2d forward
        # + backward 1.93 -> 1.54 ms (28x28) and 0.83 -> 0.70 ms (14x14) of CPU (batch 64,
        # one BLAS thread, load 1.5, min of 15).
        scale = weight * inverse_std
        out = centered * np.tile(scale, per_row)
        out += np.tile(bias, per_row)
        ctx.centered, ctx.inverse_std = from_channel_rows(centered, layout), inverse_std
        ctx.scale = scale.reshape(channels)
        ctx.training, ctx.others, ctx.channels = training, others, channels
        # For backward_graph: the statistics of evaluation mode as they were (training
        # mode recomputes the batch's own from x).
        ctx.eps, ctx.statistics = eps, None if training else (
            running_mean.reshape(channels).copy(), inverse_std.reshape(channels))
        return from_channel_rows(out, layout)

    @staticmethod
    def backward(ctx, grad):
        c = grad.shape[1]
        rows, layout = channel_rows(grad)
        centered = channel_rows(ctx.centered)[0]  # a view: it was made in this layout
        per_row, scale = rows.shape[1] // c, ctx.scale.reshape(-1)
        grad_bias = channel_sums(rows, c)
        grad_weight = channel_dots(rows, centered, c) * ctx.inverse_std  # grad . normalised
        if not ctx.training:
            return from_channel_rows(rows * np.tile(scale, per_row), layout), grad_weight, grad_bias
        count = grad.size // c
        # (grad - grad_bias / count - normalised * grad_weight / count) * scale, added up
        # in an order where no term needs an array of its own.
        grad_x = centered * np.tile(-grad_weight * ctx.inverse_std / count, per_row)
        grad_x += rows
        grad_x -= np.tile(grad_bias / count, per_row)
        grad_x *= np.tile(scale, per_row)
        return from_channel_rows(grad_x, layout), grad_weight, grad_bias

    @staticmethod
    def backward_graph(ctx, grad):
        # backward's formulas with Tensor ops; in training, the batch statistics are
        # recomputed from x as Tensors, since they too depend on x.
        x, weight = ctx.inputs[0], ctx.inputs[1]
        channels, others = ctx.channels, ctx.others
        if ctx.training:
            centered = x - x.mean(axis=others, keepdims=True)
            variance = (centered * centered).mean(axis=others, keepdims=True)
            inverse_std = 1 / (variance + ctx.eps).sqrt()
        else:
            mean, inverse_std = ctx.statistics
            centered = x - mean
        normalised = centered * inverse_std
        grad_bias = grad.sum(axis=others)
        grad_weight = (grad * normalised).sum(axis=others)
        scale = weight.reshape(channels) * inverse_std
        if not ctx.training:
            return grad * scale, grad_weight, grad_bias
        count = grad.size // grad.shape[1]
        grad_x = (grad - (grad_bias / count).reshape(channels)
                  - normalised * (grad_weight / count).reshape(channels)) * scale
        return grad_x, grad_weight, grad_bias


# The work is done on a 2-D view with the channels innermost: a view of the channels-last
# memory that Conv2d hands on (a copy for other layouts), with a whole image row (W pixels)
# per row, so that each per-channel vector, tiled W times, meets NumPy's inner loops in
# runs of W * C numbers instead of C, and the sums over pixels are one matrix-vector
# product each. Measured on the cnn preset (batch 64, one BLAS thread): BatchNorm2d's
# 28x28 maps 2.3x faster (forward and backward alike) than NumPy's reductions and broadcasts
# over the NCHW axes, the 14x14 ones 1.7x (forward) and as fast (backward).


def channel_rows(x: np.ndarray):
    """`x` as (rows, per_row * C), channels innermost, and what `from_channel_rows` needs."""
    moved = np.moveaxis(x, 1, -1)
    per_row = x.shape[-1] if x.ndim > 2 else 1
    return moved.reshape(-1, per_row * x.shape[1]), moved.shape


def from_channel_rows(rows: np.ndarray, layout) -> np.ndarray:
    """The (N, C, ...) view of what `channel_rows` made."""
    return np.moveaxis(rows.reshape(layout), -1, 1)


def channel_sums(rows: np.ndarray, channels: int) -> np.ndarray:
    """The sum of each channel over every pixel of `rows` (from `channel_rows`)."""
    return (np.ones(len(rows), rows.dtype) @ rows).reshape(-1, channels).sum(axis=0)


def channel_dots(rows: np.ndarray, others: np.ndarray, channels: int) -> np.ndarray:
    """The sum of each channel of `rows * others` over every pixel, with no product array.

    One pass that writes nothing, where `channel_sums(rows * others)` wrote a product as
    large as `x` (3.2 MB on the cnn preset's 28x28 maps) and read it back.
    """
    return np.einsum("ij,ij->j", rows, others).reshape(-1, channels).sum(axis=0)


class _BatchNorm(Layer):
    """What BatchNorm1d and BatchNorm2d share; they differ only in the inputs they take."""

    input_dims: tuple[int, ...] = ()
    input_layout = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 dtype=np.float32):
        name = type(self).__name__
        self.num_features = check_positive_int("num_features", num_features, name)
        self.eps = check_number("eps", eps, name, low=0.0)
        if self.eps == 0:
            raise ValueError(f"{name}: eps must be positive, got {eps}")
        self.momentum = check_number("momentum", momentum, name, low=0.0, high=1.0)
        self.weight = Tensor(np.ones(num_features, dtype=dtype), requires_grad=True)
        self.bias = Tensor(np.zeros(num_features, dtype=dtype), requires_grad=True)
        self.register_buffer("running_mean", np.zeros(num_features, dtype=dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype=dtype))

    def forward(self, x):
        data = x.data if isinstance(x, Tensor) else np.asarray(x)
        name = type(self).__name__
        if data.ndim not in self.input_dims or data.shape[1] != self.num_features:
            raise ValueError(f"{name}: expected input of shape {self.input_layout} with "
                             f"channels = {self.num_features}, got shape {data.shape}")
        if self.training and data.size // self.num_features < 2:
            raise ValueError(f"{name}: training needs more than one value per channel, got "
                             f"input of shape {data.shape}")
        return BatchNormFunction.apply(x, self.weight, self.bias, running_mean=self.running_mean,
                                       running_var=self.running_var, momentum=self.momentum,
                                       eps=self.eps, training=self.training)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}"


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of `(batch, num_features)` or `(batch, num_features, length)` inputs.

    `weight` (ones) and `bias` (zeros) are parameters; `running_mean` and
    `running_var` are buffers, updated as `running += momentum * (batch - running)`.
    """

    input_dims = (2, 3)
    input_layout = "(batch, features) or (batch, features, length)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of NCHW images, per channel over the batch and all pixels.

    `weight` (ones) and `bias` (zeros) are parameters; `running_mean` and
    `running_var` are buffers, updated as `running += momentum * (batch - running)`.
    """

    input_dims = (4,)
    input_layout = "(batch, channels, height, width)"
