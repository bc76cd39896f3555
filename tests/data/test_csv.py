"""The MNIST CSV layout reads back exactly; malformed rows fail naming file and row."""

from __future__ import annotations

import re

import numpy as np
import pytest
from support.mnist_files import write_csv

from tinygrad_mnist.data import read_mnist_csv


def _data(n=5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


@pytest.mark.parametrize("header", [False, True])
def test_csv_reads_back_exactly(tmp_path, header):
    images, labels = _data()
    images[0, 0, 0], images[0, 0, 1] = 0, 255
    path = write_csv(tmp_path / "mnist_train.csv", images, labels, header=header)
    read_images, read_labels = read_mnist_csv(path)
    assert read_images.dtype == np.uint8 and read_images.shape == (5, 28, 28)
    assert read_labels.dtype == np.int64
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)


def test_empty_csv_gives_empty_arrays(tmp_path):
    (tmp_path / "e.csv").write_text("")
    images, labels = read_mnist_csv(tmp_path / "e.csv")
    assert images.shape == (0, 28, 28) and labels.shape == (0,)


def _bad_csv(tmp_path, edit):
    images, labels = _data()
    path = write_csv(tmp_path / "mnist_test.csv", images, labels)
    lines = path.read_text().splitlines()
    lines[2] = edit(lines[2])
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("edit, what", [
    (lambda row: row.rsplit(",", 1)[0], "CSV row 3 has 784 values, expected 785"),
    (lambda row: row + ",0", "CSV row 3 has 786 values, expected 785"),
    (lambda row: "12" + row[row.index(","):], "CSV row 3 has label 12, expected 0..9"),
    (lambda row: row[: row.rindex(",")] + ",256", "CSV row 3 has pixel 256, expected 0..255"),
    (lambda row: row[: row.rindex(",")] + ",-1", "CSV row 3 has pixel -1, expected 0..255"),
    (lambda row: row[: row.rindex(",")] + ",x", "not an integer"),
])
def test_bad_rows_are_value_errors_naming_file_and_row(tmp_path, edit, what):
    path = _bad_csv(tmp_path, edit)
    with pytest.raises(ValueError, match=re.escape(str(path)) + ".*" + re.escape(what)):
        read_mnist_csv(path)
