"""Classify image files with a trained model: what `tinygrad-mnist predict` prints.

Each file is read and framed as MNIST frames its digits (`data.read_digit`), then all
of them go through the model at once. A file that cannot be read is reported through
`on_error` and left out; the others are still classified. A framing that looks doubtful
(the ink covers the whole picture, several marks, almost no ink) is classified and
carries its warnings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinygrad_mnist.data import prepare_images
from tinygrad_mnist.data.images import SIDE, read_digit
from tinygrad_mnist.inference import predict_proba
from tinygrad_mnist.nn.sequential import leaves
from tinygrad_mnist.train.evaluation import Evaluation, evaluate
from tinygrad_mnist.utils.checks import check_int


class DivergedModelError(ValueError):
    """The model's weights or outputs are not finite because its training diverged: it has
    no accuracy, and nothing should be predicted, scored or exported with it."""


def check_finite(probabilities: np.ndarray) -> np.ndarray:
    """`probabilities`, or `DivergedModelError` when some are not finite (NaN)."""
    if not np.isfinite(probabilities).all():
        raise DivergedModelError("diverged: the model's outputs are not finite (NaN), so it "
                                 "has no accuracy and no prediction; train it again with a "
                                 "smaller --lr")
    return probabilities


@dataclass
class Classified:
    """One image's best classes, most probable first, with their probabilities; the 28x28
    digit the model saw and the framing's warnings."""

    path: str
    classes: list[int]
    probabilities: list[float]
    digit: np.ndarray | None = None
    warnings: tuple[str, ...] = ()
    box: tuple[int, int, int, int] | None = None


def model_classes(model) -> int | None:
    """How many classes `model` scores: its last layer's `out_features` (None if unknown)."""
    sized = [layer for layer in leaves(model) if hasattr(layer, "out_features")]
    return int(sized[-1].out_features) if sized else None


def model_inputs(model, images: np.ndarray, what: str = "the images") -> np.ndarray:
    """uint8 images (n, height, width) prepared as the examples `model.input_shape` says:
    rows of pixels for `(height * width,)`, (n, 1, height, width) for `(1, height, width)`.

    A model made for another image size, or for colour, is a ValueError saying so.
    """
    images = np.asarray(images)
    shape = getattr(model, "input_shape", None)
    if shape is None:
        raise ValueError(f"model: {type(model).__name__} does not say what it takes (its "
                         "input_shape is None); give it one, e.g. Sequential(..., "
                         "input_shape=(1, 28, 28))")
    height, width = images.shape[1:3]
    if shape == (height * width,):
        return prepare_images(images)
    if len(shape) == 1:
        raise ValueError(f"model: it takes {shape[0]} inputs, but {what} are {height}x{width} "
                         f"= {height * width} pixels; use a model trained on such images")
    if any(n != 1 for n in shape[:-2]):
        raise ValueError(f"model: it takes examples of shape {shape} ({shape[-3]} channels), "
                         f"but {what} are grey (one channel)")
    if shape[-2:] != (height, width):
        raise ValueError(f"model: it was trained on {shape[-2]}x{shape[-1]} images, but {what} "
                         f"are {height}x{width}; use a model trained on such images")
    return prepare_images(images, layout="keep").reshape(len(images), *shape)


def evaluate_model(model, x, labels) -> Evaluation:
    """`model`'s cross-entropy `Evaluation` on inputs `x` (`train.evaluation.evaluate`);
    outputs that are not finite are a `DivergedModelError`."""
    result = evaluate(model, x, labels)
    check_finite(result.probabilities)
    return result


def classify_files(model, paths, top: int = 1, on_error=None) -> list[Classified]:
    """The `top` classes of the digit in each image file of `paths`, in order.

    `on_error(path, error)` is called for a file that is missing or not an image (a
    ValueError or OSError); without it the error is raised. A model whose outputs are
    not finite is a `DivergedModelError`.
    """
    check_int("top", top, "classify_files")
    framed = "images framed as MNIST's"
    model_inputs(model, np.zeros((1, SIDE, SIDE), np.uint8), framed)  # a wrong model: first
    framings, kept = [], []
    for path in paths:
        try:
            framings.append(read_digit(path))
        except (ValueError, OSError) as error:
            if on_error is None:
                raise
            on_error(os.fspath(path), error)
            continue
        kept.append(os.fspath(path))
    if not framings:
        return []
    images = np.stack([framing.digit for framing in framings])
    probabilities = check_finite(predict_proba(model, model_inputs(model, images, framed)))
    best = np.argsort(-probabilities, axis=1, kind="stable")[:, :top]
    return [Classified(path, [int(c) for c in order], [float(p) for p in row[order]],
                       framing.digit, framing.warnings, framing.box)
            for path, order, row, framing in zip(kept, best, probabilities, framings)]


def write_framed_figures(results: list[Classified], folder, class_names=None) -> list[Path]:
    """Per result, `folder/<name>.png`: the picture with its crop marked, the 28x28 the
    model saw and its top-3 classes as bars (`viz.plot_framed_inputs`); the paths written.

    What `predict --show` and `show MODEL IMAGE...` write. Two inputs of the same name
    (from different folders) get `<name>-2.png`, and so on; `results` must carry every
    class's probability for the bars to be the true top 3 (`classify_files(top=...)`).
    """
    from tinygrad_mnist.data.images import read_picture
    from tinygrad_mnist.viz import plot_framed_inputs  # matplotlib: only when drawing
    from tinygrad_mnist.viz.figure_file import save_figure

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    for result in results:
        probabilities = np.zeros(max(result.classes) + 1)
        probabilities[result.classes] = result.probabilities
        stem = Path(result.path).stem or "image"
        name, n = stem, 1
        while name in used:
            n += 1
            name = f"{stem}-{n}"
        used.add(name)
        figure = plot_framed_inputs([read_picture(result.path).grey], [result.digit],
                                    probabilities[None], titles=[Path(result.path).name],
                                    class_names=class_names, crop_boxes=[result.box],
                                    warnings=[result.warnings])
        written.append(save_figure(figure, folder / f"{name}.png"))
    return written
