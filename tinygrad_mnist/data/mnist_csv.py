"""The CSV layout older MNIST projects use: one image a row, the label first, 784 pixels."""

from __future__ import annotations

import os

import numpy as np

PIXELS = 28 * 28


def _is_header(line: str) -> bool:
    first = line.split(",", 1)[0].strip()
    return not first.lstrip("+-").isdigit()


def read_mnist_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read `mnist_train.csv` / `mnist_test.csv`: images uint8 (n, 28, 28), labels int64.

    Each row is the label (0..9) then 784 pixel values (0..255), comma-separated.
    A header row, as some copies have, is skipped. Raises ValueError naming the
    file and the row for a row of the wrong length or a value out of range.
    """
    with open(path, encoding="ascii", errors="replace") as file:
        lines = file.read().splitlines()
    first_row = 1
    if lines and _is_header(lines[0]):
        lines, first_row = lines[1:], 2
    rows = [(number, line) for number, line in enumerate(lines, first_row) if line.strip()]
    for number, line in rows:
        # Counting commas is cheap; parsing only starts once every row has the right length.
        if line.count(",") != PIXELS:
            raise ValueError(f"{path}: CSV row {number} has {line.count(',') + 1} values, "
                             f"expected {PIXELS + 1} (a label, then {PIXELS} pixels)")
    if not rows:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
    try:
        table = np.loadtxt([line for _, line in rows], delimiter=",", dtype=np.int64, ndmin=2)
    except ValueError as error:
        raise ValueError(f"{path}: CSV holds a value that is not an integer: {error}") from error
    labels, pixels = table[:, 0], table[:, 1:]
    row_numbers = [number for number, _ in rows]
    _check_range(labels, "label", 9, path, row_numbers)
    _check_range(pixels, "pixel", 255, path, row_numbers)
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels


def _check_range(values: np.ndarray, name: str, top: int, path, row_numbers: list[int]) -> None:
    out_of_range = ((values < 0) | (values > top)).reshape(len(values), -1)
    bad_rows = np.flatnonzero(out_of_range.any(axis=1))
    if bad_rows.size:
        first = bad_rows[0]
        value = values[first].reshape(-1)[out_of_range[first]][0]
        raise ValueError(f"{path}: CSV row {row_numbers[first]} has {name} {value}, "
                         f"expected 0..{top}")
