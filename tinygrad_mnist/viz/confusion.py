"""A confusion matrix: which true class (rows) was predicted as which (columns)."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from tinygrad_mnist.viz._common import (
    as_array,
    as_labels,
    check_same_length,
    class_names_for,
    finish,
    text_color_on,
)

# The colour scale is share ** GAMMA: a 1% confusion already shows as a clear tint.
GAMMA = 0.4


def _matrix_from_labels(y_true, y_pred, class_names) -> np.ndarray:
    true = as_labels(y_true, "y_true")
    pred = as_labels(y_pred, "y_pred")
    check_same_length("y_true", true, y_pred=pred)
    if len(true) == 0:
        raise ValueError("y_true: expected at least one label, got none")
    classes = len(class_names) if class_names is not None else int(max(true.max(), pred.max())) + 1
    as_labels(true, "y_true", classes)
    as_labels(pred, "y_pred", classes)
    return np.bincount(true * classes + pred, minlength=classes * classes).reshape(classes, -1)


def _checked_matrix(matrix) -> np.ndarray:
    counts = as_array(matrix, "matrix").astype(np.float64)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.size == 0:
        raise ValueError(
            f"matrix: expected a square (classes, classes) array or a tuple (y_true, y_pred), "
            f"got shape {counts.shape}"
        )
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("matrix: expected finite counts >= 0, got a negative or non-finite entry")
    return counts


def plot_confusion_matrix(
    matrix, *, class_names=None, normalize: bool = False, path=None
) -> Figure:
    """Annotated cells: counts (or, with `normalize`, the share of each true class).

    `matrix` is a square array of counts, rows the true classes and columns the
    predicted ones, or a tuple `(y_true, y_pred)` of labels to count. The colour is
    always the share of the row, on a power scale that stretches small shares, so that a class's few
    mistakes stand out against its many hits whatever the class sizes.
    """
    if isinstance(matrix, tuple):
        if len(matrix) != 2:
            raise ValueError(
                f"matrix: expected a square array or a tuple (y_true, y_pred), "
                f"got a tuple of {len(matrix)}"
            )
        counts = _matrix_from_labels(*matrix, class_names).astype(np.float64)
    else:
        counts = _checked_matrix(matrix)
    classes = len(counts)
    names = class_names_for(class_names, classes)
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)

    side = max(4.5, 0.55 * classes + 2.0)
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", norm=PowerNorm(GAMMA, vmin=0, vmax=1))
    fontsize = 9 if classes <= 12 else 7
    for (row, column), count in np.ndenumerate(counts):
        if count == 0:
            text, color = "0", "0.6"
        else:
            text = f"{share[row, column]:.1%}" if normalize else f"{count:g}"
            color = text_color_on(image.cmap(image.norm(share[row, column])))
        ax.text(column, row, text, ha="center", va="center", fontsize=fontsize, color=color)
    colorbar = fig.colorbar(image, ax=ax, label="share of the true class", shrink=0.8,
                            format=PercentFormatter(xmax=1, decimals=0))
    colorbar.set_ticks([0, 0.01, 0.05, 0.2, 0.5, 1])
    long_names = max(len(name) for name in names) > 3
    ax.set_xticks(range(classes), names, rotation=45 if long_names else 0,
                  ha="right" if long_names else "center")
    ax.set_yticks(range(classes), names)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    total = counts.sum()
    correct = f"{np.trace(counts) / total:.2%} of {total:g} correct" if total else "no samples"
    ax.set_title(f"Confusion matrix: {correct}", fontsize=11)
    return finish(fig, path)
