"""Saving a matplotlib figure to a file, whole or not at all (through `atomic_write`)."""

from __future__ import annotations

from pathlib import Path

from tinygrad_mnist.utils.atomic import atomic_write

DPI = 120


def save_figure(fig, path, dpi: int = DPI, metadata: dict | None = None) -> Path:
    """Write `fig` to `path` (PNG unless the suffix names another format) and return the path.

    Parent folders are created. The file goes through `atomic_write`, so a figure
    saved earlier survives a failed save. `metadata` goes into the file (matplotlib's
    `savefig(metadata=...)`: a PNG's text chunks, say its "Title").
    """
    path = Path(path)
    if not path.suffix:
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as file:
        fig.savefig(file, dpi=dpi, format=path.suffix[1:], metadata=metadata)
    return path
