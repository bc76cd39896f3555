"""`BatchNorm1d` and `BatchNorm2d`: each channel rescaled to zero mean and unit variance.

In training, the statistics are the batch's own, and running averages of them are
kept as buffers (saved with the parameters); in evaluation, the running averages are
used, so one sample's output no longer depends on the others in its batch. This is the
layer that docs/extending.md builds step by step, generalised from features to the
channels of images.
"""

from __future__ import annotations

import numpy as np

from tinygrad_mnist.checks import check_number, check_positive_int
from tinygrad_mnist.nn.layer import Layer
from tinygrad_mnist.tensor import Function, Tensor


class BatchNormFunction(Function):
    """`weight * (x - mean) / sqrt(variance + eps) + bias` per channel (axis 1), one node.

    `mean` and `variance` (one value per channel) are passed in. With
    `batch_statistics=True` they are `x`'s own, so every sample moves them and the
    gradient of `x` carries two correction terms; otherwise they are constants.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, mean, variance, eps, batch_statistics):
        channels = (1, -1) + (1,) * (x.ndim - 2)  # broadcasts one value per channel
        inverse_std = (1 / np.sqrt(variance + eps)).astype(x.dtype).reshape(channels)
        normalised = (x - mean.reshape(channels)) * inverse_std
        ctx.normalised, ctx.inverse_std, ctx.weight = normalised, inverse_std, weight
        ctx.batch_statistics, ctx.channels = batch_statistics, channels
        return normalised * weight.reshape(channels) + bias.reshape(channels)

    @staticmethod
    def backward(ctx, grad):
        normalised, channels = ctx.normalised, ctx.channels
        others = (0, *range(2, grad.ndim))  # every axis but the channel's
        grad_bias = grad.sum(axis=others)
        grad_weight = (grad * normalised).sum(axis=others)
        grad_x = grad * (ctx.weight.reshape(channels) * ctx.inverse_std)
        if ctx.batch_statistics:
            count = grad.size // grad.shape[1]
            grad_x -= (ctx.weight.reshape(channels) * ctx.inverse_std) * (
                grad_bias.reshape(channels) + normalised * grad_weight.reshape(channels)) / count
        return grad_x, grad_weight, grad_bias


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
        if not self.training:
            return BatchNormFunction.apply(x, self.weight, self.bias, mean=self.running_mean,
                                           variance=self.running_var, eps=self.eps,
                                           batch_statistics=False)
        others = (0, *range(2, data.ndim))
        count = data.size // self.num_features
        if count < 2:
            raise ValueError(f"{name}: training needs more than one value per channel, got "
                             f"input of shape {data.shape}")
        mean, variance = data.mean(axis=others), data.var(axis=others)
        # The running variance is the unbiased estimate, as in PyTorch.
        self.running_mean += self.momentum * (mean - self.running_mean)
        self.running_var += self.momentum * (variance * count / (count - 1) - self.running_var)
        return BatchNormFunction.apply(x, self.weight, self.bias, mean=mean, variance=variance,
                                       eps=self.eps, batch_statistics=True)

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
