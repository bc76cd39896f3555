"""Three steps of each optimizer against the update formulas written out by hand."""

import numpy as np
import pytest

from tinygrad_mnist import Tensor, optim

GRADIENTS = [np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[-0.3, 0.8], [0.1, -2.0]]),
             np.array([[1.5, 0.2], [-0.7, 0.9]])]
START = np.array([[1.0, -2.0], [0.5, 3.0]])


def run(optimizer_class, **options):
    """Parameters after three steps, with the gradients above set by hand."""
    p = Tensor(START.copy(), requires_grad=True)
    untouched = Tensor(np.ones(3), requires_grad=True)  # no gradient: must not move
    optimizer = optimizer_class([p, untouched], **options)
    data = p.data
    for g in GRADIENTS:
        optimizer.zero_grad()
        p.grad = g.copy()
        optimizer.step()
    assert p.data is data, "the update must happen in place"
    np.testing.assert_array_equal(untouched.data, np.ones(3))
    return p.data


def test_plain_sgd():
    p = START.copy()
    for g in GRADIENTS:
        p = p - 0.1 * g
    np.testing.assert_allclose(run(optim.SGD, lr=0.1), p, atol=1e-6, rtol=0)


def test_sgd_with_momentum():
    p, v = START.copy(), np.zeros_like(START)
    for g in GRADIENTS:
        v = 0.9 * v + g
        p = p - 0.1 * v
    np.testing.assert_allclose(run(optim.SGD, lr=0.1, momentum=0.9), p, atol=1e-6, rtol=0)


def test_sgd_with_nesterov_momentum():
    p, v = START.copy(), np.zeros_like(START)
    for g in GRADIENTS:
        v = 0.9 * v + g
        p = p - 0.1 * (g + 0.9 * v)
    result = run(optim.SGD, lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(result, p, atol=1e-6, rtol=0)


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.8, False), (0.8, True)])
def test_sgd_with_weight_decay(momentum, nesterov):
    p, v = START.copy(), np.zeros_like(START)
    for g in GRADIENTS:
        g = g + 0.01 * p
        if momentum:
            v = momentum * v + g
            g = g + momentum * v if nesterov else v
        p = p - 0.1 * g
    result = run(optim.SGD, lr=0.1, momentum=momentum, nesterov=nesterov, weight_decay=0.01)
    np.testing.assert_allclose(result, p, atol=1e-6, rtol=0)


def adam_by_hand(lr, beta1, beta2, eps, weight_decay, decoupled):
    p, m, v = START.copy(), np.zeros_like(START), np.zeros_like(START)
    for t, g in enumerate(GRADIENTS, start=1):
        if decoupled:
            p = p - lr * weight_decay * p
        else:
            g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_adam(weight_decay):
    expected = adam_by_hand(0.01, 0.8, 0.95, 1e-3, weight_decay, decoupled=False)
    result = run(optim.Adam, lr=0.01, betas=(0.8, 0.95), eps=1e-3, weight_decay=weight_decay)
    np.testing.assert_allclose(result, expected, atol=1e-6, rtol=0)


def test_adam_defaults():
    expected = adam_by_hand(1e-3, 0.9, 0.999, 1e-8, 0.0, decoupled=False)
    np.testing.assert_allclose(run(optim.Adam), expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("weight_decay", [0.01, 0.5])
def test_adamw_decays_the_weights_apart_from_the_gradient(weight_decay):
    expected = adam_by_hand(0.01, 0.9, 0.999, 1e-8, weight_decay, decoupled=True)
    result = run(optim.AdamW, lr=0.01, weight_decay=weight_decay)
    np.testing.assert_allclose(result, expected, atol=1e-6, rtol=0)
    assert optim.AdamW([Tensor([1.0])]).weight_decay == 0.01


def test_float32_parameters_stay_float32():
    for optimizer_class in (optim.SGD, optim.Adam, optim.AdamW):
        p = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
        optimizer = optimizer_class([p], lr=0.1, weight_decay=0.1)
        p.grad = np.ones(3, dtype=np.float32)
        optimizer.step()
        assert p.dtype == np.float32 and np.all(p.data < 1)


def test_a_changed_lr_is_used_by_the_next_step():
    p = Tensor(np.zeros(1), requires_grad=True)
    optimizer = optim.SGD([p], lr=1.0)
    optimizer.lr = 0.25
    p.grad = np.ones(1)
    optimizer.step()
    np.testing.assert_allclose(p.data, [-0.25])
