"""Saliency maps: which pixels would change the model's mind, found by `backward()`.

The gradient of the predicted class's score (its logit) with respect to the input
pixels says how much each pixel pushes towards that class (Simonyan et al., 2014).
The same reverse-mode pass that trains the weights computes it: the input is simply
one more `Tensor` with `requires_grad=True`.

One gradient alone is speckle: a ReLU network's gradient jumps from pixel to pixel. So
the map is SmoothGrad's (Smilkov et al., 2017): the mean gradient over `samples` copies of
the input with a little noise added, which keeps what is stable and averages out the rest.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from tinygrad_mnist.tensor import Tensor
from tinygrad_mnist.viz._common import MISTAKE_COLOR, as_array, as_labels, finish, text_width

MAX_IMAGES = 64  # past this the figure is too large to read
PER_ROW = 8
SAMPLES = 24  # SmoothGrad's noisy copies: the maps stop changing visibly at about 20
NOISE = 0.15  # the noise's standard deviation, as a fraction of the inputs' range


def saliency_maps(model, x, samples: int = SAMPLES, noise: float = NOISE,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """`(gradients, predictions)`: d(score of the predicted class)/d(input) for each row
    of `x`, averaged over `samples` noisy copies of it (SmoothGrad; `samples=1, noise=0`
    gives the plain gradient).

    `x` holds prepared inputs (say `prepare_images(images)`); `gradients` has its shape.
    The prediction is the one for `x` itself. The model runs in evaluation mode; its
    training mode and its parameters' gradients are left as they were.
    """
    x = as_array(x, "x")
    if x.ndim < 2 or len(x) == 0 or x.dtype.kind != "f":
        raise ValueError(f"x: expected prepared float inputs with one row per example, "
                         f"got dtype {x.dtype} and shape {x.shape}")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"samples: expected an int >= 1, got {samples!r}")
    if not (isinstance(noise, (int, float)) and 0 <= noise < 1):
        raise ValueError(f"noise: expected a fraction in [0, 1), got {noise!r}")
    parameters = model.parameters()
    kept_grads = [p.grad for p in parameters]
    was_training = model.training
    model.eval()
    rng = np.random.default_rng(seed)
    spread = noise * float(x.max() - x.min() or 1.0)
    try:
        dtype = parameters[0].dtype if parameters else x.dtype
        predictions = None
        total = np.zeros(x.shape, dtype=np.float64)
        for sample in range(samples):
            shaken = x if sample == 0 and samples == 1 else x + rng.normal(0, spread, x.shape)
            inputs = Tensor(shaken.astype(dtype), requires_grad=True)
            logits = model(inputs)
            if predictions is None:
                predictions = model(Tensor(x.astype(dtype))).data.argmax(axis=1)
            chosen = np.zeros(logits.shape, dtype=logits.dtype)
            chosen[np.arange(len(predictions)), predictions] = 1
            # Rows do not mix in evaluation mode, so one backward gives every row's gradient.
            (logits * chosen).sum().backward()
            total += inputs.grad
        return (total / samples).astype(x.dtype), predictions
    finally:
        model.train(was_training)
        for p, grad in zip(parameters, kept_grads):
            p.grad = grad


def plot_saliency(model, images, x, labels=None, *, n: int = 8, class_names=None,
                  title: str | None = None, path=None) -> Figure:
    """For the first `n` images: the image with its saliency map over it (SmoothGrad's
    gradient of the predicted class's score with respect to each pixel: red where more
    ink would raise the score, blue where it would lower it), one colour scale for all.

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
    signed = gradients.reshape(count, side, side)
    highest = int(max(predictions.max(), -1 if truth is None else truth.max()))
    names = [str(c) for c in range(highest + 1)] if class_names is None \
        else [str(name) for name in class_names]
    if len(names) <= highest:
        raise ValueError(f"class_names: expected a name for every label up to {highest}, "
                         f"got {len(names)}")

    heading = title or ("Saliency (SmoothGrad): red pixels push towards the prediction, "
                        "blue ones away")
    per_row = min(count, PER_ROW)
    rows = math.ceil(count / per_row)
    width = max(1.45 * per_row + 1.2, text_width(heading, 11) + 0.3)
    fig = Figure(figsize=(width, 1.6 * rows + 0.7), layout="constrained")
    # One scale for the figure (robust to a few extreme pixels), symmetric about zero.
    limit = float(np.percentile(np.abs(signed), 99.5)) or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    axes = fig.subplots(rows, per_row, squeeze=False)
    overlay = None
    for i, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= count:
            ax.set_visible(False)
            continue
        ax.imshow(pictures[i].reshape(side, side), cmap="gray_r")
        # The map over the digit: strong pushes opaque, weak ones see-through.
        alpha = np.clip(np.abs(signed[i]) / limit, 0, 1) ** 0.7
        overlay = ax.imshow(signed[i], cmap="RdBu_r", norm=norm, alpha=alpha)
        wrong = truth is not None and truth[i] != predictions[i]
        text = f"pred {names[predictions[i]]}"
        if truth is not None:
            text = f"true {names[truth[i]]} / {text}"
        ax.set_title(text, fontsize=8, color=MISTAKE_COLOR if wrong else "black")
    bar = fig.colorbar(overlay, ax=axes, shrink=0.8, pad=0.01)
    bar.set_label("d score / d pixel (mean over noisy copies)", fontsize=8)
    fig.suptitle(heading, fontsize=11)
    return finish(fig, path)
