"""Digits from image files (PNG, JPEG, any size, grey or colour), framed as MNIST frames them.

MNIST's digits are light on a dark background, scaled so that the digit's bounding box
fits in 20x20 pixels (keeping its aspect ratio) and placed in a 28x28 field so that
their centre of mass lies at the centre. A photo or a drawing is none of that, and a
model trained on MNIST misreads it unless it is framed the same way:

    image = read_digit_image("seven.png")     # uint8 (28, 28), like load_mnist()'s
    x = prepare_images(image)                  # (1, 784), what the model eats
    framing = read_digit("photo.jpg")          # the same, with .warnings and .box

A photo's paper is not evenly lit: a gradient, a vignette, a shadow. Before framing,
the paper's lighting is estimated (the paper is the brightest thing nearby: a large
max filter, then a blur; the mirror image for light ink on dark) and subtracted, and
what is left of the paper's noise is cut off; only then is the ink thresholded and
cropped. A clean picture (evenly lit, like MNIST's own digits) has no lighting to
remove, and is framed exactly as before.
"""

from __future__ import annotations

import math
import os
import re
import stat
import warnings
from dataclasses import dataclass

import numpy as np

SIDE = 28  # the field MNIST's images fill
BOX = 20  # the square the digit's bounding box is scaled to fit
# Ink fainter than this fraction of the strongest is paper texture or JPEG noise: it
# does not count towards the bounding box.
INK_THRESHOLD = 0.25
# Contrast (0..255) below which an image is taken as blank: there is no digit to frame.
MIN_CONTRAST = 24
# The most pixels a picture may have once decoded: a 48 MP phone photo fits; a
# "decompression bomb" (a few KB of PNG declaring 12000x12000) does not.
MAX_PIXELS = 50_000_000
# Pictures are decoded (JPEG) or reduced (any) to about this many pixels on their longer
# side: a digit is framed into 20x20, and lighting is smooth, so more is only memory.
WORKING_SIDE = 1024
# The lighting is estimated on a grid of at most this many cells on the longer side,
# with a window this fraction of the shorter side: wider than any pen stroke, narrower
# than the changes of light across a sheet.
LIGHTING_GRID = 96
LIGHTING_WINDOW = 0.25
# A photo is blurred by a window this fraction of its shorter side before anything else.
DENOISE = 1 / 50
# A border whose grey levels mostly lie within this of their median (the median absolute
# deviation) is evenly lit paper: a scan, a drawing, MNIST's own digits. Its median is then
# the background, as it always was; a photo's border (shading, noise) is never that even.
EVEN_BORDER = 2.0
# Doubtful framing: the crop covers more than this fraction of the picture, ...
MOST_OF_PICTURE = 0.9
# ... a second blob holds at least this fraction of the largest one's ink, ...
SECOND_BLOB = 0.5
# (A blob with less than this fraction of the largest one's ink is a speck: not framed.)
SPECK = 0.02
# ... or the crop's longer side is under this fraction of the picture's shorter one.
TINY_INK = 0.05


@dataclass(frozen=True)
class Picture:
    """An image file's pixels: `grey` levels 0..255 (transparency as white paper) and,
    for a file with transparency, its `alpha` 0..255 (else None); float64 (H, W)."""

    grey: np.ndarray
    alpha: np.ndarray | None = None


@dataclass(frozen=True)
class Framing:
    """A digit framed as MNIST's are, with what is known of how well that went.

    `digit`: uint8 (28, 28), light ink on black. `box`: (top, left, bottom, right) of the
    crop in the picture framed (bottom and right exclusive). `warnings`: sentences saying
    why the framing is doubtful (empty when nothing looked wrong).
    """

    digit: np.ndarray
    box: tuple[int, int, int, int]
    warnings: tuple[str, ...] = ()


def _regular_file(path: str) -> None:
    # Opening a FIFO blocks until someone writes into it; a device may never end.
    mode = os.stat(path).st_mode  # FileNotFoundError and PermissionError pass through
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(21, "Is a directory", path)
    if not stat.S_ISREG(mode):
        raise ValueError(f"image: {path!r} is not a regular file")


def read_picture(path) -> Picture:
    """The pixels of the image file at `path`, reduced to about `WORKING_SIDE` pixels on
    the longer side when larger (JPEGs are decoded reduced, at no cost).

    A file that is not an image Pillow can read (or a truncated one), one that is not a
    regular file, or one of more than `MAX_PIXELS` pixels is a ValueError naming it.
    """
    from PIL import Image, UnidentifiedImageError

    path = os.fspath(path)
    _regular_file(path)
    try:
        with warnings.catch_warnings():
            # Pillow's own size warning names its site-packages; ours says it plainly.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.format == "JPEG":
                    image.draft(image.mode, (WORKING_SIDE, WORKING_SIDE))
                _check_pixels(path, *image.size)
                image.load()
                return _pixels(_reduced(image))
    except Image.DecompressionBombError as error:
        declared = re.search(r"\((\d+) pixels\)", str(error))
        _check_pixels(path, int(declared.group(1)) if declared else MAX_PIXELS + 1, 1)
        raise  # not reached: the declared size is over the limit
    except UnidentifiedImageError as error:
        raise ValueError(f"image: {path!r} is not a PNG or JPEG image ({error})") from None
    except OSError as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise ValueError(f"image: {path!r} is damaged or truncated ({error})") from None


def _check_pixels(path: str, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ValueError(f"image: {path!r}: image too large: {width * height / 1e6:.0f} MP "
                         f"(limit {MAX_PIXELS / 1e6:.0f} MP)")


def _reduced(image):
    factor = math.ceil(max(image.size) / WORKING_SIDE)
    if factor <= 1:
        return image
    if image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F"):
        image = image.convert("RGBA" if _has_alpha(image) else "RGB")
    return image.reduce(factor)


def _has_alpha(image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _pixels(image) -> Picture:
    from PIL import Image

    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        # 16-bit or float images: scale their own range to 0..255 rather than clip it.
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(array.max()), 1.0)
        return Picture(np.clip(array / top * 255, 0, 255))
    if not _has_alpha(image):
        return Picture(np.asarray(image.convert("L"), dtype=np.float64))
    image = image.convert("RGBA")
    alpha = np.asarray(image.getchannel("A"), dtype=np.float64)
    image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
    return Picture(np.asarray(image.convert("L"), dtype=np.float64), alpha)


def read_greyscale(path) -> np.ndarray:
    """The pixels of the image file at `path` as float64 grey levels 0..255, shape (H, W).

    Colour is converted to luminance; a transparent background counts as white paper.
    Errors as `read_picture`'s.
    """
    return read_picture(path).grey


def frame_digit(image) -> np.ndarray:
    """One digit framed as MNIST's are: uint8 (28, 28), light ink on a dark background.

    `image` is a 2-D array of grey levels 0..255 of any size. Dark ink on light paper
    is detected and inverted. The paper's
    lighting is removed, the digit is cropped to its bounding box, scaled so its
    longer side is 20 pixels, and placed with its centre of mass at the centre of the
    28x28 field. `frame_picture` gives the same with warnings.
    """
    return frame_picture(image).digit


def frame_picture(image) -> Framing:
    """`frame_digit`'s digit, with the crop's box and warnings when framing is doubtful."""
    grey = np.asarray(image, dtype=np.float64)
    if grey.ndim != 2 or min(grey.shape) < 1:
        raise ValueError(f"image: expected a 2-D array of grey levels, got shape {grey.shape}")
    if not np.all(np.isfinite(grey)):
        raise ValueError("image: expected finite grey levels 0..255, got NaN or infinity")
    ink = _ink(grey)
    peak = float(ink.max())
    if peak < MIN_CONTRAST:
        raise ValueError(f"image: no digit found; the image is blank (contrast {peak:.0f} of "
                         f"255, expected at least {MIN_CONTRAST})")
    ink *= 255 / peak
    strong = ink >= INK_THRESHOLD * 255
    labels, masses = _blobs(strong, ink)
    # Specks (a corner the lighting missed, dust, JPEG ringing) would stretch the crop far
    # beyond the digit: only marks with a share of the ink count.
    marks = np.flatnonzero(masses >= SPECK * masses.max())
    rows, columns = np.nonzero(np.isin(labels, marks))
    box = (int(rows.min()), int(columns.min()), int(rows.max()) + 1, int(columns.max()) + 1)
    crop = ink[box[0]:box[2], box[1]:box[3]]
    return Framing(_centre_by_mass(_fit_in_box(crop)), box,
                   _doubts(grey.shape, box, sorted(masses[marks], reverse=True)))


def _ink(grey: np.ndarray) -> np.ndarray:
    """How much ink each pixel holds above the paper under it, as light ink on a dark
    background (MNIST's way round, whichever way round the picture is)."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    paper = float(np.median(border))
    if np.median(np.abs(border - paper)) <= EVEN_BORDER:  # evenly lit: the border is paper
        # The ink is what departs furthest from the paper: dark ink on light paper is
        # inverted.
        if paper - grey.min() > grey.max() - paper:
            grey, paper = 255 - grey, 255 - paper
        return np.clip(grey - paper, 0, None)
    # Sensor noise would leave specks above any threshold, and specks stretch the crop: a
    # blur well under a pen stroke's width takes it out (the framing shrinks far more).
    grey = _box_blur(grey, max(1, round(min(grey.shape) * DENOISE)) | 1)
    # Shading can be brighter or darker than the ink is, so the extremes cannot tell dark
    # ink from light: with the lighting removed, the ink is the stronger of the two.
    return max((_above_lighting(grey), _above_lighting(255 - grey)), key=np.max)


def _above_lighting(grey: np.ndarray) -> np.ndarray:
    """Light ink on dark paper: the paper's lighting subtracted, its noise cut off."""
    ink = grey - _lighting(grey)
    # The paper is at least a quarter of any picture of one digit: its level and its noise
    # come from the lower quartile (the 5th-25th percentile spread is about one sigma).
    low, paper = np.percentile(ink, [5, 25])
    return np.clip(ink - (paper + 3 * max(paper - low, 0.0)), 0, None)


def _lighting(grey: np.ndarray) -> np.ndarray:
    """The paper's brightness under each pixel (ink light on dark: the lower envelope),
    estimated on a coarse grid: a minimum filter wider than a pen stroke, then a blur."""
    step = max(1, math.ceil(max(grey.shape) / LIGHTING_GRID))
    coarse = _block_mean(grey, step)
    window = max(3, round(min(coarse.shape) * LIGHTING_WINDOW)) | 1
    smooth = _box_blur(_box_blur(_min_filter(coarse, window), window), window)
    if step == 1:
        return smooth
    from PIL import Image

    height, width = grey.shape
    full = Image.fromarray(smooth.astype(np.float32)).resize((width, height),
                                                             Image.Resampling.BILINEAR)
    return np.asarray(full, dtype=np.float64)


def _block_mean(grey: np.ndarray, step: int) -> np.ndarray:
    if step == 1:
        return grey
    height, width = grey.shape
    padded = np.pad(grey, ((0, -height % step), (0, -width % step)), mode="edge")
    return padded.reshape(padded.shape[0] // step, step, padded.shape[1] // step,
                          step).mean(axis=(1, 3))


def _min_filter(array: np.ndarray, window: int) -> np.ndarray:
    half = window // 2
    padded = np.pad(array, half, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view
    return windows(windows(padded, window, axis=0).min(axis=-1), window, axis=1).min(axis=-1)


def _box_blur(array: np.ndarray, window: int) -> np.ndarray:
    half = window // 2
    padded = np.pad(array, half, mode="edge")
    for axis in (0, 1):
        total = np.cumsum(padded, axis=axis)
        total = np.concatenate([np.zeros_like(total.take([0], axis=axis)), total], axis=axis)
        padded = (total.take(range(window, total.shape[axis]), axis=axis)
                  - total.take(range(0, total.shape[axis] - window), axis=axis)) / window
    return padded


def _doubts(picture_shape, box, masses) -> tuple[str, ...]:
    """Why a framing may be wrong: sentences for the user, empty when none."""
    height, width = picture_shape
    box_height, box_width = box[2] - box[0], box[3] - box[1]
    doubts = []
    covered = box_height * box_width / (height * width)
    if covered > MOST_OF_PICTURE and min(height, width) > SIDE:
        doubts.append(f"the ink covers {covered:.0%} of the picture: shading or a busy "
                      f"background may have been taken for ink")
    if max(box_height, box_width) < TINY_INK * min(height, width):
        doubts.append("almost no ink: the digit is a speck in the picture; crop closer")
    marks = [mass for mass in masses if mass >= SECOND_BLOB * masses[0]]
    if len(marks) > 1:
        doubts.append(f"{len(marks)} separate marks: is there more than one digit, or a "
                      f"stain? crop to one digit")
    return tuple(doubts)


def _blobs(mask: np.ndarray, ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`(labels, masses)`: each pixel's 8-connected blob of `mask` (an index into
    `masses`, -1 off the mask) and each blob's ink. Found on a grid of at most
    `LIGHTING_GRID` cells, so that it stays fast on big pictures."""
    step = max(1, math.ceil(max(mask.shape) / LIGHTING_GRID))
    coarse = _block_mean(mask.astype(np.float64), step) > 0
    size = coarse.size
    labels = np.where(coarse, np.arange(size).reshape(coarse.shape), size)
    while True:  # each blob takes its smallest index: spread minima until nothing changes
        padded = np.pad(labels, 1, constant_values=size)
        spread = np.min([padded[1 + dr:1 + dr + coarse.shape[0], 1 + dc:1 + dc + coarse.shape[1]]
                         for dr in (-1, 0, 1) for dc in (-1, 0, 1)], axis=0)
        spread = np.where(coarse, spread, size)
        if np.array_equal(spread, labels):
            break
        labels = spread
    labels = np.repeat(np.repeat(labels, step, axis=0), step, axis=1)[:mask.shape[0],
                                                                       :mask.shape[1]]
    roots, inside = np.unique(labels[mask], return_inverse=True)
    numbered = np.full(mask.shape, -1)
    numbered[mask] = inside.ravel()
    return numbered, np.bincount(inside.ravel(), weights=ink[mask], minlength=len(roots))


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


def _contrast(levels: np.ndarray) -> float:
    return float(np.percentile(levels, 99.5) - np.percentile(levels, 0.5))


def read_digit(path) -> Framing:
    """The digit in the image file at `path`, framed like MNIST's, with its warnings.

    A transparent picture whose colour carries less contrast than its transparency (a
    white digit on a clear background) is framed by its transparency.
    """
    picture = read_picture(path)
    levels = picture.grey
    if picture.alpha is not None and _contrast(picture.alpha) > _contrast(picture.grey):
        levels = picture.alpha  # opaque ink on clear: light on dark, as MNIST's
    try:
        return frame_picture(levels)
    except ValueError as error:
        message = str(error)
        if message.startswith("image: no digit"):  # name the file, as read_picture does
            message = f"image: {os.fspath(path)!r}: {message.removeprefix('image: ')}"
        raise ValueError(message) from None


def read_digit_image(path) -> np.ndarray:
    """The digit in the image file at `path`, framed like MNIST's: uint8 (28, 28)."""
    return read_digit(path).digit
