"""Activation values, stability at large inputs, and lookup by name."""

import numpy as np
import pytest

from tinygrad_mnist import Tensor, nn

X = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])


@pytest.mark.parametrize("layer, function, expected", [
    (nn.Identity(), nn.identity, X),
    (nn.ReLU(), nn.relu, np.maximum(X, 0)),
    (nn.Sigmoid(), nn.sigmoid, 1 / (1 + np.exp(-X))),
    (nn.Tanh(), nn.tanh, np.tanh(X)),
    (nn.LeakyReLU(0.1), lambda x: nn.leaky_relu(x, 0.1), np.where(X > 0, X, 0.1 * X)),
    (nn.Softmax(), nn.softmax, np.exp(X) / np.exp(X).sum()),
])
def test_layer_and_function_forms_agree_with_the_formula(layer, function, expected):
    np.testing.assert_allclose(layer(Tensor(X)).data, expected, rtol=1e-12)
    np.testing.assert_allclose(function(X).data, expected, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(nn.ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_activations_are_finite_and_silent_at_magnitude_1e4(name, dtype):
    x = Tensor(np.array([[-1e4, -50.0, 0.0, 50.0, 1e4]], dtype=dtype), requires_grad=True)
    out = nn.get_activation(name)(x)
    (out * Tensor(np.arange(5, dtype=dtype))).sum().backward()
    assert out.dtype == dtype
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad))


def test_get_activation_by_name_class_or_instance():
    assert isinstance(nn.get_activation("relu"), nn.ReLU)
    assert isinstance(nn.get_activation("ReLU"), nn.ReLU)
    assert isinstance(nn.get_activation("linear"), nn.Identity)
    assert isinstance(nn.get_activation(nn.Tanh), nn.Tanh)
    leaky = nn.LeakyReLU(0.2)
    assert nn.get_activation(leaky) is leaky


def test_an_unknown_activation_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"activation: unknown name 'swish'; known names: "
                                         r"identity, linear, sigmoid, tanh, relu"):
        nn.get_activation("swish")
    with pytest.raises(ValueError, match="activation: unknown name 'gelu'"):
        nn.MLP(4, [3], 2, activation="gelu")
    with pytest.raises(TypeError, match="activation: expected a name"):
        nn.get_activation(3)


def test_leaky_relu_refuses_a_slope_that_is_not_a_number():
    with pytest.raises(ValueError, match="negative_slope must be a finite number, got 'a'"):
        nn.LeakyReLU("a")
