"""A data set as the trainer takes it: features and labels, row for row."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features `x` and labels `y` with one row each per example.

    Unpacks as a pair (`x, y = dataset`); `subset(indices)` picks rows of both.
    """

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        x, y = np.asarray(self.x), np.asarray(self.y)
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"Dataset: x and y need one row per example, got shapes "
                             f"x {x.shape} and y {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"Dataset: x has {len(x)} rows but y has {len(y)}; "
                             "they must have one row each per example")
        # A frozen dataclass: set the converted arrays through object's setattr.
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return len(self.x)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.x, self.y))

    def subset(self, indices) -> Dataset:
        """The examples at `indices` (an index array or boolean mask), as a new Dataset."""
        indices = np.asarray(indices)
        return Dataset(self.x[indices], self.y[indices])
