"""Stratified holdout split, stratified k folds and mini-batches: properties under hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist.data import batches, stratified_kfold, stratified_split

seeds = st.integers(0, 2**32 - 1)
label_lists = st.lists(st.integers(0, 4), min_size=2, max_size=150)


@st.composite
def labels_with_classes_of_at_least(draw, smallest):
    """Shuffled labels where every class has at least `smallest` members."""
    counts = draw(st.lists(st.integers(smallest, 25), min_size=1, max_size=5))
    labels = np.repeat(np.arange(len(counts)) * 3 + 1, counts)  # labels need not be 0..c-1
    return draw(st.permutations(labels.tolist()))


def _class_counts(labels, indices):
    return {c: int(np.sum(labels[indices] == c)) for c in np.unique(labels)}


@given(labels=label_lists, train_fraction=st.floats(0.01, 0.99), seed=seeds)
def test_holdout_split_properties(labels, train_fraction, seed):
    labels = np.array(labels)
    n = len(labels)
    n_train = round(train_fraction * n)
    if not 0 < n_train < n:
        with pytest.raises(ValueError, match="train_fraction"):
            stratified_split(labels, train_fraction, seed)
        return
    train, valid = stratified_split(labels, train_fraction, seed)
    assert len(np.intersect1d(train, valid)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, valid])), np.arange(n))
    assert len(train) == n_train
    everyone = _class_counts(labels, np.arange(n))
    in_train = _class_counts(labels, train)
    for c, count in everyone.items():
        assert abs(in_train[c] - train_fraction * count) < 1
    again = stratified_split(labels, train_fraction, np.random.default_rng(seed))
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], valid)


@given(data=st.data(), k=st.integers(2, 6), seed=seeds)
def test_kfold_properties(data, k, seed):
    labels = np.array(data.draw(labels_with_classes_of_at_least(k)))
    n = len(labels)
    folds = stratified_kfold(labels, k, seed)
    assert len(folds) == k
    valids = [valid for _, valid in folds]
    np.testing.assert_array_equal(np.sort(np.concatenate(valids)), np.arange(n))  # disjoint, all
    everyone = _class_counts(labels, np.arange(n))
    for train, valid in folds:
        assert len(np.intersect1d(train, valid)) == 0
        np.testing.assert_array_equal(np.sort(np.concatenate([train, valid])), np.arange(n))
        for c, count in _class_counts(labels, valid).items():
            assert abs(count - everyone[c] / k) < 1
    sizes = [len(valid) for valid in valids]
    assert max(sizes) - min(sizes) <= 1
    for (train, valid), (train2, valid2) in zip(folds, stratified_kfold(labels, k, seed)):
        np.testing.assert_array_equal(train, train2)
        np.testing.assert_array_equal(valid, valid2)


def test_different_seeds_give_different_splits():
    labels = np.arange(200) % 4
    assert not np.array_equal(stratified_split(labels, 0.5, 0)[0],
                              stratified_split(labels, 0.5, 1)[0])
    assert not np.array_equal(stratified_kfold(labels, 3, 0)[0][1],
                              stratified_kfold(labels, 3, 1)[0][1])


@pytest.mark.parametrize("k", [1, 0, -3, 2.5, True, 5])
def test_bad_k_is_a_value_error_naming_k(k):
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1])
    with pytest.raises(ValueError, match=r"^k: "):
        stratified_kfold(labels, k, seed=0)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.1, "0.5", None])
def test_bad_train_fraction_is_a_value_error_naming_it(fraction):
    with pytest.raises(ValueError, match=r"^train_fraction: "):
        stratified_split(np.arange(10) % 2, fraction, seed=0)


def test_bad_labels_and_seeds():
    with pytest.raises(ValueError, match="labels: expected a non-empty 1-D"):
        stratified_split(np.zeros((2, 2)), 0.5)
    with pytest.raises(ValueError, match="labels"):
        stratified_kfold([], 2)
    with pytest.raises(TypeError, match="seed: expected None, an int or a numpy.random"):
        stratified_split(np.arange(10) % 2, 0.5, seed=np.random.RandomState(0))
    with pytest.raises(ValueError, match="seed: expected a non-negative"):
        stratified_kfold(np.arange(10) % 2, 2, seed=-1)


def test_nothing_touches_numpy_global_random_state():
    np.random.seed(1234)
    state = np.random.get_state()
    labels = np.arange(60) % 3
    stratified_split(labels, 0.7)
    stratified_kfold(labels, 4)
    list(batches(60, 7))
    after = np.random.get_state()
    assert state[0] == after[0] and np.array_equal(state[1], after[1]) and state[2:] == after[2:]


@given(n=st.integers(0, 300), batch_size=st.integers(1, 64), seed=seeds,
       drop_last=st.booleans())
def test_batches_cover_every_index_once(n, batch_size, seed, drop_last):
    got = list(batches(n, batch_size, rng=seed, drop_last=drop_last))
    sizes = [len(b) for b in got]
    full, rest = divmod(n, batch_size)
    assert sizes == [batch_size] * full + ([] if drop_last or rest == 0 else [rest])
    flat = np.concatenate(got) if got else np.zeros(0, np.int64)
    assert len(np.unique(flat)) == len(flat)
    if not drop_last:
        np.testing.assert_array_equal(np.sort(flat), np.arange(n))
    again = list(batches(n, batch_size, rng=np.random.default_rng(seed), drop_last=drop_last))
    assert all(np.array_equal(a, b) for a, b in zip(got, again)) and len(got) == len(again)


def test_batches_shuffle_or_not_and_full_batch():
    ordered = list(batches(10, 4, shuffle=False))
    assert [b.tolist() for b in ordered] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    shuffled = np.concatenate(list(batches(100, 30, rng=0)))
    assert not np.array_equal(shuffled, np.arange(100))
    (everything,) = list(batches(10, None, rng=0))
    np.testing.assert_array_equal(np.sort(everything), np.arange(10))
    assert list(batches(0, None)) == []
    assert list(batches(3, 5, drop_last=True)) == []


def test_a_generator_continues_its_stream_across_epochs():
    rng = np.random.default_rng(0)
    first = np.concatenate(list(batches(50, 10, rng=rng)))
    second = np.concatenate(list(batches(50, 10, rng=rng)))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("n, batch_size, what", [
    (-1, 2, "n: "), (2.5, 2, "n: "), (10, 0, "batch_size: "), (10, 1.5, "batch_size: "),
])
def test_bad_batch_arguments_fail_at_once(n, batch_size, what):
    with pytest.raises(ValueError, match=what):
        batches(n, batch_size)  # no iteration needed: checked when called
