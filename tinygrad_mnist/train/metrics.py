"""Classification metrics on integer labels: accuracy, per-class accuracy, confusion matrix,
precision, recall and F1 per class and macro-averaged, top-k accuracy."""

from __future__ import annotations

import numpy as np

from tinygrad_mnist.utils.checks import check_int


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


def precision_recall_f1(y_true, y_pred, num_classes: int = 10) -> dict[str, np.ndarray]:
    """Per class: `precision` (of the examples predicted as the class, the fraction that
    are), `recall` (of the class's examples, the fraction found) and `f1` (their harmonic
    mean), each `(num_classes,)`, as scikit-learn's `precision_recall_fscore_support`.

    A class never predicted has precision NaN (and so F1 NaN), a class absent from
    `y_true` recall NaN: undefined, not 0. `macro_f1(...)` averages what is defined.
    """
    matrix = confusion_matrix(y_true, y_pred, num_classes).astype(np.float64)
    right = np.diagonal(matrix)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, right / predicted, np.nan)
        recall = np.where(actual > 0, right / actual, np.nan)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall),
                      np.where(np.isnan(precision + recall), np.nan, 0.0))
    return {"precision": precision, "recall": recall, "f1": f1}


def macro_average(values) -> float:
    """The unweighted mean over classes of a per-class metric, leaving out undefined (NaN)
    classes; NaN when none is defined."""
    values = np.asarray(values, dtype=np.float64)
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if len(defined) else float("nan")


def top_k_accuracy(y_true, probabilities, k: int = 5) -> float:
    """The fraction of examples whose true class is among the `k` most probable ones."""
    probabilities = np.asarray(probabilities)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities: expected shape (n, classes), got {probabilities.shape}")
    check_int("k", k, "top_k_accuracy")
    y_true, _ = _labels(y_true, probabilities.argmax(axis=1))
    if not len(y_true):
        return float("nan")
    best = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    return float(np.mean((best == y_true[:, None]).any(axis=1)))


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
