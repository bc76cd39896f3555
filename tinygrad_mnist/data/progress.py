"""Download progress: a tqdm bar on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import sys

from tinygrad_mnist.utils.terminal import stderr_is_terminal


def progress_bar(total: int | None, description: str):
    """A byte-counting progress bar (a `tqdm`) that draws itself only on a terminal."""
    from tqdm import tqdm  # here, not at the top: reading the cache never needs it

    return tqdm(total=total, desc=description, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr, disable=not stderr_is_terminal(), leave=False)
