"""`evaluate`: a model scored on labelled examples, one pass, one result (`Evaluation`).

    result = evaluate(model, x_test, y_test)      # or trainer.evaluate((x_test, y_test))
    result.loss, result.accuracy                  # the mean loss, the fraction right
    result.probabilities, result.predictions      # per example, for figures and reports

The `Trainer` (validation each epoch, `trainer.evaluate`), the run folder's report and
`tinygrad-mnist evaluate` all score a model through it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinygrad_mnist.inference import BATCH_SIZE, map_batches
from tinygrad_mnist.train import metrics


def class_labels(y: np.ndarray) -> np.ndarray:
    """Integer labels: `y` itself, or the argmax of one-hot (or score) rows."""
    return y if y.ndim == 1 else y.argmax(axis=1)


@dataclass(frozen=True, eq=False)
class Evaluation:
    """A model's scores on labelled examples: the mean `loss`, each example's class
    `probabilities` (softmax of the logits) and true `labels` (integers)."""

    loss: float
    probabilities: np.ndarray
    labels: np.ndarray

    @property
    def diverged(self) -> bool:
        """True when the loss or the outputs are not finite (NaN): the model has no accuracy."""
        return not (np.isfinite(self.loss) and np.isfinite(self.probabilities).all())

    @property
    def predictions(self) -> np.ndarray:
        """The most probable class of each example."""
        return self.probabilities.argmax(axis=1)

    @property
    def accuracy(self) -> float:
        """The fraction predicted correctly; NaN for a diverged model (the argmax of NaN
        outputs is no prediction)."""
        return float("nan") if self.diverged else metrics.accuracy(self.labels, self.predictions)

    @property
    def num_classes(self) -> int:
        """The number of classes the model scores."""
        return self.probabilities.shape[1]

    def per_class_accuracy(self) -> np.ndarray:
        """For each true class, the fraction predicted correctly."""
        return metrics.per_class_accuracy(self.labels, self.predictions, self.num_classes)

    def confusion_matrix(self) -> np.ndarray:
        """Counts: row = true class, column = predicted class."""
        return metrics.confusion_matrix(self.labels, self.predictions, self.num_classes)

    def scores(self) -> dict[str, float]:
        """`{"loss": ..., "accuracy": ...}`: the two numbers a history or a table records."""
        return {"loss": self.loss, "accuracy": self.accuracy}

    def __repr__(self) -> str:
        return (f"Evaluation(loss={self.loss:.4g}, accuracy={self.accuracy:.4g}, "
                f"{len(self.labels):,} examples)")


def evaluate(model, x, y, loss=None, batch_size: int = BATCH_SIZE) -> Evaluation:
    """`model` scored on inputs `x` (prepared features) against targets `y` (integer labels,
    or rows for the loss, such as one-hot), in chunks of `batch_size` rows, under `no_grad`
    and in evaluation mode.

    `loss` (default `CrossEntropyLoss()`) gives the mean loss: the chunk losses weighted
    by chunk size, i.e. the mean when the loss averages (its default reduction).
    """
    if loss is None:
        from tinygrad_mnist.nn import CrossEntropyLoss

        loss = CrossEntropyLoss()
    y = np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"y: x has {len(x)} rows but y has {len(y)}")

    def chunk(rows, logits):
        return (float(loss(logits, y[rows]).data) * len(logits.data),
                logits.softmax(axis=-1).data)

    parts = map_batches(model, x, chunk, batch_size)
    labels = class_labels(y)
    if labels.dtype.kind == "f":  # whole-number float labels, which the losses accept
        labels = labels.astype(np.intp)
    return Evaluation(loss=sum(total for total, _ in parts) / len(x),
                      probabilities=np.concatenate([p for _, p in parts]), labels=labels)
