"""Losses: `CrossEntropyLoss` on logits and `MSELoss`, each one fused operation.

A fused loss is one node in the graph whose backward is the textbook formula
(`softmax - target` for cross-entropy), instead of a chain of small ops.
"""

from __future__ import annotations

import numpy as np

from tinygrad_mnist.nn.layer import Layer
from tinygrad_mnist.ops import log_normalizer_and_softmax
from tinygrad_mnist.tensor import Function, Tensor

REDUCTIONS = ("mean", "sum")


class CrossEntropyWithLabels(Function):
    """Mean (or sum) over rows of -log softmax(logits)[row, label]; labels are ints."""

    private_gradients = True  # backward returns a new array

    @staticmethod
    def forward(ctx, logits, labels, reduction="mean"):
        rows = np.arange(len(labels))
        log_z, ctx.probabilities = log_normalizer_and_softmax(logits, axis=-1)
        ctx.rows, ctx.labels = rows, labels
        ctx.scale = 1 / len(labels) if reduction == "mean" else 1
        total = (log_z.sum() - logits[rows, labels].sum()) * ctx.scale
        return np.asarray(total, dtype=logits.dtype)

    @staticmethod
    def backward(ctx, grad):
        scale = grad * ctx.scale
        # softmax - one_hot, without building the one-hot matrix.
        grad_logits = ctx.probabilities * scale
        grad_logits[ctx.rows, ctx.labels] -= scale
        return grad_logits

    @staticmethod
    def backward_graph(ctx, grad):
        (logits,) = ctx.inputs
        one_hot = np.zeros(logits.shape, logits.dtype)
        one_hot[ctx.rows, ctx.labels] = 1
        return (_softmax(logits) - one_hot) * (grad * ctx.scale)


class CrossEntropyWithProbabilities(Function):
    """Mean (or sum) over rows of -sum(target * log softmax(logits)); target rows: one-hot."""

    @staticmethod
    def forward(ctx, logits, target, reduction="mean"):
        log_z, probabilities = log_normalizer_and_softmax(logits, axis=-1)
        negative_log_probabilities = log_z - logits
        ctx.scale = 1 / len(logits) if reduction == "mean" else 1
        ctx.probabilities, ctx.target = probabilities, target
        ctx.negative_log_probabilities = negative_log_probabilities
        total = np.sum(target * negative_log_probabilities) * ctx.scale
        return np.asarray(total, dtype=logits.dtype)

    @staticmethod
    def backward(ctx, grad):
        need_logits, need_target = ctx.needs_input_grad
        scale = grad * ctx.scale
        grad_logits = grad_target = None
        if need_logits:
            # For rows that do not sum to one the softmax term is weighted by the row sum.
            row_sums = ctx.target.sum(axis=-1, keepdims=True)
            grad_logits = (ctx.probabilities * row_sums - ctx.target) * scale
        if need_target:
            grad_target = ctx.negative_log_probabilities * scale
        return grad_logits, grad_target

    @staticmethod
    def backward_graph(ctx, grad):
        logits, target = ctx.inputs
        scale = grad * ctx.scale
        grad_logits = (_softmax(logits) * target.sum(axis=-1, keepdims=True) - target) * scale
        return grad_logits, -_log_softmax(logits) * scale


class SquaredError(Function):
    """Mean (or sum) of (prediction - target) ** 2 over all elements."""

    @staticmethod
    def forward(ctx, prediction, target, reduction="mean"):
        difference = prediction - target
        ctx.difference = difference
        ctx.scale = 1 / difference.size if reduction == "mean" else 1
        return np.asarray(np.vdot(difference, difference) * ctx.scale, dtype=difference.dtype)

    @staticmethod
    def backward(ctx, grad):
        grad_prediction = ctx.difference * (2 * grad * ctx.scale)
        need_prediction, need_target = ctx.needs_input_grad
        return (grad_prediction if need_prediction else None,
                -grad_prediction if need_target else None)

    @staticmethod
    def backward_graph(ctx, grad):
        prediction, target = ctx.inputs
        grad_prediction = (prediction - target) * (grad * (2 * ctx.scale))
        return grad_prediction, -grad_prediction


def _log_softmax(logits: Tensor) -> Tensor:
    """log softmax of the rows, as differentiable Tensor ops (for `backward_graph`).

    The row maxima are taken out as constants first, so no exp overflows; they cancel
    in the result, so treating them as constants changes no derivative.
    """
    shifted = logits - logits.data.max(axis=-1, keepdims=True)
    return shifted - shifted.exp().sum(axis=-1, keepdims=True).log()


def _softmax(logits: Tensor) -> Tensor:
    """softmax of the rows, as differentiable Tensor ops (for `backward_graph`)."""
    return _log_softmax(logits).exp()


class Loss(Layer):
    """A layer that scores a prediction against a target: `loss(prediction, target)`.

    `reduction` is `"mean"` (over samples) or `"sum"`.
    """

    def __init__(self, reduction: str = "mean"):
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {REDUCTIONS}, got {reduction!r}"
            )
        self.reduction = reduction

    def forward(self, prediction, target):
        """The loss of `prediction` against `target`, a scalar Tensor; subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(Loss):
    """Cross-entropy of softmax(logits) against the target, from raw logits.

    `logits` has shape `(batch, classes)`. `target` is either integer labels of
    shape `(batch,)` or rows of class probabilities (one-hot) of shape
    `(batch, classes)`. Stable for logits of any magnitude.
    """

    def forward(self, logits, target):
        shape = tuple(logits.shape)
        if len(shape) != 2 or 0 in shape:
            raise ValueError(
                f"CrossEntropyLoss: logits must have shape (batch, classes), both non-zero, "
                f"got {shape}"
            )
        target_data = target.data if isinstance(target, Tensor) else np.asarray(target)
        if target_data.shape == shape:  # probability rows; a Tensor target gets a gradient
            _check_probability_rows(target_data)
            return CrossEntropyWithProbabilities.apply(
                logits, target if isinstance(target, Tensor) else target_data,
                reduction=self.reduction)
        _check_labels(target_data, shape)
        labels = target_data if target_data.dtype.kind in "iu" else target_data.astype(np.intp)
        return CrossEntropyWithLabels.apply(logits, labels=labels, reduction=self.reduction)


def _check_probability_rows(target: np.ndarray) -> None:
    """Refuse target rows that are not probabilities: each >= 0, each row summing to 1."""
    if target.dtype.kind not in "fiub":
        raise ValueError(f"CrossEntropyLoss: probability targets must be numbers, got dtype "
                         f"{target.dtype}")
    bad = ~np.isfinite(target) | (target < 0)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"CrossEntropyLoss: probability targets must be finite and >= 0, "
                         f"got {target[where]} at {where}")
    sums = target.sum(axis=-1)
    off = np.abs(sums - 1) > 1e-3  # room for rounding in float32 and float16 rows
    if off.any():
        row = int(np.argmax(off))
        raise ValueError(f"CrossEntropyLoss: each row of probability targets must sum to 1, "
                         f"row {row} sums to {sums[row]:.6g}")


def _check_labels(labels: np.ndarray, shape: tuple) -> None:
    """Refuse anything but one whole-number class index per row, each below the classes."""
    batch, classes = shape
    if labels.shape != (batch,):
        raise ValueError(
            f"CrossEntropyLoss: target must be {batch} integer labels (shape ({batch},)) or "
            f"one-hot rows (shape {shape}), got shape {labels.shape}"
        )
    if labels.dtype.kind != "i" and labels.dtype.kind != "u":
        # Labels that went through a float Tensor are accepted when they are whole numbers.
        if labels.dtype.kind != "f" or not np.array_equal(labels, np.round(labels)):
            raise ValueError(
                f"CrossEntropyLoss: target labels must be integers, got dtype {labels.dtype}"
            )
    if (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"CrossEntropyLoss: target labels must lie in [0, {classes}), got values from "
            f"{labels.min():g} to {labels.max():g}"
        )


class MSELoss(Loss):
    """Mean squared error, averaged over every element (or summed)."""

    def forward(self, prediction, target):
        target_shape = np.shape(target.data if isinstance(target, Tensor) else target)
        if target_shape != prediction.shape:
            raise ValueError(
                f"MSELoss: target must have the prediction's shape {prediction.shape}, "
                f"got {target_shape}"
            )
        return SquaredError.apply(prediction, target, reduction=self.reduction)
