"""Conv2d: gradients against central differences, values against a naive loop, bad shapes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist import Tensor, nn
from tinygrad_mnist.testing import assert_gradients_match, tensors, well_conditioned

seeds = st.integers(0, 2**32 - 1)


def naive_conv2d(x, weight, bias, stride, padding):
    """The definition, one output pixel at a time: the yardstick for the vectorised op."""
    (sh, sw), (ph, pw) = stride, padding
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    n, _, h, w = x.shape
    out_channels, _, kh, kw = weight.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.zeros((n, out_channels, oh, ow))
    for b in range(n):
        for o in range(out_channels):
            for i in range(oh):
                for j in range(ow):
                    window = x[b, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    out[b, o, i, j] = np.sum(window * weight[o]) + (0 if bias is None else bias[o])
    return out


@st.composite
def conv_cases(draw, max_side=6):
    """(image shape, layer arguments) for a convolution that fits, edge cases included.

    Kernel sizes go up to the padded image (kernel = image included), strides up to 4
    (stride > kernel included) and 1 x 1 kernels come up often.
    """
    batch, in_channels = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    height, width = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    kernel = (draw(st.sampled_from([1, height + 2 * padding[0], None])),
              draw(st.sampled_from([1, width + 2 * padding[1], None])))
    kernel = tuple(k if k is not None else draw(st.integers(1, side + 2 * p))
                   for k, side, p in zip(kernel, (height, width), padding))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    return (batch, in_channels, height, width), dict(kernel_size=kernel, stride=stride,
                                                    padding=padding)


@given(conv_cases(), st.integers(1, 3), st.booleans(), seeds, st.data())
def test_conv2d_gradients(case, out_channels, bias, seed, data):
    shape, arguments = case
    layer = nn.Conv2d(shape[1], out_channels, bias=bias, seed=seed, **arguments)
    layer.astype(np.float64)
    if bias:
        layer.bias.data[:] = well_conditioned(out_channels, seed=seed)
    x = data.draw(tensors(shape=shape))
    assert_gradients_match(layer, x, wrt=layer.parameters())


@given(conv_cases(), st.integers(1, 3), st.booleans(), seeds)
def test_conv2d_forward_matches_the_naive_loop(case, out_channels, bias, seed):
    shape, arguments = case
    layer = nn.Conv2d(shape[1], out_channels, bias=bias, seed=seed, **arguments)
    layer.astype(np.float64)
    if bias:
        layer.bias.data[:] = well_conditioned(out_channels, seed=seed)
    x = well_conditioned(shape, seed=seed + 1)
    expected = naive_conv2d(x, layer.weight.data, layer.bias.data if bias else None,
                            layer.stride, layer.padding)
    np.testing.assert_allclose(layer(x).data, expected, rtol=1e-12, atol=1e-12)


def test_conv2d_on_a_hand_worked_example():
    # A 3x3 image of 1..9 and a 2x2 kernel that subtracts the top-left from the bottom-right.
    x = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    weight = np.array([[[[-1.0, 0.0], [0.0, 1.0]]]])
    out = nn.conv2d(Tensor(x), Tensor(weight), Tensor([0.5]))
    np.testing.assert_array_equal(out.data, [[[[4.5, 4.5], [4.5, 4.5]]]])
    padded = nn.conv2d(Tensor(x), Tensor(weight), stride=2, padding=1)
    np.testing.assert_array_equal(padded.data, [[[[1.0, 3.0], [7.0, 4.0]]]])  # 4 = 9 - 5


def test_conv2d_output_is_nchw_and_keeps_float32():
    layer = nn.Conv2d(3, 8, 5, padding=2, seed=0)
    out = layer(np.zeros((4, 3, 28, 28), np.float32))
    assert out.shape == (4, 8, 28, 28) and out.dtype == np.float32
    assert nn.Conv2d(3, 8, (3, 1), stride=(2, 1))(np.zeros((1, 3, 7, 4))).shape == (1, 8, 3, 4)


def test_conv2d_parameters_are_shaped_like_pytorch_and_he_initialised():
    layer = nn.Conv2d(16, 32, 5, seed=0)
    assert [(name, p.shape) for name, p in layer.named_parameters()] == [
        ("weight", (32, 16, 5, 5)), ("bias", (32,))]
    assert layer.num_parameters() == 32 * 16 * 25 + 32
    bound = np.sqrt(6 / (16 * 25))  # He uniform over the fan-in of one output channel
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.99 * bound
    np.testing.assert_allclose(layer.weight.data.std(), bound / np.sqrt(3), rtol=0.05)
    np.testing.assert_array_equal(layer.bias.data, 0)
    np.testing.assert_array_equal(nn.Conv2d(16, 32, 5, seed=0).weight.data, layer.weight.data)
    assert not np.array_equal(nn.Conv2d(16, 32, 5, seed=1).weight.data, layer.weight.data)
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None


def test_conv2d_leaves_its_input_unchanged_and_sums_the_bias_gradient_over_pixels():
    x = np.random.default_rng(0).normal(size=(2, 1, 6, 6)).astype(np.float32)
    before = x.copy()
    layer = nn.Conv2d(1, 2, 3, padding=1, seed=0)
    layer(x).sum().backward()
    np.testing.assert_array_equal(x, before)
    assert layer.weight.grad.shape == (2, 1, 3, 3)
    np.testing.assert_allclose(layer.bias.grad, [72.0, 72.0])  # 2 images x 36 pixels


@pytest.mark.parametrize("shape, arguments, message", [
    ((1, 1, 4, 4), dict(kernel_size=5), r"Conv2d: kernel 5x5 is larger than the padded image "
                                        r"4x4 \(input shape \(1, 1, 4, 4\)"),
    ((1, 1, 3, 3), dict(kernel_size=(2, 6), padding=1), r"kernel 2x6 is larger than the padded "
                                                        r"image 5x5"),
    ((2, 3, 8, 8), dict(kernel_size=3), r"Conv2d: expected 1 input channels, got input of "
                                        r"shape \(2, 3, 8, 8\)"),
    ((1, 8, 8), dict(kernel_size=3), r"Conv2d: expected a 4-D input .*got shape \(1, 8, 8\)"),
])
def test_conv2d_shapes_that_cannot_work_are_named(shape, arguments, message):
    layer = nn.Conv2d(1, 2, **arguments)
    with pytest.raises(ValueError, match=message):
        layer(np.zeros(shape, np.float32))


@pytest.mark.parametrize("arguments, error, message", [
    (dict(kernel_size=0), ValueError, r"Conv2d: kernel_size must be >= 1, got 0"),
    (dict(kernel_size=(3, -1)), ValueError, r"kernel_size must be >= 1, got \(3, -1\)"),
    (dict(kernel_size=2.5), TypeError, r"kernel_size must be an int or a pair of ints, got 2.5"),
    (dict(kernel_size=(1, 2, 3)), TypeError, r"kernel_size must be an int or a pair"),
    (dict(kernel_size=True), TypeError, r"kernel_size must be an int or a pair"),
    (dict(kernel_size=3, stride=0), ValueError, r"Conv2d: stride must be >= 1, got 0"),
    (dict(kernel_size=3, padding=-1), ValueError, r"Conv2d: padding must be >= 0, got -1"),
    (dict(kernel_size=3, padding="same"), TypeError, r"padding must be an int or a pair"),
    (dict(kernel_size=3, init="nope"), ValueError, r"unknown initialiser 'nope'"),
])
def test_conv2d_bad_arguments_are_named(arguments, error, message):
    with pytest.raises(error, match=message):
        nn.Conv2d(1, 2, **arguments)


@pytest.mark.parametrize("in_channels, out_channels", [(0, 1), (1, 0), (1.5, 1)])
def test_conv2d_channel_counts_must_be_positive_ints(in_channels, out_channels):
    with pytest.raises((TypeError, ValueError), match="Conv2d: (in|out)_channels"):
        nn.Conv2d(in_channels, out_channels, 3)


def test_functional_conv2d_checks_the_weight():
    with pytest.raises(ValueError, match=r"conv2d: weight must have shape \(out_channels, "
                                         r"in_channels, kh, kw\), got \(2, 3\)"):
        nn.conv2d(np.zeros((1, 1, 4, 4)), np.zeros((2, 3)))


def test_conv2d_repr():
    assert repr(nn.Conv2d(1, 16, 5, padding=2)) == (
        "Conv2d(1 -> 16, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2), bias=True)  "
        "[416 parameters]")


def test_conv2d_takes_an_empty_batch_forward_and_backward():
    # The kernels work a few images at a time: no images is no chunk, not an error.
    layer = nn.Conv2d(2, 3, 3, padding=1, seed=0)
    x = Tensor(np.zeros((0, 2, 5, 5), np.float32), requires_grad=True)
    out = layer(x)
    out.sum().backward()
    assert out.shape == (0, 3, 5, 5) and x.grad.shape == (0, 2, 5, 5)
    np.testing.assert_array_equal(layer.weight.grad, 0)


def test_conv2d_output_is_a_channels_last_view_and_any_input_layout_works():
    # The work is done channels-last (conv_kernels.py) and the output is an NCHW view of
    # that memory; an NCHW-contiguous input and a channels-last one give the same result.
    rng = np.random.default_rng(0)
    layer = nn.Conv2d(3, 4, 3, padding=1, seed=0)
    x = rng.normal(size=(2, 3, 6, 5)).astype(np.float32)
    channels_last = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    out = layer(x).data
    assert out.transpose(0, 2, 3, 1).flags.c_contiguous
    np.testing.assert_array_equal(layer(channels_last).data, out)
