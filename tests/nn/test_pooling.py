"""MaxPool2d and AvgPool2d: gradients, values against a naive loop, the stride rule, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist import Tensor, nn
from tinygrad_mnist.testing import assert_gradients_match, tensors, well_conditioned

seeds = st.integers(0, 2**32 - 1)


def naive_pool(x, kernel, stride, padding, reduce):
    (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            out[:, :, i, j] = reduce(x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw], axis=(2, 3))
    return out


@st.composite
def pool_cases(draw, padded: bool):
    """(image shape, kernel, stride, padding): overlapping, side by side, stride > kernel."""
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)),
             draw(st.integers(1, 6)), draw(st.integers(1, 6)))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(2))
    padding = tuple(draw(st.integers(0, k // 2)) if padded else 0 for k in kernel)
    kernel = tuple(min(k, side + 2 * p) for k, side, p in zip(kernel, shape[2:], padding))
    stride = draw(st.sampled_from([None, (draw(st.integers(1, 4)), draw(st.integers(1, 4)))]))
    return shape, kernel, stride, padding


@given(pool_cases(padded=True), st.data())
def test_max_pool_gradients(case, data):
    shape, kernel, stride, padding = case
    x = data.draw(tensors(shape=shape))
    assert_gradients_match(nn.MaxPool2d(kernel, stride, padding), x)


@given(pool_cases(padded=True), seeds)
def test_max_pool_matches_the_naive_loop(case, seed):
    shape, kernel, stride, padding = case
    x = well_conditioned(shape, seed=seed)
    expected = naive_pool(x, kernel, stride or kernel, padding, np.max)
    np.testing.assert_array_equal(nn.MaxPool2d(kernel, stride, padding)(x).data, expected)


@given(pool_cases(padded=False), st.data())
def test_avg_pool_gradients(case, data):
    shape, kernel, stride, _ = case
    x = data.draw(tensors(shape=shape))
    assert_gradients_match(nn.AvgPool2d(kernel, stride), x)


@given(pool_cases(padded=False), seeds)
def test_avg_pool_matches_the_naive_loop(case, seed):
    shape, kernel, stride, _ = case
    x = well_conditioned(shape, seed=seed)
    expected = naive_pool(x, kernel, stride or kernel, (0, 0), np.mean)
    np.testing.assert_allclose(nn.AvgPool2d(kernel, stride)(x).data, expected, rtol=1e-12)


def test_stride_defaults_to_the_kernel_size():
    assert nn.MaxPool2d(2).stride == (2, 2) and nn.AvgPool2d((3, 2)).stride == (3, 2)
    assert nn.MaxPool2d(3, stride=1).stride == (1, 1)
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, [[[[5, 7], [13, 15]]]])
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x).data, [[[[2.5, 4.5], [10.5, 12.5]]]])
    assert nn.MaxPool2d(2)(np.zeros((3, 5, 28, 28), np.float32)).shape == (3, 5, 14, 14)


def test_max_pool_sends_the_gradient_of_overlapping_windows_to_each_winner():
    # 3x3 windows at stride 1 over a 4x4 image: all four contain pixel (1, 1), the largest.
    image = np.arange(16.0).reshape(1, 1, 4, 4)
    image[0, 0, 1, 1] = 100
    x = Tensor(image, requires_grad=True)
    nn.MaxPool2d(3, stride=1)(x).sum().backward()
    expected = np.zeros((4, 4))
    expected[1, 1] = 4
    np.testing.assert_array_equal(x.grad[0, 0], expected)


def test_max_pool_gives_a_tie_to_one_element_only():
    x = Tensor(np.zeros((1, 1, 2, 2)), requires_grad=True)
    nn.MaxPool2d(2)(x).sum().backward()
    assert x.grad.sum() == 1 and np.count_nonzero(x.grad) == 1


def test_max_pool_padding_never_wins():
    x = -np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(nn.MaxPool2d(2, padding=1)(x).data, -np.ones((1, 1, 2, 2)))


def test_pools_keep_float32():
    x = np.ones((2, 3, 6, 6), np.float32)
    assert nn.MaxPool2d(2)(x).dtype == np.float32 and nn.AvgPool2d(3)(x).dtype == np.float32


@pytest.mark.parametrize("layer, shape, message", [
    (nn.MaxPool2d(3), (1, 1, 2, 5), r"MaxPool2d: kernel 3x3 is larger than the padded image "
                                    r"2x5 \(input shape \(1, 1, 2, 5\)"),
    (nn.AvgPool2d(4), (2, 1, 3, 3), r"AvgPool2d: kernel 4x4 is larger than the padded image 3x3"),
    (nn.MaxPool2d(2), (4, 28, 28), r"MaxPool2d: expected a 4-D input .*got shape \(4, 28, 28\)"),
    (nn.AvgPool2d(2), (28, 28), r"AvgPool2d: expected a 4-D input .*got shape \(28, 28\)"),
])
def test_pool_shapes_that_cannot_work_are_named(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(np.zeros(shape))


@pytest.mark.parametrize("make, error, message", [
    (lambda: nn.MaxPool2d(0), ValueError, r"MaxPool2d: kernel_size must be >= 1, got 0"),
    (lambda: nn.MaxPool2d(2, stride=0), ValueError, r"MaxPool2d: stride must be >= 1, got 0"),
    (lambda: nn.MaxPool2d(2, padding=-1), ValueError, r"MaxPool2d: padding must be >= 0"),
    (lambda: nn.MaxPool2d(2, padding=2), ValueError,
     r"MaxPool2d: padding must be at most half the kernel size, got padding 2 for kernel_size 2"),
    (lambda: nn.MaxPool2d("2"), TypeError, r"kernel_size must be an int or a pair of ints"),
    (lambda: nn.AvgPool2d((2, 0)), ValueError, r"AvgPool2d: kernel_size must be >= 1"),
    (lambda: nn.AvgPool2d(2, stride=1.5), TypeError, r"AvgPool2d: stride must be an int or"),
])
def test_pool_bad_arguments_are_named(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_pool_reprs():
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))"
    assert repr(nn.AvgPool2d(3, 1)) == "AvgPool2d(kernel_size=(3, 3), stride=(1, 1))"
