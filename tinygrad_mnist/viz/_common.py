"""What every figure shares: saving when given a path, and checking the arrays it is given."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from tinygrad_mnist.tensor import Tensor
from tinygrad_mnist.viz.figure_file import save_figure

MISTAKE_COLOR = "#c0392b"


def finish(fig: Figure, path) -> Figure:
    """Save `fig` when a path is given, and hand it back."""
    if path is not None:
        save_figure(fig, path)
    return fig


def as_array(values, name: str) -> np.ndarray:
    """`values` (an array, a list or a Tensor) as a NumPy array."""
    if isinstance(values, Tensor):
        return values.numpy()
    array = np.asarray(values)
    if array.dtype == object:
        raise TypeError(f"{name}: expected numbers, got {type(values).__name__} of objects")
    return array


def as_labels(values, name: str, num_classes: int | None = None) -> np.ndarray:
    """`values` as a 1-D array of non-negative integer class labels (below `num_classes`)."""
    array = as_array(values, name)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of class labels, got shape {array.shape}")
    whole_floats = array.dtype.kind == "f" and np.all(np.isfinite(array) & (array % 1 == 0))
    if array.dtype.kind not in "iu" and not whole_floats:
        raise ValueError(f"{name}: expected integer class labels, got dtype {array.dtype}")
    labels = array.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"{name}: expected labels >= 0, got {labels.min()}")
    if num_classes is not None and labels.size and labels.max() >= num_classes:
        raise ValueError(
            f"{name}: expected labels below num_classes={num_classes}, got {labels.max()}"
        )
    return labels


def check_same_length(reference_name: str, reference, **others) -> None:
    """Refuse any of `others` whose length differs from `reference`'s."""
    for name, values in others.items():
        if len(values) != len(reference):
            raise ValueError(
                f"{name}: expected {len(reference)} entries (one per entry of "
                f"{reference_name}), got {len(values)}"
            )


def class_names_for(class_names, num_classes: int) -> list[str]:
    """The tick labels of `num_classes` classes: `class_names` checked, or the digits."""
    if class_names is None:
        return [str(c) for c in range(num_classes)]
    names = [str(name) for name in class_names]
    if len(names) != num_classes:
        raise ValueError(
            f"class_names: expected {num_classes} names (one per class), got {len(names)}"
        )
    return names


def text_width(text: str, fontsize: float) -> float:
    """A generous estimate of the inches a line of `text` takes, to size figures around titles."""
    return 0.6 * fontsize / 72 * len(text)


def text_color_on(rgba) -> str:
    """Black or white, whichever reads better on a cell of colour `rgba`."""
    red, green, blue = rgba[:3]
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 0.5 else "white"
