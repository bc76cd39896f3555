"""Fill a cache directory with verified files from a list of sources, safely.

The rules: a file enters the cache only after its SHA-256 matched; it is written
under a temporary name and renamed into place; one process at a time fills a
cache (a lock), so processes that load at once all succeed; a cached file whose
digest is wrong is reported, removed and fetched again, never used.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import pickle
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from tinygrad_mnist.data.checksums import HashingWriter, check_sha256, sha256_file
from tinygrad_mnist.data.idx import decode_idx, read_bytes
from tinygrad_mnist.data.lock import FileLock
from tinygrad_mnist.data.sources import Source, SourceUnavailable
from tinygrad_mnist.utils.atomic import atomic_write, remove_partial_files

logger = logging.getLogger(__name__)

LOCK_NAME = ".lock"
# What a source may raise when it cannot deliver a file; anything else is a bug and propagates.
SOURCE_FAILURES = (OSError, ValueError, EOFError, zlib.error, http.client.HTTPException,
                   pickle.UnpicklingError)


class FetchError(OSError):
    """No source could deliver some file; the message lists what each one said."""


def _fetch_files(checksums: Mapping[str, str], cache_dir: str | os.PathLike,
                 sources: Sequence[Source], *, hint: str = "",
                 sizes: Mapping[str, int] | None = None) -> Path:
    """Make `cache_dir` hold every file named in `checksums` with that SHA-256; return it.

    Files already cached and intact are kept; when all are, nothing is locked or
    written (a read-only cache works). Each missing one is asked of the `sources` in
    order until one delivers the right bytes; a source that is unreachable as a whole
    is not asked again, and one that delivers more than `sizes[name]` bytes is stopped
    there. Logs (INFO) where each file came from. Raises `FetchError` (ending with
    `hint`) naming the files no source could deliver.
    """
    cache_dir = Path(cache_dir)
    _check_folder(cache_dir)
    if all(_matches(cache_dir / name, digest) for name, digest in checksums.items()):
        logger.info("%s already holds the %d files, verified; nothing fetched", cache_dir,
                    len(checksums))
        return cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    sizes = sizes or {}
    with FileLock(cache_dir / LOCK_NAME):
        for partial in remove_partial_files(cache_dir):
            logger.info("removed %s, left by an interrupted fetch", partial)
        missing = [name for name, digest in checksums.items()
                   if not _intact(cache_dir / name, digest)]
        # Said as warnings only when the fetch succeeds anyway: a fetch that fails lists
        # every failure once, in its FetchError, each on its own line.
        failures, warnings = [], []
        for source in sources:
            for name in list(missing):
                try:
                    _store(source, name, cache_dir / name, checksums[name], sizes.get(name))
                except SourceUnavailable as error:
                    failures.append(f"{source}: {error}")
                    warnings.append(("%s is unavailable: %s", source, error))
                    break
                except SOURCE_FAILURES as error:
                    failures.append(f"{source}, {name}: {error}")
                    if not isinstance(error, FileNotFoundError):
                        warnings.append(("%s could not provide %s: %s", source, name, error))
                    continue
                logger.info("cached %s from %s", name, source)
                missing.remove(name)
        if missing:
            tried = "\n".join(f"  - {failure}" for failure in failures) or "  (no sources)"
            raise FetchError(f"could not get {', '.join(missing)} into {cache_dir}; "
                             f"tried:\n{tried}" + (f"\n{hint}" if hint else ""))
        for warning in warnings:
            logger.warning(*warning)
    return cache_dir


def _check_folder(cache_dir: Path) -> None:
    """Refuse a cache folder that cannot exist because it, or a folder above it, is a file."""
    for folder in (cache_dir, *cache_dir.parents):
        if folder.exists():
            if not folder.is_dir():
                raise ValueError(f"cache_dir: {cache_dir} cannot be a folder: {folder} is a file")
            return


def _matches(path: Path, digest: str) -> bool:
    """Whether `path` exists with SHA-256 `digest` (changes nothing, needs no lock)."""
    return path.is_file() and sha256_file(path) == digest


def _intact(path: Path, digest: str) -> bool:
    if not path.exists():
        return False
    found = sha256_file(path)
    if found == digest:
        return True
    logger.warning("cached file %s is corrupt (SHA-256 %s, expected %s); removing it and "
                   "fetching it again", path, found, digest)
    path.unlink()
    return False


def _store(source: Source, name: str, path: Path, digest: str, size: int | None) -> None:
    with atomic_write(path) as file:
        written = HashingWriter(file, limit=size, what=f"{name} from {source}")
        source.provide(name, written)
        # Raising here, inside atomic_write, deletes the bad bytes before they are cached.
        check_sha256(written.hexdigest(), digest, f"{name} from {source}")


def _read_cached(checksums: Mapping[str, str],
                cache_dir: str | os.PathLike) -> dict[str, np.ndarray] | None:
    """The cached IDX arrays by name, or None if any file is missing or not intact.

    Needs no lock: files only ever appear whole, by rename. Each file is read
    once and hashed from memory, so checking costs little next to reading.
    """
    arrays = {}
    for name, digest in checksums.items():
        path = Path(cache_dir) / name
        try:
            buffer = read_bytes(path)
        except FileNotFoundError:
            return None
        if hashlib.sha256(buffer).hexdigest() != digest:
            return None
        arrays[name] = decode_idx(buffer, path)
    return arrays


def _load_files(checksums: Mapping[str, str], cache_dir: str | os.PathLike,
                sources: Sequence[Source], *, hint: str = "",
                sizes: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """The arrays of the files in `checksums`, from the cache, filled from `sources` if need be."""
    _check_folder(Path(cache_dir))
    arrays = _read_cached(checksums, cache_dir)
    if arrays is None and not sources:
        raise FetchError(f"{cache_dir} does not hold the files {', '.join(checksums)}, intact, "
                         "and no source is allowed" + (f"\n{hint}" if hint else ""))
    if arrays is None:
        _fetch_files(checksums, cache_dir, sources, hint=hint, sizes=sizes)
        arrays = _read_cached(checksums, cache_dir)
    if arrays is None:  # another process broke a file between our fill and our read
        raise FetchError(f"the files in {cache_dir} changed while they were being read")
    return arrays
