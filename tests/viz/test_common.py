"""save_figure and the input checks every figure shares."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from support.figures import assert_png

from tinygrad_mnist import Tensor
from tinygrad_mnist.viz import save_figure
from tinygrad_mnist.viz._common import as_labels


def small_figure() -> Figure:
    fig = Figure(figsize=(3, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    return fig


def test_save_figure_writes_a_png_creating_folders(tmp_path):
    fig = small_figure()
    path = save_figure(fig, tmp_path / "a" / "b" / "line.png", dpi=50)
    assert path == tmp_path / "a" / "b" / "line.png"
    assert_png(path, fig, dpi=50)


def test_save_figure_adds_the_png_suffix_when_none_is_given(tmp_path):
    fig = small_figure()
    path = save_figure(fig, tmp_path / "line")
    assert path.name == "line.png"
    assert_png(path, fig)


def test_a_failed_save_keeps_the_figure_saved_before(tmp_path):
    target = tmp_path / "figure.nosuchformat"
    target.write_bytes(b"saved earlier")
    with pytest.raises(ValueError):
        save_figure(small_figure(), target)
    assert target.read_bytes() == b"saved earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure.nosuchformat"]


def test_labels_are_taken_from_lists_arrays_whole_floats_and_tensors():
    expected = np.array([0, 3, 9])
    for values in ([0, 3, 9], np.array([0.0, 3.0, 9.0]), Tensor([0.0, 3.0, 9.0])):
        np.testing.assert_array_equal(as_labels(values, "y_true"), expected)


@pytest.mark.parametrize(
    "values, message",
    [
        ([[0, 1]], "1-D"),
        ([0.5, 1.0], "integer"),
        (["a", "b"], "integer"),
        ([-1, 2], ">= 0"),
        ([0, 10], "below num_classes=10"),
    ],
)
def test_bad_labels_are_refused_naming_the_argument(values, message):
    with pytest.raises(ValueError, match=f"y_pred: .*{message}"):
        as_labels(values, "y_pred", num_classes=10)
