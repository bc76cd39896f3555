"""Preparation for a network: scaled float images, one-hot labels, the Dataset pair."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tinygrad_mnist.data import Dataset, one_hot, prepare_images


def test_prepare_images_scales_to_unit_interval_and_flattens():
    images = np.zeros((3, 28, 28), np.uint8)
    images[0, 0, 0], images[1, 27, 27], images[2, 5, 5] = 255, 51, 1
    flat = prepare_images(images)
    assert flat.dtype == np.float32 and flat.shape == (3, 784)
    assert flat[0, 0] == 1.0 and flat[1, 783] == np.float32(0.2)
    assert flat.min() == 0.0 and flat.max() == 1.0
    kept = prepare_images(images, flatten=False)
    assert kept.shape == (3, 28, 28)
    np.testing.assert_array_equal(kept.reshape(3, -1), flat)
    assert prepare_images(images.reshape(3, 784), flatten=True).shape == (3, 784)


def test_prepare_images_rejects_what_is_not_pixels():
    with pytest.raises(TypeError, match="images: expected uint8.*float32"):
        prepare_images(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"images: expected shape \(n, ...\)"):
        prepare_images(np.zeros(5, np.uint8))


def test_one_hot():
    encoded = one_hot(np.array([0, 3, 9, 3]))
    assert encoded.dtype == np.float32 and encoded.shape == (4, 10)
    np.testing.assert_array_equal(encoded.argmax(axis=1), [0, 3, 9, 3])
    np.testing.assert_array_equal(encoded.sum(axis=1), np.ones(4))
    assert one_hot(np.array([1, 0], np.uint8), num_classes=2).tolist() == [[0, 1], [1, 0]]
    assert one_hot(np.zeros(0, np.int64)).shape == (0, 10)


@pytest.mark.parametrize("labels, num_classes, error, what", [
    (np.array([0, 10]), 10, ValueError, "labels: expected values in 0..9, got 10"),
    (np.array([-1, 1]), 10, ValueError, "got -1"),
    (np.array([0.5, 1.0]), 10, TypeError, "labels: expected a 1-D array of integers"),
    (np.zeros((2, 2), np.int64), 10, TypeError, "labels: "),
    (np.array([0, 1]), 0, ValueError, "num_classes: "),
])
def test_one_hot_errors(labels, num_classes, error, what):
    with pytest.raises(error, match=what):
        one_hot(labels, num_classes)


def test_dataset_pairs_rows_and_unpacks():
    x, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    data = Dataset(x, y)
    assert len(data) == 6
    features, labels = data
    assert features is data.x and labels is data.y
    part = data.subset(np.array([4, 1]))
    assert isinstance(part, Dataset) and len(part) == 2
    np.testing.assert_array_equal(part.x, x[[4, 1]])
    np.testing.assert_array_equal(part.y, [4, 1])
    np.testing.assert_array_equal(data.subset(y % 2 == 0).y, [0, 2, 4])
    with pytest.raises(dataclasses.FrozenInstanceError):
        data.x = x


def test_dataset_converts_lists_and_checks_lengths():
    assert Dataset([[1, 2], [3, 4]], [0, 1]).x.shape == (2, 2)
    with pytest.raises(ValueError, match="x has 3 rows but y has 2"):
        Dataset(np.zeros((3, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="x and y need one row per example"):
        Dataset(np.float32(1), np.zeros(1))
