"""Hostile `.npz` model files: headers checked before decompressing, all-or-nothing loads."""

import json
import re
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from tinygrad_mnist import nn
from tinygrad_mnist.app.run_folder import load_run_model
from tinygrad_mnist.train.config import RunConfig
from tinygrad_mnist.utils.npz import read_npz


def npy_header(shape, descr="<f4") -> bytes:
    """The bytes of a version 1.0 `.npy` header declaring `shape` of `descr`."""
    header = repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)})
    header += " " * ((64 - (10 + len(header) + 1) % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")


def write_member(archive: zipfile.ZipFile, name: str, header: bytes, zero_bytes: int) -> None:
    """A compressed member: `header`, then `zero_bytes` zeros, streamed (little memory)."""
    with archive.open(name + ".npy", "w", force_zip64=True) as member:
        member.write(header)
        chunk = bytes(1 << 20)
        while zero_bytes > 0:
            member.write(chunk[:zero_bytes])
            zero_bytes -= len(chunk)


def write_raw_member(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    archive.writestr(zipfile.ZipInfo(name + ".npy"), data)


# ------------------------------------------------------------------ bombs
def test_a_model_file_of_the_wrong_shape_is_refused_before_it_is_decompressed(tmp_path):
    path = tmp_path / "bomb.npz"
    shape = (784, 16_000)  # 50 MB of zeros, a few tens of KB compressed
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        write_member(archive, "0.weight", npy_header(shape), 784 * 16_000 * 4)
    assert path.stat().st_size < 1_000_000
    model = nn.MLP(784, [16], 10)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"'0\.weight' has shape \(784, 16000\).*"
                                             r"expected \(784, 16\)"):
            model.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # the 50 MB array was never built


def test_a_declared_huge_array_is_a_value_error_not_a_memory_error(tmp_path):
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        write_raw_member(archive, "x", npy_header((2**40,), "<f8"))  # 8 TiB declared
    with pytest.raises(ValueError, match=r"huge\.npz.*'x'"):
        read_npz(path)


def test_an_archive_declaring_more_than_the_machine_holds_is_refused(tmp_path, monkeypatch):
    from tinygrad_mnist.utils import memory

    np.savez(tmp_path / "big.npz", a=np.zeros(1000), b=np.zeros(1000))  # 16,000 bytes
    monkeypatch.setattr(memory, "physical_memory", lambda: 10_000)
    with pytest.raises(ValueError, match=r"big\.npz.*16,000 bytes.*10,000"):
        read_npz(tmp_path / "big.npz")


def test_a_member_that_holds_less_than_its_header_declares_is_truncated_not_pickled(tmp_path):
    path = tmp_path / "short.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        write_raw_member(archive, "w", npy_header((10,), "<f8") + bytes(40))
    with pytest.raises(ValueError) as raised:
        read_npz(path)
    message = str(raised.value)
    assert "pickled" not in message
    assert "'w'" in message and "truncated" in message and "80" in message and "40" in message


def test_corrupt_compressed_bytes_are_a_damaged_archive(tmp_path):
    path = tmp_path / "corrupt.npz"
    np.savez_compressed(path, w=np.random.default_rng(0).normal(size=5000))
    data = bytearray(path.read_bytes())
    start = data.index(b"w.npy") + 200  # inside the compressed stream of the member
    data[start:start + 64] = bytes(64)
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"corrupt\.npz.*damaged") as raised:
        read_npz(path)
    assert "pickled" not in str(raised.value)


def test_a_member_that_is_not_an_npy_array_is_named(tmp_path):
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as archive:
        write_raw_member(archive, "w", b"not an npy header at all")
    with pytest.raises(ValueError, match=r"odd\.npz.*'w'.*not a \.npy array"):
        read_npz(path)


def test_object_arrays_are_still_refused_as_pickled(tmp_path):
    path = tmp_path / "pickled.npz"
    with zipfile.ZipFile(path, "w") as archive:
        write_raw_member(archive, "w", npy_header((1,), "|O") + b"\x80\x04N.")
    with pytest.raises(ValueError, match="pickled objects"):
        read_npz(path)


def test_an_unreadable_file_is_reported_as_unreadable_not_as_no_archive():
    # /proc/self/mem exists and is a regular file, but reading its start fails (EIO).
    with pytest.raises(OSError) as raised:
        read_npz("/proc/self/mem")
    assert not isinstance(raised.value, ValueError)
    assert "npz" not in str(raised.value)


def test_a_well_formed_archive_reads_back_exactly(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3),
              "b": np.asfortranarray(np.arange(6.0).reshape(2, 3)), "c": np.array(["x", "yz"])}
    np.savez_compressed(tmp_path / "ok.npz", **arrays)
    loaded = read_npz(tmp_path / "ok.npz")
    assert list(loaded) == ["a", "b", "c"]
    for name, array in arrays.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].dtype == array.dtype


# ------------------------------------------------------ all-or-nothing loads
@pytest.mark.parametrize("bad", [
    np.array([["a", "b"]] * 3),
    np.zeros((3, 2), dtype=np.int64),
    np.zeros((3, 2), dtype=bool),
    np.zeros((3, 2), dtype=np.complex64) + 1j,
    np.zeros((3, 2), dtype=[("x", "f4")]),
    np.empty((3, 2), dtype=object),
], ids=["string", "int", "bool", "complex", "structured", "object"])
def test_load_state_dict_refuses_a_non_float_entry_and_changes_nothing(bad):
    model = nn.MLP(4, [3], 2, seed=0)
    before = model.state_dict()
    state = nn.MLP(4, [3], 2, seed=1).state_dict()
    state["2.weight"] = bad  # after 0.weight and 0.bias, which are fine
    with pytest.raises(ValueError, match=rf"'2\.weight' has dtype {re.escape(str(bad.dtype))}.*"
                                         "floating"):
        model.load_state_dict(state)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_load_state_dict_accepts_any_real_float_width():
    model = nn.MLP(4, [3], 2, seed=0)
    state = {name: array.astype(np.float64) for name, array in
             nn.MLP(4, [3], 2, seed=1).state_dict().items()}
    model.load_state_dict(state)
    assert model[0].weight.dtype == np.float32
    np.testing.assert_allclose(model[0].weight.data, state["0.weight"], rtol=1e-6)


def test_a_saved_file_with_an_integer_weight_is_refused_before_writing(tmp_path):
    state = nn.MLP(4, [3], 2, seed=1).state_dict()
    state["2.bias"] = np.array([1, 2])
    np.savez(tmp_path / "m.npz", **state)
    model = nn.MLP(4, [3], 2, seed=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"'2\.bias' has dtype int64"):
        model.load(tmp_path / "m.npz")
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


# ------------------------------------------------------------ run folders
def run_folder(tmp_path, state):
    np.savez(tmp_path / "model.npz", **state)
    (tmp_path / "config.json").write_text(json.dumps(RunConfig(hidden_sizes=(3,)).to_dict()))
    return tmp_path / "model.npz"


def test_a_model_file_with_a_key_that_is_no_layer_number_is_named(tmp_path):
    state = nn.MLP(4, [3], 2).state_dict()
    state["x.weight"] = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match=r"'x\.weight'") as raised:
        load_run_model(run_folder(tmp_path, state))
    assert "invalid literal" not in str(raised.value)


def test_a_run_folder_model_bomb_is_refused_cheaply(tmp_path):
    path = tmp_path / "model.npz"
    (tmp_path / "config.json").write_text(json.dumps(RunConfig(hidden_sizes=(3,)).to_dict()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        write_member(archive, "0.weight", npy_header((4, 3)), 48)
        write_member(archive, "0.bias", npy_header((3,)), 12)
        write_member(archive, "2.weight", npy_header((3, 2)), 24)
        write_member(archive, "2.bias", npy_header((4_000_000,)), 16_000_000)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"'2\.bias' has shape \(4000000,\)"):
            load_run_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000

