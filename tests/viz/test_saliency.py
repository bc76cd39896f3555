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
    gradients, predictions = saliency_maps(model, x, samples=1, noise=0.0)  # plain gradient
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


def test_smoothgrad_is_the_mean_gradient_over_noisy_copies():
    model = small_model()
    x = np.random.default_rng(1).random((2, 16))
    smooth, predictions = saliency_maps(model, x, samples=5, noise=0.2, seed=3)
    rng = np.random.default_rng(3)
    spread = 0.2 * (x.max() - x.min())
    total = np.zeros_like(x)
    for _ in range(5):
        shaken = x + rng.normal(0, spread, x.shape)
        inputs = Tensor(shaken, requires_grad=True)
        logits = model(inputs)
        (logits * np.eye(3)[predictions]).sum().backward()
        total += inputs.grad
    np.testing.assert_allclose(smooth, total / 5, rtol=1e-10)
    plain, _ = saliency_maps(model, x, samples=1, noise=0.0)
    assert not np.allclose(smooth, plain)  # the noise did something


def test_plot_saliency_overlays_each_map_on_its_image_with_one_scale(tmp_path):
    model = small_model()
    images = (np.random.default_rng(2).random((5, 4, 4)) * 255).astype(np.uint8)
    x = images.reshape(5, -1) / 255.0
    fig = plot_saliency(model, images, x, labels=[0, 1, 2, 0, 1], n=5,
                        path=tmp_path / "saliency.png")
    assert isinstance(fig, Figure) and len(fig.axes) == 6  # five images and the colour bar
    assert (tmp_path / "saliency.png").stat().st_size > 0
    picture, overlay = fig.axes[0].images
    gradients, _ = saliency_maps(model, x)
    np.testing.assert_allclose(overlay.get_array(), gradients[0].reshape(4, 4))
    assert overlay.norm.vcenter == 0 and overlay.norm.vmax == -overlay.norm.vmin  # signed
    assert "d score / d pixel" in fig.axes[-1].get_ylabel()
    with pytest.raises(ValueError, match="x: expected 5 rows"):
        plot_saliency(model, images, x[:3])
    with pytest.raises(ValueError, match="n: expected"):
        plot_saliency(model, images, x, n=0)
    with pytest.raises(ValueError, match="prepared float inputs"):
        saliency_maps(model, images.reshape(5, -1))
    with pytest.raises(ValueError, match="samples"):
        saliency_maps(model, x, samples=0)
