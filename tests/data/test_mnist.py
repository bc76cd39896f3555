"""The MNIST and Fashion-MNIST loaders: where they look, in what order, and where they cache."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from support.mnist_files import NAMES, FileServer, checksums_of, gzip_reply, make_arrays, write_dir

from tinygrad_mnist.data import (
    FASHION_MNIST,
    MNIST,
    CsvDirectory,
    FetchError,
    IdxDirectory,
    Mirror,
    PackageIndex,
    default_cache_dir,
    fetch_mnist,
    load_fashion_mnist,
    load_mnist,
)
from tinygrad_mnist.data import mnist as mnist_module
from tinygrad_mnist.data.mnist import _dataset_sources as dataset_sources
from tinygrad_mnist.data.mnist import _load_dataset as load_dataset


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home"
    assert default_cache_dir(FASHION_MNIST) == tmp_path / "home" / "fashion-mnist"
    monkeypatch.delenv("TINYGRAD_MNIST_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "tinygrad_mnist" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert default_cache_dir(FASHION_MNIST) == (
        tmp_path / "user" / ".cache" / "tinygrad_mnist" / "fashion-mnist")


def test_mnist_sources_in_order(tmp_path):
    sources = dataset_sources(MNIST, tmp_path, timeout=3)
    assert [type(s) for s in sources] == [IdxDirectory, CsvDirectory, Mirror, Mirror,
                                          PackageIndex]
    assert [s.base_url for s in sources[2:4]] == list(MNIST.mirrors)
    assert all(s.timeout == 3 for s in sources[2:])
    assert [type(s) for s in dataset_sources(MNIST, mirrors=())] == [PackageIndex]
    assert [type(s) for s in dataset_sources(MNIST, tmp_path, download=False)] == [
        IdxDirectory, CsvDirectory]
    assert dataset_sources(MNIST, download=False) == []


def test_root_must_be_a_directory(tmp_path):
    with pytest.raises(ValueError, match="root: expected a directory holding MNIST's files"):
        load_mnist(tmp_path / "missing", cache_dir=tmp_path / "c")
    assert not (tmp_path / "c").exists()


def test_fashion_mnist_looks_in_debian_dir_then_its_mirror(tmp_path):
    assert Path("/usr/share/datasets/fashion-mnist") in FASHION_MNIST.local_dirs
    (tmp_path / "root").mkdir()
    spec = dataclasses.replace(FASHION_MNIST, local_dirs=(tmp_path,))
    sources = dataset_sources(spec, tmp_path / "root", download=True)
    assert [str(s) for s in sources] == [
        f"directory {tmp_path / 'root'}", f"CSV files in {tmp_path / 'root'}",
        f"directory {tmp_path}", *(f"mirror {url}" for url in FASHION_MNIST.mirrors)]


def _assert_loaded(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    for got, name in zip((x_train, y_train, x_test, y_test), NAMES):
        np.testing.assert_array_equal(got, arrays[name])
    assert y_train.dtype == np.int64


def test_load_fashion_mnist_reads_a_system_directory(tmp_path, monkeypatch):
    # Generated files stand in for Debian's, which CI need not have.
    arrays = make_arrays(seed=5)
    system = write_dir(tmp_path / "usr-share-datasets-fashion-mnist", arrays, compressed=True)
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", dataclasses.replace(
        FASHION_MNIST, checksums=checksums_of(arrays), local_dirs=(system,)))
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "home"))
    _assert_loaded(load_fashion_mnist(download=False), arrays)
    assert sorted(p.name for p in (tmp_path / "home" / "fashion-mnist").iterdir()) == sorted(
        [*NAMES, ".lock"])


def test_load_fashion_mnist_downloads_from_its_mirror(tmp_path, monkeypatch):
    arrays = make_arrays(seed=6)
    monkeypatch.setattr(mnist_module, "FASHION_MNIST", dataclasses.replace(
        FASHION_MNIST, checksums=checksums_of(arrays), local_dirs=()))
    replies = {f"{name}.gz": gzip_reply(array) for name, array in arrays.items()}
    with FileServer(replies) as server:
        _assert_loaded(load_fashion_mnist(cache_dir=tmp_path / "c", mirrors=[server.url]),
                       arrays)


def test_load_mnist_and_fetch_mnist_wiring(tmp_path, monkeypatch):
    arrays = make_arrays(seed=7)
    monkeypatch.setattr(mnist_module, "MNIST", dataclasses.replace(
        MNIST, checksums=checksums_of(arrays), package_index=False))
    root = write_dir(tmp_path / "root", arrays)
    assert fetch_mnist(tmp_path / "c", root=root, mirrors=()) == tmp_path / "c"
    _assert_loaded(load_mnist(cache_dir=tmp_path / "c", download=False), arrays)
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "home"))
    with pytest.raises(FetchError, match="tinygrad-mnist fetch"):
        load_mnist(download=False)
    _assert_loaded(load_mnist(root, download=False), arrays)
    assert (tmp_path / "home" / NAMES[0]).is_file()


def test_label_above_nine_in_a_verified_file_is_still_refused(tmp_path):
    arrays = make_arrays()
    arrays[NAMES[3]][4] = 12
    spec = dataclasses.replace(MNIST, checksums=checksums_of(arrays), mirrors=(),
                               package_index=False)
    with pytest.raises(ValueError, match=f"{NAMES[3]}: label 12 at index 4 is above 9"):
        load_dataset(spec, write_dir(tmp_path / "r", arrays), cache_dir=tmp_path / "c")
