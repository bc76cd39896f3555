"""Per class: how many images carry that true label and how many were predicted as it."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from tinygrad_mnist.viz._common import (
    as_labels,
    check_same_length,
    class_names_for,
    finish,
)


def plot_true_vs_predicted(
    y_true, y_pred, *, num_classes: int = 10, class_names=None, path=None
) -> Figure:
    """Grouped bars of true and predicted counts per class, each class's accuracy above them.

    A class the model over-predicts shows a taller "predicted" bar; the percentage
    over each pair is the share of that class's images predicted correctly (its recall).
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
    true = as_labels(y_true, "y_true", num_classes)
    pred = as_labels(y_pred, "y_pred", num_classes)
    check_same_length("y_true", true, y_pred=pred)
    if len(true) == 0:
        raise ValueError("y_true: expected at least one label, got none")
    names = class_names_for(class_names, num_classes)

    true_counts = np.bincount(true, minlength=num_classes)
    pred_counts = np.bincount(pred, minlength=num_classes)
    hits = np.bincount(true[true == pred], minlength=num_classes)
    classes = np.arange(num_classes)
    width = 0.4

    fig = Figure(figsize=(max(6.0, 0.75 * num_classes + 1.5), 4.5), layout="constrained")
    ax = fig.add_subplot()
    ax.bar(classes - width / 2, true_counts, width, label="true label", color="#4c72b0")
    ax.bar(classes + width / 2, pred_counts, width, label="predicted label", color="#dd8452")
    tallest = max(true_counts.max(), pred_counts.max())
    for c in classes:
        if true_counts[c]:
            accuracy = f"{hits[c] / true_counts[c]:.1%}"
            ax.annotate(accuracy, (c, max(true_counts[c], pred_counts[c])),
                        xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
    ax.set_ylim(0, tallest * 1.3)  # headroom for the labels and the legend
    ax.set_xticks(classes, names)
    ax.set_xlabel("class")
    ax.set_ylabel("number of images")
    ax.legend(loc="upper center", ncols=2, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    ax.set_title(
        f"True vs predicted labels: {hits.sum() / len(true):.2%} of {len(true)} correct\n"
        "(over each pair: the share of that class predicted right)",
        fontsize=10,
    )
    return finish(fig, path)
