"""Download progress: a tqdm bar on stderr, shown only when stderr is a terminal."""

from __future__ import annotations

import sys

from tqdm import tqdm


def stderr_is_terminal() -> bool:
    """Whether stderr is an interactive terminal (it may be missing or redirected)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def progress_bar(total: int | None, description: str) -> tqdm:
    """A byte-counting progress bar that draws itself only on a terminal."""
    return tqdm(total=total, desc=description, unit="B", unit_scale=True, unit_divisor=1024,
                file=sys.stderr, disable=not stderr_is_terminal(), leave=False)
