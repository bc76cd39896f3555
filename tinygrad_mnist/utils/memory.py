"""Refusing an allocation that cannot fit, before trying it.

A size typed by a user (`--hidden 2000000000`) or declared by a file (an array header)
can ask for terabytes; NumPy would then fail with a MemoryError deep inside, or worse,
the machine would start swapping. Comparing the request with the machine's memory
first turns that into a one-line error naming what asked.
"""

from __future__ import annotations

import os


def physical_memory() -> int | None:
    """The machine's physical memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows, or an unknown name
        return None


def check_fits(nbytes: int, what: str) -> None:
    """Raise ValueError (`what` needs ... bytes) if `nbytes` exceed the machine's memory."""
    total = physical_memory()
    if total is not None and nbytes > total:
        raise ValueError(f"{what} needs {nbytes:,} bytes, more than this machine's "
                         f"{total:,} bytes of memory")
