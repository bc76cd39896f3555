"""The boundary of Function, indexing and gradcheck (issue 19, 5-7 and 13-15)."""

import warnings

import numpy as np
import pytest

from tinygrad_mnist import Function, GradcheckError, Tensor, gradcheck


def _x(values):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# --------------------------------------------------------------- 13. several outputs


class SplitHalves(Function):
    """Two outputs: the first and the second half of a vector."""

    seen = []

    @staticmethod
    def forward(ctx, a):
        ctx.n = len(a) // 2
        return a[: ctx.n] * 1.0, a[ctx.n:] * 1.0

    @staticmethod
    def backward(ctx, grad_first, grad_second):
        SplitHalves.seen.append((grad_first is None, grad_second is None))
        first = np.zeros(ctx.n) if grad_first is None else grad_first
        second = np.zeros(ctx.n) if grad_second is None else grad_second
        return np.concatenate([first, second])


def test_a_forward_returning_a_tuple_gives_a_tuple_of_tensors_and_one_backward():
    x = _x([1.0, 2.0, 3.0, 4.0])
    first, second = SplitHalves.apply(x)
    assert isinstance(first, Tensor) and first.shape == (2,) and second.shape == (2,)
    SplitHalves.seen.clear()
    (first * 2 + second * first).sum().backward()
    assert SplitHalves.seen == [(False, False)]  # called once, with both gradients
    np.testing.assert_array_equal(x.grad, [2 + 3, 2 + 4, 1, 2])


def test_an_output_that_got_no_gradient_is_passed_as_none():
    x = _x([1.0, 2.0, 3.0, 4.0])
    first, _ = SplitHalves.apply(x)
    SplitHalves.seen.clear()
    (first * 3).sum().backward()
    assert SplitHalves.seen == [(False, True)]
    np.testing.assert_array_equal(x.grad, [3, 3, 0, 0])


class ArgmaxAndMax(Function):
    @staticmethod
    def forward(ctx, a):
        index = np.argmax(a)
        ctx.index, ctx.shape = index, a.shape
        index_array = np.array(index)
        ctx.mark_non_differentiable(index_array)
        return index_array, a[index] * 1.0

    @staticmethod
    def backward(ctx, grad_index, grad_max):
        assert grad_index is None
        out = np.zeros(ctx.shape)
        out[ctx.index] = grad_max
        return out


def test_mark_non_differentiable_outputs_do_not_require_grad():
    x = _x([1.0, 5.0, 2.0])
    index, peak = ArgmaxAndMax.apply(x)
    assert not index.requires_grad and peak.requires_grad and index.item() == 1
    (peak * 2).backward()
    np.testing.assert_array_equal(x.grad, [0, 2, 0])


def test_several_outputs_under_gradcheck():
    x = _x([0.3, -1.2, 0.7, 2.0])
    gradcheck(lambda t: (lambda a, b: a * b)(*SplitHalves.apply(t)), x)


# ------------------------------------------------------------- 14. the op's boundary


def test_a_forward_returning_none_is_a_type_error_at_apply_naming_the_op():
    class Forgetful(Function):
        @staticmethod
        def forward(ctx, a):
            ctx.a = a  # forgot the return

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(TypeError, match="Forgetful.forward returned NoneType"):
        Forgetful.apply(_x([1.0]))


def test_a_forward_returning_something_not_numeric_is_a_type_error():
    class Wordy(Function):
        @staticmethod
        def forward(ctx, a):
            return "done"

    with pytest.raises(TypeError, match="Wordy.forward returned str"):
        Wordy.apply(_x([1.0]))


@pytest.mark.parametrize("error", [KeyError, TypeError, ZeroDivisionError, IndexError])
def test_every_exception_from_forward_names_the_op(error):
    class Broken(Function):
        @staticmethod
        def forward(ctx, a):
            raise error("something inside")

    with pytest.raises(error, match="Broken") as caught:
        Broken.apply(_x([1.0]))
    assert "something inside" in str(caught.value)


def test_backward_may_return_a_list():
    class Both(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return [grad, grad]

    a, b = _x([1.0]), _x([2.0])
    Both.apply(a, b).sum().backward()
    assert a.grad.tolist() == [1.0] and b.grad.tolist() == [1.0]


@pytest.mark.parametrize("argument", [1, True, None, "x", (0, 1)])
def test_a_positional_parameter_is_refused_with_a_hint_to_use_a_keyword(argument):
    class SumAlong(Function):
        @staticmethod
        def forward(ctx, a, axis=None):
            return a.sum(axis=axis)

    with pytest.raises(TypeError, match=r"SumAlong.apply: positional argument 1 .*keyword"):
        SumAlong.apply(_x([[1.0, 2.0]]), argument)
    assert SumAlong.apply(_x([[1.0, 2.0]]), axis=1).data.tolist() == [3.0]


def test_a_float64_constant_in_a_custom_op_keeps_float32_float32():
    class ScaleByConstant(Function):
        @staticmethod
        def forward(ctx, a):
            return a * np.array([2.0])  # a float64 constant

        @staticmethod
        def backward(ctx, grad):
            return grad * np.array([2.0])

    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = ScaleByConstant.apply(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
    assert Tensor(np.ones(2)).astype(np.float32).astype(np.float64).dtype == np.float64


# ------------------------------------------------------------------ 15. indexing


def test_integer_tensors_inside_a_tuple_index():
    x = _x([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    labels = Tensor(np.array([2, 0]), dtype=np.int64)
    picked = x[np.arange(2), labels]
    assert picked.data.tolist() == [3.0, 4.0]
    picked.sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 0, 1], [1, 0, 0]])


def test_repeated_integer_indices_accumulate():
    x = _x([1.0, 2.0, 3.0])
    x[Tensor(np.array([0, 0, 2]), dtype=np.int64)].sum().backward()
    np.testing.assert_array_equal(x.grad, [2, 0, 1])


# ------------------------------------------------------------ 5-7. gradcheck's honesty


def test_gradcheck_handles_a_non_contiguous_input_and_wrt():
    w = np.arange(6.0).reshape(2, 3).T  # as weights copied from PyTorch: w.T
    assert not w.flags.c_contiguous
    gradcheck(lambda t: (t * t).sum(axis=0), Tensor(w, requires_grad=True))
    weight = Tensor(np.arange(6.0).reshape(3, 2).T * 0.1)  # float64, (2, 3), transposed
    assert not weight.data.flags.c_contiguous
    gradcheck(lambda x: (x @ weight) * (x @ weight), _x([[1.0, 2.0]]), wrt=[weight])


def test_gradcheck_restores_the_requires_grad_and_grad_of_wrt_tensors():
    w = Tensor(np.array([1.0, 2.0]))
    v = Tensor(np.array([3.0, 4.0]), requires_grad=True)
    v.grad = np.array([7.0, 7.0])
    gradcheck(lambda x: x * w * v, _x([0.5, 1.5]), wrt=[w, v])
    assert not w.requires_grad and w.grad is None
    assert v.requires_grad and v.grad.tolist() == [7.0, 7.0]


def test_gradcheck_checks_only_inputs_that_require_grad():
    class MaskWithAWrongMaskGradient(Function):
        @staticmethod
        def forward(ctx, a, mask):
            ctx.mask = mask
            return a * mask

        @staticmethod
        def backward(ctx, grad):
            return grad * ctx.mask, np.zeros_like(ctx.mask)  # the mask's: not meant to be used

    mask = Tensor(np.array([1.0, 0.0, 1.0]))  # a constant: requires no grad
    gradcheck(lambda a, m: MaskWithAWrongMaskGradient.apply(a, m), _x([1.0, 2.0, 3.0]), mask)
    with pytest.raises(ValueError, match="no Tensor to check"):
        gradcheck(lambda m: m * 2, mask)


def test_gradcheck_says_when_fn_returns_float32():
    x = _x([0.3, 0.7])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GradcheckError, match="float32"):
            gradcheck(lambda t: t.astype(np.float32), x, atol=1e-9, rtol=1e-9)
    with pytest.warns(UserWarning, match="returned float32"):
        gradcheck(lambda t: t.astype(np.float32), x, atol=0.1)


class SquareAndCube(Function):
    """Two outputs with a backward_graph: differentiable twice."""

    @staticmethod
    def forward(ctx, a):
        ctx.a = a
        return a * a, a * a * a

    @staticmethod
    def backward(ctx, grad_square, grad_cube):
        total = np.zeros_like(ctx.a)
        if grad_square is not None:
            total = total + grad_square * 2 * ctx.a
        if grad_cube is not None:
            total = total + grad_cube * 3 * ctx.a * ctx.a
        return total

    @staticmethod
    def backward_graph(ctx, grad_square, grad_cube):
        (a,) = ctx.inputs
        assert len(ctx.output) == 2  # the output Tensors, one per output
        total = a * 0.0
        if grad_square is not None:
            total = total + grad_square * 2 * a
        if grad_cube is not None:
            total = total + grad_cube * 3 * a * a
        return total


def test_several_outputs_are_differentiable_twice():
    from tinygrad_mnist import gradgradcheck
    x = _x([0.4, -1.1, 1.7])
    gradgradcheck(lambda t: (lambda s, c: s * c + c)(*SquareAndCube.apply(t)), x)
    gradgradcheck(lambda t: SquareAndCube.apply(t)[1], x)  # one output gets no gradient
