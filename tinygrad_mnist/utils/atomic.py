"""Write a file so that it appears whole or not at all: a temporary name, then a rename."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

PARTIAL_SUFFIX = ".part"


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open `path` for binary writing; it is renamed into place only if the block succeeds.

    The bytes go to a hidden temporary file beside `path` (same directory, so the
    rename is atomic); readers see the old file or the new one, never half of it.
    If the block raises, the temporary file is removed and `path` is untouched.
    An OSError of the writing itself (a missing folder, a full disk, `ulimit -f`, a
    read-only folder) names `path`, the file the caller asked for, not the hidden one.
    """
    path = Path(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}")
    try:
        # O_EXCL: never write through someone else's file; mode 0o666 lets the umask decide.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as error:
        raise _naming(error, path, partial) from None
    try:
        with os.fdopen(fd, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        if isinstance(error, OSError):
            raise _naming(error, path, partial) from None
        raise


def _naming(error: OSError, path: Path, partial: Path) -> OSError:
    """`error` about the temporary file (or about no file: a failed write) said of `path`."""
    if error.errno is None or error.filename not in (None, str(partial), os.fspath(partial)):
        return error
    return type(error)(error.errno, error.strerror, str(path))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8, newlines as given) to `path` through `atomic_write`."""
    with atomic_write(path) as file:
        file.write(text.encode("utf-8"))


def remove_partial_files(directory: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that interrupted `atomic_write`s left in `directory`.

    Only safe while no one else is writing there (hold the directory's lock).
    Returns the paths removed.
    """
    removed = []
    for partial in Path(directory).glob(f".*{PARTIAL_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
            removed.append(partial)
    return removed
