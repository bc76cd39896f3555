"""Knowing the right bytes: SHA-256 digests of the data sets, and checking them."""

from __future__ import annotations

import hashlib
import os
from types import MappingProxyType
from typing import BinaryIO

# The four IDX files of MNIST and Fashion-MNIST (the same names for both).
TRAIN_IMAGES = "train-images-idx3-ubyte"
TRAIN_LABELS = "train-labels-idx1-ubyte"
TEST_IMAGES = "t10k-images-idx3-ubyte"
TEST_LABELS = "t10k-labels-idx1-ubyte"

# SHA-256 of the four uncompressed IDX files (docs/data.md; they match the MD5 sums that
# public loaders publish, 6bbc9ace..., a25bea73..., 2646ac64..., 27ae3e4e...).
MNIST_SHA256 = MappingProxyType({
    TRAIN_IMAGES: "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    TRAIN_LABELS: "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    TEST_IMAGES: "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    TEST_LABELS: "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
})

# SHA-256 of Fashion-MNIST's uncompressed IDX files, computed from Debian's
# dataset-fashion-mnist; other public loaders pin the same digests for the
# files whose gzip MD5s Zalando publishes.
FASHION_MNIST_SHA256 = MappingProxyType({
    TRAIN_IMAGES: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    TRAIN_LABELS: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    TEST_IMAGES: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    TEST_LABELS: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
})


# The byte counts of those files (the same for both data sets): a source that delivers
# more is stopped there, so a gzip bomb never fills the disk before its hash is checked.
IDX_SIZES = MappingProxyType({
    TRAIN_IMAGES: 16 + 60_000 * 28 * 28,
    TRAIN_LABELS: 8 + 60_000,
    TEST_IMAGES: 16 + 10_000 * 28 * 28,
    TEST_LABELS: 8 + 10_000,
})


class ChecksumError(ValueError):
    """A file's bytes are not the ones expected: its SHA-256 digest differs."""


def check_sha256(digest: str, expected: str, what: str) -> None:
    """Raise `ChecksumError` naming `what` unless `digest` is `expected`."""
    if digest != expected:
        raise ChecksumError(f"{what}: SHA-256 is {digest}, expected {expected}")


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 hex digest of the file at `path`, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class HashingWriter:
    """A binary stream that hashes what passes through it on its way to `stream`.

    Lets a file be checked while it is written, without reading it back. With a
    `limit`, a write that would pass it is a ValueError (naming `what`) instead.
    """

    def __init__(self, stream: BinaryIO, limit: int | None = None, what: str = "data"):
        self._stream = stream
        self._digest = hashlib.sha256()
        self._limit, self._what, self._count = limit, what, 0

    def write(self, data) -> int:
        """Hash `data` and write it on; return the number of bytes written."""
        self._count += len(data)
        if self._limit is not None and self._count > self._limit:
            raise ValueError(f"{self._what}: more than the expected {self._limit:,} bytes; "
                             "stopped there")
        self._digest.update(data)
        return self._stream.write(data)

    def hexdigest(self) -> str:
        """The SHA-256 of everything written so far."""
        return self._digest.hexdigest()
