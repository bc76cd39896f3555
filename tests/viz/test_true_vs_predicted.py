"""plot_true_vs_predicted: per class, true and predicted counts and the accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from support.figures import assert_png

from tinygrad_mnist.viz import plot_true_vs_predicted


def test_true_vs_predicted_bars_count_each_label_and_mark_the_accuracy(tmp_path):
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 1, 2, 0])
    fig = plot_true_vs_predicted(y_true, y_pred, num_classes=3, path=tmp_path / "bars.png")
    assert_png(tmp_path / "bars.png", fig)
    (ax,) = fig.axes
    true_bars, predicted_bars = ax.containers
    assert [bar.get_height() for bar in true_bars] == [4, 2, 2]
    assert [bar.get_height() for bar in predicted_bars] == [4, 3, 1]
    assert [text.get_text() for text in ax.texts] == ["75.0%", "100.0%", "50.0%"]
    assert ax.get_title().startswith("True vs predicted labels: 75.00% of 8 correct")
    assert [label.get_text() for label in ax.get_xticklabels()] == ["0", "1", "2"]


def test_true_vs_predicted_skips_the_accuracy_of_a_class_absent_from_y_true():
    fig = plot_true_vs_predicted([0, 0, 1], [0, 2, 1], num_classes=3, class_names="abc")
    assert [text.get_text() for text in fig.axes[0].texts] == ["50.0%", "100.0%"]
    assert [label.get_text() for label in fig.axes[0].get_xticklabels()] == ["a", "b", "c"]


@pytest.mark.parametrize(
    "y_true, y_pred, options, argument",
    [
        ([0, 1], [0], {}, "y_pred"),
        ([0, 10], [0, 1], {}, "y_true"),
        ([0, 1], [0, -1], {}, "y_pred"),
        ([], [], {}, "y_true"),
        ([0, 1], [0, 1], {"num_classes": 0}, "num_classes"),
        ([0, 1], [0, 1], {"class_names": ["a"]}, "class_names"),
    ],
)
def test_true_vs_predicted_refuses_bad_input(y_true, y_pred, options, argument):
    with pytest.raises(ValueError, match=f"^{argument}: "):
        plot_true_vs_predicted(y_true, y_pred, **options)
