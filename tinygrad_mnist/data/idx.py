"""The IDX file format of MNIST: a big-endian header, then the array's bytes.

The header is two zero bytes, a type code, the number of dimensions, then one
unsigned 32-bit size per dimension. Files are often gzip-compressed (`.gz`);
readers here tell the two apart by their first bytes, not by the name.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import struct
import zlib
from pathlib import Path

import numpy as np

from tinygrad_mnist.utils.atomic import atomic_write

# Type code -> element type, as the format defines it (multi-byte types big-endian).
IDX_TYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def _type_code(dtype: np.dtype) -> int | None:
    for code, idx_dtype in IDX_TYPES.items():
        if dtype.kind == idx_dtype.kind and dtype.itemsize == idx_dtype.itemsize:
            return code
    return None


def encode_idx(array) -> bytes:
    """The IDX bytes (uncompressed) of `array`."""
    array = np.asarray(array)
    code = _type_code(array.dtype)
    if code is None:
        names = ", ".join(str(dtype.newbyteorder("=")) for dtype in IDX_TYPES.values())
        raise TypeError(f"array: IDX cannot hold dtype {array.dtype}; expected one of {names}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"array: IDX holds 1 to 255 dimensions, got shape {array.shape}")
    if max(array.shape) >= 2**32:
        raise ValueError(f"array: IDX sizes must fit 32 bits, got shape {array.shape}")
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    return header + array.astype(IDX_TYPES[code], copy=False).tobytes()


def decode_idx(buffer, source: str | os.PathLike = "<bytes>") -> np.ndarray:
    """The array held by the uncompressed IDX bytes `buffer` (named `source` in errors).

    Multi-byte elements come back in native byte order. When `buffer` is writable
    (a bytearray) a one-byte array shares its memory instead of copying it.
    """
    size = len(buffer)
    if size < 4:
        raise ValueError(f"{source}: truncated: {size} bytes, too short for an IDX header")
    zero, code, ndim = struct.unpack_from(">HBB", buffer)
    if zero != 0 or code not in IDX_TYPES or ndim == 0:
        magic = struct.unpack_from(">I", buffer)[0]
        codes = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise ValueError(
            f"{source}: wrong magic number 0x{magic:08X}: not an IDX file (an IDX file "
            f"starts 0x0000TTNN with type TT in {codes} and NN >= 1 dimensions)"
        )
    header_size = 4 + 4 * ndim
    if size < header_size:
        raise ValueError(f"{source}: truncated: the header of {ndim} dimensions needs "
                         f"{header_size} bytes, the file has {size}")
    shape = struct.unpack_from(f">{ndim}I", buffer, 4)
    dtype = IDX_TYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: four 32-bit sizes overflow int64
    found = size - header_size
    if found < expected:
        raise ValueError(f"{source}: truncated: header says shape {shape} of {dtype.name} "
                         f"({expected:,} bytes of data), the file has {found:,}")
    if found > expected:
        raise ValueError(f"{source}: size disagrees with header: shape {shape} of {dtype.name} "
                         f"is {expected:,} bytes of data, the file has {found:,}")
    array = np.frombuffer(buffer, dtype, count=expected // dtype.itemsize, offset=header_size)
    array = array.reshape(shape)
    if dtype.itemsize > 1:
        return array.astype(dtype.newbyteorder("="))
    return array if array.flags.writeable else array.copy()


def read_bytes(path: str | os.PathLike) -> bytearray:
    """The contents of `path` as a writable buffer, read without an extra copy."""
    with open(path, "rb") as file:
        buffer = bytearray(os.fstat(file.fileno()).st_size)
        view, filled = memoryview(buffer), 0
        while filled < len(buffer) and (count := file.readinto(view[filled:])):
            filled += count
    return buffer[:filled] if filled < len(buffer) else buffer


@contextlib.contextmanager
def gzip_errors(source: str | os.PathLike):
    """Turn a failure to decompress inside the block into a ValueError naming `source`."""
    try:
        yield
    except EOFError as error:
        raise ValueError(f"{source}: truncated gzip data: {error}") from error
    except (gzip.BadGzipFile, zlib.error) as error:
        raise ValueError(f"{source}: corrupt gzip data: {error}") from error


def decompress_if_gzip(data, source: str | os.PathLike):
    """`data` itself, or its gzip decompression when it starts with the gzip magic bytes."""
    if bytes(data[:2]) != GZIP_MAGIC:
        return data
    with gzip_errors(source):
        return bytearray(gzip.decompress(data))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read the IDX file at `path`, gzip-compressed or raw, of any IDX element type.

    Raises ValueError naming the file if it is not a whole, well-formed IDX file.
    """
    return decode_idx(decompress_if_gzip(read_bytes(path), path), path)


def write_idx(path: str | os.PathLike, array) -> Path:
    """Write `array` as an IDX file at `path` (gzip-compressed if the name ends in `.gz`).

    The file is written under a temporary name and renamed into place. Returns the path.
    """
    path = Path(path)
    data = encode_idx(array)
    with atomic_write(path) as file:
        if path.suffix == ".gz":
            # mtime=0: the same array always gives the same bytes.
            with gzip.GzipFile(fileobj=file, mode="wb", mtime=0) as compressed:
                compressed.write(data)
        else:
            file.write(data)
    return path
