"""plot_search_heatmap: one panel per architecture, learning rate x activation."""

from __future__ import annotations

import numpy as np
import pytest
from support.figures import assert_png, render

from tinygrad_mnist.viz import plot_search_heatmap


def search_rows() -> list[dict]:
    """3 architectures x 2 learning rates x 2 activations, one trial missing, one failed."""
    rows = []
    for i, hidden in enumerate([[128], [128, 64], [32]]):
        for j, rate in enumerate([0.1, 0.01]):  # out of order: the axis sorts numbers
            for k, activation in enumerate(["relu", "sigmoid"]):
                score = 0.5 + 0.1 * i + 0.01 * j + 0.001 * k
                rows.append({"hidden_sizes": hidden, "learning_rate": rate,
                             "activation": activation, "val_accuracy": score})
    del rows[0]  # [128], 0.1, relu never ran
    rows[0] = rows[0] | {"val_accuracy": None, "status": "diverged"}  # [128], 0.1, sigmoid
    return rows


def panel_texts(ax) -> dict:
    return {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
            for t in ax.texts}


def test_one_annotated_panel_per_architecture_with_a_shared_colour_bar(tmp_path):
    fig = plot_search_heatmap(search_rows(), path=tmp_path / "heatmap.png")
    assert_png(tmp_path / "heatmap.png", fig)
    *panels, colorbar = fig.axes
    assert [ax.get_title() for ax in panels] == [
        "hidden layers 128", "hidden layers 128-64", "hidden layers 32"]  # human labels
    assert colorbar.get_ylabel() == "validation accuracy"
    assert fig.get_suptitle() == ("validation accuracy by learning rate and activation, "
                                  "per hidden layers")
    first = panels[0]
    assert [t.get_text() for t in first.get_xticklabels()] == ["0.01", "0.1"]
    assert [t.get_text() for t in first.get_yticklabels()] == ["relu", "sigmoid"]
    assert not panels[1].yaxis.get_tick_params()["labelleft"]
    assert (first.get_xlabel(), first.get_ylabel()) == ("learning rate", "activation")
    # rows: relu, sigmoid; columns: 0.01, 0.1; the two 0.1 trials left no result
    assert panel_texts(first) == {(0, 0): "51.0%", (1, 0): "51.1%"}
    assert panel_texts(panels[2]) == {(0, 0): "71.0%", (1, 0): "71.1%", (0, 1): "70.0%",
                                      (1, 1): "70.1%"}
    grid = first.images[0].get_array()
    np.testing.assert_array_equal(grid.mask, [[False, True], [False, True]])
    assert len({ax.images[0].norm for ax in panels}) == 1  # one colour scale for all


def test_rows_that_share_a_cell_are_averaged_and_facet_none_draws_one_panel():
    rows = [{"learning_rate": 0.1, "activation": "tanh", "val_loss": value}
            for value in (0.2, 0.4)]
    fig = plot_search_heatmap(rows, facet=None, value="val_loss")
    panel, _ = fig.axes
    assert panel_texts(panel) == {(0, 0): "0.3"}
    assert panel.get_title() == ""
    assert fig.get_suptitle() == "validation loss by learning rate and activation"


def test_a_single_result_draws_one_cell():
    rows = [{"hidden_sizes": [8], "learning_rate": 0.1, "activation": "relu",
             "val_accuracy": 0.97}]
    fig = render(plot_search_heatmap(rows))
    assert panel_texts(fig.axes[0]) == {(0, 0): "97.0%"}


def test_four_architectures_make_a_two_by_two_grid():
    rows = [{"hidden_sizes": [n], "learning_rate": 0.1, "activation": "relu",
             "val_accuracy": 0.9} for n in (16, 32, 64, 128)]
    fig = plot_search_heatmap(rows, fmt="{:.2f}")
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (2, 2)
    assert panel_texts(fig.axes[3]) == {(0, 0): "0.90"}


@pytest.mark.parametrize(
    "rows, options, argument",
    [
        ([], {}, "rows"),
        ([{"learning_rate": 0.1, "activation": "relu", "val_accuracy": 0.9}], {}, "facet"),
        (search_rows(), {"x": "lr"}, "x"),
        (search_rows(), {"value": "test_accuracy"}, "value"),
        ([{"hidden_sizes": [8], "learning_rate": 0.1, "activation": "relu",
           "val_accuracy": "high"}], {}, "value"),
        ([{"hidden_sizes": [8], "learning_rate": 0.1, "activation": "relu",
           "val_accuracy": float("nan")}], {}, "value"),
    ],
)
def test_bad_rows_are_a_value_error_naming_the_argument(rows, options, argument):
    with pytest.raises(ValueError, match=f"^{argument}: "):
        plot_search_heatmap(rows, **options)


@pytest.mark.parametrize("rows", [{"learning_rate": 0.1}, [("learning_rate", 0.1)], 3])
def test_rows_that_are_not_a_list_of_dicts_are_a_type_error(rows):
    with pytest.raises(TypeError, match="^rows: "):
        plot_search_heatmap(rows)


def test_the_settings_a_cell_averages_over_read_as_words():
    rows = [{"learning_rate": 0.1, "activation": "tanh", "batch_size": size,
             "weight_decay": 0.0, "val_accuracy": 0.5} for size in (50, 100)]
    fig = plot_search_heatmap(rows, facet=None, averaged=["batch_size", "weight_decay"],
                              title="tiny grid")
    assert fig.get_suptitle() == ("tiny grid\nvalidation accuracy by learning rate and "
                                  "activation\neach cell: the mean over batch size, weight decay")
    assert plot_search_heatmap(rows, facet=None, averaged="batch_size").get_suptitle() \
        .endswith("each cell: the mean over batch size")
