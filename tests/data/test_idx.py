"""IDX files: every element type round trips, raw and gzip; malformed files fail clearly."""

from __future__ import annotations

import gzip
import re
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from tinygrad_mnist.data import read_idx, read_mnist_idx, write_idx
from tinygrad_mnist.data.idx import decode_idx, encode_idx

# The format's type table, written out independently of the code under test.
TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C,
              np.float32: 0x0D, np.float64: 0x0E}


@given(array=st.sampled_from(list(TYPE_CODES)).flatmap(
           lambda dtype: arrays(dtype, array_shapes(min_dims=1, max_dims=4, min_side=0,
                                                    max_side=6))),
       compressed=st.booleans())
def test_every_type_round_trips_exactly(tmp_path_factory, array, compressed):
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if compressed else "a.idx")
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()  # bit for bit: NaNs and -0.0 included
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compressed


@pytest.mark.parametrize("dtype, code", list(TYPE_CODES.items()))
def test_reads_hand_built_files_of_each_type(tmp_path, dtype, code):
    values = np.array([[1, -2, 3], [4, 5, 6]]).astype(dtype) if dtype != np.uint8 else \
        np.array([[1, 2, 3], [4, 5, 255]], dtype)
    big_endian = values.astype(np.dtype(dtype).newbyteorder(">")).tobytes()
    data = struct.pack(">BBBBII", 0, 0, code, 2, 2, 3) + big_endian
    (tmp_path / "raw").write_bytes(data)
    (tmp_path / "packed.gz").write_bytes(gzip.compress(data))
    for name in ("raw", "packed.gz"):
        read = read_idx(tmp_path / name)
        assert read.dtype == np.dtype(dtype) and read.dtype.isnative
        np.testing.assert_array_equal(read, values)
    assert encode_idx(values) == data


def test_uint8_arrays_are_writable_and_read_without_copy(tmp_path):
    write_idx(tmp_path / "a", np.arange(12, dtype=np.uint8).reshape(3, 4))
    array = read_idx(tmp_path / "a")
    array[0, 0] = 7  # a caller may normalise in place
    assert array.flags.writeable and array[0, 0] == 7


def test_write_is_atomic_and_keeps_no_temporary_file(tmp_path):
    write_idx(tmp_path / "a.gz", np.zeros(3, np.int16))
    with pytest.raises(TypeError, match="array: IDX cannot hold dtype int64"):
        write_idx(tmp_path / "a.gz", np.zeros(3, np.int64))
    assert [p.name for p in tmp_path.iterdir()] == ["a.gz"]
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), np.zeros(3, np.int16))


def test_write_rejects_a_scalar():
    with pytest.raises(ValueError, match="1 to 255 dimensions"):
        encode_idx(np.float32(1.0))


def _raises_naming(path, what):
    return pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + what)


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("data, what", [
    (b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x00", "wrong magic number 0x01020801"),
    (b"\x00\x00\x0a\x01" + struct.pack(">I", 1) + b"\x00", "wrong magic number 0x00000A01"),
    (b"\x00\x00\x08\x00", "wrong magic number"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 3) + b"\x00\x01\x02\x03",
     "size disagrees with header"),
    (b"\x00\x00\x08\x01" + struct.pack(">I", 10) + b"\x00\x01\x02", "truncated"),
    (b"\x00\x00\x0c\x02" + struct.pack(">I", 2), "truncated: the header"),
    (b"\x00\x00", "truncated"),
])
def test_malformed_files_raise_value_error_naming_the_file(tmp_path, compressed, data, what):
    path = tmp_path / ("bad.gz" if compressed else "bad")
    path.write_bytes(gzip.compress(data) if compressed else data)
    with _raises_naming(path, what):
        read_idx(path)


def test_damaged_gzip_is_a_value_error_naming_the_file(tmp_path):
    packed = gzip.compress(encode_idx(np.arange(5000, dtype=np.int32)))
    (tmp_path / "cut.gz").write_bytes(packed[: len(packed) // 2])
    with _raises_naming(tmp_path / "cut.gz", "truncated gzip"):
        read_idx(tmp_path / "cut.gz")
    damaged = bytearray(packed)
    damaged[len(damaged) // 2: len(damaged) // 2 + 64] = bytes(64)
    (tmp_path / "damaged.gz").write_bytes(bytes(damaged))
    with _raises_naming(tmp_path / "damaged.gz", "corrupt gzip"):
        read_idx(tmp_path / "damaged.gz")


def test_decode_names_its_source():
    with pytest.raises(ValueError, match="labels-file: truncated"):
        decode_idx(b"\x00\x00\x08\x01" + struct.pack(">I", 4), "labels-file")


def test_mnist_pair_label_above_nine_names_the_labels_file(tmp_path):
    write_idx(tmp_path / "images", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "labels.gz", np.array([1, 12, 3], np.uint8))
    with _raises_naming(tmp_path / "labels.gz", "label 12 at index 1 is above 9"):
        read_mnist_idx(tmp_path / "images", tmp_path / "labels.gz")


@pytest.mark.parametrize("images, labels, what", [
    (np.zeros((3, 28, 28), np.uint8), np.zeros(2, np.uint8), "holds 2 labels but"),
    (np.zeros((3, 28, 27), np.uint8), np.zeros(3, np.uint8), r"shape \(n, 28, 28\)"),
    (np.zeros((3, 28, 28), np.float32), np.zeros(3, np.uint8), "uint8 images"),
    (np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.int32), "uint8 labels"),
])
def test_mnist_pair_shape_errors(tmp_path, images, labels, what):
    write_idx(tmp_path / "i", images)
    write_idx(tmp_path / "l", labels)
    with pytest.raises(ValueError, match=what):
        read_mnist_idx(tmp_path / "i", tmp_path / "l")


def test_mnist_pair_reads_back(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    write_idx(tmp_path / "i.gz", images)
    write_idx(tmp_path / "l", np.array([0, 9, 3, 3], np.uint8))
    read_images, labels = read_mnist_idx(tmp_path / "i.gz", tmp_path / "l")
    np.testing.assert_array_equal(read_images, images)
    assert labels.dtype == np.int64 and labels.tolist() == [0, 9, 3, 3]
