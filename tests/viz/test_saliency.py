"""Saliency maps: the gradient of the predicted class's score with respect to the input."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from matplotlib.figure import Figure

from tinygrad_mnist import Tensor, nn, no_grad
from tinygrad_mnist.viz import plot_saliency, saliency_maps


def small_model():
    return nn.MLP(16, [8], 3, activation="tanh", seed=0).astype(np.float64)


@given(arrays(np.float64, (3, 16), elements=st.floats(0, 1)))
def test_saliency_is_the_numerical_gradient_of_the_predicted_logit(x):
    model = small_model()
    gradients, predictions = saliency_maps(model, x)
    assert gradients.shape == x.shape
    model.eval()
    with no_grad():
        np.testing.assert_array_equal(predictions, model(Tensor(x)).data.argmax(axis=1))
    step = 1e-6
    for row in range(len(x)):
        for pixel in range(x.shape[1]):
            up, down = x[row:row + 1].copy(), x[row:row + 1].copy()
            up[0, pixel] += step
            down[0, pixel] -= step
            with no_grad():
                slope = (model(Tensor(up)).data[0, predictions[row]]
                         - model(Tensor(down)).data[0, predictions[row]]) / (2 * step)
            assert gradients[row, pixel] == pytest.approx(slope, rel=1e-5, abs=1e-8)


def test_saliency_leaves_the_model_as_it_was():
    model = small_model()
    model.train()
    marker = np.ones_like(model.parameters()[0].data)
    model.parameters()[0].grad = marker
    saliency_maps(model, np.zeros((2, 16)))
    assert model.training
    assert model.parameters()[0].grad is marker
    assert all(p.grad is None for p in model.parameters()[1:])


def test_plot_saliency_draws_image_and_map_pairs(tmp_path):
    model = small_model()
    images = (np.random.default_rng(2).random((5, 4, 4)) * 255).astype(np.uint8)
    x = images.reshape(5, -1) / 255.0
    fig = plot_saliency(model, images, x, labels=[0, 1, 2, 0, 1], n=5,
                        path=tmp_path / "saliency.png")
    assert isinstance(fig, Figure) and len(fig.axes) == 10
    assert (tmp_path / "saliency.png").stat().st_size > 0
    heat = fig.axes[1].images[0].get_array()
    gradients, _ = saliency_maps(model, x)
    np.testing.assert_allclose(heat, np.abs(gradients[0]).reshape(4, 4))
    with pytest.raises(ValueError, match="x: expected 5 rows"):
        plot_saliency(model, images, x[:3])
    with pytest.raises(ValueError, match="n: expected"):
        plot_saliency(model, images, x, n=0)
    with pytest.raises(ValueError, match="prepared float inputs"):
        saliency_maps(model, images.reshape(5, -1))
