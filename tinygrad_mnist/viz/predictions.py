"""A grid of test images, each titled with its true and predicted label, mistakes in red."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from tinygrad_mnist.viz._common import (
    MISTAKE_COLOR,
    as_array,
    as_labels,
    check_same_length,
    finish,
    text_width,
)

MAX_IMAGES = 400  # past this a grid takes long to draw and no one reads it


def _as_square_images(images) -> np.ndarray:
    """`images` as (N, side, side): (N, H, W) kept, flattened (N, side*side) rows reshaped."""
    array = as_array(images, "images")
    if array.ndim == 3:
        return array
    if array.ndim == 2:
        side = math.isqrt(array.shape[1])
        if side * side == array.shape[1]:
            return array.reshape(len(array), side, side)
    raise ValueError(
        "images: expected shape (N, 28, 28) or flattened (N, 784) (any square size), "
        f"got {array.shape}"
    )


def plot_predictions(
    images,
    y_true,
    y_pred,
    *,
    n: int = 25,
    probabilities=None,
    class_names=None,
    title: str | None = None,
    indices=None,
    mistakes_of: int | None = None,
    path=None,
) -> Figure:
    """The first `n` images in a grid, each titled "true T / pred P"; mistakes framed in red.

    `images` is (N, H, W) or flattened (N, H*W) with square images; `y_true` and
    `y_pred` hold N integer labels. `probabilities` (N, classes), when given, adds the
    model's confidence in its prediction under each title. `class_names` replaces the
    numeric labels (say, Fashion-MNIST's). The grid is as square as `n` allows.
    `indices` (N ints) labels each image with its index in the test set ("#1234"), so it
    can be found again. `mistakes_of` (the number of mistakes the images were chosen
    from) makes the heading "36 of the 179 mistakes" rather than "0 of 36 correct".
    """
    pictures = _as_square_images(images)
    true = as_labels(y_true, "y_true")
    pred = as_labels(y_pred, "y_pred")
    check_same_length("images", pictures, y_true=true, y_pred=pred)
    if len(pictures) == 0:
        raise ValueError("images: expected at least one image, got none")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_IMAGES:
        raise ValueError(f"n: expected an integer from 1 to {MAX_IMAGES}, got {n!r}")
    confidence = None
    if probabilities is not None:
        confidence = as_array(probabilities, "probabilities")
        if confidence.ndim != 2 or confidence.shape[1] <= pred.max(initial=0):
            raise ValueError(
                "probabilities: expected shape (N, classes) covering every predicted label, "
                f"got {confidence.shape}"
            )
        check_same_length("images", pictures, probabilities=confidence)
    count = min(int(n), len(pictures))
    highest = int(max(true.max(), pred.max()))
    names = [str(c) for c in (range(highest + 1) if class_names is None else class_names)]
    if len(names) <= highest:
        raise ValueError(
            f"class_names: expected a name for every label up to {highest}, got {len(names)}"
        )

    if indices is not None:
        indices = as_array(indices, "indices")
        check_same_length("images", pictures, indices=indices)
    correct = int(np.sum(true[:count] == pred[:count]))
    heading = f"{title or 'Predictions on test images'}: {correct} of {count} correct"
    if mistakes_of is not None:
        heading = f"{title or 'Mistakes'}: {count} of the {int(mistakes_of):,} mistakes"
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    # Long class names (Fashion-MNIST's "Ankle boot") put true and pred on lines of their own.
    separator = "\n" if max(len(name) for name in names) > 3 else " / "
    title_lines = (separator == "\n") + (confidence is not None or indices is not None)
    cell_width, cell_height = 1.45, 1.55 + 0.2 * title_lines
    width = max(cell_width * columns + 0.3, text_width(heading, 11) + 0.3)
    height = cell_height * rows + 0.6
    # Margins by arithmetic (in inches) rather than by a layout engine, which took a third
    # of the time of a 36-image grid (0.63 s, now 0.40 s): each image is `side` inches
    # square, with its title in the gap above it and the heading in the top 0.5 inch.
    side, gap_x, gap_y = cell_width - 0.2, 0.2, cell_height - (cell_width - 0.2)
    grid_width = columns * side + (columns - 1) * gap_x
    grid_top = 0.1 + rows * side + (rows - 1) * gap_y
    fig = Figure(figsize=(width, height))
    grid = fig.add_gridspec(
        rows, columns, left=(width - grid_width) / 2 / width,
        right=(width + grid_width) / 2 / width, bottom=0.1 / height, top=grid_top / height,
        wspace=gap_x / side, hspace=gap_y / side,
    )
    low, high = float(pictures[:count].min()), float(pictures[:count].max())
    for i in range(count):
        ax = fig.add_subplot(grid[i // columns, i % columns])
        ax.imshow(pictures[i], cmap="gray_r", vmin=low, vmax=high)
        # Hidden axes rather than empty tick lists: no tick is drawn (a fifth of the time).
        ax.xaxis.set_visible(False)
        ax.yaxis.set_visible(False)
        wrong = true[i] != pred[i]
        text = f"true {names[true[i]]}{separator}pred {names[pred[i]]}"
        details = []
        if confidence is not None:
            details.append(f"{confidence[i, pred[i]]:.0%} sure")
        if indices is not None:
            details.append(f"#{int(indices[i])}")
        if details:
            text += "\n" + ", ".join(details)
        ax.set_title(text, fontsize=8, color=MISTAKE_COLOR if wrong else "black",
                     fontweight="bold" if wrong else "normal")
        for spine in ax.spines.values():
            spine.set_visible(bool(wrong))
            spine.set_color(MISTAKE_COLOR)
            spine.set_linewidth(2.5)
    fig.suptitle(heading, fontsize=11, y=1 - 0.15 / height, va="top")
    return finish(fig, path)
