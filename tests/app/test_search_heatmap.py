"""The search's heat map speaks words, not field names (issue 22, section 5): its axes,
panel titles, colour bar and heading, the settings its cells average over included."""

from __future__ import annotations

import pytest

import tinygrad_mnist.viz as viz
from tinygrad_mnist.app.cli import main

GRID = """
name = "tiny grid"
dataset = "synthetic"
top_n = 0

[grid]
hidden_sizes = [[8], [16]]
activation = ["tanh", "relu"]
learning_rate = [0.1, 0.5]
batch_size = [50, 100]

[config]
epochs = 1
"""


@pytest.mark.slow  # eight trials and the exports: seconds
def test_the_search_heat_map_has_no_field_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    figures = []
    drawn = viz.plot_search_heatmap

    def keeping(*args, **kwargs):  # the figure that becomes heatmap.png, to read its text
        figures.append(drawn(*args, **kwargs))
        return figures[-1]

    monkeypatch.setattr(viz, "plot_search_heatmap", keeping)
    (tmp_path / "grid.toml").write_text(GRID)
    assert main(["search", "grid.toml", "--out", "out", "--jobs", "1"]) == 0
    assert (tmp_path / "out" / "heatmap.png").read_bytes()[:4] == b"\x89PNG"
    [figure] = figures
    words = [figure.get_suptitle()] + [text for ax in figure.axes for text in (
        ax.get_title(), ax.get_xlabel(), ax.get_ylabel())]
    assert "each cell: the mean over batch size" in figure.get_suptitle()
    assert [word for word in words if "_" in word] == []
