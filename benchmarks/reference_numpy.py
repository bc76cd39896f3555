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


def softmax_cross_entropy(logits, y):
    """Summed loss, correct count, and the gradient of the mean loss with respect to `logits`."""
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
    return loss, correct, grad


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
    loss, correct, grad = softmax_cross_entropy(logits, y)
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


# ------------------------------------------------------------------------- the CNN (W5)
# conv(1->16, 5x5, pad 2)-ReLU-maxpool 2-conv(16->32, 5x5, pad 2)-ReLU-maxpool 2-dense(1568->10)
# by hand: im2col through sliding_window_view and one product per convolution, 2x2 pools
# through a reshape, SGD with momentum 0.9.


def init_cnn(channels=(1, 16, 32), kernel=5, image=28, classes=10, seed=0, dtype=np.float32):
    """He-uniform conv kernels (out, in, k, k) and dense weight, zero biases."""
    rng = np.random.default_rng(seed)
    params = []
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        limit = np.sqrt(6.0 / (c_in * kernel * kernel))
        params.append(rng.uniform(-limit, limit, (c_out, c_in, kernel, kernel)).astype(dtype))
        params.append(np.zeros(c_out, dtype))
    side = image // 2 ** (len(channels) - 1)
    features = channels[-1] * side * side
    limit = np.sqrt(6.0 / features)
    params.append(rng.uniform(-limit, limit, (features, classes)).astype(dtype))
    params.append(np.zeros(classes, dtype))
    return params


def _conv_forward(x, weight, bias):
    """Same-size convolution of NCHW `x`: (output NCHW, the im2col matrix).

    The im2col matrix has a row per kernel weight and a column per output pixel of every
    image, so the convolution is one matrix product.
    """
    n, c, h, w = x.shape
    out_channels, _, k, _ = weight.shape
    pad = k // 2
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (k, k), axis=(2, 3))
    cols = np.ascontiguousarray(windows.transpose(1, 4, 5, 0, 2, 3)).reshape(c * k * k, -1)
    out = weight.reshape(out_channels, -1) @ cols
    out += bias[:, None]
    return out.reshape(out_channels, n, h, w).transpose(1, 0, 2, 3), cols


def _conv_backward(grad, cols, weight, x_shape, need_input=True):
    """(grad of x or None, grad of weight, grad of bias) of a same-size convolution."""
    n, c, h, w = x_shape
    out_channels, _, k, _ = weight.shape
    pad = k // 2
    rows = grad.transpose(1, 0, 2, 3).reshape(out_channels, -1)
    grad_weight = (rows @ cols.T).reshape(weight.shape)
    grad_bias = rows.sum(axis=1)
    if not need_input:
        return None, grad_weight, grad_bias
    grad_cols = (weight.reshape(out_channels, -1).T @ rows).reshape(c, k, k, n, h, w)
    padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad), grad.dtype)
    for i in range(k):
        for j in range(k):
            padded[:, :, i:i + h, j:j + w] += grad_cols[:, i, j].transpose(1, 0, 2, 3)
    return padded[:, :, pad:pad + h, pad:pad + w], grad_weight, grad_bias


_CORNERS = ((0, 0), (0, 1), (1, 0), (1, 1))


def _pool_forward(x):
    """2x2 max pool of NCHW `x` (even sides): (output, a winner mask per window corner)."""
    corners = [x[:, :, i::2, j::2] for i, j in _CORNERS]
    out = np.maximum(np.maximum(corners[0], corners[1]), np.maximum(corners[2], corners[3]))
    masks, taken = [], np.zeros(out.shape, bool)
    for corner in corners:  # on a tie (ReLU zeros) the first corner takes the gradient
        mask = (corner == out) & ~taken
        taken |= mask
        masks.append(mask)
    return out, masks


def _pool_backward(grad, masks):
    n, c, h, w = grad.shape
    grad_x = np.empty((n, c, 2 * h, 2 * w), grad.dtype)
    for (i, j), mask in zip(_CORNERS, masks):
        np.multiply(grad, mask, out=grad_x[:, :, i::2, j::2])
    return grad_x


def cnn_sgd_step(params, velocities, x, y, lr, momentum=0.9):
    """One forward, backward and momentum-SGD update of the W5 CNN; (summed loss, correct)."""
    w1, b1, w2, b2, w3, b3 = params
    h1, cols1 = _conv_forward(x, w1, b1)
    np.maximum(h1, 0, out=h1)
    p1, share1 = _pool_forward(h1)
    h2, cols2 = _conv_forward(p1, w2, b2)
    np.maximum(h2, 0, out=h2)
    p2, share2 = _pool_forward(h2)
    flat = p2.reshape(len(x), -1)
    logits = flat @ w3
    logits += b3
    loss, correct, grad = softmax_cross_entropy(logits, y)
    grads = [None] * 6
    grads[4], grads[5] = flat.T @ grad, grad.sum(axis=0)
    grad = (grad @ w3.T).reshape(p2.shape)
    grad = _pool_backward(grad, share2) * (h2 > 0)
    grad, grads[2], grads[3] = _conv_backward(grad, cols2, w2, p1.shape)
    grad = _pool_backward(grad, share1) * (h1 > 0)
    _, grads[0], grads[1] = _conv_backward(grad, cols1, w1, x.shape, need_input=False)
    for param, velocity, g in zip(params, velocities, grads):
        velocity *= momentum
        velocity += g
        param -= lr * velocity
    return loss, correct


def cnn_train_epoch(params, velocities, x, y, lr, batch_size, rng):
    """One epoch of the W5 CNN over shuffled data; returns (mean loss, accuracy)."""
    n = len(y)
    order = rng.permutation(n)
    loss = correct = 0
    for start in range(0, n, batch_size):
        index = order[start:start + batch_size]
        batch_loss, batch_correct = cnn_sgd_step(params, velocities, x[index], y[index], lr)
        loss += batch_loss
        correct += batch_correct
    return loss / n, correct / n
