"""Turning raw MNIST arrays into what a network eats: scaled floats, one-hot rows."""

from __future__ import annotations

import numpy as np

LAYOUTS = ("flat", "nchw", "keep")


def prepare_images(images, flatten: bool = True, layout: str | None = None) -> np.ndarray:
    """uint8 images (n, ...) as float32 in [0, 1]: pixel / 255.

    `layout` says what shape comes out: "flat" gives one row per image, (n, 784) for
    MNIST, what an MLP eats; "nchw" gives (n, 1, 28, 28), one channel axis added to
    grey images (n, height, width), what a CNN eats; "keep" keeps the shape given.
    `flatten` is the older spelling: True means "flat", False "keep". One 28x28 image
    is a batch of one.
    """
    if layout is None:
        layout = "flat" if flatten else "keep"
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {', '.join(LAYOUTS)}, got {layout!r}")
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"images: expected uint8 pixel values 0..255, got dtype {images.dtype}")
    if images.shape == (28, 28):  # one image, not 28 rows of 28 pixels
        images = images[np.newaxis]
    if images.ndim < 2:
        raise ValueError(f"images: expected shape (n, ...) with one image per row, "
                         f"got shape {images.shape}")
    if layout == "nchw" and images.ndim not in (3, 4):
        raise ValueError(f"images: layout 'nchw' needs grey images (n, height, width) or "
                         f"(n, channels, height, width), got shape {images.shape}")
    scaled = images.astype(np.float32)
    scaled /= np.float32(255)  # in place: one float copy of the images, not two
    if layout == "flat":
        return scaled.reshape(len(images), -1)
    if layout == "nchw" and scaled.ndim == 3:
        return scaled[:, None]
    return scaled


def one_hot(labels, num_classes: int = 10) -> np.ndarray:
    """Integer labels (n,) as float32 rows (n, num_classes) with a single 1 each."""
    labels = np.asarray(labels)
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
    if labels.ndim != 1 or (labels.size and labels.dtype.kind not in "iu"):
        raise TypeError(f"labels: expected a 1-D array of integers, got {labels.dtype} "
                        f"of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(f"labels: expected values in 0..{num_classes - 1}, got {bad}")
    encoded = np.zeros((len(labels), num_classes), np.float32)
    encoded[np.arange(len(labels)), labels.astype(np.intp)] = 1
    return encoded
