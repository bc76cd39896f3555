"""Saliency maps: which pixels would change the model's mind, found by `backward()`.

The gradient of the predicted class's score (its logit) with respect to the input
pixels says how much each pixel pushes towards that class (Simonyan et al., 2014).
The same reverse-mode pass that trains the weights computes it: the input is simply
one more `Tensor` with `requires_grad=True`.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from tinygrad_mnist.tensor import Tensor
from tinygrad_mnist.viz._common import MISTAKE_COLOR, as_array, as_labels, finish, text_width

MAX_IMAGES = 64  # two panels each: past this the figure is too large to read
PAIRS_PER_ROW = 4


def saliency_maps(model, x) -> tuple[np.ndarray, np.ndarray]:
    """`(gradients, predictions)`: d(score of the predicted class)/d(input) for each row of `x`.

    `x` holds prepared inputs (say `prepare_images(images)`); `gradients` has its shape.
    The model runs in evaluation mode; its training mode and its parameters'
    gradients are left as they were.
    """
    x = as_array(x, "x")
    if x.ndim < 2 or len(x) == 0 or x.dtype.kind != "f":
        raise ValueError(f"x: expected prepared float inputs with one row per example, "
                         f"got dtype {x.dtype} and shape {x.shape}")
    parameters = model.parameters()
    kept_grads = [p.grad for p in parameters]
    was_training = model.training
    model.eval()
    try:
        dtype = parameters[0].dtype if parameters else x.dtype
        inputs = Tensor(x.astype(dtype), requires_grad=True)
        logits = model(inputs)
        predictions = logits.data.argmax(axis=1)
        chosen = np.zeros(logits.shape, dtype=logits.dtype)
        chosen[np.arange(len(predictions)), predictions] = 1
        # Rows do not mix in evaluation mode, so one backward gives every row's gradient.
        (logits * chosen).sum().backward()
        return inputs.grad, predictions
    finally:
        model.train(was_training)
        for p, grad in zip(parameters, kept_grads):
            p.grad = grad


def plot_saliency(model, images, x, labels=None, *, n: int = 8, class_names=None,
                  title: str | None = None, path=None) -> Figure:
    """For the first `n` images: the image, and beside it the size of the gradient of the
    predicted class's score with respect to each pixel (darker: more influence).

    `images` are what people look at ((N, H, W) or flattened squares); `x` what the
    model eats (`prepare_images(images)`). With `labels`, mistakes are titled in red.
    """
    pictures = as_array(images, "images")
    count = len(pictures)
    if count == 0:
        raise ValueError("images: expected at least one image, got none")
    if len(x) != count:
        raise ValueError(f"x: expected {count} rows (one per image), got {len(x)}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_IMAGES:
        raise ValueError(f"n: expected an integer from 1 to {MAX_IMAGES}, got {n!r}")
    count = min(int(n), count)
    side = math.isqrt(pictures[0].size)
    if side * side != pictures[0].size:
        raise ValueError(f"images: expected square images, got {pictures.shape[1:]} per image")
    truth = None if labels is None else as_labels(labels, "labels")[:count]
    gradients, predictions = saliency_maps(model, as_array(x, "x")[:count])
    strength = np.abs(gradients.reshape(count, -1)).reshape(count, side, side)
    highest = int(max(predictions.max(), -1 if truth is None else truth.max()))
    names = [str(c) for c in range(highest + 1)] if class_names is None \
        else [str(name) for name in class_names]
    if len(names) <= highest:
        raise ValueError(f"class_names: expected a name for every label up to {highest}, "
                         f"got {len(names)}")

    heading = title or "Saliency: |d score of the predicted class / d pixel|"
    pairs = min(count, PAIRS_PER_ROW)
    rows = math.ceil(count / pairs)
    width = max(2.6 * pairs + 0.3, text_width(heading, 11) + 0.3)
    fig = Figure(figsize=(width, 1.55 * rows + 0.6), layout="constrained")
    grid = fig.add_gridspec(rows, 2 * pairs)
    for i in range(count):
        row, column = divmod(i, pairs)
        image_ax = fig.add_subplot(grid[row, 2 * column])
        map_ax = fig.add_subplot(grid[row, 2 * column + 1])
        image_ax.imshow(pictures[i].reshape(side, side), cmap="gray_r")
        # Each map on its own scale: the pattern matters, not the gradient's size.
        map_ax.imshow(strength[i], cmap="hot_r", vmin=0, vmax=float(strength[i].max()) or 1.0)
        wrong = truth is not None and truth[i] != predictions[i]
        text = f"pred {names[predictions[i]]}"
        if truth is not None:
            text = f"true {names[truth[i]]} / {text}"
        image_ax.set_title(text, fontsize=8, loc="left",
                           color=MISTAKE_COLOR if wrong else "black")
        for ax in (image_ax, map_ax):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle(heading, fontsize=11)
    return finish(fig, path)
