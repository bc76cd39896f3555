"""Image data sets by name, as the command line's `--dataset` takes them.

    mnist            the canonical MNIST split, through the verified cache (`data.load_mnist`)
    fashion-mnist    the same for Fashion-MNIST (`data.load_fashion_mnist`)
    synthetic        small generated MNIST-shaped images, made in milliseconds, no download
    PATH.npz         your own images: arrays train_images, train_labels, test_images,
                     test_labels (and optionally class_names); labels 0..MAX_CLASSES-1
                     (at most 1000 classes)

`synthetic` lets the whole tool run offline in seconds: the test suite and the examples'
quick mode use it, and so can you, to try a command before MNIST is fetched.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinygrad_mnist.utils.atomic import atomic_write

__all__ = [
    "DATASET_NAMES",
    "FASHION_MNIST_CLASSES",
    "MAX_CLASSES",
    "ImageDataset",
    "NPZ_KEYS",
    "load_named_dataset",
    "load_npz_dataset",
    "save_npz_dataset",
    "synthetic_digits",
]

DATASET_NAMES = ("mnist", "fashion-mnist", "synthetic")
# Labels are class numbers 0..MAX_CLASSES-1: a label beyond (a pixel value, an id, a
# corrupt byte) would otherwise make a model with that many outputs.
MAX_CLASSES = 1000
NPZ_KEYS = ("train_images", "train_labels", "test_images", "test_labels")
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """A training and a test set of uint8 images `(n, height, width)` with int64 labels.

    `class_names` has one entry per class (the digits for MNIST); `title` names the
    data set in reports ("MNIST", "synthetic", a file name).
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: tuple[str, ...]
    title: str

    def __post_init__(self) -> None:
        train, test = self.train_images.shape, self.test_images.shape
        if math.prod(train[1:]) != math.prod(test[1:]):  # flattened rows count as their pixels
            raise ValueError(_sizes_differ(self.title, train, test))

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.class_names)

    def subset(self, train: int | None = None, test: int | None = None) -> ImageDataset:
        """The first `train` training and `test` test images (None keeps all)."""
        return ImageDataset(self.train_images[:train], self.train_labels[:train],
                            self.test_images[:test], self.test_labels[:test],
                            self.class_names, self.title)


def load_named_dataset(name, root=None, *, download: bool = True) -> ImageDataset:
    """The data set `name`: "mnist", "fashion-mnist", "synthetic" or the path of an `.npz`.

    `root` is a folder of the data set's own files, used (after verification) instead of
    the cache; it applies to "mnist" and "fashion-mnist" only. `download=False` never
    touches the network.
    """
    from tinygrad_mnist import data

    text = os.fspath(name) if isinstance(name, (str, os.PathLike)) else None
    if text is None:
        raise TypeError(f"dataset: expected a name or a path, got {type(name).__name__}")
    key = text.lower()
    if key in DATASET_NAMES[:2]:
        load = data.load_mnist if key == "mnist" else data.load_fashion_mnist
        (train_images, train_labels), (test_images, test_labels) = load(root, download=download)
        names = tuple(str(d) for d in range(10)) if key == "mnist" else FASHION_MNIST_CLASSES
        title = "MNIST" if key == "mnist" else "Fashion-MNIST"
        return ImageDataset(train_images, train_labels, test_images, test_labels, names, title)
    if root is not None:
        raise ValueError(
            f"data_root: applies to the mnist and fashion-mnist data sets, not {text!r}"
        )
    if key == "synthetic":
        return synthetic_digits()
    path = Path(text)
    if path.suffix.lower() != ".npz" and not path.exists():
        raise ValueError(
            f"dataset: expected {', '.join(DATASET_NAMES)} or the path of an .npz file, "
            f"got {text!r}"
        )
    return load_npz_dataset(path)


def synthetic_digits(n_train: int = 2000, n_test: int = 500, num_classes: int = 10,
                     seed: int = 0) -> ImageDataset:
    """MNIST-shaped noisy images of `num_classes` classes that a small MLP learns in seconds.

    Each class is a random blobby pattern, partly shared with the other classes; each
    image is its class pattern shifted by up to two pixels with noise added, as uint8
    (n, 28, 28). A 256-128 MLP reaches about 90% test accuracy in a few epochs. Balanced
    classes; the same arrays for the same arguments.
    """
    for name, value in (("n_train", n_train), ("n_test", n_test), ("num_classes", num_classes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: expected a positive int, got {value!r}")
    rng = np.random.default_rng(seed)
    # Coarse 7x7 masks blown up 4x: blobby "strokes". All classes share part of their
    # pattern, and shifts and noise blur the rest, so the task is learnable but not trivial.
    shared = rng.random((7, 7)) < 0.25
    coarse = shared | (rng.random((num_classes, 7, 7)) < 0.12)
    patterns = np.kron(coarse, np.ones((4, 4))).astype(np.float32)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = np.arange(n) % num_classes
        rng.shuffle(labels)
        images = patterns[labels]
        shifts = rng.integers(-2, 3, size=(n, 2))
        for i, (down, right) in enumerate(shifts):
            images[i] = np.roll(images[i], (down, right), axis=(0, 1))
        noisy = 0.8 * images + rng.normal(0.0, 0.45, size=images.shape)
        return (np.clip(noisy, 0, 1) * 255).astype(np.uint8), labels.astype(np.int64)

    train_images, train_labels = draw(n_train)
    test_images, test_labels = draw(n_test)
    return ImageDataset(train_images, train_labels, test_images, test_labels,
                        tuple(str(c) for c in range(num_classes)), "synthetic")


def save_npz_dataset(path, dataset: ImageDataset) -> Path:
    """Write `dataset` as an `.npz` that `load_npz_dataset` (and `--dataset PATH`) reads."""
    path = Path(path)
    with atomic_write(path) as file:  # a failed write leaves an earlier file whole
        np.savez_compressed(file, train_images=dataset.train_images,
                            train_labels=dataset.train_labels, test_images=dataset.test_images,
                            test_labels=dataset.test_labels,
                            class_names=np.array(dataset.class_names, dtype=str))
    return path


def load_npz_dataset(path) -> ImageDataset:
    """An `ImageDataset` from an `.npz` holding `NPZ_KEYS` (and optionally `class_names`).

    Images are uint8, either (n, h, w) or flattened (n, h*w) with square images, of one
    size in both sets; labels are integers 0..`MAX_CLASSES`-1. Every problem is a
    ValueError naming the file and the array; what the array headers declare is checked
    before any array is decompressed, and other arrays in the file are not read.
    """
    from tinygrad_mnist.utils.npz import read_npz

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(2, "no such data file", str(path))
    arrays = read_npz(path, check=lambda declared: _check_declared(declared, path))
    split = {}
    for part in ("train", "test"):
        images = _square_images(arrays[f"{part}_images"], f"{path}: {part}_images")
        split[part] = (images, _class_numbers(arrays[f"{part}_labels"], f"{part}_labels", path))
    num_classes = int(max(split["train"][1].max(initial=0), split["test"][1].max(initial=0))) + 1
    names = tuple(str(c) for c in range(num_classes))
    if "class_names" in arrays:
        names = tuple(str(n) for n in np.asarray(arrays["class_names"]).ravel())
        if len(names) < num_classes:
            raise ValueError(f"dataset: {str(path)!r}: class_names has {len(names)} names but "
                             f"the labels go up to {num_classes - 1}")
    return ImageDataset(*split["train"], *split["test"], names, path.name)


def _check_declared(declared: dict, path: Path) -> list[str]:
    """Refuse, from the array headers alone, a file that cannot be a data set; what to read."""
    missing = [key for key in NPZ_KEYS if key not in declared]
    if missing:
        raise ValueError(f"dataset: {str(path)!r} lacks the arrays {missing}; an .npz data set "
                         f"holds {', '.join(NPZ_KEYS)}")
    pixels = {}
    for part in ("train", "test"):
        shape, dtype = declared[f"{part}_images"]
        if dtype != np.uint8:
            raise ValueError(f"dataset: {path}: {part}_images must be uint8 pixels 0..255, "
                             f"got {dtype}")
        if len(shape) not in (2, 3) or shape[0] == 0:
            raise ValueError(f"dataset: {path}: {part}_images must be (n, height, width) or "
                             f"(n, pixels) with n > 0, got shape {shape}")
        pixels[part] = math.prod(shape[1:])
        labels_shape, labels_dtype = declared[f"{part}_labels"]
        if labels_shape != shape[:1] or labels_dtype.kind not in "iu":
            raise ValueError(
                f"dataset: {str(path)!r}: {part}_labels must be {shape[0]} integer labels "
                f"(one per image), got {labels_dtype} of shape {labels_shape}"
            )
    if pixels["train"] != pixels["test"]:
        raise ValueError(_sizes_differ(repr(str(path)), declared["train_images"][0],
                                       declared["test_images"][0]))
    if "class_names" in declared:
        shape, dtype = declared["class_names"]
        if dtype.kind not in "US":
            raise ValueError(f"dataset: {str(path)!r}: class_names must be strings, "
                             f"got {dtype}")
        if math.prod(shape) > MAX_CLASSES:
            raise ValueError(f"dataset: {str(path)!r}: class_names holds {math.prod(shape)} "
                             f"names, more than the {MAX_CLASSES} classes a data set may have")
    return [*NPZ_KEYS, "class_names"]


def _class_numbers(labels: np.ndarray, name: str, path: Path) -> np.ndarray:
    """`labels` as int64, or a ValueError naming the first label that is no class number."""
    bad = (labels < 0) | (labels >= MAX_CLASSES)
    if bad.any():
        index = int(np.argmax(bad))
        value = labels[index]
        why = "a negative label" if value < 0 else (
            f"beyond the {MAX_CLASSES} classes a data set may have (MAX_CLASSES)")
        raise ValueError(f"dataset: {str(path)!r}: {name}[{index}] is {value}, {why}; labels "
                         f"are class numbers 0 to {MAX_CLASSES - 1}")
    return labels.astype(np.int64)


def _sizes_differ(what: str, train_shape: tuple, test_shape: tuple) -> str:
    return (f"dataset: {what}: train images are {_image_size(train_shape)} but test images "
            f"are {_image_size(test_shape)}; both sets need images of one size")


def _image_size(shape: tuple) -> str:
    """"28x28" for images (n, 28, 28) or rows (n, 784); "30 pixels" for rows of another length."""
    if len(shape) == 2:
        side = math.isqrt(shape[1])
        return f"{side}x{side}" if side * side == shape[1] else f"{shape[1]} pixels"
    return "x".join(map(str, shape[1:]))


def _square_images(images: np.ndarray, what: str) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"dataset: {what} must be uint8 pixels 0..255, got {images.dtype}")
    if images.ndim == 2:
        side = int(round(np.sqrt(images.shape[1])))
        if side * side != images.shape[1]:
            raise ValueError(f"dataset: {what} rows of {images.shape[1]} pixels are not "
                             "square images")
        images = images.reshape(len(images), side, side)
    if images.ndim != 3 or len(images) == 0:
        raise ValueError(f"dataset: {what} must be (n, height, width) or (n, pixels) with n > 0, "
                         f"got shape {images.shape}")
    return images
