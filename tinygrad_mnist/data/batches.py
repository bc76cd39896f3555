"""Mini-batches: index arrays that cover 0..n-1, shuffled by a given generator."""

from __future__ import annotations

import numbers
from collections.abc import Iterator

import numpy as np

from tinygrad_mnist.data.rng import as_generator


def batches(n: int, batch_size: int | None, rng=None, shuffle: bool = True,
            drop_last: bool = False) -> Iterator[np.ndarray]:
    """Yield index arrays of `batch_size` that together cover `range(n)` once.

    `batch_size=None` yields one batch of everything. With `shuffle`, the order
    is a permutation drawn from `rng` (a Generator, a seed, or None for fresh
    entropy). The last, smaller batch is yielded unless `drop_last`.
    """
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n: expected a non-negative integer count, got {n!r}")
    if batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                   or isinstance(batch_size, bool) or batch_size < 1):
        raise ValueError(f"batch_size: expected a positive integer or None, got {batch_size!r}")
    order = as_generator(rng, "rng").permutation(n) if shuffle else np.arange(n)
    return _slices(order, max(n, 1) if batch_size is None else int(batch_size), drop_last)


def _slices(order: np.ndarray, size: int, drop_last: bool) -> Iterator[np.ndarray]:
    stop = len(order) - len(order) % size if drop_last else len(order)
    for start in range(0, stop, size):
        yield order[start:start + size]
