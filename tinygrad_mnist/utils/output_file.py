"""Before a command writes a file the user named: is it safe to write there?

A path may be replaced only when it is a regular file that the same command wrote
before (an earlier ONNX export, an earlier k-fold summary): never a stranger's file, a
run folder's own `model.npz`, a folder, a device node or a FIFO. The check runs before
any work, and its errors name the path as the user typed it (not a temporary file).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path


def check_output_file(path, what: str, earlier_output: Callable[[Path], bool],
                      make_folders: bool = False) -> Path:
    """`path` as a `Path`, once it is safe to write `what` (say "onnx file") there.

    Refused with a ValueError naming `path`: a folder, anything that is not a regular
    file (a device, a FIFO, a link), an existing file for which `earlier_output(path)`
    is False, a folder to write into that is missing (unless `make_folders`: then the
    nearest existing one must be a folder) or not writable.
    """
    path = Path(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as error:
        raise ValueError(f"{what}: cannot use {str(path)!r} ({error.strerror})") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise ValueError(f"{what}: {str(path)!r} is a folder; give the path of a file")
        if not stat.S_ISREG(mode):
            raise ValueError(f"{what}: {str(path)!r} exists and is not a regular file "
                             "(a link, a device or a pipe); choose another path")
        if not earlier_output(path):
            raise ValueError(f"{what}: {str(path)!r} already exists and is not an earlier "
                             f"{what} of this command; move it away or choose another path")
    folder = path.parent
    while make_folders and not os.path.lexists(folder) and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"{what}: cannot write {str(path)!r}: "
                         + ("no such folder" if not os.path.lexists(folder)
                            else f"{str(folder)!r} is not a folder"))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValueError(f"{what}: cannot write {str(path)!r}: the folder {str(folder)!r} is "
                         "not writable")
    return path
