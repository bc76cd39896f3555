"""plot_confusion_matrix from a matrix of counts or from labels."""

from __future__ import annotations

import numpy as np
import pytest
from support.figures import assert_png

from tinygrad_mnist.viz import plot_confusion_matrix

Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
Y_PRED = np.array([0, 0, 0, 1, 1, 1, 2, 2, 0, 2])
COUNTS = np.array([[3, 1, 0], [0, 2, 0], [1, 0, 3]])


def cell_texts(fig) -> np.ndarray:
    """The annotations of the main panel, laid out as the matrix."""
    ax = fig.axes[0]
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in ax.texts}
    size = round(len(texts) ** 0.5)
    return np.array([[texts[row, col].get_text() for col in range(size)] for row in range(size)])


def test_labels_are_counted_into_annotated_cells_with_a_colour_bar(tmp_path):
    fig = plot_confusion_matrix((Y_TRUE, Y_PRED), path=tmp_path / "confusion.png")
    assert_png(tmp_path / "confusion.png", fig)
    assert len(fig.axes) == 2  # the matrix and its colour bar
    ax = fig.axes[0]
    np.testing.assert_array_equal(cell_texts(fig), COUNTS.astype(str))
    assert ax.get_title() == "Confusion matrix: 80.00% of 10 correct"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted label", "true label")
    assert fig.axes[1].get_ylabel() == "share of the true class"
    np.testing.assert_allclose(ax.images[0].get_array(), COUNTS / COUNTS.sum(1, keepdims=True))


def test_a_matrix_normalized_shows_the_share_of_each_true_class():
    fig = plot_confusion_matrix(COUNTS, normalize=True, class_names=["cat", "dog", "owl"])
    assert list(cell_texts(fig)[0]) == ["75.0%", "25.0%", "0"]
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["cat", "dog", "owl"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "owl"]


def test_a_class_with_no_samples_and_class_names_longer_than_the_labels():
    fig = plot_confusion_matrix(([0, 1], [0, 1]), class_names=["a", "b", "c"])
    assert cell_texts(fig).shape == (3, 3)
    assert np.isfinite(fig.axes[0].images[0].get_array()).all()


@pytest.mark.parametrize(
    "matrix, options, argument",
    [
        (np.ones((2, 3)), {}, "matrix"),
        (np.ones(4), {}, "matrix"),
        (np.array([[1, -1], [0, 1]]), {}, "matrix"),
        (np.array([[1, np.nan], [0, 1]]), {}, "matrix"),
        (([0, 1], [0, 1], [0, 1]), {}, "matrix"),
        (([0, 1], [0]), {}, "y_pred"),
        (([0, 3], [0, 1]), {"class_names": ["a", "b"]}, "y_true"),
        (COUNTS, {"class_names": ["a", "b"]}, "class_names"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_argument(matrix, options, argument):
    with pytest.raises(ValueError, match=f"^{argument}: "):
        plot_confusion_matrix(matrix, **options)
