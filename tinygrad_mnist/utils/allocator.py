"""Keep freed memory in the process, so that every training step does not fault it in again.

    keep_freed_memory()   # once, by a command that owns the process (`train`)

A training step makes and drops arrays of a few MB each (the cnn preset: 3.2 MB for every
28x28x16 map, its gradient, BatchNorm's centred copy...). glibc's malloc gives such blocks
back to the kernel when they are freed (unmapping those above its mmap threshold, trimming
the heap's top past its trim threshold), and the next step's arrays are then faulted in
again page by page, each page zeroed by the kernel. Raising both thresholds keeps the
memory in the process for the next step. One epoch of `train --model cnn` (load 0.9): page
faults 2.1 million -> 44 thousand, CPU 30.8 -> 25.2 s (the kernel's share 6.6 -> 0.8 s), peak
memory 437 -> 455 MB: what is kept is reused.
"""

from __future__ import annotations

import ctypes
import os
import sys

#: Set one of these to choose malloc's behaviour yourself; `keep_freed_memory` then does nothing.
MALLOC_VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_")

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (malloc.h)
MMAP_THRESHOLD = 32 * 2**20  # blocks up to this size come from the heap (glibc's maximum)
TRIM_THRESHOLD = 256 * 2**20  # the heap keeps up to this much free memory at its top


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed blocks of up to 32 MB for reuse; True if it did.

    Nothing happens (False) on other C libraries and systems, or when one of
    `MALLOC_VARIABLES` is set.
    """
    if not sys.platform.startswith("linux") or any(os.environ.get(v) for v in MALLOC_VARIABLES):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library the interpreter already uses
    except (OSError, AttributeError):  # no mallopt: musl, for one
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
