"""Stratified splits: a holdout split and k folds that keep every class's share.

Both return sorted index arrays into the labels, so one split applies to any
arrays that are row-aligned with them. Randomness comes only from `seed`.
"""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_mnist.data.rng import as_generator


def _class_members(labels, rng: np.random.Generator) -> list[np.ndarray]:
    """The indices of each class (in label order), each shuffled."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"labels: expected a non-empty 1-D array, got shape {labels.shape}")
    _, inverse = np.unique(labels, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse))[:-1]
    return [rng.permutation(members) for members in np.split(order, bounds)]


def _apportion(counts: np.ndarray, fraction: float, total: int,
               rng: np.random.Generator) -> np.ndarray:
    """Integer shares of `total`, each the floor or ceiling of `fraction * count`.

    The largest remainder method: round every share down, then give the units
    left over to the classes that lost the most by it (ties broken at random).
    """
    ideal = counts * fraction
    shares = np.floor(ideal).astype(np.int64)
    left_over = total - int(shares.sum())
    by_remainder = np.lexsort((rng.random(len(counts)), -(ideal - shares)))
    shares[by_remainder[:left_over]] += 1
    return shares


def stratified_split(labels, train_fraction: float,
                     seed=None) -> tuple[np.ndarray, np.ndarray]:
    """Split indices of `labels` into (train_idx, valid_idx), class by class.

    `round(train_fraction * n)` indices go to training, and each class gives it
    within one sample of `train_fraction` of its own members. `seed`: an int, a
    `numpy.random.Generator`, or None for fresh entropy.
    """
    if (not isinstance(train_fraction, numbers.Real) or isinstance(train_fraction, bool)
            or not 0 < train_fraction < 1):
        raise ValueError(f"train_fraction: expected a number strictly between 0 and 1, "
                         f"got {train_fraction!r}")
    rng = as_generator(seed)
    members = _class_members(labels, rng)
    counts = np.array([len(m) for m in members])
    n_train = round(train_fraction * counts.sum())
    if not 0 < n_train < counts.sum():
        raise ValueError(f"train_fraction: {train_fraction} of {counts.sum()} labels leaves "
                         f"{'no training' if n_train == 0 else 'no validation'} examples")
    shares = _apportion(counts, train_fraction, n_train, rng)
    train = np.concatenate([m[:share] for m, share in zip(members, shares)])
    valid = np.concatenate([m[share:] for m, share in zip(members, shares)])
    return np.sort(train), np.sort(valid)


def stratified_kfold(labels, k: int, seed=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """`k` folds of the indices of `labels`: a list of (train_idx, valid_idx) pairs.

    The validation parts are disjoint and cover every index; each holds each
    class's members to within one of `1/k` of them, and their sizes differ by at
    most one. Needs 2 <= k <= the size of the smallest class.
    """
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or k < 2:
        raise ValueError(f"k: expected an integer of at least 2 folds, got {k!r}")
    rng = as_generator(seed)
    members = _class_members(labels, rng)
    smallest = min(len(m) for m in members)
    if k > smallest:
        raise ValueError(f"k: {k} folds need at least {k} examples of every class; "
                         f"the smallest class has {smallest}")
    fold_of = np.empty(sum(len(m) for m in members), np.int64)
    dealt = 0
    for class_members in members:
        # Deal each class round the folds like cards, starting where the last class
        # stopped, so the folds' sizes stay within one of each other.
        fold_of[class_members] = (dealt + np.arange(len(class_members))) % k
        dealt += len(class_members)
    return [(np.flatnonzero(fold_of != fold), np.flatnonzero(fold_of == fold))
            for fold in range(k)]
