"""Whether stderr is a terminal: progress bars draw themselves only there."""

from __future__ import annotations

import sys


def stderr_is_terminal() -> bool:
    """Whether stderr is an interactive terminal (it may be missing or redirected)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())
