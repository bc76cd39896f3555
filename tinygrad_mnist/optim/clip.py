"""`clip_grad_norm`: keep one bad batch from throwing the weights far away."""

from __future__ import annotations

import math

import numpy as np

from tinygrad_mnist.optim.optimizer import check_parameters
from tinygrad_mnist.utils.checks import check_number


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients together, in place, so their joint L2 norm is at most `max_norm`.

    The norm is taken over every gradient as if they were one vector (parameters
    without a gradient are skipped). Returns the norm before clipping, which is
    worth logging: a rising norm is an early sign of divergence.
    """
    params = check_parameters(params, "clip_grad_norm")
    max_norm = check_number("max_norm", max_norm, "clip_grad_norm")
    if max_norm == 0:
        raise ValueError("clip_grad_norm: max_norm must be positive, got 0")
    grads = [p.grad for p in params if p.grad is not None]
    # float64 sums, so float32 gradients cannot overflow the square.
    total = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total
