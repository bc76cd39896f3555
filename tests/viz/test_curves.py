"""plot_learning_curves from a dict or an object with a History's attributes."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from support.figures import assert_png, render

from tinygrad_mnist.viz import plot_learning_curves


def history(**changes) -> dict:
    """Six epochs of a run that early stopping ended, its best epoch the fourth."""
    base = {
        "train_loss": [2.0, 1.0, 0.6, 0.4, 0.3, 0.25],
        "train_accuracy": [0.5, 0.7, 0.8, 0.88, 0.9, 0.92],
        "val_loss": [2.1, 1.2, 0.8, 0.7, 0.75, 0.8],
        "val_accuracy": [0.45, 0.65, 0.78, 0.85, 0.84, 0.83],
        "seconds": [0.5] * 6,
        "best_epoch": 4,
        "stopped_reason": "early-stopped",
    }
    return base | changes


def lines_by_label(ax) -> dict:
    return {line.get_label(): line for line in ax.get_lines()}


def test_two_panels_with_training_validation_and_the_best_epoch(tmp_path):
    fig = plot_learning_curves(history(), test_accuracy=0.8512, path=tmp_path / "curves.png")
    assert_png(tmp_path / "curves.png", fig)
    loss, accuracy = fig.axes
    assert (loss.get_title(), accuracy.get_title()) == ("Loss", "Accuracy")
    lines = lines_by_label(loss)
    assert set(lines) == {"training", "validation", "best validation epoch 4: 0.7"}
    np.testing.assert_allclose(lines["validation"].get_ydata(), history()["val_loss"])
    np.testing.assert_array_equal(lines["training"].get_xdata(), np.arange(1, 7))
    assert set(lines_by_label(accuracy)) == {"training", "validation",
                                             "best validation epoch 4: 85.00%"}
    assert list(lines["best validation epoch 4: 0.7"].get_xdata()) == [4, 4]
    assert fig.get_suptitle() == (
        "Learning curves: 6 epochs in 3.0 s; best validation epoch 4; test accuracy 85.12%; "
        "ended: early-stopped"
    )


def test_without_validation_no_training_figure_is_called_the_best():
    run = history(val_loss=[np.nan] * 6, val_accuracy=[], best_epoch=6,
                  stopped_reason="completed")
    fig = plot_learning_curves(run, test_accuracy=0.9)
    loss, accuracy = fig.axes
    assert set(lines_by_label(loss)) == {"training", "lowest training loss: epoch 6"}
    assert not any("%" in label for label in lines_by_label(accuracy))
    assert fig.get_suptitle() == ("Learning curves: 6 epochs in 3.0 s; test accuracy 90.00%; "
                                  "ended: completed")
    with pytest.raises(ValueError, match="test_accuracy"):
        plot_learning_curves(run, test_accuracy=90)


@pytest.mark.parametrize("no_validation", [[], [np.nan] * 6])
def test_an_object_with_attributes_works_and_missing_validation_is_left_out(no_validation):
    run = SimpleNamespace(**history(val_loss=no_validation, val_accuracy=no_validation,
                                    best_epoch=None, stopped_reason="completed"))
    fig = plot_learning_curves(run)
    for ax in fig.axes:
        assert set(lines_by_label(ax)) == {"training"}
    assert fig.get_suptitle() == "Learning curves: 6 epochs in 3.0 s; ended: completed"


def test_a_run_that_diverged_at_once_draws_empty_panels_without_warnings():
    nothing = [np.nan, np.inf]
    run = history(train_loss=nothing, train_accuracy=nothing, val_loss=nothing,
                  val_accuracy=nothing, seconds=[1.0, 1.0], best_epoch=None,
                  stopped_reason="diverged")
    fig = render(plot_learning_curves(run))
    assert [len(ax.get_lines()) for ax in fig.axes] == [0, 0]
    assert fig.get_suptitle().endswith("ended: diverged")


def test_a_diverged_run_plots_its_finite_epochs_and_one_epoch_works():
    fig = plot_learning_curves(history(train_loss=[2.0, 9.0, np.inf, np.nan, np.nan, np.nan]))
    drawn = lines_by_label(fig.axes[0])["training"].get_ydata()
    assert np.isnan(drawn[2:]).all() and list(drawn[:2]) == [2.0, 9.0]
    assert fig.axes[0].get_yscale() == "linear"
    exploded = render(plot_learning_curves(history(val_loss=[2.0, 5.0, 1e3, 1e5, np.nan, np.nan])))
    assert exploded.axes[0].get_yscale() == "log"
    assert exploded.axes[0].get_ylabel() == "loss (log scale)"
    single = {"train_loss": [1.0], "train_accuracy": [0.5], "best_epoch": 1}
    assert len(plot_learning_curves(single).axes) == 2


@pytest.mark.parametrize(
    "changes, argument",
    [
        ({"train_loss": []}, "train_loss"),
        ({"val_loss": [1.0, 2.0]}, "val_loss"),
        ({"train_accuracy": [50, 70, 80, 88, 90, 92]}, "train_accuracy"),
        ({"val_accuracy": ["a"] * 6}, "val_accuracy"),
        ({"best_epoch": 7}, "best_epoch"),
        ({"best_epoch": 0}, "best_epoch"),
        ({"seconds": [1.0]}, "seconds"),
    ],
)
def test_bad_history_is_a_value_error_naming_the_field(changes, argument):
    with pytest.raises(ValueError, match=f"^{argument}: "):
        plot_learning_curves(history(**changes))


def test_something_that_is_not_a_history_is_a_type_error():
    with pytest.raises(TypeError, match="^history: "):
        plot_learning_curves([0.5, 0.4])
