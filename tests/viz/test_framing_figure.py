"""The figure of what the model saw: picture, framed digit, top-3 bars."""

import numpy as np
import pytest

from tinygrad_mnist.viz import plot_framed_inputs


def test_one_row_per_input_with_the_three_best_classes(tmp_path):
    pictures = [np.full((60, 40), 200.0), np.full((30, 30), 10.0)]
    digits = np.zeros((2, 28, 28), np.uint8)
    probabilities = np.array([[0.1, 0.7, 0.05, 0.15], [0.25, 0.25, 0.4, 0.1]])
    figure = plot_framed_inputs(pictures, digits, probabilities, titles=["a.png", "b.jpg"],
                                class_names=["zero", "one", "two", "three"],
                                crop_boxes=[(5, 5, 50, 30), None],
                                warnings=[(), ("2 separate marks",)], path=tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0
    axes = figure.axes
    assert len(axes) == 6 and axes[0].get_title() == "a.png"
    bars = axes[2]
    assert [label.get_text() for label in bars.get_yticklabels()] == ["zero", "three", "one"]
    assert [p.get_width() for p in bars.patches] == pytest.approx([0.1, 0.15, 0.7])
    assert len(axes[0].patches) == 1 and not axes[3].patches  # the crop box, where given
    assert "2 separate marks" in axes[3].get_xlabel()
    with pytest.raises(ValueError, match="one of each per input"):
        plot_framed_inputs(pictures, digits[:1], probabilities)
