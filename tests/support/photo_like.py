"""Photo-like pictures of real digits: what a phone photo of a handwritten digit looks like.

Each MNIST digit (light ink on black, 28x28) becomes dark ink on grey paper: scaled up
3-5 times, placed off-centre on a larger sheet, lit by a gradient and a vignette,
slightly blurred, with sensor noise, and saved as PNG or (every other one) JPEG.
Everything is drawn from one seed, so the set is the same on every machine.

    paths = write_photo_like(digits, folder, seed=0)
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


def photo_like(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uint8 grey picture (H, W) of `digit` (uint8 28x28, light on dark) as a photo."""
    side = int(28 * rng.uniform(3.0, 5.0))
    height, width = int(rng.integers(side + 40, 2 * side + 40)), \
        int(rng.integers(side + 40, 2 * side + 60))
    ink = np.asarray(Image.fromarray(digit).resize((side, side), Image.Resampling.BILINEAR),
                     dtype=np.float64) / 255
    top = int(rng.integers(5, height - side - 5))
    left = int(rng.integers(5, width - side - 5))
    mask = np.zeros((height, width))
    mask[top:top + side, left:left + side] = ink
    paper, ink_level = rng.uniform(150, 215), rng.uniform(25, 75)
    picture = paper * (1 - mask) + ink_level * mask
    rows, columns = np.mgrid[0:height, 0:width]
    angle = rng.uniform(0, 2 * np.pi)  # light falls from one side: +-20..40 grey levels
    ramp = np.cos(angle) * (columns / width - 0.5) + np.sin(angle) * (rows / height - 0.5)
    picture += rng.uniform(40, 80) * ramp
    radius = np.hypot((rows - height / 2) / height, (columns - width / 2) / width)
    picture *= 1 - rng.uniform(0.15, 0.35) * (radius / radius.max()) ** 2  # the vignette
    blurred = Image.fromarray(np.clip(np.round(picture), 0, 255).astype(np.uint8)).filter(
        ImageFilter.GaussianBlur(rng.uniform(0.6, 1.4)))
    picture = np.asarray(blurred, dtype=np.float64) + rng.normal(0, rng.uniform(3, 8),
                                                                (height, width))
    return np.clip(np.round(picture), 0, 255).astype(np.uint8)


def write_photo_like(digits, folder, seed: int = 0) -> list[Path]:
    """Each digit of `digits` (uint8 (n, 28, 28)) as a photo-like file in `folder`:
    PNG for even indices, JPEG (quality 70-90) for odd ones. Returns the paths in order."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    paths = []
    for index, digit in enumerate(np.asarray(digits)):
        picture = Image.fromarray(photo_like(digit, rng))
        if index % 2:
            path = folder / f"photo-{index:04d}.jpg"
            buffer = io.BytesIO()
            picture.save(buffer, format="JPEG", quality=int(rng.integers(70, 91)))
            path.write_bytes(buffer.getvalue())
        else:
            path = folder / f"photo-{index:04d}.png"
            picture.save(path)
        paths.append(path)
    return paths
