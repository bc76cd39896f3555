"""Learning curves: loss and accuracy per epoch, training and validation, the best epoch marked."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from tinygrad_mnist.viz._common import finish

MARKERS_UP_TO = 40  # epochs; beyond that the dots hide the line
LOG_SCALE_ABOVE = 100  # the ratio of the largest to the smallest loss that calls for log


def _field(history, key: str):
    return history.get(key) if isinstance(history, Mapping) else getattr(history, key, None)


def _series(history, key: str, epochs: int | None, fractions: bool) -> np.ndarray:
    """One per-epoch list of `history` as floats, checked (non-finite values become gaps)."""
    raw = _field(history, key)
    try:
        values = np.asarray([] if raw is None else raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{key}: expected a list of numbers per epoch, got {raw!r:.60}") from None
    if values.ndim != 1:
        raise ValueError(f"{key}: expected a list of numbers per epoch, got shape {values.shape}")
    if epochs is not None and values.size not in (0, epochs):
        raise ValueError(
            f"{key}: expected {epochs} values (one per epoch of train_loss) or none, "
            f"got {values.size}"
        )
    values[~np.isfinite(values)] = np.nan
    if fractions and np.any((values < 0) | (values > 1)):
        raise ValueError(f"{key}: expected fractions in [0, 1], got {np.nanmax(values):g}")
    return values


def plot_learning_curves(history, *, test_accuracy: float | None = None, path=None) -> Figure:
    """Two panels, loss and accuracy per epoch, with training and validation lines.

    `history` is a `History` or a dict with lists `train_loss`, `train_accuracy`,
    `val_loss`, `val_accuracy` (validation lists may be empty or all NaN), `seconds`
    (per epoch), `best_epoch` (1-based, or None) and `stopped_reason` ("early-stopped",
    ...). Accuracies are fractions. Non-finite values (a diverged run) leave gaps. The
    best epoch, whose weights early stopping keeps, is a dashed vertical line, labelled
    with its validation figures (a run without validation data has no best epoch to
    speak of: the line marks its lowest training loss, with no accuracy claimed).
    `test_accuracy` (a fraction), when given, is stated in the title.
    """
    if _field(history, "train_loss") is None:
        raise TypeError(
            "history: expected a History or a dict with train_loss, train_accuracy, val_loss, "
            f"val_accuracy, seconds, best_epoch and stopped_reason, got {type(history).__name__}"
        )
    train_loss = _series(history, "train_loss", None, fractions=False)
    epochs = train_loss.size
    if epochs == 0:
        raise ValueError("train_loss: expected at least one epoch, got an empty list")
    best_epoch = _field(history, "best_epoch")
    if best_epoch is not None and not (
        isinstance(best_epoch, (int, np.integer)) and 1 <= best_epoch <= epochs
    ):
        raise ValueError(f"best_epoch: expected None or 1..{epochs}, got {best_epoch!r}")

    if test_accuracy is not None and not (
        isinstance(test_accuracy, (int, float, np.floating)) and 0 <= test_accuracy <= 1
    ):
        raise ValueError(f"test_accuracy: expected a fraction in [0, 1], got {test_accuracy!r}")
    has_validation = np.isfinite(_series(history, "val_loss", epochs, False)).any()

    fig = Figure(figsize=(11, 4.3), layout="constrained")
    panels = fig.subplots(1, 2)
    x = np.arange(1, epochs + 1)
    marker = "o" if epochs <= MARKERS_UP_TO else None
    for ax, metric in zip(panels, ("loss", "accuracy")):
        fractions = metric == "accuracy"
        train = _series(history, f"train_{metric}", epochs, fractions)
        val = _series(history, f"val_{metric}", epochs, fractions)
        # A History without validation data holds NaN for every epoch: nothing to draw.
        train, val = (v if np.isfinite(v).any() else v[:0] for v in (train, val))
        if train.size:
            ax.plot(x, train, marker=marker, markersize=3, color="#4c72b0", label="training")
        if val.size:
            ax.plot(x, val, marker=marker, markersize=3, color="#dd8452", label="validation")
        if best_epoch is not None and has_validation:
            label = f"best validation epoch {best_epoch}"
            if val.size and np.isfinite(val[best_epoch - 1]):
                best = val[best_epoch - 1]
                label += f": {best:.2%}" if fractions else f": {best:.4g}"
            ax.axvline(best_epoch, color="0.35", linestyle="--", linewidth=1.2, label=label)
        elif best_epoch is not None:
            ax.axvline(best_epoch, color="0.35", linestyle="--", linewidth=1.2,
                       label=f"lowest training loss: epoch {best_epoch}")
        ax.set_title(metric.capitalize())
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        drawn = np.concatenate([train, val])
        drawn = drawn[np.isfinite(drawn) & (drawn > 0)]
        if not fractions and drawn.size and drawn.max() > LOG_SCALE_ABOVE * drawn.min():
            # A loss that spans decades (a long run, a divergence) reads on a log scale.
            ax.set_yscale("log")
            ax.set_ylabel("loss (log scale)")
        ax.set_xlim(0.5, epochs + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend()
        if fractions:
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))

    seconds = _series(history, "seconds", epochs, fractions=False)
    summary = [f"{epochs} epoch{'s' if epochs != 1 else ''}"]
    if seconds.size:
        summary[0] += f" in {np.nansum(seconds):.1f} s"
    if best_epoch is not None and has_validation:
        summary.append(f"best validation epoch {best_epoch}")
    if test_accuracy is not None:
        summary.append(f"test accuracy {test_accuracy:.2%}")
    if _field(history, "stopped_reason"):
        summary.append(f"ended: {_field(history, 'stopped_reason')}")
    fig.suptitle("Learning curves: " + "; ".join(summary), fontsize=11)
    return finish(fig, path)
