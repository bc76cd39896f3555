"""Reading and writing `.npz` archives safely: model weights and data sets alike.

Every member's `.npy` header is read before any data, so a file is judged on what it
declares (shapes, dtypes, sizes) before anything is decompressed: a few kilobytes that
would inflate into gigabytes are refused for the price of their headers.
"""

from __future__ import annotations

import math
import os
import zipfile
import zlib

import numpy as np

from tinygrad_mnist.utils.memory import check_fits


def read_npz(path, check=None) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` file, every member's header read before any data.

    `check`, if given, is called with `{name: (shape, dtype)}` as the headers declare
    them, before anything is decompressed: it raises ValueError to refuse the file and
    may return the names to read (None: all). What the archive declares must also fit
    in the machine's memory. Errors are ValueErrors that name the file and say what is
    wrong: not a zip archive, a member that is no `.npy` array, pickled objects, a
    member damaged or shorter than its header says. A file that cannot be read at all
    is the OSError saying why.
    """
    path = os.fspath(path)
    with open(path, "rb") as file:
        try:
            archive = zipfile.ZipFile(file)
        except zipfile.BadZipFile as error:
            file.seek(0)
            if file.read(6) == b"\x93NUMPY":
                raise ValueError(f"load: {path!r} is a single .npy array, expected an .npz "
                                 "archive") from None
            raise ValueError(f"load: {path!r} is not an .npz archive ({error})") from None
        with archive:
            members = {}
            for info in archive.infolist():
                member = _NpyMember(archive, info, path)
                members[member.name] = member
            check_fits(sum(member.nbytes for member in members.values()),
                       f"load: {path!r}, whose arrays")
            wanted = check({name: (m.shape, m.dtype) for name, m in members.items()}) \
                if check is not None else None
            return {name: member.read() for name, member in members.items()
                    if wanted is None or name in wanted}


def write_npz(file, arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` (name -> array) to the open binary `file` as an uncompressed `.npz`.

    What `np.savez` writes, without its keyword arguments: an array may be named
    `file` or `allow_pickle`, and an array of Python objects is refused (ValueError)
    rather than pickled, since `read_npz` would refuse it.
    """
    with zipfile.ZipFile(file, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def npz_headers(path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """`{name: (shape, dtype)}` of the arrays of an `.npz` file, decompressing none of them."""
    declared = {}
    read_npz(path, check=lambda headers: declared.update(headers) or ())
    return declared


# What reading a damaged member may raise: corrupt deflate data, a bad CRC, a short stream.
_DAMAGED = (OSError, EOFError, zipfile.BadZipFile, zlib.error)


class _NpyMember:
    """One member of an `.npz` archive, its `.npy` header read and checked, its data not yet."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str):
        self.archive, self.info, self.path = archive, info, path
        self.name = info.filename.removesuffix(".npy")
        what = f"load: {path!r}: member {self.name!r}"
        try:
            with archive.open(info) as stream:
                version = np.lib.format.read_magic(stream)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f"unsupported .npy format version {version}")
                read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                    else np.lib.format.read_array_header_2_0
                self.shape, _, self.dtype = read_header(stream)
                header_size = stream.tell()
        except ValueError as error:
            raise ValueError(f"{what} is not a .npy array ({error})") from None
        except _DAMAGED as error:
            raise ValueError(f"{what} is damaged ({error})") from None
        if self.dtype.hasobject:
            raise ValueError(f"{what} holds pickled objects ({self.dtype}), which are refused")
        self.nbytes = math.prod(self.shape) * self.dtype.itemsize
        held = info.file_size - header_size
        if held != self.nbytes:
            raise ValueError(
                f"{what} is {'truncated' if held < self.nbytes else 'damaged'}: its header "
                f"declares shape {self.shape} of {self.dtype} ({self.nbytes:,} bytes), the "
                f"archive entry holds {held:,} bytes"
            )

    def read(self) -> np.ndarray:
        """The array, decompressed now (its size already checked against the header)."""
        try:
            with self.archive.open(self.info) as stream:
                array = np.lib.format.read_array(stream, allow_pickle=False)
                if stream.read(1):
                    raise ValueError("data after the array")
        except (ValueError, *_DAMAGED) as error:
            raise ValueError(f"load: {self.path!r}: member {self.name!r} is damaged ({error})") \
                from None
        return array
