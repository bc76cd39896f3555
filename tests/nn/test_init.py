"""Initialisers: shapes, scales, seeds, names; Dense and MLP use them."""

import numpy as np
import pytest

from tinygrad_mnist import nn
from tinygrad_mnist.nn import init

SHAPE = (400, 300)


@pytest.mark.parametrize("name, expected_std", [
    ("he_uniform", np.sqrt(2 / 400)),
    ("he_normal", np.sqrt(2 / 400)),
    ("xavier_uniform", np.sqrt(2 / 700)),
    ("xavier_normal", np.sqrt(2 / 700)),
    ("normal", 0.001),
    ("zeros", 0.0),
])
def test_each_initialiser_has_its_documented_scale(name, expected_std):
    values = init.get_initializer(name)(SHAPE, np.random.default_rng(0))
    assert values.shape == SHAPE
    assert values.std() == pytest.approx(expected_std, rel=0.02, abs=1e-12)
    assert abs(values.mean()) < 0.05 * expected_std + 1e-12
    if name.endswith("uniform"):
        assert np.abs(values).max() <= np.sqrt(3) * expected_std


def test_the_seed_projects_normal_takes_a_sigma():
    values = init.normal((1000,), np.random.default_rng(0), sigma=0.5)
    assert values.std() == pytest.approx(0.5, rel=0.1)


def test_dense_draws_its_weight_from_init_and_seed():
    a = nn.Dense(50, 40, init="xavier_normal", seed=3)
    b = nn.Dense(50, 40, init=init.xavier_normal, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert a.weight.dtype == np.float32 and not np.any(a.bias.data)
    assert nn.Dense(2, 2, dtype=np.float64).weight.dtype == np.float64
    assert not np.array_equal(nn.Dense(50, 40, seed=1).weight.data,
                              nn.Dense(50, 40, seed=2).weight.data)


def test_dense_accepts_any_callable_of_shape_and_rng():
    layer = nn.Dense(2, 3, init=lambda shape, rng: np.full(shape, 0.5))
    np.testing.assert_array_equal(layer.weight.data, np.full((2, 3), 0.5))
    with pytest.raises(ValueError, match=r"init returned shape \(3,\), expected \(2, 3\)"):
        nn.Dense(2, 3, init=lambda shape, rng: np.zeros(3))


def test_an_unknown_initialiser_is_refused_by_name():
    with pytest.raises(ValueError, match="init: unknown initialiser 'lecun'; known names: he_"):
        nn.Dense(2, 3, init="lecun")
    with pytest.raises(TypeError, match="init: expected a name or a callable"):
        nn.Dense(2, 3, init=5)


def test_mlp_picks_an_init_for_its_activation_and_is_seeded():
    relu = nn.MLP(300, [200], 10, activation="relu", seed=0)
    tanh = nn.MLP(300, [200], 10, activation="tanh", seed=0)
    assert relu[0].weight.data.std() == pytest.approx(np.sqrt(2 / 300), rel=0.05)
    assert tanh[0].weight.data.std() == pytest.approx(np.sqrt(2 / 500), rel=0.05)
    again = nn.MLP(300, [200], 10, activation="relu", seed=0)
    for a, b in zip(relu.parameters(), again.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
    # One generator draws every layer in turn: the layers differ from each other.
    assert not np.array_equal(relu[0].weight.data[:10, :10], relu[1].weight.data[:10, :10])
