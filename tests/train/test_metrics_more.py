"""Precision, recall, F1 and top-k accuracy, against their definitions."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist.train import macro_average, precision_recall_f1, top_k_accuracy


def test_precision_recall_f1_on_a_small_case():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 0, 0])
    scores = precision_recall_f1(y_true, y_pred, num_classes=4)
    np.testing.assert_allclose(scores["precision"][:3], [2 / 4, 1 / 2, np.nan])
    np.testing.assert_allclose(scores["recall"][:3], [2 / 3, 1 / 2, 0.0])
    np.testing.assert_allclose(scores["f1"][:2], [2 * (0.5 * 2 / 3) / (0.5 + 2 / 3), 0.5])
    assert np.isnan(scores["f1"][2])  # never predicted: precision and F1 undefined
    assert np.isnan(scores["recall"][3])  # absent from y_true
    assert macro_average(scores["recall"]) == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    assert np.isnan(macro_average([np.nan]))


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=60))
def test_per_class_scores_match_their_definitions(pairs):
    y_true, y_pred = (np.array(column) for column in zip(*pairs))
    scores = precision_recall_f1(y_true, y_pred, num_classes=5)
    for c in range(5):
        tp = np.sum((y_pred == c) & (y_true == c))
        if np.sum(y_pred == c):
            assert scores["precision"][c] == pytest.approx(tp / np.sum(y_pred == c))
        if np.sum(y_true == c):
            assert scores["recall"][c] == pytest.approx(tp / np.sum(y_true == c))
        if np.sum(y_pred == c) and np.sum(y_true == c):
            assert scores["f1"][c] == pytest.approx(2 * tp / (np.sum(y_pred == c)
                                                              + np.sum(y_true == c)))


def test_top_k_accuracy_counts_the_true_class_among_the_k_best():
    probabilities = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.3, 0.3, 0.4]])
    labels = np.array([1, 2, 0])
    assert top_k_accuracy(labels, probabilities, k=1) == pytest.approx(1 / 3)
    assert top_k_accuracy(labels, probabilities, k=2) == pytest.approx(3 / 3)
    assert top_k_accuracy(labels, probabilities, k=3) == 1.0
    with pytest.raises(ValueError, match="top_k_accuracy: k must be a positive int"):
        top_k_accuracy(labels, probabilities, k=0)
