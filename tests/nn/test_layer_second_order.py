"""Gradients of gradients through every layer and loss, checked numerically in float64.

`assert_second_derivatives_match` differentiates each layer's gradient (which runs the
layer's `backward_graph`) and compares it with central differences of the gradient.
A layer that is linear in its input (pooling, dropout) has a zero second derivative on
its own, which would check nothing: such layers are followed by `tanh` here, so the
check goes through their gradient's own gradient.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tinygrad_mnist import Tensor, grad, nn
from tinygrad_mnist.gradcheck import gradcheck
from tinygrad_mnist.nn.conv_gradients import ConvInputGradient, ConvWeightGradient
from tinygrad_mnist.nn.pooling import AvgPool2dTranspose
from tinygrad_mnist.testing import assert_second_derivatives_match, tensors, well_conditioned

sides = st.integers(1, 3)
seeds = st.integers(0, 2**32 - 1)


def drawn_parameters(layer, seed):
    """Parameters of well-conditioned values (no exact 1s and 0s to hide a missing term)."""
    layer.astype(np.float64)
    for i, p in enumerate(layer.parameters()):
        p.data[...] = well_conditioned(p.shape, seed=seed + i)
    return layer


# ------------------------------------------------------------------------ Dense


@given(sides, sides, sides, st.booleans(), st.sampled_from([None, "relu", "tanh", "leaky_relu"]),
       seeds, st.data())
def test_dense_second_derivatives(batch, fan_in, fan_out, bias, activation, seed, data):
    layer = drawn_parameters(nn.Dense(fan_in, fan_out, bias=bias, activation=activation), seed)
    x = data.draw(tensors(shape=(batch, fan_in)))
    pre_activation = x.data @ layer.weight.data + (layer.bias.data if bias else 0)
    assume(np.abs(pre_activation).min() > 1e-3)  # away from ReLU's kink
    assert_second_derivatives_match(layer, x, wrt=layer.parameters())


def test_the_fused_dense_relu_runs_its_own_backward_graph():
    layer = drawn_parameters(nn.Dense(3, 2, activation="relu"), seed=0)
    x = Tensor(well_conditioned((4, 3), seed=9), requires_grad=True)
    out = layer(x)
    assert out.op is nn.AffineReLU
    (grad_x,) = grad((out * out).sum(), [x], create_graph=True)
    assert grad_x.op is not None and grad_x.requires_grad


# ------------------------------------------------------------- Conv2d and its gradients


@st.composite
def conv_cases(draw):
    """(image shape, kernel, stride, padding) of a convolution that fits."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(2, 5)),
             draw(st.integers(2, 5)))
    padding = (draw(st.integers(0, 1)), draw(st.integers(0, 1)))
    kernel = tuple(draw(st.integers(1, min(3, side + 2 * p)))
                   for side, p in zip(shape[2:], padding))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return shape, kernel, stride, padding


@given(conv_cases(), st.integers(1, 2), st.booleans(), seeds, st.data())
def test_conv2d_second_derivatives(case, out_channels, bias, seed, data):
    shape, kernel, stride, padding = case
    layer = drawn_parameters(nn.Conv2d(shape[1], out_channels, kernel, stride, padding,
                                       bias=bias), seed)
    x = data.draw(tensors(shape=shape))
    assert_second_derivatives_match(layer, x, wrt=layer.parameters())


@given(conv_cases(), st.integers(1, 2), st.data())
def test_the_gradients_of_a_convolution_are_differentiable_again(case, out_channels, data):
    # Their own backward_graph is what a third derivative of Conv2d runs.
    shape, kernel, stride, padding = case
    x = data.draw(tensors(shape=shape))
    weight = data.draw(tensors(shape=(out_channels, shape[1], *kernel)))
    out = nn.conv2d(x.data, weight.data, stride=stride, padding=padding)
    upstream = data.draw(tensors(shape=out.shape))
    where = {"stride": stride, "padding": padding}
    assert_second_derivatives_match(
        lambda g, w: ConvInputGradient.apply(g, w, x_shape=shape, **where).tanh(),
        upstream, weight)
    assert_second_derivatives_match(
        lambda x, g: ConvWeightGradient.apply(x, g, weight_shape=weight.shape, **where).tanh(),
        x, upstream)


# ------------------------------------------------------------------------ pooling


@st.composite
def pool_cases(draw, padded: bool):
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(2, 5)),
             draw(st.integers(2, 5)))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(2))
    padding = tuple(draw(st.integers(0, k // 2)) if padded else 0 for k in kernel)
    kernel = tuple(min(k, side + 2 * p) for k, side, p in zip(kernel, shape[2:], padding))
    stride = draw(st.sampled_from([None, (draw(st.integers(1, 3)), draw(st.integers(1, 3)))]))
    return shape, kernel, stride, padding


@given(pool_cases(padded=True), st.data())
def test_max_pool_second_derivatives(case, data):
    shape, kernel, stride, padding = case
    pool = nn.MaxPool2d(kernel, stride, padding)
    x = data.draw(tensors(shape=shape))
    assert_second_derivatives_match(lambda t: pool(t).tanh(), x)


@given(pool_cases(padded=False), st.data())
def test_avg_pool_second_derivatives(case, data):
    shape, kernel, stride, _ = case
    pool = nn.AvgPool2d(kernel, stride)
    x = data.draw(tensors(shape=shape))
    assert_second_derivatives_match(lambda t: pool(t).tanh(), x)
    out_shape = pool(x.data).shape
    upstream = data.draw(tensors(shape=out_shape))
    assert_second_derivatives_match(
        lambda g: AvgPool2dTranspose.apply(g, x_shape=shape, kernel=pool.kernel_size,
                                           stride=pool.stride).tanh(), upstream)


# ---------------------------------------------------------------------- BatchNorm


@given(st.sampled_from([(3, 2), (2, 2, 3), (2, 2, 2, 2)]), st.booleans(), seeds, st.data())
def test_batch_norm_second_derivatives(shape, training, seed, data):
    layer = (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d)(shape[1])
    drawn_parameters(layer, seed)
    layer.running_var[:] = np.abs(well_conditioned(shape[1], seed=seed)) + 0.5
    layer.train(training)
    x = data.draw(tensors(shape=shape))
    assert_second_derivatives_match(lambda t: layer(t).tanh(), x, wrt=layer.parameters())


# ------------------------------------------------------------------ Dropout, losses


@given(st.floats(0.1, 0.9), seeds, st.data())
def test_dropout_second_derivatives(p, seed, data):
    layer = nn.Dropout(p)
    x = data.draw(tensors(shape=(3, 4)))

    def same_mask_each_call(t):
        layer.rng = np.random.default_rng(seed)
        return layer(t).tanh()

    assert_second_derivatives_match(same_mask_each_call, x)


@given(st.integers(1, 4), st.integers(2, 4), st.sampled_from(["mean", "sum"]), seeds, st.data())
def test_cross_entropy_second_derivatives(batch, classes, reduction, seed, data):
    loss = nn.CrossEntropyLoss(reduction)
    logits = data.draw(tensors(shape=(batch, classes), low=-4, high=4))
    labels = np.random.default_rng(seed).integers(0, classes, batch)
    assert_second_derivatives_match(lambda t: loss(t, labels), logits)
    rows = np.random.default_rng(seed).dirichlet(np.ones(classes), batch)
    target = Tensor(rows, requires_grad=True)  # soft targets, differentiated too
    assert_second_derivatives_match(loss, logits, target)


@given(st.sampled_from(["mean", "sum"]), st.data())
def test_mse_second_derivatives(reduction, data):
    prediction = data.draw(tensors(shape=(3, 2)))
    target = data.draw(tensors(shape=(3, 2)))
    loss = nn.MSELoss(reduction)
    assert_second_derivatives_match(lambda p, t: loss(p.tanh(), t), prediction, target)


# ------------------------------------------------------------------ worked examples


def test_hessian_vector_product_of_an_mlp_with_cross_entropy_matches_differences():
    model = nn.MLP(4, [5], 3, activation="tanh", seed=0).astype(np.float64)
    params = model.parameters()
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
    loss_fn = nn.CrossEntropyLoss()
    vector = [rng.normal(size=p.shape) for p in params]

    def gradients():
        return grad(loss_fn(model(x), y), params)

    # H v = d/dθ (∇L(θ) · v), through backward_graph of every op on the way.
    first = grad(loss_fn(model(x), y), params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(first, vector))
    hessian_vector = [h.data for h in grad(dot, params)]
    # (∇L(θ + εv) - ∇L(θ - εv)) / 2ε
    eps = 1e-5
    for p, v in zip(params, vector):
        p.data += eps * v
    plus = [g.data.copy() for g in gradients()]
    for p, v in zip(params, vector):
        p.data -= 2 * eps * v
    minus = [g.data.copy() for g in gradients()]
    for p, v in zip(params, vector):
        p.data += eps * v
    for hv, a, b in zip(hessian_vector, plus, minus):
        np.testing.assert_allclose(hv, (a - b) / (2 * eps), rtol=1e-5, atol=1e-8)
    assert any(np.abs(hv).max() > 1e-3 for hv in hessian_vector)  # not trivially zero


def test_a_gradient_penalty_through_a_cnn_matches_central_differences():
    model = nn.CNN((1, 6, 6), [2], 3, kernel_size=3, hidden_sizes=[3], batch_norm=True,
                   activation="tanh", seed=0).astype(np.float64)
    for i, p in enumerate(model.parameters()):
        p.data[...] = well_conditioned(p.shape, low=-1, high=1, seed=10 + i)
    rng = np.random.default_rng(2)
    images, labels = rng.normal(size=(4, 1, 6, 6)), rng.integers(0, 3, 4)
    loss_fn = nn.CrossEntropyLoss()

    def penalty():
        x = Tensor(images, requires_grad=True)
        (grad_x,) = grad(loss_fn(model(x), labels), [x], create_graph=True)
        return (grad_x * grad_x).sum()  # the squared norm of d loss / d input

    value = penalty()
    value.backward()  # d penalty / d weights: through every layer's backward_graph
    assert all(p.grad is not None and np.abs(p.grad).max() > 0 for p in model.parameters())
    model.zero_grad()
    assert gradcheck(lambda: penalty(), wrt=model.parameters(), atol=1e-6, rtol=1e-4)


def test_an_op_without_backward_graph_is_named_under_create_graph():
    from tinygrad_mnist import Function

    class Square(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.x = x
            return x * x

        @staticmethod
        def backward(ctx, g):
            return 2 * ctx.x * g

    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Square defines no backward_graph"):
        grad(nn.Dense(2, 1)(Square.apply(x)).sum(), [x], create_graph=True)[0].sum().backward()


@pytest.mark.parametrize("kernel, stride, padding", [
    ((2, 2), None, (0, 0)), ((3, 3), (1, 1), (1, 1)), ((2, 3), (2, 1), (1, 0)),
    ((3, 2), None, (0, 0))])
def test_max_pool_ties_go_to_the_same_element_in_both_backward_passes(kernel, stride, padding):
    # Ties are common (zeros after a ReLU): backward_graph's winners must be backward's.
    rng = np.random.default_rng(0)
    x = np.zeros((2, 2, 6, 5))
    x[1, 1] = rng.integers(0, 2, (6, 5))
    pool = nn.MaxPool2d(kernel, stride, padding)
    upstream = rng.normal(size=pool(x).shape)
    first, second = Tensor(x, requires_grad=True), Tensor(x, requires_grad=True)
    (plain,) = grad((pool(first) * upstream).sum(), [first])
    (recorded,) = grad((pool(second) * upstream).sum(), [second], create_graph=True)
    np.testing.assert_allclose(recorded.data, plain.data, rtol=1e-14, atol=1e-14)
