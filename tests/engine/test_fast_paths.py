"""The engine's fast paths give the plain paths' results and can't be fooled: private
gradients written in place, leaf gradients kept without a copy, Dense+ReLU fused in MLP."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mnist import Function, Tensor, nn, ops
from tinygrad_mnist.testing import assert_gradients_match, tensors

# ------------------------------------------------------- private gradients


def test_a_gradient_given_to_backward_is_never_written_into():
    # The caller's array reaches ReLU (and the fused Dense+ReLU) first: it is not private.
    x = Tensor(np.array([[-1.0, 2.0], [3.0, -4.0]]), requires_grad=True)
    given_grad = np.ones((2, 2))
    x.relu().backward(given_grad)
    np.testing.assert_array_equal(given_grad, 1.0)
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0], [1.0, 0.0]])

    dense = nn.Dense(2, 3, seed=0, activation="relu").astype(np.float64)
    given_grad = np.ones((2, 3))
    dense(x).backward(given_grad)
    np.testing.assert_array_equal(given_grad, 1.0)


def test_a_retained_gradient_is_not_masked_by_the_op_below():
    # Sum's private gradient becomes h.grad as it is, so ReLU must not write into it.
    x = Tensor(np.array([-1.0, 2.0, -3.0]), requires_grad=True)
    h = (x * 2).relu().retain_grad()
    h.sum().backward()
    np.testing.assert_array_equal(h.grad, [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 0.0])


class KeepingMul(ops.Mul):
    """A subclass of a built-in op that declares private gradients, whose backward keeps one."""

    @staticmethod
    def backward(ctx, grad):
        KeepingMul.kept = grad * ctx.b
        return KeepingMul.kept, None


def test_private_gradients_is_not_inherited_by_a_subclass():
    assert ops.Mul.private_gradients and not KeepingMul.private_gradients
    a = Tensor(np.ones((8, 8)), requires_grad=True)
    b = np.full((8, 8), 3.0)
    KeepingMul.apply(a, b).sum().backward()
    KeepingMul.apply(a, b).sum().backward()
    np.testing.assert_array_equal(KeepingMul.kept, 3.0)  # the op's array is not a.grad
    np.testing.assert_array_equal(a.grad, 6.0)


class ReportsPrivacy(Function):
    """Records what the engine told it about the gradient it receives."""

    seen = []

    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, grad):
        ReportsPrivacy.seen.append(ctx.grad_is_private)
        return grad


@pytest.mark.parametrize("make, private", [
    (lambda y: y.sum(), True),  # Sum's backward makes a new array
    (lambda y: y + 0.0, False),  # Add passes its gradient on to both inputs
    (lambda y: y * 2.0, True),  # Mul's products are new
    (lambda y: (y + 0.0) + (y + 0.0), True),  # two gradients summed by the engine
])
def test_the_engine_calls_a_gradient_private_only_when_it_is(make, private):
    ReportsPrivacy.seen = []
    x = Tensor(np.ones(3), requires_grad=True)
    out = make(ReportsPrivacy.apply(x))
    out.backward(None if out.size == 1 else np.ones(out.shape))
    assert ReportsPrivacy.seen == [private]


def test_an_unbroadcast_gradient_is_private():
    ReportsPrivacy.seen = []
    x = Tensor(np.ones(3), requires_grad=True)
    y = ReportsPrivacy.apply(x)
    (y + Tensor(np.ones((2, 3)))).sum().backward()  # Add's (2, 3) gradient summed to (3,)
    assert ReportsPrivacy.seen == [True]
    np.testing.assert_array_equal(x.grad, 2.0)


def test_a_leaf_used_twice_accumulates_both_gradients():
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (w * 3.0 + w * w).sum().backward()
    np.testing.assert_array_equal(w.grad, [5.0, 7.0])
    (w * 3.0).sum().backward()  # added to what is there
    np.testing.assert_array_equal(w.grad, [8.0, 10.0])


def test_a_float64_gradient_for_a_float32_leaf_is_converted():
    w = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    (w * Tensor(np.full(3, 2.0))).sum().backward()  # float64 product
    assert w.grad.dtype == np.float32
    np.testing.assert_array_equal(w.grad, 2.0)


# -------------------------------------------------------- fused Dense+ReLU


@settings(deadline=None, max_examples=30)
@given(data=st.data(), batch=st.integers(1, 4), fan_in=st.integers(1, 4),
       fan_out=st.integers(1, 4), bias=st.booleans())
def test_dense_with_relu_gradients_match_central_differences(data, batch, fan_in, fan_out, bias):
    x = data.draw(tensors((batch, fan_in)))
    weight = data.draw(tensors((fan_in, fan_out)))
    # Away from the kink at 0, where a difference quotient straddles both sides.
    out = x.data @ weight.data
    args = [x, weight]
    if bias:
        b = data.draw(tensors((fan_out,)))
        out = out + b.data
        args.append(b)
    if np.abs(out).min() < 1e-3:
        return
    assert_gradients_match(nn.AffineReLU.apply, *args)


def test_mlp_fuses_dense_and_relu_and_matches_the_unfused_layers():
    model = nn.MLP(5, [4, 3], 2, seed=0).astype(np.float64)
    x = Tensor(np.random.default_rng(0).normal(size=(6, 5)))
    fused = model(x)
    assert fused.inputs[0].op is nn.AffineReLU and fused.inputs[0].inputs[0].op is nn.AffineReLU
    unfused = x
    for dense in model:  # each Dense's product, then a ReLU op of its own
        unfused = dense.activation(nn.Affine.apply(unfused, dense.weight, dense.bias)) \
            if dense.activation is not None else dense(unfused)
    assert unfused.inputs[0].op is ops.ReLU
    np.testing.assert_allclose(fused.data, unfused.data)
    fused.sum().backward()
    grads = [p.grad.copy() for p in model.parameters()]
    model.zero_grad()
    unfused.sum().backward()
    for fused_grad, p in zip(grads, model.parameters()):
        np.testing.assert_allclose(fused_grad, p.grad)


def test_mlp_with_another_activation_or_a_subclass_is_not_fused():
    model = nn.MLP(3, [4], 2, activation="tanh", seed=0)
    assert model(np.ones((1, 3))).inputs[0].op is ops.Tanh

    class MyReLU(nn.ReLU):
        pass

    model = nn.MLP(3, [4], 2, activation=MyReLU, seed=0)
    hidden = model(np.ones((1, 3))).inputs[0]
    assert hidden.op is ops.ReLU and hidden.inputs[0].op is nn.Affine


def test_the_old_name_of_the_flag_is_refused_loudly():
    with pytest.raises(TypeError, match="private_gradients"):
        class Old(ops.Mul):  # noqa: F841
            fresh_gradients = True
