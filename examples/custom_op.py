"""A new op for tinygrad_mnist: softplus, written as a `Function`, used, and gradient-checked.

    python examples/custom_op.py

softplus(x) = log(1 + exp(x)), a smooth ReLU. Its derivative is the sigmoid.
"""

from __future__ import annotations

import numpy as np

from tinygrad_mnist import Function, Tensor
from tinygrad_mnist.testing import assert_gradients_match


class Softplus(Function):
    """log(1 + exp(x)), computed so that exp never overflows."""

    @staticmethod
    def forward(ctx, x):
        # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|): the exponent is never positive.
        e = np.exp(-np.abs(x))
        sigmoid = np.where(x >= 0, 1, e) / (1 + e)  # the derivative
        ctx.save_for_backward(sigmoid)
        return np.maximum(x, 0) + np.log1p(e)

    @staticmethod
    def backward(ctx, grad):
        (sigmoid,) = ctx.saved_tensors
        return grad * sigmoid


def softplus(x) -> Tensor:
    """softplus(x) for a Tensor (or anything a Tensor can be made from)."""
    return Softplus.apply(x)


def main() -> None:
    x = Tensor(np.array([-1e4, -2.0, 0.0, 2.0, 1e4]), requires_grad=True)
    y = softplus(x)
    print("x              ", x.data)
    print("softplus(x)    ", y.data, "(finite even at +-1e4)")
    y.sum().backward()
    print("d sum / dx     ", x.grad, "(the sigmoid of x)")

    # The op composes with everything else, like a built-in one.
    w = Tensor(np.array([[0.5, -1.0], [2.0, 0.25]]), requires_grad=True)
    loss = (softplus(Tensor(np.array([[1.0, -1.0]])) @ w) ** 2).mean()
    loss.backward()
    print("loss through softplus and matmul:", loss.item())

    # Central differences in float64 agree with backward (raises if they do not).
    rng = np.random.default_rng(0)
    for shape in [(3,), (2, 4), (2, 3, 2)]:
        assert_gradients_match(softplus, Tensor(rng.normal(size=shape) * 3, requires_grad=True))
    print("gradcheck: softplus matches central differences")


if __name__ == "__main__":
    main()
