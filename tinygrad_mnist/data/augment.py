"""Data augmentation: small random changes to each training batch, so a model sees more variety.

An augmentation is a callable from a batch of images to a new batch of the same shape.
The `Trainer` applies one to each mini-batch it gathers (`Trainer(..., transform=...)`):
the training set itself is never copied or changed, and each epoch sees fresh draws.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tinygrad_mnist.data.rng import as_generator


class RandomShift:
    """Move each image by a random whole number of pixels, up to `max_shift` each way.

    Vacated pixels become 0 (the background of MNIST). Images are the last two axes of
    the batch, `(n, height, width)` or `(n, channels, height, width)`; a batch of flat
    rows `(n, height * width)` is taken as images of `image_shape`. The shifts are drawn
    from `seed` (an int, a Generator or None), one pair per image.
    """

    def __init__(self, max_shift: int = 2, seed=None, image_shape=None):
        if isinstance(max_shift, bool) or not isinstance(max_shift, numbers.Integral) \
                or max_shift < 0:
            raise ValueError(f"RandomShift: max_shift must be an int >= 0, got {max_shift!r}")
        if image_shape is not None and (len(tuple(image_shape)) != 2
                                        or min(tuple(image_shape)) < 1):
            raise ValueError(f"RandomShift: image_shape must be (height, width), got "
                             f"{image_shape!r}")
        self.max_shift = int(max_shift)
        self.image_shape = None if image_shape is None else tuple(int(n) for n in image_shape)
        self.rng = as_generator(seed, "seed")

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        shape = batch.shape
        if self.image_shape is not None and batch.ndim == 2:
            if shape[1] != self.image_shape[0] * self.image_shape[1]:
                raise ValueError(f"RandomShift: rows of {shape[1]} values are not images of "
                                 f"shape {self.image_shape} (batch shape {shape})")
            batch = batch.reshape(len(batch), *self.image_shape)
        if batch.ndim not in (3, 4):
            raise ValueError(f"RandomShift: expected images (n, height, width) or (n, channels, "
                             f"height, width), got a batch of shape {shape}")
        return self.shift(batch).reshape(shape)

    def shift(self, images: np.ndarray) -> np.ndarray:
        """`images` with each moved by a random (dy, dx), all in one gather."""
        m, n = self.max_shift, len(images)
        if m == 0 or n == 0:
            return images.copy()
        grey = images.ndim == 3
        images = images[:, None] if grey else images
        padded = np.pad(images, ((0, 0), (0, 0), (m, m), (m, m)))
        height, width = images.shape[2:]
        # Every crop of the padded images, as a view: (n, c, 2m + 1, 2m + 1, height, width).
        crops = sliding_window_view(padded, (height, width), axis=(2, 3))
        # Crop (m, m) is the image itself; (m - dy, m - dx) moves it down dy and right dx.
        dy, dx = self.rng.integers(-m, m + 1, size=(2, n))
        shifted = crops[np.arange(n), :, m - dy, m - dx]  # (n, c, height, width)
        return shifted[:, 0] if grey else shifted

    def __repr__(self) -> str:
        return f"RandomShift(max_shift={self.max_shift})"
