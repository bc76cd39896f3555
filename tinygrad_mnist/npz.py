"""Reading `.npz` archives safely: model weights and data sets alike."""

from __future__ import annotations

import os
import zipfile

import numpy as np


def read_npz(path) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` file, read with `allow_pickle=False`.

    A file that is not an `.npz` archive, or one holding pickled objects, is a
    ValueError that names the file.
    """
    path = os.fspath(path)
    # Opened here, not by np.load, so the file is closed even when NumPy gives up on it.
    with open(path, "rb") as file:
        try:
            archive = np.load(file, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(f"load: {path!r} is not an .npz archive ({error})") from None
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError(f"load: {path!r} is a single .npy array, expected an .npz archive")
        with archive:
            try:
                return {name: archive[name] for name in archive.files}
            except ValueError as error:
                raise ValueError(
                    f"load: {path!r} holds pickled objects, which are refused ({error})"
                ) from None
            except (OSError, EOFError, zipfile.BadZipFile) as error:
                raise ValueError(f"load: {path!r} is a damaged .npz archive ({error})") from None
