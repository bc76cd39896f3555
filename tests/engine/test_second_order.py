"""Gradients of gradients: grad(), backward(create_graph=True), backward_graph, gradgradcheck."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist import Function, GradcheckError, Tensor, grad, gradgradcheck, no_grad
from tinygrad_mnist.testing import (
    assert_gradients_match,
    assert_second_derivatives_match,
    axes,
    broadcastable_shapes,
    shapes,
    tensors,
)


def _x(values):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# ----------------------------------------------------------------------- grad()


def test_grad_returns_one_tensor_per_input_and_leaves_dot_grad_alone():
    a, b = _x([1.0, 2.0]), _x([3.0, 5.0])
    ga, gb = grad((a * b).sum(), [a, b])
    np.testing.assert_array_equal(ga.data, [3.0, 5.0])
    np.testing.assert_array_equal(gb.data, [1.0, 2.0])
    assert a.grad is None and b.grad is None
    assert not ga.requires_grad  # no create_graph: plain values


def test_grad_of_a_single_input_is_a_tuple_of_one():
    x = _x([2.0])
    result = grad((x * x).sum(), x)
    assert isinstance(result, tuple) and len(result) == 1


def test_grad_refuses_an_unused_input_unless_allowed():
    a, unused = _x([1.0]), _x([2.0])
    with pytest.raises(RuntimeError, match=r"inputs\[1\] was not used.*allow_unused=True"):
        grad((a * a).sum(), [a, unused])
    ga, none = grad((a * a).sum(), [a, unused], allow_unused=True)
    assert none is None and ga.data.tolist() == [2.0]


def test_grad_of_an_intermediate_result():
    x = _x([1.0, -2.0])
    h = x * 3
    (gh,) = grad((h * h).sum(), h)
    np.testing.assert_array_equal(gh.data, 2 * h.data)


def test_grad_with_several_outputs_and_grad_outputs():
    x = _x([1.0, 2.0])
    (g,) = grad([x * 2, x * x], x, grad_outputs=[np.array([1.0, 1.0]), np.array([0.5, 2.0])])
    np.testing.assert_array_equal(g.data, [2 + 0.5 * 2, 2 + 2 * 4])


def test_grad_refuses_inputs_that_do_not_require_grad_and_non_scalar_without_grad_outputs():
    x = _x([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"inputs\[0\] does not require grad"):
        grad((x * 2).sum(), Tensor([1.0]))
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*grad_outputs"):
        grad(x * 2, x)


def test_grad_frees_the_graph_unless_retained_and_retains_it_under_create_graph():
    x = _x([1.0, 2.0])
    y = (x.exp() * x).sum()
    grad(y, x)
    with pytest.raises(RuntimeError, match="freed"):
        grad(y, x)
    z = (x.exp() * x).sum()
    grad(z, x, create_graph=True)
    grad(z, x)  # retain_graph defaulted to create_graph


def test_returned_gradient_is_a_copy_the_caller_owns():
    a = _x([1.0, 2.0])
    b = Tensor(np.array([3.0, 4.0]))
    (ga,) = grad((a * b).sum(), a)
    ga.data[0] = 100.0
    np.testing.assert_array_equal(b.data, [3.0, 4.0])
    seed = np.array([1.0, 1.0])
    (g,) = grad(a + 0.0, a, grad_outputs=seed)  # Add passes the caller's array through
    g.data[0] = 7.0
    np.testing.assert_array_equal(seed, [1.0, 1.0])


# --------------------------------------------------------------- create_graph


def test_derivatives_of_x_cubed_to_the_third_order():
    x = _x([0.5, -1.5, 2.0])
    (first,) = grad((x * x * x).sum(), x, create_graph=True)
    (second,) = grad(first.sum(), x, create_graph=True)
    (third,) = grad(second.sum(), x, create_graph=True)
    np.testing.assert_allclose(first.data, 3 * x.data**2)
    np.testing.assert_allclose(second.data, 6 * x.data)
    np.testing.assert_allclose(third.data, [6.0, 6.0, 6.0])


def test_backward_with_create_graph_makes_dot_grad_differentiable():
    w = _x([1.0, 2.0])
    loss = (w * w * w).sum()
    loss.backward(create_graph=True)
    assert isinstance(w.grad, Tensor) and w.grad.requires_grad
    np.testing.assert_allclose(w.grad.data, 3 * w.data**2)
    (penalty,) = grad((w.grad * w.grad).sum(), w)  # d/dw sum (3w^2)^2 = 36 w^3
    np.testing.assert_allclose(penalty.data, 36 * w.data**3)


def test_an_op_without_backward_graph_is_a_clear_error_under_create_graph():
    class Cube(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.a = a
            return a**3

        @staticmethod
        def backward(ctx, grad):
            return grad * 3 * ctx.a**2

    x = _x([1.0, 2.0])
    y = Cube.apply(x).sum()
    with pytest.raises(RuntimeError, match="Cube defines no backward_graph"):
        grad(y, x, create_graph=True)
    (g,) = grad(Cube.apply(x).sum(), x)  # first order is unaffected
    np.testing.assert_allclose(g.data, [3.0, 12.0])


def test_a_custom_backward_graph_is_used_and_checked():
    class Cube(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.a = a
            return a**3

        @staticmethod
        def backward(ctx, grad):
            return grad * 3 * ctx.a**2

        @staticmethod
        def backward_graph(ctx, grad):
            (a,) = ctx.inputs
            return grad * 3 * a * a

    x = _x([0.7, -1.3])
    assert_second_derivatives_match(lambda t: Cube.apply(t), x)


def test_gradgradcheck_catches_a_wrong_backward_graph():
    class WrongCube(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.a = a
            return a**3

        @staticmethod
        def backward(ctx, grad):
            return grad * 3 * ctx.a**2

        @staticmethod
        def backward_graph(ctx, grad):
            (a,) = ctx.inputs
            return grad * 3 * a * a.exp()  # a wrong value: not backward's

    x = _x([0.7, -1.3])
    with pytest.raises(GradcheckError, match="input 0.*from backward_graph disagrees"):
        gradgradcheck(lambda t: WrongCube.apply(t), x)


def test_gradgradcheck_catches_a_backward_graph_whose_own_gradient_is_wrong():
    class Detached(Function):  # x^3 whose backward_graph forgets that 3x^2 depends on x
        @staticmethod
        def forward(ctx, a):
            ctx.a = a
            return a**3

        @staticmethod
        def backward(ctx, grad):
            return grad * 3 * ctx.a**2

        @staticmethod
        def backward_graph(ctx, grad):
            (a,) = ctx.inputs
            return grad * Tensor(3 * a.data**2)

    x = _x([0.7, -1.3])
    with pytest.raises(GradcheckError, match="gradgradcheck: second derivative of input 0"):
        gradgradcheck(lambda t: Detached.apply(t) * t, x)


def test_a_subclass_with_its_own_backward_does_not_inherit_backward_graph():
    from tinygrad_mnist import ops

    class Twice(ops.Mul):
        @staticmethod
        def backward(ctx, grad):
            return 2 * grad * ctx.b, 2 * grad * ctx.a

    assert ops.Mul.backward_graph is not None and Twice.backward_graph is None


def test_create_graph_records_even_inside_no_grad():
    x = _x([1.0, 2.0])
    y = (x * x * x).sum()
    with no_grad():
        (g,) = grad(y, x, create_graph=True)
    assert g.requires_grad


def test_gradient_penalty_through_a_matrix_product():
    rng = np.random.default_rng(0)
    w = Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    x = Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    out = (x @ w).exp().sum()
    (gx,) = grad(out, x, create_graph=True)
    penalty = (gx * gx).sum()
    penalty.backward()
    # By hand: gx = E @ w.T, E = exp(x @ w); d penalty/dw = 2 (x.T @ (E * (gx @ w)) + gx.T @ E)
    e = np.exp(x.data @ w.data)
    gx_value = e @ w.data.T
    expected = 2 * (x.data.T @ (e * (gx_value @ w.data)) + gx_value.T @ e)
    np.testing.assert_allclose(w.grad, expected, rtol=1e-10)


# ------------------------------------------------- second order of the ops, by op

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes_pair=broadcastable_shapes(2, max_side=3), data=st.data())
def test_binary_ops_second_order(name, shapes_pair, data):
    a = data.draw(tensors(shapes_pair[0]))
    b = data.draw(tensors(shapes_pair[1], low=0.5 if name == "div" else -2.0))
    assert_second_derivatives_match(BINARY[name], a, b)


UNARY = {
    "neg": lambda t: -t,
    "exp": lambda t: t.exp(),
    "square_by_mul": lambda t: t * t,
    "astype32_64": lambda t: (t * t).astype(np.float32).astype(np.float64),
    "reshape": lambda t: (t * t).reshape(-1),
    "transpose": lambda t: (t * t).T,
    "broadcast_to": lambda t: (t * t).broadcast_to((2,) + t.shape),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(x=tensors(shapes(max_side=3)))
def test_unary_ops_second_order(name, x):
    fn = UNARY[name]
    if name == "astype32_64":  # float32 rounding: a looser check of the same formula
        assert_second_derivatives_match(fn, x, atol=1e-2, rtol=1e-2)
        return
    assert_second_derivatives_match(fn, x)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@given(data=st.data())
def test_reductions_second_order(reduction, data):
    x = data.draw(tensors(shapes(max_side=3)))
    axis = data.draw(axes(x.ndim))
    keepdims = data.draw(st.booleans())
    assert_second_derivatives_match(
        lambda t: getattr(t * t, reduction)(axis=axis, keepdims=keepdims), x)


@given(data=st.data(), a_dims=st.integers(1, 3), b_dims=st.integers(1, 3))
def test_matmul_second_order(data, a_dims, b_dims):
    n, k, m = (data.draw(st.integers(1, 3)) for _ in range(3))
    a_shape = (2,) * (a_dims - 2) + ((n, k) if a_dims >= 2 else (k,))
    b_shape = (2,) * (b_dims - 2) + ((k, m) if b_dims >= 2 else (k,))
    a, b = data.draw(tensors(a_shape)), data.draw(tensors(b_shape))
    assert_gradients_match(lambda x, y: x @ y, a, b)
    assert_second_derivatives_match(lambda x, y: (x @ y) * (x @ y), a, b)


# ------------------------------------------------ second order of every other op

MORE_UNARY = {
    "pow_constant": (lambda t: t**3.0, 0.5),
    "log": (lambda t: t.log(), 0.3),
    "sqrt": (lambda t: t.sqrt(), 0.3),
    "tanh": (lambda t: t.tanh(), -2.0),
    "sigmoid": (lambda t: t.sigmoid(), -2.0),
    "relu": (lambda t: t.relu() * t, -2.0),
    "abs": (lambda t: t.abs() * t, -2.0),
    "clip": (lambda t: t.clip(-1.0, 1.0) * t, -2.0),
    "clone": (lambda t: t.clone() * t, -2.0),
    "flatten": (lambda t: (t * t).flatten(), -2.0),
    "maximum_constant": (lambda t: t.maximum(0.3) * t, -2.0),
    "min": (lambda t: (t * t).min(), -2.0),
}


@pytest.mark.parametrize("name", sorted(MORE_UNARY))
@given(data=st.data())
def test_more_unary_ops_second_order(name, data):
    fn, low = MORE_UNARY[name]
    x = data.draw(tensors(shapes(max_side=3), low=low, high=2.0))
    assert_second_derivatives_match(fn, x)


@given(shapes_pair=broadcastable_shapes(2, max_side=3), data=st.data())
def test_pow_of_two_tensors_second_order(shapes_pair, data):
    a = data.draw(tensors(shapes_pair[0], low=0.5, high=2.0))
    b = data.draw(tensors(shapes_pair[1], low=0.5, high=2.0))
    assert_second_derivatives_match(lambda x, y: x**y, a, b)


@given(shapes_pair=broadcastable_shapes(2, max_side=3), data=st.data())
def test_maximum_and_where_second_order(shapes_pair, data):
    a = data.draw(tensors(shapes_pair[0]))
    b = data.draw(tensors(shapes_pair[1]))
    # y shifted by 3.075 grid steps: never tied with x (the kink)
    assert_second_derivatives_match(lambda x, y: x.maximum(y + 0.0123) * x * y, a, b)
    from tinygrad_mnist import where
    condition = (a * b).data > 0
    assert_second_derivatives_match(lambda x, y: where(condition, x * x, y * x), a, b)


@pytest.mark.parametrize("reduction", ["max", "logsumexp"])
@given(data=st.data())
def test_max_and_logsumexp_second_order(reduction, data):
    x = data.draw(tensors(shapes(max_side=3)))
    axis = data.draw(axes(x.ndim))
    keepdims = data.draw(st.booleans())
    assert_second_derivatives_match(
        lambda t: getattr(t * t, reduction)(axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(data=st.data())
def test_softmax_second_order(name, data):
    x = data.draw(tensors(shapes(min_dims=1, max_side=3)))
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    assert_second_derivatives_match(lambda t: getattr(t, name)(axis=axis) * t, x)


@given(data=st.data())
def test_indexing_second_order_with_repeated_indices(data):
    x = data.draw(tensors(shapes(min_dims=1, max_side=4)))
    n = x.shape[0]
    picks = np.array(data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6)))
    assert_second_derivatives_match(lambda t: (t * t)[picks] * t[picks], x)
    assert_second_derivatives_match(lambda t: (t * t)[1:] * t[:-1] if n > 1 else t * t, x)


@pytest.mark.parametrize("join", ["concatenate", "stack"])
@given(data=st.data())
def test_concatenate_and_stack_second_order(join, data):
    from tinygrad_mnist import concatenate, stack
    shape = data.draw(shapes(min_dims=1, max_side=3))
    axis = data.draw(st.integers(-len(shape) - (join == "stack"), len(shape) - 1))
    a, b = data.draw(tensors(shape)), data.draw(tensors(shape))
    fn = concatenate if join == "concatenate" else stack
    assert_second_derivatives_match(lambda x, y: fn([x * y, y * y], axis=axis) * 2.0, a, b)


@given(x=tensors(shapes(max_side=3)))
def test_var_and_std_second_order(x):
    if x.size < 2:
        return
    assert_second_derivatives_match(lambda t: t.var(), x)
    assert_second_derivatives_match(lambda t: (t * t + 1.0).std(axis=None), x)


# ------------------------------------------- worked values: third derivatives by hand


def _third_derivative(fn, values):
    x = _x(values)
    (first,) = grad(fn(x).sum(), x, create_graph=True)
    (second,) = grad(first.sum(), x, create_graph=True)
    (third,) = grad(second.sum(), x)
    return x.data, third.data


@pytest.mark.parametrize("name, fn, by_hand, values", [
    ("x**3", lambda t: t**3.0, lambda x: np.full_like(x, 6.0), [-1.5, 0.4, 2.0]),
    ("tanh", lambda t: t.tanh(),
     lambda x: (1 - np.tanh(x)**2) * (6 * np.tanh(x)**2 - 2), [-1.2, 0.3, 0.9]),
    ("sigmoid", lambda t: t.sigmoid(),
     lambda x: (lambda s: s * (1 - s) * (1 - 6 * s + 6 * s * s))(1 / (1 + np.exp(-x))),
     [-2.0, 0.1, 1.7]),
    ("exp", lambda t: t.exp(), np.exp, [-1.0, 0.5, 2.0]),
    ("log", lambda t: t.log(), lambda x: 2 / x**3, [0.5, 1.0, 3.0]),
    ("sqrt", lambda t: t.sqrt(), lambda x: 3 / 8 * x**-2.5, [0.25, 1.0, 4.0]),
])
def test_third_derivatives_match_the_hand_derived_formulas(name, fn, by_hand, values):
    x, third = _third_derivative(fn, values)
    np.testing.assert_allclose(third, by_hand(x), rtol=1e-12, atol=1e-12)


def test_grad_of_several_outputs_where_one_is_an_input_of_the_other():
    x = _x([1.0, 2.0])
    h = x * x
    y = (h * 3).sum()
    (g,) = grad([y, h.sum()], x, retain_graph=True)  # d/dx (3 sum x^2 + sum x^2) = 8x
    np.testing.assert_array_equal(g.data, 8 * x.data)
    (g,) = grad([h.sum(), y], x)  # the other order
    np.testing.assert_array_equal(g.data, 8 * x.data)
