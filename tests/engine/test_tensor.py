"""The Tensor's behaviour: dtypes, operators, backward, no_grad, errors, stability."""

import gc
import weakref

import numpy as np
import pytest

from tinygrad_mnist import Function, GradcheckError, Tensor, gradcheck, no_grad


def test_float32_by_default_and_float64_kept():
    assert Tensor([1, 2, 3]).dtype == np.float32
    assert Tensor([1.5, 2.5]).dtype == np.float32
    assert Tensor(2.0).dtype == np.float32
    assert Tensor(np.arange(3)).dtype == np.float32
    assert Tensor(np.zeros(3, np.float64)).dtype == np.float64
    assert Tensor(np.zeros(3), dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_python_scalars_never_change_the_dtype(dtype):
    t = Tensor(np.ones(3, dtype))
    for result in (t * 2, 2 * t, t + 1.5, 1 - t, t / 3, 3 / t, t**2, 2**t, -t):
        assert result.dtype == dtype


def test_attributes_and_conversions():
    t = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6
    assert t.T.shape == (3, 2)
    assert np.shares_memory(t.numpy(), t.data) and not t.numpy().flags.writeable
    assert Tensor([[4.0]]).item() == 4.0
    d = t.detach()
    assert d.data is t.data and not d.requires_grad
    assert (t > 1).detach().dtype == bool
    assert len(t) == 2


def test_repr_shows_shape_dtype_and_op():
    t = Tensor(np.ones((2, 2)), requires_grad=True) * 2
    text = repr(t)
    assert "shape=(2, 2)" in text and "float64" in text and "op=Mul" in text


def test_comparisons_give_boolean_tensors_without_gradient():
    t = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in (
        (t > 2, [False, False, True]),
        (t >= 2, [False, True, True]),
        (t < 2, [True, False, False]),
        (t <= 2, [True, True, False]),
        (t == 2, [False, True, False]),
        (t != 2, [True, False, True]),
    ):
        assert result.dtype == bool and not result.requires_grad
        np.testing.assert_array_equal(result.data, expected)


def test_a_boolean_mask_times_a_number_is_a_float_tensor():
    mask = Tensor([1.0, -1.0, 2.0]) > 0
    np.testing.assert_array_equal((mask * 0.5).data, [0.5, 0.0, 0.5])
    assert (mask * 0.5).dtype == np.float32


def test_forward_values_match_numpy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(3, 4)), rng.normal(size=(4,))
    ta, tb = Tensor(a), Tensor(b)
    np.testing.assert_allclose((ta * tb + ta / (tb * tb + 1)).data, a * b + a / (b * b + 1))
    np.testing.assert_allclose((ta @ tb).data, a @ b)
    np.testing.assert_allclose(ta.max(axis=0).data, a.max(axis=0))
    np.testing.assert_allclose(ta.softmax().data.sum(axis=-1), np.ones(3))
    np.testing.assert_allclose(ta.logsumexp(axis=1).data, np.log(np.exp(a).sum(axis=1)))
    np.testing.assert_allclose(ta[a > 0].data, a[a > 0])


def test_gradient_accumulates_when_a_tensor_is_used_in_many_places():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * 3 + x * x + x
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 3 + 2 * x.data + 1)
    # a second graph adds to the same .grad
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad, 3 + 2 * x.data + 1 + 2)


def test_a_chain_of_ten_thousand_ops_backpropagates_without_recursion():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.full(2, 1.0001**10_000), rtol=1e-3)


def test_graph_is_released_unless_retained():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad, 4 * x.data)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_released_graph_frees_the_saved_arrays():
    x = Tensor(np.ones(3), requires_grad=True)
    h = x * 2
    saved = weakref.ref(h)
    y = (h * h).sum()
    del h
    gc.collect()
    assert saved() is not None  # the graph holds it
    y.backward()
    gc.collect()
    assert saved() is None


def test_non_scalar_backward_needs_an_explicit_gradient():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"shape \(2, 3\).*backward\(grad\)"):
        y.backward()
    y.backward(np.ones((2, 3)))
    np.testing.assert_allclose(x.grad, 2 * np.ones((2, 3)))
    with pytest.raises(ValueError, match="grad has shape"):
        (x * 2).backward(np.ones(3))


def test_backward_on_a_tensor_that_needs_no_gradient_is_refused():
    with pytest.raises(RuntimeError, match="does not require grad"):
        (Tensor([1.0]) * 2).backward()


def test_retain_grad_keeps_an_intermediate_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad, 2 * h.data)


def test_no_grad_records_nothing_as_context_and_decorator():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        y = x * x
    assert not y.requires_grad and y.op is None and y.inputs == ()

    @no_grad()
    def double(t):
        return t * 2

    z = double(x)
    assert not z.requires_grad and z.inputs == ()
    assert (x * x).requires_grad  # grad mode is back afterwards


def test_matmul_shape_mismatch_is_refused_clearly():
    with pytest.raises(ValueError, match=r"MatMul.*\(4\).*\(5\).*input shapes \(3, 4\), \(5, 6\)"):
        Tensor(np.ones((3, 4))) @ Tensor(np.ones((5, 6)))


def test_broadcast_mismatch_names_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"Add.*\(3,\), \(4,\)"):
        Tensor(np.ones(3)) + Tensor(np.ones(4))


@pytest.mark.parametrize("data", [np.array(["a", "b"]), np.array([object()]), [1 + 2j]])
def test_non_numeric_data_is_refused(data):
    with pytest.raises(TypeError, match="numeric"):
        Tensor(data)


def test_requires_grad_needs_a_float_dtype():
    with pytest.raises(TypeError, match="float dtype"):
        Tensor(np.array([True, False]), dtype=bool, requires_grad=True)


class WrongShape(Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, grad):
        return grad[:1]


class WrongCount(Function):
    @staticmethod
    def forward(ctx, a):
        return a * 2

    @staticmethod
    def backward(ctx, grad):
        return grad, grad


def test_a_function_whose_backward_returns_the_wrong_shape_is_refused():
    x = Tensor(np.ones((3, 2)), requires_grad=True)
    expected = r"WrongShape.backward.*\(1, 2\).*input 0 of shape \(3, 2\)"
    with pytest.raises(ValueError, match=expected):
        WrongShape.apply(x).sum().backward()
    with pytest.raises(ValueError, match="WrongCount.backward returned 2 gradients for 1 inputs"):
        WrongCount.apply(x).sum().backward()


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: t.log_softmax(),
        lambda t: t.softmax(),
        lambda t: t.logsumexp(axis=-1),
        lambda t: t.sigmoid(),
        lambda t: t.tanh(),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_exp_based_ops_are_finite_at_huge_inputs(fn, dtype):
    # pytest turns NumPy's overflow warnings into errors here (filterwarnings=error).
    x = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], dtype), requires_grad=True)
    out = fn(x)
    out.backward(np.ones(out.shape, dtype))
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad))


def test_gradcheck_reports_the_worst_element():
    class BadSquare(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.a = a
            return a * a

        @staticmethod
        def backward(ctx, grad):
            wrong = 2 * ctx.a
            wrong[1] += 1.0
            return grad * wrong

    x = Tensor(np.array([0.5, 1.0, 1.5]), requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 .* element \(1,\): analytic .* numeric"):
        gradcheck(lambda t: BadSquare.apply(t), x)
    assert gradcheck(lambda t: t * t, x)
    with pytest.raises(ValueError, match="eps"):
        gradcheck(lambda t: t * t, x, eps=0)
