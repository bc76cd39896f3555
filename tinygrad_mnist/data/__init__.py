"""MNIST data: fetch, verify and cache it; read IDX and CSV; prepare, split and batch it.

Plain NumPy; nothing here knows about training.
"""

from tinygrad_mnist.data.augment import RandomShift
from tinygrad_mnist.data.batches import batches
from tinygrad_mnist.data.checksums import FASHION_MNIST_SHA256, MNIST_SHA256, ChecksumError
from tinygrad_mnist.data.dataset import Dataset
from tinygrad_mnist.data.fetch import FetchError
from tinygrad_mnist.data.idx import read_idx, write_idx
from tinygrad_mnist.data.images import (
    Framing,
    frame_digit,
    frame_picture,
    read_digit,
    read_digit_image,
)
from tinygrad_mnist.data.mnist import (
    FASHION_MNIST,
    MNIST,
    IdxSpec,
    default_cache_dir,
    fetch_dataset,
    fetch_mnist,
    load_fashion_mnist,
    load_mnist,
    read_mnist_idx,
)
from tinygrad_mnist.data.mnist_csv import read_mnist_csv
from tinygrad_mnist.data.package_index import PackageIndex
from tinygrad_mnist.data.prepare import one_hot, prepare_images
from tinygrad_mnist.data.sources import CsvDirectory, IdxDirectory, Mirror, SourceUnavailable
from tinygrad_mnist.data.splits import stratified_kfold, stratified_split

__all__ = [
    "FASHION_MNIST",
    "FASHION_MNIST_SHA256",
    "MNIST",
    "MNIST_SHA256",
    "ChecksumError",
    "CsvDirectory",
    "Dataset",
    "FetchError",
    "IdxSpec",
    "IdxDirectory",
    "Mirror",
    "PackageIndex",
    "RandomShift",
    "SourceUnavailable",
    "batches",
    "default_cache_dir",
    "fetch_dataset",
    "fetch_mnist",
    "Framing",
    "frame_digit",
    "frame_picture",
    "load_fashion_mnist",
    "load_mnist",
    "one_hot",
    "prepare_images",
    "read_digit",
    "read_digit_image",
    "read_idx",
    "read_mnist_csv",
    "read_mnist_idx",
    "stratified_kfold",
    "stratified_split",
    "write_idx",
]
