"""`Dense`: the fully connected layer, `x @ W + b`, as one fused operation.

`Dense(..., activation="relu")` fuses the ReLU into the same operation (`AffineReLU`):
one node in the graph, the ReLU written in place over the product, so a hidden layer
costs one batch-sized array fewer in the forward pass and one in the backward pass.
"""

from __future__ import annotations

import numpy as np

from tinygrad_mnist.nn.activations import Identity, ReLU, get_activation
from tinygrad_mnist.nn.init import draw, get_initializer
from tinygrad_mnist.nn.layer import Layer
from tinygrad_mnist.tensor import Function, Tensor
from tinygrad_mnist.utils.checks import check_positive_int
from tinygrad_mnist.utils.memory import check_fits


class Affine(Function):
    """`x @ weight + bias` in one step: one node in the graph instead of two.

    `x` has shape `(..., in)`, `weight` `(in, out)`, `bias` `(out,)` and may be left out.
    """

    private_gradients = True  # backward returns new products and sums, one per input

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        if x.ndim == 0 or x.shape[-1] != weight.shape[0]:
            raise ValueError(
                f"Dense expects inputs whose last axis has {weight.shape[0]} features, "
                f"got shape {x.shape}"
            )
        ctx.x, ctx.weight = x, weight
        out = x @ weight
        if bias is not None:
            out += bias  # in place: no second output-sized array
        ctx.relu_out = None
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

    @staticmethod
    def backward_graph(ctx, grad):
        """The same products as `backward`, as Tensor ops, so they can be differentiated again."""
        x, weight = ctx.inputs[0], ctx.inputs[1]
        if ctx.relu_out is not None:  # ReLU's own second derivative is zero (off the kink)
            grad = grad * (ctx.relu_out > 0).astype(grad.dtype)
        rows = grad.reshape(-1, grad.shape[-1])
        grad_x = grad @ weight.T
        grad_weight = x.reshape(-1, x.shape[-1]).T @ rows
        if len(ctx.inputs) == 2:
            return grad_x, grad_weight
        return grad_x, grad_weight, rows.sum(axis=0)


class AffineReLU(Affine):
    """`max(x @ weight + bias, 0)` in one step: what `Dense(..., activation="relu")` runs.

    The backward pass is `Affine`'s, the gradient masked where the output is zero.
    """

    private_gradients = True  # Affine's backward: new arrays, or the private grad masked in place

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        out = Affine.forward(ctx, x, weight, bias)
        # ReLU in place on this op's own new array: saves a batch-sized array a layer (W2).
        ctx.relu_out = np.maximum(out, 0, out=out)
        return out


class Dense(Layer):
    """A fully connected layer: `y = activation(x @ weight + bias)`.

    `weight` has shape `(in_features, out_features)` and is drawn by `init` (a name
    from `nn.init` or a callable `(shape, rng) -> array`); `bias` starts at zero.
    `seed` is an int or a `numpy.random.Generator`. `activation` is None (linear, the
    default), a name (`"relu"`, `"tanh"`, ...), an `Activation` class or instance;
    `"relu"` runs as one fused op, `AffineReLU`, the others after `Affine`. It adds no
    parameters: the state is the same as `Dense` followed by that activation's layer.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init="he_uniform", seed=None, dtype=np.float32, activation=None):
        self.in_features = check_positive_int("in_features", in_features, "Dense")
        self.out_features = check_positive_int("out_features", out_features, "Dense")
        get_initializer(init)  # a bad name is an error before anything is allocated
        activation = None if activation is None else get_activation(activation)
        if activation is not None and activation.parameters():
            raise ValueError(f"Dense: activation {activation!r} has parameters of its own; "
                             "put it after the Dense layer, as a layer of its own")
        # Identity computes nothing: no activation at all, so no node in the graph either.
        self.activation = None if type(activation) is Identity else activation
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
    def kind(self) -> str:
        """`Dense`, or `Dense+ReLU` when the activation runs inside the layer."""
        return "Dense" if self.activation is None else f"Dense+{self.activation.kind}"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example: a row of `in_features` values."""
        return (self.in_features,)

    def forward(self, x):
        """`activation(x @ weight + bias)`; one op, `AffineReLU`, when the activation is ReLU."""
        activation = self.activation
        # Only the library's own ReLU is fused: a subclass may compute something else.
        fused = type(activation) is ReLU
        op = AffineReLU if fused else Affine
        out = op.apply(x, self.weight) if self.bias is None else \
            op.apply(x, self.weight, self.bias)
        return out if activation is None or fused else activation(out)

    def named_children(self):
        """The sub-layers, not counting the activation: it is part of this layer's op."""
        for name, child in super().named_children():
            if name != "activation":
                yield name, child

    def extra_repr(self) -> str:
        text = f"{self.in_features} -> {self.out_features}, bias={self.bias is not None}"
        return text if self.activation is None else f"{text}, activation={self.activation!r}"


def parameter_bytes(sizes, bias: bool = True, dtype=np.float32) -> int:
    """The bytes of the parameters of Dense layers `sizes[0] -> sizes[1] -> ...`."""
    count = sum(fan_in * fan_out + (fan_out if bias else 0)
                for fan_in, fan_out in zip(sizes[:-1], sizes[1:]))
    return count * np.dtype(dtype).itemsize
