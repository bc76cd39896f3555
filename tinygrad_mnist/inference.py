"""Inference with a trained model: class probabilities and classes, no loss, no optimizer.

    from tinygrad_mnist import predict, predict_proba
    from tinygrad_mnist.data import prepare_images
    probabilities = predict_proba(model, prepare_images(images))
    classes = predict(model, prepare_images(images))

The model runs in evaluation mode (dropout off, batch norm on its running statistics)
and under `no_grad` (no graph, no memory held), in chunks of `batch_size` rows, so a
whole test set fits in memory whatever the model. The `Trainer`'s `evaluate`,
`predict` and `predict_proba` go through the same `map_batches`.
"""

from __future__ import annotations

import numpy as np

from tinygrad_mnist.tensor import Tensor, no_grad
from tinygrad_mnist.utils.checks import check_int

#: Rows per forward pass: bounds memory, never changes a result.
BATCH_SIZE = 4096

#: A model that blew up gives NaN logits (a run, a NaN loss), reported as data, not as NumPy
#: warnings on every batch: `np.errstate(**QUIET_OVERFLOW)`.
QUIET_OVERFLOW = {"over": "ignore", "invalid": "ignore", "divide": "ignore"}


def model_dtype(model) -> np.dtype:
    """The dtype of `model`'s parameters (float32 for a model without any): what its inputs
    are converted to."""
    parameters = model.parameters()
    return parameters[0].dtype if parameters else np.dtype(np.float32)


def map_batches(model, x, fn, batch_size: int = BATCH_SIZE) -> list:
    """`[fn(rows, logits) for each chunk of x]`, in evaluation mode and under `no_grad`.

    `rows` is the chunk's slice of `x`; `logits` the model's output `Tensor`. The
    model's training mode is restored afterwards, also when `fn` raises.
    """
    check_int("batch_size", batch_size, "map_batches")
    if len(x) == 0:
        raise ValueError("x: expected at least one example, got none")
    dtype = model_dtype(model)
    was_training = model.training
    model.eval()
    try:
        with no_grad(), np.errstate(**QUIET_OVERFLOW):
            results = []
            for start in range(0, len(x), batch_size):
                rows = slice(start, start + batch_size)
                chunk = np.asarray(x[rows]).astype(dtype, copy=False)
                results.append(fn(rows, model(Tensor(chunk))))
            return results
    finally:
        model.train(was_training)


def _features(x) -> np.ndarray:
    if isinstance(x, Tensor):
        x = x.numpy()
    x = np.asarray(x)
    if x.dtype == np.uint8:
        # Raw pixels 0..255 would run, and give nonsense: the model was trained on pixel / 255.
        raise TypeError("x: expected prepared features (float), got uint8 pixels; pass "
                        "prepare_images(images) instead")
    if x.dtype.kind not in "fiu" or x.ndim < 2:
        raise ValueError(f"x: expected an array of features with one row per example, "
                         f"got dtype {x.dtype} and shape {x.shape}")
    return x


def predict_proba(model, x, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Class probabilities (the softmax of the logits), one row per example of `x`.

    `x` is what the model eats: `prepare_images(images)` for an MLP, `(N, 784)`.
    """
    return np.concatenate(map_batches(model, _features(x),
                                      lambda rows, logits: logits.softmax(axis=-1).data,
                                      batch_size))


def predict(model, x, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """The predicted class index of each example of `x` (the argmax of the logits)."""
    return np.concatenate(map_batches(model, _features(x),
                                      lambda rows, logits: logits.data.argmax(axis=1),
                                      batch_size))
