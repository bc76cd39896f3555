"""`CNN`: the classic small convolutional network for digits, as a `Sequential`."""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_mnist import ops
from tinygrad_mnist.nn.activations import LeakyReLU, ReLU, get_activation
from tinygrad_mnist.nn.batchnorm import BatchNorm1d, BatchNorm2d
from tinygrad_mnist.nn.conv import Conv2d
from tinygrad_mnist.nn.dense import Dense
from tinygrad_mnist.nn.flatten import Flatten
from tinygrad_mnist.nn.pooling import MaxPool2d
from tinygrad_mnist.nn.sequential import Sequential
from tinygrad_mnist.utils.checks import check_positive_int


def _int_list(name: str, value) -> list[int]:
    values = [value] if isinstance(value, numbers.Integral) else value
    try:
        values = list(values)
    except TypeError:
        raise TypeError(f"CNN: {name} must be a list of positive ints, got {value!r}") from None
    return [check_positive_int(f"{name}[{i}]", v, "CNN") for i, v in enumerate(values)]


class CNN(Sequential):
    """`CNN((1, 28, 28), [16, 32], 10)`: convolution blocks, then Dense layers.

    Each entry of `channels` is a block: a `kernel_size` convolution that keeps the
    image size (odd kernels, padding `kernel_size // 2`), a `BatchNorm2d` if
    `batch_norm`, the activation and a 2x2 max pool that halves the image (a ReLU comes
    after the pool, which gives the same numbers for a quarter of the work). The
    pooled features are flattened into `hidden_sizes` Dense layers (with the
    activation, and `BatchNorm1d` if `batch_norm`) and a linear output layer of
    `num_classes`. Inputs are NCHW images (`prepare_images(..., layout="nchw")`), or
    rows of `channels * height * width` values (the flat layout), viewed as images.
    `init=None` picks He initialisation for ReLU-like activations and Xavier for the
    others. One `seed` draws every layer's weights in turn.
    """

    def __init__(self, input_shape=(1, 28, 28), channels=(16, 32), num_classes: int = 10,
                 kernel_size: int = 5, hidden_sizes=(), batch_norm: bool = False,
                 activation="relu", init=None, seed=None, dtype=np.float32):
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
            raise TypeError(f"CNN: input_shape must be (channels, height, width), got "
                            f"{input_shape!r}")
        in_channels, height, width = (check_positive_int(f"input_shape[{i}]", n, "CNN")
                                      for i, n in enumerate(input_shape))
        channels = _int_list("channels", channels)
        hidden_sizes = _int_list("hidden_sizes", hidden_sizes)
        num_classes = check_positive_int("num_classes", num_classes, "CNN")
        kernel_size = check_positive_int("kernel_size", kernel_size, "CNN")
        if kernel_size % 2 == 0:
            raise ValueError(f"CNN: kernel_size must be odd (so padding keeps the image size), "
                             f"got {kernel_size}")
        probe = get_activation(activation)  # fail on a bad name before building anything
        if init is None:
            init = "he_uniform" if isinstance(probe, (ReLU, LeakyReLU)) else "xavier_uniform"
        rng = np.random.default_rng(seed)
        layers = []
        for out_channels in channels:
            if min(height, width) < 2:
                raise ValueError(f"CNN: {len(channels)} pooling blocks need an image of at "
                                 f"least {2 ** len(channels)} pixels a side, got "
                                 f"{tuple(input_shape)}")
            layers.append(Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2,
                                 bias=not batch_norm, init=init, seed=rng, dtype=dtype))
            if batch_norm:
                layers.append(BatchNorm2d(out_channels, dtype=dtype))
            block = [get_activation(activation), MaxPool2d(2)]
            if type(block[0]) is ReLU:
                # Pool first: max(relu(x)) is relu(max(x)), value for value, and the
                # gradient reaches the same pixel, but the ReLU then works on a quarter
                # of the numbers (W5: about 7 ms of an 85 ms step). tests/nn/test_cnn.py
                # holds the two orders to the same outputs and gradients.
                block.reverse()
            layers += block
            in_channels, height, width = out_channels, height // 2, width // 2
        layers.append(Flatten())
        features = in_channels * height * width
        for size in hidden_sizes:
            layers.append(Dense(features, size, bias=not batch_norm, init=init, seed=rng,
                                dtype=dtype))
            if batch_norm:
                layers.append(BatchNorm1d(size, dtype=dtype))
            layers.append(get_activation(activation))
            features = size
        layers.append(Dense(features, num_classes, init=init, seed=rng, dtype=dtype))
        super().__init__(*layers)
        self.input_shape = tuple(int(n) for n in input_shape)
        self.channels, self.hidden_sizes = tuple(channels), tuple(hidden_sizes)

    def forward(self, x):
        if x.ndim == 2 and x.shape[1] == int(np.prod(self.input_shape)):
            x = ops.Reshape.apply(x, shape=(x.shape[0], *self.input_shape))  # a view
        return super().forward(x)

    def extra_repr(self) -> str:
        return (f"{self.input_shape} -> conv {list(self.channels)} -> "
                f"dense {[*self.hidden_sizes, self[-1].out_features]}")
