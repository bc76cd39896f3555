"""utils/allocator.py: glibc's malloc keeps freed memory; a user's MALLOC_* variable wins."""

import os
import platform
import subprocess
import sys

import pytest

from tinygrad_mnist.utils.allocator import MALLOC_VARIABLES, keep_freed_memory

glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# In a fresh interpreter: how many blocks malloc has mapped on their own (mallinfo2's
# hblks) while a 24 MB array is alive. glibc's default maps every block above 128 KB
# on its own, and unmaps it (back to the kernel) when it is freed.
PROBE = """
import ctypes, sys
import numpy as np
from tinygrad_mnist.utils.allocator import keep_freed_memory
FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS.split()]
mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
if sys.argv[1] == "keep":
    assert keep_freed_memory()
before = mallinfo2().hblks
array = np.ones(6 * 2**20, np.float32)
print(mallinfo2().hblks - before)
"""


def mapped_blocks(mode):
    env = {k: v for k, v in os.environ.items() if k not in MALLOC_VARIABLES}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True, env=env)
    return int(out.stdout)


@pytest.mark.skipif(not glibc, reason="mallopt and mallinfo2 are glibc's")
def test_arrays_of_a_few_mb_come_from_the_heap_once_freed_memory_is_kept():
    assert mapped_blocks("default") == 1  # the probe sees what the default does
    assert mapped_blocks("keep") == 0


@pytest.mark.parametrize("variable", MALLOC_VARIABLES)
def test_a_malloc_variable_of_the_user_leaves_malloc_alone(variable, monkeypatch):
    monkeypatch.setenv(variable, "65536")
    assert keep_freed_memory() is False
