"""Where data files come from: a directory, CSV files, a web mirror.

A source is any object with `provide(name, out)`, which writes the raw
(uncompressed) IDX bytes of the file `name` to the binary stream `out`, or
raises. The fetcher checks what was written; sources only deliver it.
"""

from __future__ import annotations

import gzip
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np

from tinygrad_mnist.data.idx import GZIP_MAGIC, encode_idx, gzip_errors
from tinygrad_mnist.data.mnist_csv import read_mnist_csv
from tinygrad_mnist.data.progress import progress_bar

CHUNK = 1 << 20


class Source(Protocol):
    """Anything that can deliver the raw IDX bytes of a named data file."""

    def provide(self, name: str, out: BinaryIO) -> None:
        """Write the uncompressed IDX bytes of file `name` to `out`, or raise."""


class SourceUnavailable(OSError):
    """The whole source cannot be reached: do not ask it for the other files."""


def _copy_decompressed(file: BinaryIO, out: BinaryIO, source: str | os.PathLike) -> None:
    with gzip_errors(source), gzip.GzipFile(fileobj=file) as decompressed:
        shutil.copyfileobj(decompressed, out, CHUNK)


class IdxDirectory:
    """A directory holding IDX files by their standard names, raw or with `.gz` added."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def __str__(self) -> str:
        return f"directory {self.root}"

    def provide(self, name: str, out: BinaryIO) -> None:
        """Copy `root/name` or `root/name.gz` (decompressed) to `out`."""
        for path in (self.root / name, self.root / f"{name}.gz"):
            if path.is_file():
                with open(path, "rb") as file:
                    compressed = file.read(2) == GZIP_MAGIC  # trust the bytes, not the name
                    file.seek(0)
                    if compressed:
                        _copy_decompressed(file, out, path)
                    else:
                        shutil.copyfileobj(file, out, CHUNK)
                return
        raise FileNotFoundError(f"neither {name} nor {name}.gz is in {self.root}")


class CsvDirectory:
    """A directory holding the data set as two CSV files (train, test), label first.

    Serves the four standard IDX names: `train-*` from the training CSV,
    `t10k-*` from the test CSV, images or labels as the name says.
    """

    def __init__(self, root: str | os.PathLike, train_csv: str, test_csv: str):
        self.root = Path(root)
        self.csv_names = {"train": train_csv, "t10k": test_csv}
        self._read: dict[Path, tuple[np.ndarray, np.ndarray]] = {}

    def __str__(self) -> str:
        return f"CSV files in {self.root}"

    def provide(self, name: str, out: BinaryIO) -> None:
        """Write the images or labels of the matching CSV file to `out` as IDX."""
        split, _, rest = name.partition("-")
        kind = rest.partition("-")[0]
        if split not in self.csv_names or kind not in ("images", "labels"):
            raise FileNotFoundError(f"{self}: no CSV file holds {name}")
        path = self.root / self.csv_names[split]
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
        if path not in self._read:  # one CSV holds two files: parse it once
            self._read[path] = read_mnist_csv(path)
        images, labels = self._read[path]
        out.write(encode_idx(images if kind == "images" else labels.astype(np.uint8)))


class Mirror:
    """A web server holding the gzip-compressed IDX files at `base_url + name + ".gz"`.

    `timeout` (seconds) bounds the connection and every wait for data, so a dead or
    stalled mirror fails fast and the next source is tried.
    """

    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout

    def __str__(self) -> str:
        return f"mirror {self.base_url}"

    def provide(self, name: str, out: BinaryIO) -> None:
        """Download `name.gz`, decompress it on the fly into `out`."""
        url = f"{self.base_url}{name}.gz"
        try:
            response = urllib.request.urlopen(url, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            error.close()
            if error.code == 404:
                raise FileNotFoundError(f"{url}: HTTP 404 Not Found") from None
            raise OSError(f"{url}: HTTP {error.code} {error.reason}") from None
        except urllib.error.URLError as error:  # no such host, refused, no answer
            raise SourceUnavailable(f"{url}: {error.reason}") from error
        except TimeoutError as error:
            raise SourceUnavailable(f"{url}: no answer within {self.timeout} s") from error
        with response:
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
            with progress_bar(total, name) as bar:
                received = _CountingReader(response, bar.update)
                try:
                    _copy_decompressed(received, out, url)
                except TimeoutError as error:
                    raise OSError(f"{url}: stalled: no data for {self.timeout} s") from error
        if total is not None and received.count != total:
            raise ValueError(f"{url}: truncated download: {received.count} of {total} bytes")


class _CountingReader:
    """A read-only stream that counts the bytes read through it."""

    def __init__(self, stream: BinaryIO, on_read):
        self._stream = stream
        self._on_read = on_read
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.count += len(data)
        self._on_read(len(data))
        return data
