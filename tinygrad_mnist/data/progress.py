"""Download progress: a tqdm bar on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import sys

from tqdm import tqdm

from tinygrad_mnist.terminal import stderr_is_terminal


def progress_bar(total: int | None, description: str) -> tqdm:
    """A byte-counting progress bar that draws itself only on a terminal."""
    return tqdm(total=total, desc=description, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr, disable=not stderr_is_terminal(), leave=False)
