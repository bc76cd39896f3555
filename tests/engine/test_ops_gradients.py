"""Every built-in op matches central differences in float64, under hypothesis."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist import Tensor, concatenate, stack, where
from tinygrad_mnist.testing import (
    assert_gradients_match,
    axes,
    broadcastable_shapes,
    shapes,
    tensors,
    well_conditioned,
)

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": lambda a, b: a.maximum(b),
    "pow": lambda a, b: a**b,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes_pair=broadcastable_shapes(2), data=st.data())
def test_binary_ops_broadcast(name, shapes_pair, data):
    low = 0.5 if name == "pow" else -2.0  # a real power needs a positive base
    a = data.draw(tensors(shapes_pair[0], low=low, high=2.0))
    b = data.draw(tensors(shapes_pair[1], low=-2.0 if name != "pow" else 0.5, high=2.0))
    assert_gradients_match(BINARY[name], a, b)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
@given(x=tensors(low=0.5, high=2.0), scalar=st.floats(0.5, 3.0))
def test_binary_ops_with_python_scalars(name, x, scalar):
    fn = BINARY[name]
    assert_gradients_match(lambda t: fn(t, scalar), x)
    assert_gradients_match(lambda t: fn(scalar, t), x)


UNARY = {
    "neg": (lambda t: -t, -2.0),
    "exp": (lambda t: t.exp(), -2.0),
    "log": (lambda t: t.log(), 0.1),
    "sqrt": (lambda t: t.sqrt(), 0.1),
    "tanh": (lambda t: t.tanh(), -2.0),
    "sigmoid": (lambda t: t.sigmoid(), -2.0),
    "relu": (lambda t: t.relu(), -2.0),
    "clip": (lambda t: t.clip(-1.0, 1.0), -2.0),
    "clip_low_only": (lambda t: t.clip(min=0.3), -2.0),
    "astype32_64": (lambda t: t.astype(np.float32).astype(np.float64), -2.0),
    "reshape": (lambda t: t.reshape(-1), -2.0),
    "transpose": (lambda t: t.T, -2.0),
    "abs": (lambda t: t.abs(), -2.0),
    "clone": (lambda t: t.clone() * t, -2.0),
    "flatten": (lambda t: t.flatten(), -2.0),
    "flatten_inner": (lambda t: t.flatten(min(1, max(t.ndim - 1, 0))) if t.ndim else t.flatten(),
                      -2.0),
    "unsqueeze": (lambda t: t.unsqueeze(0).unsqueeze(-1), -2.0),
    "squeeze": (lambda t: t.reshape(1, *t.shape, 1).squeeze(), -2.0),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_ops(name, data):
    fn, low = UNARY[name]
    x = data.draw(tensors(low=low, high=2.0))
    if name == "astype32_64":
        # a float32 round trip is exact to float32 precision only
        assert_gradients_match(fn, x, eps=1e-3, atol=1e-3, rtol=1e-3)
    else:
        assert_gradients_match(fn, x)


REDUCTIONS = {
    "sum": lambda t, axis, keepdims: t.sum(axis=axis, keepdims=keepdims),
    "mean": lambda t, axis, keepdims: t.mean(axis=axis, keepdims=keepdims),
    "max": lambda t, axis, keepdims: t.max(axis=axis, keepdims=keepdims),
    "logsumexp": lambda t, axis, keepdims: t.logsumexp(axis=axis, keepdims=keepdims),
    "min": lambda t, axis, keepdims: t.min(axis=axis, keepdims=keepdims),
    "var_biased": lambda t, axis, keepdims: t.var(axis=axis, keepdims=keepdims, correction=0),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(x=tensors(shapes(min_dims=1)), keepdims=st.booleans(), data=st.data())
def test_reductions_every_axis_and_keepdims(name, x, keepdims, data):
    axis = data.draw(axes(x.ndim))
    fn = REDUCTIONS[name]
    assert_gradients_match(lambda t: fn(t, axis, keepdims), x)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "logsumexp"])
@given(x=tensors(shapes(max_dims=0)))
def test_reductions_of_scalars(name, x):
    assert_gradients_match(lambda t: REDUCTIONS[name](t, None, False), x)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
@given(x=tensors(shapes(min_dims=1)), data=st.data())
def test_softmax_family_along_any_axis(op, x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    assert_gradients_match(lambda t: getattr(t, op)(axis=axis), x)


@given(shape_pair=broadcastable_shapes(2, min_dims=1), data=st.data())
def test_matmul_shapes(shape_pair, data):
    # Build matmul-compatible operands from broadcastable batch shapes and random sizes.
    n, k, m = (data.draw(st.integers(1, 4)) for _ in range(3))
    batch_a, batch_b = (s[:-1] for s in shape_pair)
    a_vector, b_vector = data.draw(st.booleans()), data.draw(st.booleans())
    a_shape = (k,) if a_vector else (*batch_a, n, k)
    b_shape = (k,) if b_vector else (*batch_b, k, m)
    a, b = data.draw(tensors(a_shape)), data.draw(tensors(b_shape))
    assert_gradients_match(lambda x, y: x @ y, a, b)


INDEXES = {
    "int": lambda s: 1,
    "negative int": lambda s: -1,
    "slice": lambda s: slice(0, None, 2),
    "tuple of slices": lambda s: (slice(1, None), slice(None, None, -1)),
    "ellipsis and newaxis": lambda s: (Ellipsis, None, 0),
    "integer array with repeats": lambda s: np.array([0, 2, 0, 1, 2]),
    "integer array pair": lambda s: (np.array([0, 2, 2]), np.array([1, 0, 1])),
    "boolean mask": lambda s: np.arange(np.prod(s)).reshape(s) % 3 == 0,
}


@pytest.mark.parametrize("kind", sorted(INDEXES))
@given(data=st.data())
def test_getitem_every_kind_of_index(kind, data):
    shape = data.draw(shapes(min_dims=2, max_dims=3, min_side=3))
    x = data.draw(tensors(shape))
    index = INDEXES[kind](shape)
    assert_gradients_match(lambda t: t[index], x)


@given(shape=shapes(min_dims=1), data=st.data())
def test_where(shape, data):
    a, b = data.draw(tensors(shape)), data.draw(tensors(shape))
    condition = well_conditioned(shape, seed=data.draw(st.integers(0, 99))) > 0
    assert_gradients_match(lambda x, y: where(condition, x, y), a, b)
    assert_gradients_match(lambda x: x.where(condition, 0.5), a)


@given(shape=shapes(min_dims=1), count=st.integers(1, 3), data=st.data())
def test_concatenate_and_stack(shape, count, data):
    axis = data.draw(st.integers(0, len(shape) - 1))
    parts = [data.draw(tensors(shape)) for _ in range(count)]
    assert_gradients_match(lambda *ts: concatenate(ts, axis=axis), *parts)
    assert_gradients_match(lambda *ts: stack(ts, axis=axis), *parts)


@given(x=tensors(shapes(min_dims=1)), y=tensors(shapes(min_dims=1)))
def test_composite_expression_uses_a_tensor_many_times(x, y):
    def fn(a, b):
        s = (a * a).sum() + a.sum() * (b.tanh() + 1).mean()
        return s + (a.exp().sum() / (1 + b.sigmoid().sum()))

    assert_gradients_match(fn, x, y)


def test_pow_with_tensor_exponent_and_constant_base():
    base = Tensor(np.array([0.5, 1.5, 2.0]), requires_grad=True)
    exponent = Tensor(np.array([1.5, -0.5, 2.0]), requires_grad=True)
    assert_gradients_match(lambda b, e: b**e, base, exponent)
    assert_gradients_match(lambda e: 2.0**e, exponent)


@pytest.mark.parametrize("name", ["var", "std"])
@given(x=tensors(shapes(min_dims=1, min_side=2)), keepdims=st.booleans(),
       correction=st.sampled_from([0, 1]), data=st.data())
def test_var_and_std_every_axis_and_correction(name, x, keepdims, correction, data):
    axis = data.draw(axes(x.ndim))
    fn = getattr(Tensor, name)
    assert_gradients_match(lambda t: fn(t, axis=axis, keepdims=keepdims, correction=correction),
                           x)
    expected = getattr(np, name)(x.data, axis=axis, keepdims=keepdims, ddof=correction)
    np.testing.assert_allclose(fn(x, axis=axis, keepdims=keepdims, correction=correction).data,
                               expected, rtol=1e-12)


def test_var_defaults_to_the_unbiased_estimate_and_refuses_too_few_elements():
    x = Tensor(np.array([1.0, 2.0, 4.0]))
    assert x.var().item() == pytest.approx(np.var(x.data, ddof=1))
    with pytest.raises(ValueError, match="correction=1.*got 1"):
        Tensor(np.ones((3, 1))).var(axis=1)


@given(x=tensors(shapes(min_dims=1)), data=st.data())
def test_argmax_matches_numpy_and_has_no_gradient(x, data):
    axis = data.draw(st.none() | st.integers(-x.ndim, x.ndim - 1))
    index = x.argmax(axis=axis)
    np.testing.assert_array_equal(index.data, np.argmax(x.data, axis=axis))
    assert index.dtype == np.int64 and not index.requires_grad


def test_shape_methods_match_numpy():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.flatten(0, 1).shape == (6, 4) and Tensor(3.0).flatten().shape == (1,)
    assert x.unsqueeze(1).shape == (2, 1, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    ones = Tensor(np.ones((1, 3, 1)))
    assert ones.squeeze().shape == (3,) and ones.squeeze(0).shape == (3, 1)
    clone = x.clone()
    assert clone.data is not x.data and np.shares_memory(clone.data, x.data) is False
    with pytest.raises(ValueError, match="flatten: axis 3"):
        x.flatten(3)


def test_max_with_a_nan_sends_the_gradient_to_the_nan_only_and_warns_nothing():
    # filterwarnings=error: any NumPy warning fails this test.
    x = Tensor(np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    y = Tensor(np.array([np.nan, 2.0, np.nan]), requires_grad=True)
    y.max().backward()
    np.testing.assert_array_equal(y.grad, [0.5, 0.0, 0.5])
