"""What the examples share: the data they train on, and their quick mode.

Set `TINYGRAD_MNIST_QUICK=1` to run any example in seconds (the test suite does):

- the data: MNIST cut to its first 2,000 training and 500 test images when MNIST is
  already in the cache; otherwise a small synthetic MNIST-shaped set (see
  `tinygrad_mnist.data.by_name.synthetic_digits`). A quick run never downloads anything.
- fewer epochs (`epochs(full, quick)`).

Without it, the examples fetch MNIST if need be and train on all of it.
"""

from __future__ import annotations

import os
from pathlib import Path

from tinygrad_mnist.data import FetchError
from tinygrad_mnist.data.by_name import ImageDataset, load_named_dataset, synthetic_digits

QUICK = os.environ.get("TINYGRAD_MNIST_QUICK") == "1"
QUICK_TRAIN, QUICK_TEST = 2000, 500


def load_data() -> ImageDataset:
    """MNIST, or in quick mode a small subset of it (if cached) or of synthetic digits."""
    if not QUICK:
        return load_named_dataset("mnist")
    try:
        data = load_named_dataset("mnist", download=False)
    except FetchError:
        data = synthetic_digits(QUICK_TRAIN, QUICK_TEST)
    data = data.subset(QUICK_TRAIN, QUICK_TEST)
    print(f"quick mode: {data.title}, {len(data.train_labels):,} training and "
          f"{len(data.test_labels):,} test images")
    return data


def epochs(full: int, quick: int = 2) -> int:
    """`full` epochs normally, `quick` in quick mode."""
    return quick if QUICK else full


def output(name: str) -> Path:
    """Where an example writes its file `name`: `example-output/` in the current folder."""
    folder = Path("example-output")
    folder.mkdir(exist_ok=True)
    return folder / name
