"""Hand-written NumPy training steps: the yardstick the engine is measured against.

No autograd, no classes: the forward and backward of an MLP with ReLU hidden layers and a
softmax cross-entropy, written out by hand, with plain SGD updates in place. It does the
same arithmetic as the project's `Trainer` (including the running loss and accuracy it
reports), so the ratio project / this is the cost of the framework.
"""

from __future__ import annotations

import numpy as np


def init_mlp(sizes, seed=0, dtype=np.float32):
    """He-uniform weights and zero biases for layer sizes like [784, 128, 10]."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / fan_in)
        params.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype))
        params.append(np.zeros(fan_out, dtype))
    return params


def sgd_step(params, x, y, lr):
    """One forward, backward and SGD update on a batch; returns (summed loss, correct)."""
    weights, biases = params[0::2], params[1::2]
    activations = [x]
    for i, (w, b) in enumerate(zip(weights, biases)):
        h = activations[-1] @ w
        h += b
        if i < len(weights) - 1:
            np.maximum(h, 0, out=h)
        activations.append(h)
    logits = activations.pop()
    n = len(y)
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    total = exp.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = float(np.sum(np.log(total[:, 0]) - shifted[rows, y]))
    correct = int(np.count_nonzero(logits.argmax(axis=1) == y))
    grad = exp / total
    grad[rows, y] -= 1
    grad /= n
    for i in range(len(weights) - 1, -1, -1):
        h = activations[i]
        grad_w = h.T @ grad
        grad_b = grad.sum(axis=0)
        if i > 0:
            grad = grad @ weights[i].T
            grad *= h > 0
        weights[i] -= lr * grad_w
        biases[i] -= lr * grad_b
    return loss, correct


def train_epoch(params, x, y, lr, batch_size, rng):
    """One epoch of mini-batch SGD over shuffled data; returns (mean loss, accuracy)."""
    n = len(y)
    if batch_size >= n:  # full batch: the arrays themselves, no gather
        loss, correct = sgd_step(params, x, y, lr)
        return loss / n, correct / n
    order = rng.permutation(n)
    loss = correct = 0
    for start in range(0, n, batch_size):
        index = order[start:start + batch_size]
        batch_loss, batch_correct = sgd_step(params, x[index], y[index], lr)
        loss += batch_loss
        correct += batch_correct
    return loss / n, correct / n


def tiny_expression(a, b):
    """`(a*b + a).sum()` and its gradients with respect to a and b, by hand."""
    out = (a * b + a).sum()
    return out, b + 1, a.copy()
