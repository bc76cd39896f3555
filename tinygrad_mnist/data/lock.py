"""An exclusive lock between processes, held on a file (flock on POSIX, msvcrt on Windows)."""

from __future__ import annotations

import errno
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None
    import msvcrt


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def _lock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    while True:  # msvcrt's blocking mode gives up after 10 s; keep waiting as flock does
        try:
            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
            return
        except OSError:
            continue


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


class LockBusyError(OSError):
    """Another process holds the lock (`FileLock(path, wait=False)`); `holder` says which."""

    def __init__(self, path, holder: str = ""):
        super().__init__(errno.EAGAIN, "locked by another process", str(path))
        self.holder = holder


class FileLock:
    """A context manager that holds an exclusive lock on `path` (created if need be).

    Blocks until the lock is free, or with `wait=False` raises `LockBusyError` at
    once; the operating system releases it if the holder dies, so a killed process
    never leaves it stuck. The holder writes its process id into the file.
    """

    def __init__(self, path: str | os.PathLike, wait: bool = True):
        self.path = Path(path)
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> FileLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            if not _try_lock(fd):
                if not self.wait:
                    holder = os.read(fd, 32).decode("ascii", "replace").strip()
                    raise LockBusyError(self.path, f"process {holder}" if holder.isdigit()
                                        else "")
                logger.info("waiting for another process to release %s", self.path)
                _lock(fd)
            os.ftruncate(fd, 0)  # a lock file, not data: the holder's id for the next one
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc_info) -> None:
        fd, self._fd = self._fd, None
        try:
            _unlock(fd)
        finally:
            os.close(fd)
