"""plot_predictions, drawn headless on small synthetic images."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.colors import to_rgba
from support.figures import assert_png, render

from tinygrad_mnist.viz import plot_predictions
from tinygrad_mnist.viz._common import MISTAKE_COLOR


@pytest.fixture
def digits():
    """Seven random 28x28 "images", flattened, and labels with two mistakes (indices 1, 4)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 784)).astype(np.uint8)
    y_true = np.array([3, 1, 4, 1, 5, 9, 2])
    y_pred = np.array([3, 7, 4, 1, 6, 9, 2])
    return images, y_true, y_pred


def test_predictions_grid_has_one_titled_panel_per_image_and_saves_a_png(digits, tmp_path):
    images, y_true, y_pred = digits
    fig = plot_predictions(images, y_true, y_pred, path=tmp_path / "predictions.png")
    assert_png(tmp_path / "predictions.png", fig)
    assert len(fig.axes) == 7
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (3, 3)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "true 3 / pred 3" and titles[1] == "true 1 / pred 7"
    assert fig.get_suptitle() == "Predictions on test images: 5 of 7 correct"
    assert all(ax.images[0].get_array().shape == (28, 28) for ax in fig.axes)


def test_mistakes_are_framed_and_titled_in_red(digits):
    fig = plot_predictions(*digits)
    red = to_rgba(MISTAKE_COLOR)
    for i, ax in enumerate(fig.axes):
        mistake = i in (1, 4)
        assert (to_rgba(ax.title.get_color()) == red) == mistake
        assert ax.spines["left"].get_visible() == mistake


def test_n_limits_the_grid_and_probabilities_add_the_confidence(digits):
    images, y_true, y_pred = digits
    probabilities = np.full((7, 10), 0.05)
    probabilities[np.arange(7), y_pred] = 0.55
    fig = plot_predictions(images.reshape(7, 28, 28), y_true, y_pred, n=4,
                           probabilities=probabilities, title="Model A")
    assert len(fig.axes) == 4
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (2, 2)
    assert fig.axes[0].get_title() == "true 3 / pred 3\n55% sure"
    assert fig.get_suptitle() == "Model A: 3 of 4 correct"


def test_a_hundred_images_make_a_ten_by_ten_grid():
    images = np.zeros((100, 8, 8))
    labels = np.arange(100) % 10
    fig = plot_predictions(images, labels, labels, n=100)
    assert len(fig.axes) == 100
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (10, 10)


def test_class_names_replace_the_digits(digits):
    images, y_true, y_pred = digits
    names = [f"class{c}" for c in range(10)]
    fig = plot_predictions(images, y_true, y_pred, class_names=names)
    assert fig.axes[1].get_title() == "true class1\npred class7"  # long names: two lines


@pytest.mark.parametrize(
    "change, argument",
    [
        ({"images": np.zeros((7, 5))}, "images"),
        ({"images": np.zeros((7, 2, 2, 2))}, "images"),
        ({"y_pred": np.zeros(6, dtype=int)}, "y_pred"),
        ({"y_true": np.zeros(8, dtype=int)}, "y_true"),
        ({"y_true": np.full(7, 1.5)}, "y_true"),
        ({"n": 0}, "n"),
        ({"probabilities": np.ones((7, 3))}, "probabilities"),
        ({"probabilities": np.ones((6, 10))}, "probabilities"),
        ({"class_names": ["zero", "one"]}, "class_names"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(digits, change, argument):
    images, y_true, y_pred = digits
    arguments = {"images": images, "y_true": y_true, "y_pred": y_pred} | change
    with pytest.raises(ValueError, match=f"^{argument}: "):
        plot_predictions(**arguments)


def test_a_single_image_still_fits_its_heading():
    fig = render(plot_predictions(np.zeros((1, 28, 28)), [1], [2]))
    assert len(fig.axes) == 1
    assert fig.get_suptitle() == "Predictions on test images: 0 of 1 correct"


def test_mistakes_say_of_how_many_and_each_image_its_index():
    from tinygrad_mnist.viz import plot_predictions

    images = np.zeros((3, 28, 28))
    figure = plot_predictions(images, [1, 2, 3], [2, 3, 4], n=3,
                              probabilities=np.full((3, 5), 0.2), indices=[17, 4, 9001],
                              mistakes_of=179, title="The most confident mistakes")
    assert figure._suptitle.get_text() == "The most confident mistakes: 3 of the 179 mistakes"
    titles = [axes.get_title() for axes in figure.axes]
    assert titles[0].endswith("20% sure, #17") and titles[2].endswith("#9001")
