"""The terminal: whether stderr is one (progress bars draw themselves only there), and
text made safe to print on it."""

from __future__ import annotations

import sys


def stderr_is_terminal() -> bool:
    """Whether stderr is an interactive terminal (it may be missing or redirected)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def printable(text: str) -> str:
    """`text` with every control character escaped as Python writes it (`\\n`, `\\x1b`):
    a file name holding a newline or an escape sequence prints as one plain line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
