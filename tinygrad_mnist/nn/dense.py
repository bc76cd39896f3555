"""`Dense`: the fully connected layer, `x @ W + b`, as one fused operation."""

from __future__ import annotations

import numpy as np

from tinygrad_mnist.checks import check_positive_int
from tinygrad_mnist.memory import check_fits
from tinygrad_mnist.nn.init import draw, get_initializer
from tinygrad_mnist.nn.layer import Layer
from tinygrad_mnist.tensor import Function, Tensor


class Affine(Function):
    """`x @ weight + bias` in one step: one node in the graph instead of two.

    `x` has shape `(..., in)`, `weight` `(in, out)`, `bias` `(out,)` and may be left out.
    With `relu=True` it is `max(x @ weight + bias, 0)`, still one node (what `MLP` runs
    for a Dense layer followed by ReLU).
    """

    fresh_gradients = True  # backward returns new products and sums, one per input

    @staticmethod
    def forward(ctx, x, weight, bias=None, relu=False):
        if x.ndim == 0 or x.shape[-1] != weight.shape[0]:
            raise ValueError(
                f"Dense expects inputs whose last axis has {weight.shape[0]} features, "
                f"got shape {x.shape}"
            )
        ctx.x, ctx.weight = x, weight
        out = x @ weight
        if bias is not None:
            out += bias  # in place: no second output-sized array
        # ReLU in place on this op's own new array: saves a batch-sized array a layer (W2).
        ctx.relu_out = np.maximum(out, 0, out=out) if relu else None
        return out

    @staticmethod
    def backward(ctx, grad):
        need = ctx.needs_input_grad  # two entries, or three with a bias
        x, weight = ctx.x, ctx.weight
        if ctx.relu_out is not None:
            if ctx.grad_is_private:
                grad *= ctx.relu_out > 0  # no one else holds grad: saves a batch-sized array
            else:
                grad = grad * (ctx.relu_out > 0)
        # The first layer's input never needs a gradient: skip its (largest) product.
        grad_x = grad @ weight.T if need[0] else None
        rows = grad.reshape(-1, grad.shape[-1])  # any leading axes as one batch axis (a view)
        grad_weight = x.reshape(-1, x.shape[-1]).T @ rows if need[1] else None
        if len(need) == 2:
            return grad_x, grad_weight
        return grad_x, grad_weight, rows.sum(axis=0) if need[2] else None


class Dense(Layer):
    """A fully connected layer: `y = x @ weight + bias`.

    `weight` has shape `(in_features, out_features)` and is drawn by `init` (a name
    from `nn.init` or a callable `(shape, rng) -> array`); `bias` starts at zero.
    `seed` is an int or a `numpy.random.Generator`.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init="he_uniform", seed=None, dtype=np.float32):
        self.in_features = check_positive_int("in_features", in_features, "Dense")
        self.out_features = check_positive_int("out_features", out_features, "Dense")
        get_initializer(init)  # a bad name is an error before anything is allocated
        shape = (self.in_features, self.out_features)
        check_fits(parameter_bytes([self.in_features, self.out_features], bias, dtype),
                   f"Dense({self.in_features}, {self.out_features})")
        weight = draw(init, shape, np.random.default_rng(seed), dtype)
        if weight.shape != shape:
            raise ValueError(f"Dense: init returned shape {weight.shape}, expected {shape}")
        self.weight = Tensor(weight, requires_grad=True)
        self.bias = Tensor(np.zeros(self.out_features, dtype=dtype), requires_grad=True) \
            if bias else None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example: a row of `in_features` values."""
        return (self.in_features,)

    def forward(self, x, relu: bool = False):
        """`x @ weight + bias`; with `relu=True`, `max(x @ weight + bias, 0)` as one op."""
        if self.bias is None:
            return Affine.apply(x, self.weight, relu=relu)
        return Affine.apply(x, self.weight, self.bias, relu=relu)

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, bias={self.bias is not None}"


def parameter_bytes(sizes, bias: bool = True, dtype=np.float32) -> int:
    """The bytes of the parameters of Dense layers `sizes[0] -> sizes[1] -> ...`."""
    count = sum(fan_in * fan_out + (fan_out if bias else 0)
                for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))
    return count * np.dtype(dtype).itemsize
