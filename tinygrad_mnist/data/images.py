"""Digits from image files (PNG, JPEG, any size, grey or colour), framed as MNIST frames them.

MNIST's digits are light on a dark background, scaled so that the digit's bounding box
fits in 20x20 pixels (keeping its aspect ratio) and placed in a 28x28 field so that
their centre of mass lies at the centre. A photo or a drawing is none of that, and a
model trained on MNIST misreads it unless it is framed the same way:

    image = read_digit_image("seven.png")     # uint8 (28, 28), like load_mnist()'s
    x = prepare_images(image)                  # (1, 784), what the model eats
"""

from __future__ import annotations

import os

import numpy as np

SIDE = 28  # the field MNIST's images fill
BOX = 20  # the square the digit's bounding box is scaled to fit
# Ink fainter than this fraction of the strongest is paper texture or JPEG noise: it
# does not count towards the bounding box.
INK_THRESHOLD = 0.25
# Contrast (0..255) below which an image is taken as blank: there is no digit to frame.
MIN_CONTRAST = 24


def read_greyscale(path) -> np.ndarray:
    """The pixels of the image file at `path` as float64 grey levels 0..255, shape (H, W).

    Colour is converted to luminance; a transparent background counts as white paper.
    A file that is not an image Pillow can read (or a truncated one) is a ValueError
    naming it.
    """
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    try:
        with Image.open(path) as image:
            image.load()
            return _grey_levels(image)
    except (UnidentifiedImageError, Image.DecompressionBombError) as error:
        raise ValueError(f"image: {path!r} is not a PNG or JPEG image ({error})") from None
    except OSError as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise ValueError(f"image: {path!r} is damaged or truncated ({error})") from None


def _grey_levels(image) -> np.ndarray:
    from PIL import Image

    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # 16-bit or float images: scale their own range to 0..255 rather than clip it.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(array.max()), 1.0)
        return np.clip(array / top * 255, 0, 255)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    return np.asarray(image.convert("L"), dtype=np.float64)


def frame_digit(image) -> np.ndarray:
    """One digit framed as MNIST's are: uint8 (28, 28), light ink on a dark background.

    `image` is a 2-D array of grey levels 0..255 of any size. Dark ink on light paper
    is detected (by the border, which is background) and inverted. The digit is
    cropped to its bounding box, scaled so its longer side is 20 pixels, and placed
    with its centre of mass at the centre of the 28x28 field.
    """
    grey = np.asarray(image, dtype=np.float64)
    if grey.ndim != 2 or min(grey.shape) < 1:
        raise ValueError(f"image: expected a 2-D array of grey levels, got shape {grey.shape}")
    if not np.all(np.isfinite(grey)):
        raise ValueError("image: expected finite grey levels 0..255, got NaN or infinity")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    background = float(np.median(border))
    if background > 127.5:  # dark ink on light paper: MNIST's is the other way round
        grey, background = 255 - grey, 255 - background
    ink = np.clip(grey - background, 0, None)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise ValueError(f"image: no digit found; the image is blank (contrast {peak:.0f} of "
                         f"255, expected at least {MIN_CONTRAST})")
    ink *= 255 / peak
    rows, columns = np.nonzero(ink >= INK_THRESHOLD * 255)
    crop = ink[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    return _centre_by_mass(_fit_in_box(crop))


def _fit_in_box(crop: np.ndarray) -> np.ndarray:
    """`crop` scaled (with antialiasing) so its longer side is `BOX` pixels."""
    from PIL import Image

    height, width = crop.shape
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    resized = Image.fromarray(crop.astype(np.float32)).resize(size, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(resized, dtype=np.float64), 0, 255)  # Lanczos rings below 0


def _centre_by_mass(patch: np.ndarray) -> np.ndarray:
    """`patch` pasted into a 28x28 field so that its centre of mass lies at (14, 14)."""
    total = patch.sum()
    rows, columns = np.indices(patch.shape)
    top = round(SIDE / 2 - (rows * patch).sum() / total)
    left = round(SIDE / 2 - (columns * patch).sum() / total)
    field = np.zeros((SIDE, SIDE))
    # The part of the patch that lands inside the field (a lopsided digit may stick out).
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + patch.shape[0], SIDE), min(left + patch.shape[1], SIDE)
    field[r0:r1, c0:c1] = patch[r0 - top:r1 - top, c0 - left:c1 - left]
    return np.round(field).astype(np.uint8)


def read_digit_image(path) -> np.ndarray:
    """The digit in the image file at `path`, framed like MNIST's: uint8 (28, 28)."""
    try:
        return frame_digit(read_greyscale(path))
    except ValueError as error:
        message = str(error)
        if message.startswith("image: no digit"):  # name the file, as read_greyscale does
            message = f"image: {os.fspath(path)!r}: {message.removeprefix('image: ')}"
        raise ValueError(message) from None
