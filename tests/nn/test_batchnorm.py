"""BatchNorm1d and BatchNorm2d: gradients in both modes, statistics, buffers, errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist import nn
from tinygrad_mnist.testing import assert_gradients_match, tensors, well_conditioned

seeds = st.integers(0, 2**32 - 1)


def randomise(layer, seed):
    """Parameters and running statistics away from 1 and 0, which could hide mistakes."""
    features = layer.num_features
    layer.weight.data[:] = well_conditioned(features, seed=seed)
    layer.bias.data[:] = well_conditioned(features, seed=seed + 1)
    layer.running_mean[:] = well_conditioned(features, seed=seed + 2)
    layer.running_var[:] = np.abs(well_conditioned(features, seed=seed + 3)) + 0.5
    return layer


@st.composite
def batch_norm_cases(draw):
    """(layer, input shape): 1d on (N, C) and (N, C, L), 2d on (N, C, H, W)."""
    channels = draw(st.integers(1, 3))
    kind = draw(st.sampled_from(["1d", "1d-length", "2d"]))
    extra = {"1d": (), "1d-length": (draw(st.integers(1, 3)),),
             "2d": (draw(st.integers(1, 3)), draw(st.integers(1, 3)))}[kind]
    # Training needs at least two values per channel.
    batch = draw(st.integers(2 if not extra or np.prod(extra) == 1 else 1, 4))
    layer = nn.BatchNorm2d(channels) if kind == "2d" else nn.BatchNorm1d(channels)
    return layer.astype(np.float64), (batch, channels, *extra)


@given(batch_norm_cases(), st.booleans(), seeds, st.data())
def test_batch_norm_gradients_in_both_modes(case, training, seed, data):
    layer, shape = case
    randomise(layer, seed).train(training)
    x = data.draw(tensors(shape=shape))
    assert_gradients_match(layer, x, wrt=layer.parameters())


def test_training_normalises_each_channel_over_batch_and_pixels():
    x = np.random.default_rng(0).normal(5.0, 3.0, size=(16, 3, 4, 4))
    x[:, 1] *= 10
    out = nn.BatchNorm2d(3).astype(np.float64)(x).data
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-4)


def test_running_statistics_follow_pytorch_and_evaluation_uses_them():
    rng = np.random.default_rng(1)
    layer = nn.BatchNorm2d(2, momentum=0.5).astype(np.float64)
    x = rng.normal(2.0, 3.0, size=(4, 2, 3, 3))
    layer(x)
    mean, unbiased = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3), ddof=1)
    np.testing.assert_allclose(layer.running_mean, 0.5 * mean)
    np.testing.assert_allclose(layer.running_var, 0.5 * 1 + 0.5 * unbiased)
    layer.eval()
    y = rng.normal(size=(1, 2, 3, 3))
    expected = (y - layer.running_mean[:, None, None]) / np.sqrt(
        layer.running_var[:, None, None] + 1e-5)
    np.testing.assert_allclose(layer(y).data, expected, rtol=1e-12)
    before = layer.running_mean.copy()
    layer(y)
    np.testing.assert_array_equal(layer.running_mean, before)  # evaluation leaves them alone


def test_in_evaluation_one_sample_does_not_depend_on_the_others():
    layer = nn.BatchNorm1d(3)
    layer(np.random.default_rng(0).normal(size=(32, 3)).astype(np.float32))
    layer.eval()
    batch = np.random.default_rng(1).normal(size=(5, 3)).astype(np.float32)
    np.testing.assert_allclose(layer(batch).data[:1], layer(batch[:1]).data, rtol=1e-6)


def test_state_dict_holds_the_running_statistics_and_round_trips(tmp_path):
    layer = nn.BatchNorm2d(3)
    layer(np.random.default_rng(0).normal(1.0, 2.0, size=(8, 3, 4, 4)).astype(np.float32))
    state = layer.state_dict()
    assert sorted(state) == ["bias", "running_mean", "running_var", "weight"]
    assert np.all(state["running_mean"] != 0) and np.all(state["running_var"] != 1)
    layer.save(tmp_path / "bn.npz")
    fresh = nn.BatchNorm2d(3).load(tmp_path / "bn.npz")
    np.testing.assert_array_equal(fresh.running_mean, layer.running_mean)
    np.testing.assert_array_equal(fresh.running_var, layer.running_var)
    state["running_mean"][:] = 99  # a copy: the layer is untouched
    assert not np.any(layer.running_mean == 99)


def test_parameters_are_weight_and_bias_only():
    layer = nn.BatchNorm1d(4)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert [name for name, _ in layer.named_buffers()] == ["running_mean", "running_var"]
    assert layer.num_parameters() == 8


@pytest.mark.parametrize("layer, shape, message", [
    (nn.BatchNorm2d(3), (4, 3, 5), r"BatchNorm2d: expected input of shape \(batch, channels, "
                                   r"height, width\) with channels = 3, got shape \(4, 3, 5\)"),
    (nn.BatchNorm2d(3), (4, 2, 5, 5), r"channels = 3, got shape \(4, 2, 5, 5\)"),
    (nn.BatchNorm1d(4), (4, 3), r"BatchNorm1d: expected input of shape \(batch, features\) or "
                                r"\(batch, features, length\) with channels = 4, got shape"),
    (nn.BatchNorm1d(4), (4,), r"BatchNorm1d: .*got shape \(4,\)"),
    (nn.BatchNorm1d(4), (1, 4), r"BatchNorm1d: training needs more than one value per channel, "
                                r"got input of shape \(1, 4\)"),
])
def test_batch_norm_bad_shapes_are_named(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer(np.zeros(shape, np.float32))


def test_one_sample_is_fine_in_evaluation():
    assert nn.BatchNorm1d(4).eval()(np.ones((1, 4), np.float32)).shape == (1, 4)


@pytest.mark.parametrize("arguments, error, message", [
    (dict(num_features=0), ValueError, r"BatchNorm2d: num_features must be a positive int, got 0"),
    (dict(num_features=2.0), TypeError, r"num_features must be a positive int, got 2.0"),
    (dict(num_features=2, eps=0), ValueError, r"BatchNorm2d: eps must be positive, got 0"),
    (dict(num_features=2, eps=-1), ValueError, r"eps must be a number in \[0, inf\], got -1"),
    (dict(num_features=2, momentum=1.5), ValueError, r"momentum must be a number in \[0, 1\]"),
    (dict(num_features=2, momentum=float("nan")), ValueError, r"momentum must be a number"),
])
def test_batch_norm_bad_arguments_are_named(arguments, error, message):
    with pytest.raises(error, match=message):
        nn.BatchNorm2d(**arguments)


def test_batch_norm_repr():
    assert repr(nn.BatchNorm2d(16)) == "BatchNorm2d(16, eps=1e-05, momentum=0.1)  [32 parameters]"
