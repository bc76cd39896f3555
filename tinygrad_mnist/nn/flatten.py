"""`Flatten`: one row of features per sample, e.g. 28x28 images to 784 values."""

from __future__ import annotations

from tinygrad_mnist import ops
from tinygrad_mnist.nn.layer import Layer


class Flatten(Layer):
    """Reshape `(batch, d1, d2, ...)` to `(batch, d1 * d2 * ...)`."""

    def forward(self, x):
        if x.ndim == 0:
            raise ValueError("Flatten: input must have a batch axis, got a scalar")
        return ops.Reshape.apply(x, shape=(x.shape[0], -1))
