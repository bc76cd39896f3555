"""`Dropout`: randomly silence units while training, so none can rely on another."""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_mnist import ops
from tinygrad_mnist.nn.layer import Layer
from tinygrad_mnist.tensor import Tensor


class Dropout(Layer):
    """Zero each input with probability `p` in training, scaling the rest by 1 / (1 - p).

    The scaling ("inverted dropout") keeps the expected output equal to the input,
    so evaluation mode simply passes the input through. Random numbers come from
    `seed` (an int or a `numpy.random.Generator`), never from NumPy's global state.
    """

    def __init__(self, p: float = 0.5, seed=None):
        if isinstance(p, bool) or not isinstance(p, numbers.Real):
            raise TypeError(f"Dropout: p must be a number in [0, 1), got {p!r}")
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1), got {p}")
        self.p = float(p)
        self.rng = np.random.default_rng(seed)

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        if not self.training or self.p == 0:
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        mask = keep.astype(x.dtype)
        mask *= 1 / (1 - self.p)
        return ops.Mul.apply(x, mask)

    def extra_repr(self) -> str:
        return f"p={self.p}"
