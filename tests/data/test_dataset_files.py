"""Hostile `--dataset FILE.npz` files: labels, image sizes and declared sizes checked first."""

import tracemalloc
import zipfile

import numpy as np
import pytest

from tinygrad_mnist.app.cli import main
from tinygrad_mnist.data.by_name import MAX_CLASSES, ImageDataset, load_npz_dataset


def arrays(n_train=20, n_test=10, side=4, classes=3):
    rng = np.random.default_rng(0)
    return {"train_images": rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
            "train_labels": np.arange(n_train) % classes,
            "test_images": rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
            "test_labels": np.arange(n_test) % classes}


def write(tmp_path, **changes):
    path = tmp_path / "d.npz"
    np.savez(path, **{**arrays(), **changes})
    return path


@pytest.mark.parametrize("label, dtype", [
    (10**7, np.int64),
    (2**40, np.int64),
    (2**64 - 1, np.uint64),
    (MAX_CLASSES, np.int32),
])
def test_a_label_beyond_the_class_limit_is_refused_naming_file_and_value(tmp_path, label, dtype):
    labels = (np.arange(20) % 3).astype(dtype)
    labels[7] = label
    path = write(tmp_path, train_labels=labels)
    with pytest.raises(ValueError) as raised:
        load_npz_dataset(path)
    message = str(raised.value)
    assert str(path) in message and f"train_labels[7] is {label}" in message
    assert str(MAX_CLASSES) in message


def test_the_largest_allowed_label_loads(tmp_path):
    labels = np.arange(20) % 3
    labels[0] = MAX_CLASSES - 1
    assert load_npz_dataset(write(tmp_path, train_labels=labels)).num_classes == MAX_CLASSES


def test_a_negative_label_is_named(tmp_path):
    labels = np.arange(10) % 3
    labels[4] = -3
    with pytest.raises(ValueError, match=r"d\.npz.*test_labels\[4\] is -3"):
        load_npz_dataset(write(tmp_path, test_labels=labels))


def test_non_integer_labels_are_refused_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match=r"d\.npz.*train_labels.*integer.*float64"):
        load_npz_dataset(write(tmp_path, train_labels=np.arange(20) / 2))


def test_too_many_class_names_are_refused(tmp_path):
    names = np.array([f"c{i}" for i in range(MAX_CLASSES + 1)])
    with pytest.raises(ValueError, match=rf"d\.npz.*class_names.*{MAX_CLASSES + 1}.*"
                                         rf"{MAX_CLASSES}"):
        load_npz_dataset(write(tmp_path, class_names=names))


def test_train_and_test_images_of_different_sizes_are_refused_on_load(tmp_path):
    path = write(tmp_path, test_images=np.zeros((10, 5, 5), np.uint8))
    with pytest.raises(ValueError, match=r"d\.npz.*train images are 4x4.*test images are 5x5"):
        load_npz_dataset(path)


def test_an_image_dataset_made_in_python_checks_its_sizes_too():
    parts = arrays()
    with pytest.raises(ValueError, match=r"mine.*4x4.*3x3"):
        ImageDataset(parts["train_images"], parts["train_labels"],
                     np.zeros((10, 3, 3), np.uint8), parts["test_labels"], ("a", "b", "c"),
                     "mine")


def test_the_command_line_refuses_mismatched_sizes_before_training(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, test_images=np.zeros((10, 5, 5), np.uint8))
    status = main(["train", "--dataset", "d.npz", "--epochs", "1", "--hidden", "4",
                   "--out", "run"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "5x5" in err
    assert not (tmp_path / "run").exists()


def test_declared_arrays_that_do_not_fit_are_refused_before_decompressing(tmp_path):
    path = tmp_path / "bomb.npz"
    parts = arrays()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("train_labels", "test_images", "test_labels"):
            with archive.open(name + ".npy", "w") as member:
                np.lib.format.write_array(member, parts[name])
        with archive.open("train_images.npy", "w", force_zip64=True) as member:
            # 40 MB of images declared, for 20 labels.
            np.lib.format.write_array_header_1_0(
                member, {"descr": "|u1", "fortran_order": False, "shape": (2_500_000, 4, 4)})
            chunk = bytes(1_000_000)
            for _ in range(40):
                member.write(chunk)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"bomb\.npz.*train_labels must be 2500000"):
            load_npz_dataset(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000

