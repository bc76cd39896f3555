"""The cache: filled from local sources in order, verified, atomic, locked, self-repairing."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support.mnist_files import (
    NAMES,
    FileServer,
    cache_listing,
    checksums_of,
    gzip_reply,
    make_arrays,
    spec_for,
    write_csv,
    write_dir,
)

import tinygrad_mnist
from tinygrad_mnist.data import (
    ChecksumError,
    FetchError,
    IdxDirectory,
    fetch_dataset,
)
from tinygrad_mnist.data.checksums import sha256_file
from tinygrad_mnist.data.fetch import _fetch_files as fetch_files
from tinygrad_mnist.data.fetch import _read_cached as read_cached
from tinygrad_mnist.data.lock import FileLock
from tinygrad_mnist.data.mnist import _load_dataset as load_dataset
from tinygrad_mnist.data.sources import SourceUnavailable


def _assert_loaded(result, arrays):
    (x_train, y_train), (x_test, y_test) = result
    for got, name in zip((x_train, y_train, x_test, y_test), NAMES):
        np.testing.assert_array_equal(got, arrays[name])
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64 and y_test.dtype == np.int64


def _assert_cache_holds(cache, arrays):
    assert cache_listing(cache) == sorted(NAMES)
    for name, digest in checksums_of(arrays).items():
        assert sha256_file(cache / name) == digest


class _Forbidden:
    """A source that fails the test if anyone asks it for anything."""

    def provide(self, name, out):
        raise AssertionError(f"the source was asked for {name}")


@pytest.mark.parametrize("compressed", [False, True])
def test_root_of_idx_files_fills_the_cache_then_the_cache_serves(tmp_path, compressed,
                                                                 monkeypatch):
    arrays = make_arrays()
    spec = spec_for(arrays)
    root = write_dir(tmp_path / "root", arrays, compressed=compressed)
    cache = tmp_path / "cache"
    _assert_loaded(load_dataset(spec, root, cache_dir=cache, download=False), arrays)
    _assert_cache_holds(cache, arrays)
    # Second load: the sources must not be touched.
    monkeypatch.setattr(IdxDirectory, "provide", _Forbidden.provide)
    _assert_loaded(load_dataset(spec, root, cache_dir=cache), arrays)


def test_root_of_csv_files_fills_the_cache(tmp_path):
    arrays = make_arrays()
    root = tmp_path / "root"
    root.mkdir()
    write_csv(root / "mnist_train.csv", arrays[NAMES[0]], arrays[NAMES[1]])
    write_csv(root / "mnist_test.csv", arrays[NAMES[2]], arrays[NAMES[3]], header=True)
    cache = tmp_path / "cache"
    _assert_loaded(load_dataset(spec_for(arrays), root, cache_dir=cache, download=False),
                   arrays)
    _assert_cache_holds(cache, arrays)


def test_sources_are_tried_in_order_file_by_file(tmp_path, caplog):
    arrays = make_arrays()
    wrong_labels = (arrays[NAMES[1]] + 1) % 10
    first = write_dir(tmp_path / "first", {NAMES[0]: arrays[NAMES[0]],  # good
                                           NAMES[1]: wrong_labels})  # bad checksum
    second = write_dir(tmp_path / "second", arrays, compressed=True)
    cache = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="tinygrad_mnist.data"):
        fetch_files(checksums_of(arrays), cache, [IdxDirectory(first), IdxDirectory(second)])
    _assert_cache_holds(cache, arrays)
    cached_from = {record.args[0]: str(record.args[1]) for record in caplog.records
                   if record.msg.startswith("cached")}
    assert cached_from[NAMES[0]] == f"directory {first}"
    assert {cached_from[name] for name in NAMES[1:]} == {f"directory {second}"}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(NAMES[1] in w and "SHA-256" in w for w in warnings)


def test_local_system_dirs_come_after_root(tmp_path, caplog):
    arrays = make_arrays()
    system = write_dir(tmp_path / "usr-share", arrays, compressed=True)
    spec = spec_for(arrays, local_dirs=(system, tmp_path / "absent"))
    root = write_dir(tmp_path / "root", {NAMES[3]: arrays[NAMES[3]]})
    with caplog.at_level(logging.INFO, logger="tinygrad_mnist.data"):
        _assert_loaded(load_dataset(spec, root, cache_dir=tmp_path / "c", download=False),
                       arrays)
    cached = [r.getMessage() for r in caplog.records if r.msg.startswith("cached")]
    assert cached == [f"cached {NAMES[3]} from directory {root}"] + [
        f"cached {name} from directory {system}" for name in NAMES[:3]]


def test_nothing_bad_enters_the_cache_and_the_error_lists_every_source(tmp_path):
    arrays = make_arrays()
    bad = make_arrays(seed=2)
    broken = write_dir(tmp_path / "broken", bad)
    (tmp_path / "broken" / NAMES[0]).write_bytes(b"\x00\x00\x08\x01garbage")
    cache = tmp_path / "cache"
    with pytest.raises(FetchError) as raised:
        fetch_files(checksums_of(arrays), cache, [IdxDirectory(broken),
                                                  IdxDirectory(tmp_path / "nowhere")],
                    hint="HINT: try harder")
    message = str(raised.value)
    for name in NAMES:
        assert f"directory {broken}, {name}: {name} from directory {broken}: SHA-256" in message
        assert f"directory {tmp_path / 'nowhere'}, {name}: neither {name}" in message
    assert message.endswith("HINT: try harder")
    assert cache_listing(cache) == []


def test_checksum_error_names_file_and_both_digests(tmp_path):
    arrays = make_arrays()
    write_dir(tmp_path / "d", make_arrays(seed=3))
    checksums = checksums_of(arrays)
    with pytest.raises(FetchError, match=rf"{NAMES[0]} from directory .*: SHA-256 is "
                                         rf"[0-9a-f]{{64}}, expected {checksums[NAMES[0]]}"):
        fetch_files(checksums, tmp_path / "c", [IdxDirectory(tmp_path / "d")])
    assert issubclass(ChecksumError, ValueError)


def test_an_unavailable_source_is_not_asked_again(tmp_path):
    asked = []

    class Down:
        def provide(self, name, out):
            asked.append(name)
            raise SourceUnavailable("no route to host")

    arrays = make_arrays()
    good = write_dir(tmp_path / "good", arrays)
    fetch_files(checksums_of(arrays), tmp_path / "c", [Down(), IdxDirectory(good)])
    assert asked == [NAMES[0]]
    _assert_cache_holds(tmp_path / "c", arrays)


def test_a_failing_write_leaves_no_partial_file(tmp_path):
    class Crashing:
        def provide(self, name, out):
            out.write(b"\x00\x00\x08\x01 half a file")
            raise OSError("disk on fire")

    arrays = make_arrays()
    with pytest.raises(FetchError, match="disk on fire"):
        fetch_files(checksums_of(arrays), tmp_path / "c", [Crashing()])
    assert cache_listing(tmp_path / "c") == []


def test_partial_files_of_a_killed_fetch_are_removed(tmp_path):
    arrays = make_arrays()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / f".{NAMES[0]}.999.abcd1234.part").write_bytes(b"half")
    fetch_files(checksums_of(arrays), cache, [IdxDirectory(write_dir(tmp_path / "r", arrays))])
    _assert_cache_holds(cache, arrays)


def test_corrupt_cached_file_is_reported_removed_and_fetched_again(tmp_path, caplog):
    arrays = make_arrays()
    spec = spec_for(arrays)
    root = write_dir(tmp_path / "root", arrays, compressed=True)
    cache = tmp_path / "cache"
    load_dataset(spec, root, cache_dir=cache)
    damaged = bytearray((cache / NAMES[0]).read_bytes())
    damaged[100] ^= 0xFF  # same size, one byte off: only the digest can tell
    (cache / NAMES[0]).write_bytes(bytes(damaged))
    assert read_cached(spec.checksums, cache) is None
    with caplog.at_level(logging.WARNING, logger="tinygrad_mnist.data"):
        _assert_loaded(load_dataset(spec, root, cache_dir=cache), arrays)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"cached file {cache / NAMES[0]} is corrupt" in warnings[0]
    _assert_cache_holds(cache, arrays)


def test_corrupt_cache_without_sources_is_never_used(tmp_path):
    arrays = make_arrays()
    spec = spec_for(arrays)
    cache = tmp_path / "cache"
    load_dataset(spec, write_dir(tmp_path / "root", arrays), cache_dir=cache)
    (cache / NAMES[1]).write_bytes(bytes(len((cache / NAMES[1]).read_bytes())))
    with pytest.raises(FetchError, match="does not hold the files"):
        load_dataset(spec, cache_dir=cache, download=False)


def test_download_false_with_nothing_cached_says_how_to_fetch(tmp_path):
    arrays = make_arrays()
    cache = tmp_path / "never-made"
    with pytest.raises(FetchError, match=r"tinygrad-mnist fetch.*root=") as raised:
        load_dataset(spec_for(arrays), cache_dir=cache, download=False)
    assert str(cache) in str(raised.value)
    assert not cache.exists()  # a refusal writes nothing


def test_fetch_dataset_returns_the_filled_cache(tmp_path):
    arrays = make_arrays()
    where = fetch_dataset(spec_for(arrays), tmp_path / "c",
                          root=write_dir(tmp_path / "r", arrays))
    assert where == tmp_path / "c"
    _assert_cache_holds(where, arrays)


_FETCH_SCRIPT = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
from tinygrad_mnist.data import Mirror
from tinygrad_mnist.data.fetch import _fetch_files as fetch_files
fetch_files(json.loads(sys.argv[1]), sys.argv[2], [Mirror(sys.argv[3], timeout=20)])
"""


@pytest.mark.slow
def test_two_processes_filling_one_cache_both_succeed_and_download_once(tmp_path):
    arrays = make_arrays(n_train=200)
    checksums = checksums_of(arrays)
    cache = tmp_path / "cache"
    cache.mkdir()
    replies = {f"{name}.gz": gzip_reply(array, delay=0.05) for name, array in arrays.items()}
    env = dict(os.environ, PYTHONPATH=str(Path(tinygrad_mnist.__file__).parents[1]))
    logs = [tmp_path / f"process{i}.log" for i in range(2)]
    with FileServer(replies) as server:
        with FileLock(cache / ".lock"):
            # While we hold the lock both processes must queue: a real collision, every time.
            processes = []
            for log in logs:
                with log.open("w") as stderr:
                    processes.append(subprocess.Popen(
                        [sys.executable, "-c", _FETCH_SCRIPT, json.dumps(checksums),
                         str(cache), server.url],
                        stdout=subprocess.DEVNULL, stderr=stderr, env=env))
            deadline = time.monotonic() + 60
            while not all("waiting for another process" in log.read_text() for log in logs):
                assert all(p.poll() is None for p in processes), [g.read_text() for g in logs]
                assert time.monotonic() < deadline, [g.read_text() for g in logs]
                time.sleep(0.05)
        for process in processes:
            process.wait(timeout=60)
    assert [p.returncode for p in processes] == [0, 0], [g.read_text() for g in logs]
    # One process downloaded each file once; the other found them cached.
    assert sorted(server.requests) == sorted(f"/{name}.gz" for name in NAMES)
    assert sum("cached " in g.read_text() for g in logs) == 1
    _assert_cache_holds(cache, arrays)
