"""Classification metrics on integer labels: accuracy, per-class accuracy, confusion matrix."""

from __future__ import annotations

import numpy as np


def _labels(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(
                f"{name}: expected a 1-D array of integer class labels, got shape "
                f"{labels.shape} and dtype {labels.dtype}"
            )
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred: expected the same length, got {len(y_true)} and {len(y_pred)}"
        )
    return y_true, y_pred


def accuracy(y_true, y_pred) -> float:
    """The fraction of predictions equal to the true label (NaN when there are none)."""
    y_true, y_pred = _labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred)) if len(y_true) else float("nan")


def confusion_matrix(y_true, y_pred, num_classes: int = 10) -> np.ndarray:
    """Counts `(num_classes, num_classes)`: row = true class, column = predicted class."""
    y_true, y_pred = _labels(y_true, y_pred)
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise TypeError(f"num_classes: expected an int, got {num_classes!r}")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise ValueError(
                f"{name}: labels must lie in [0, {num_classes}), got values from "
                f"{labels.min()} to {labels.max()}"
            )
    # One bincount over the flattened (true, predicted) cell index.
    cells = y_true.astype(np.int64) * num_classes + y_pred
    counts = np.bincount(cells, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


def per_class_accuracy(y_true, y_pred, num_classes: int = 10) -> np.ndarray:
    """For each true class, the fraction predicted correctly (the recall); NaN if absent."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    totals = matrix.sum(axis=1)
    correct = np.diagonal(matrix).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, correct / totals, np.nan)


def confident_mistakes(y_true, probabilities) -> np.ndarray:
    """Indices of the wrongly predicted examples, the most confident mistake first.

    `probabilities` is (n, classes); the prediction is its argmax, the confidence its
    value there. A model that is sure and wrong is the one worth looking at first.
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities: expected shape (n, classes), got {probabilities.shape}")
    predictions = probabilities.argmax(axis=1)
    y_true, predictions = _labels(y_true, predictions)
    wrong = np.flatnonzero(y_true != predictions)
    confidence = probabilities[wrong, predictions[wrong]]
    return wrong[np.argsort(-confidence, kind="stable")]
