"""Loss values against plain formulas, stability, and what each loss accepts."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist import Tensor, nn


def reference_cross_entropy(logits, labels):
    logits = np.asarray(logits, dtype=np.float64)
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return -log_probabilities[np.arange(len(labels)), labels]


@given(st.integers(1, 6), st.integers(2, 6), st.integers(0, 2**32 - 1))
def test_cross_entropy_matches_the_formula_for_labels_and_one_hot(batch, classes, seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(batch, classes)) * 3
    labels = rng.integers(0, classes, batch)
    expected = reference_cross_entropy(logits, labels)
    one_hot = np.eye(classes)[labels]
    for target in (labels, Tensor(labels, dtype=np.int64), one_hot, Tensor(one_hot)):
        mean = nn.CrossEntropyLoss()(Tensor(logits), target).item()
        total = nn.CrossEntropyLoss("sum")(Tensor(logits), target).item()
        np.testing.assert_allclose(mean, expected.mean(), rtol=1e-6)
        np.testing.assert_allclose(total, expected.sum(), rtol=1e-6)


def test_cross_entropy_backward_is_softmax_minus_target_scaled():
    logits = Tensor(np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]), requires_grad=True)
    labels = np.array([2, 0])
    loss = nn.CrossEntropyLoss()(logits, labels)
    assert loss.op is nn.losses.CrossEntropyWithLabels and loss.inputs[0] is logits  # one node
    loss.backward()
    softmax = np.exp(logits.data) / np.exp(logits.data).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(logits.grad, (softmax - np.eye(3)[labels]) / 2, rtol=1e-12)


def test_cross_entropy_accepts_labels_that_went_through_a_float_tensor():
    logits = Tensor(np.zeros((3, 4)))
    loss = nn.CrossEntropyLoss()(logits, Tensor(np.array([0, 3, 1])))  # float32 labels
    np.testing.assert_allclose(loss.item(), np.log(4), rtol=1e-6)


@pytest.mark.parametrize("magnitude", [1e4, 1e6, 1e30])
def test_cross_entropy_is_finite_and_silent_for_huge_logits(magnitude):
    logits = Tensor(np.array([[1.0, -1.0, 0.5], [-1.0, 1.0, 0.0]], dtype=np.float32) * magnitude,
                    requires_grad=True)
    loss = nn.CrossEntropyLoss()(logits, np.array([0, 0]))  # one right, one badly wrong
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(logits.grad))
    np.testing.assert_allclose(loss.item(), 2 * magnitude / 2, rtol=1e-5)
    soft = nn.CrossEntropyLoss()(logits, np.eye(3)[[0, 1]])
    assert np.isfinite(soft.item())


def test_cross_entropy_keeps_the_logits_dtype():
    logits = Tensor(np.zeros((2, 3), dtype=np.float32))
    assert nn.CrossEntropyLoss()(logits, [0, 1]).dtype == np.float32


@pytest.mark.parametrize("target, message", [
    (np.array([0, 3]), r"labels must lie in \[0, 3\), got values from 0 to 3"),
    (np.array([-1, 0]), r"labels must lie in \[0, 3\)"),
    (np.array([0.5, 1.0]), "labels must be integers"),
    (np.array([0, 1, 2]), r"target must be 2 integer labels"),
    (np.zeros((2, 4)), r"target must be 2 integer labels .* or one-hot rows"),
])
def test_cross_entropy_refuses_bad_targets(target, message):
    with pytest.raises(ValueError, match=message):
        nn.CrossEntropyLoss()(Tensor(np.zeros((2, 3))), target)


def test_cross_entropy_refuses_logits_that_are_not_a_batch_of_rows():
    with pytest.raises(ValueError, match=r"logits must have shape \(batch, classes\)"):
        nn.CrossEntropyLoss()(Tensor(np.zeros(3)), np.array([0]))


@pytest.mark.parametrize("loss", [nn.CrossEntropyLoss, nn.MSELoss])
def test_an_unknown_reduction_is_refused(loss):
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum'\), got 'max'"):
        loss("max")


def test_mse_matches_the_formula():
    prediction = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    target = np.array([[0.0, 2.0], [5.0, 4.0]])
    assert nn.MSELoss()(prediction, target).item() == pytest.approx(5 / 4)
    assert nn.MSELoss("sum")(prediction, target).item() == pytest.approx(5)
    with pytest.raises(ValueError, match=r"target must have the prediction's shape"):
        nn.MSELoss()(prediction, np.zeros(2))


def test_loss_repr_shows_the_reduction():
    assert repr(nn.CrossEntropyLoss("sum")) == "CrossEntropyLoss(reduction='sum')"
