"""Activations as layers (`ReLU()`) and as functions (`relu(x)`), addressable by name.

The elementwise ops themselves live in the engine (`ops.py`) and are stable at any
input size; `LeakyReLU` is the one op defined here.
"""

from __future__ import annotations

import numbers
from types import MappingProxyType

import numpy as np

from tinygrad_mnist import ops
from tinygrad_mnist.nn.layer import Layer
from tinygrad_mnist.tensor import Function, Tensor


class LeakyReLUFunction(Function):
    """`x` where positive, `negative_slope * x` elsewhere."""

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        one, slope = x.dtype.type(1), x.dtype.type(negative_slope)  # keep float32 float32
        ctx.slope = np.where(x > 0, one, slope)
        return x * ctx.slope

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.slope

    @staticmethod
    def backward_graph(ctx, grad):
        return grad * ctx.slope  # the slope is a constant: the second derivative is zero


def _tensor(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def identity(x) -> Tensor:
    """`x` unchanged."""
    return _tensor(x)


def sigmoid(x) -> Tensor:
    """1 / (1 + exp(-x)), with no overflow at any input."""
    return ops.Sigmoid.apply(x)


def tanh(x) -> Tensor:
    """The hyperbolic tangent."""
    return ops.Tanh.apply(x)


def relu(x) -> Tensor:
    """max(x, 0)."""
    return ops.ReLU.apply(x)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    """`x` where positive, `negative_slope * x` elsewhere."""
    return LeakyReLUFunction.apply(x, negative_slope=negative_slope)


def softmax(x, axis: int = -1) -> Tensor:
    """exp(x) normalised to sum to one along `axis`, computed around the maximum."""
    return ops.Softmax.apply(x, axis=axis)


class Activation(Layer):
    """A layer without parameters that applies a function elementwise (or along an axis)."""


class Identity(Activation):
    """Passes its input through: the linear "activation"."""

    def forward(self, x):
        return identity(x)


class Sigmoid(Activation):
    """The logistic function, 1 / (1 + exp(-x))."""

    def forward(self, x):
        return sigmoid(x)


class Tanh(Activation):
    """The hyperbolic tangent."""

    def forward(self, x):
        return tanh(x)


class ReLU(Activation):
    """max(x, 0)."""

    def forward(self, x):
        return relu(x)


class LeakyReLU(Activation):
    """`x` where positive, `negative_slope * x` elsewhere, so no unit goes silent for good."""

    def __init__(self, negative_slope: float = 0.01):
        if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real) \
                or not np.isfinite(negative_slope):
            raise ValueError(
                f"LeakyReLU: negative_slope must be a finite number, got {negative_slope!r}"
            )
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Activation):
    """exp(x) normalised along `axis`. Not before `CrossEntropyLoss`, which applies it itself."""

    def __init__(self, axis: int = -1):
        self.axis = axis

    def forward(self, x):
        return softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


ACTIVATIONS = MappingProxyType({
    "identity": Identity,
    "linear": Identity,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "softmax": Softmax,
})


def get_activation(activation) -> Activation:
    """An `Activation` from a name (`"relu"`), a class (`ReLU`) or an instance (returned as is)."""
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, type) and issubclass(activation, Activation):
        return activation()
    if isinstance(activation, str):
        try:
            return ACTIVATIONS[activation.lower()]()
        except KeyError:
            raise ValueError(
                f"activation: unknown name {activation!r}; known names: {', '.join(ACTIVATIONS)}"
            ) from None
    raise TypeError(
        f"activation: expected a name, an Activation class or instance, got {activation!r}"
    )
