"""Checking figures: a saved PNG that matplotlib reads back, a figure drawn without warnings."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.image
from matplotlib.figure import Figure

from tinygrad_mnist.viz.figure_file import DPI

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path, fig: Figure, dpi: int = DPI) -> None:
    """`path` is a PNG that matplotlib reads back, with the pixel size of `fig` at `dpi`."""
    path = Path(path)
    assert path.is_file()
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    pixels = matplotlib.image.imread(path)
    width, height = fig.get_size_inches() * dpi
    assert pixels.ndim == 3
    assert abs(pixels.shape[0] - height) <= 1 and abs(pixels.shape[1] - width) <= 1
    assert pixels[..., :3].std() > 0  # something was drawn


def render(fig: Figure) -> Figure:
    """Draw `fig` into memory: layout problems surface as warnings, which the suite makes errors."""
    fig.savefig(io.BytesIO(), format="png", dpi=40)
    return fig
