"""The Trainer scores every batch by calling the loss (its `forward`, checks included): no
second protocol on `Loss`, so a subclass's own forward is never skipped."""

import numpy as np
import pytest

from tinygrad_mnist import nn, optim
from tinygrad_mnist.train import Trainer


def _data(n=40, features=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype(np.float32), rng.integers(0, classes, n)


def _trainer(loss=None, batch_size=8):
    model = nn.MLP(5, [4], 3, seed=0)
    return Trainer(model, loss or nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                   batch_size=batch_size, seed=0)


def test_a_bad_label_in_the_last_batch_is_refused_naming_it():
    x, y = _data()
    y[-1] = 7  # out of range for 3 classes, in the last batch of an unshuffled order
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\).*0 to 7"):
        _trainer().fit((x, y), epochs=1)


def test_float_labels_that_are_whole_numbers_train_like_int_labels():
    x, y = _data()
    with_ints, with_floats = _trainer(), _trainer()
    with_ints.fit((x, y), epochs=2)
    with_floats.fit((x, y.astype(np.float32)), epochs=2)
    for a, b in zip(with_ints.model.parameters(), with_floats.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_one_hot_rows_score_as_labels_and_bad_rows_are_refused():
    loss = nn.CrossEntropyLoss()
    logits = np.random.default_rng(1).normal(size=(6, 4))
    labels = np.array([0, 3, 1, 1, 2, 0])
    one_hot = np.eye(4)[labels]
    np.testing.assert_allclose(loss(logits, one_hot).item(), loss(logits, labels).item())
    with pytest.raises(ValueError, match="sum to 1"):
        loss(logits, one_hot * 2)


class OwnScore(nn.CrossEntropyLoss):
    """A loss whose methods named like the old batch-scoring protocol mean something else."""

    calls = 0

    def forward(self, logits, target):
        OwnScore.calls += 1
        return super().forward(logits, target)

    def check_target(self, target, shape):
        pass

    def score(self, logits, target):
        raise AssertionError("the Trainer called a method of the loss's own, not forward")


def test_the_loss_has_one_method_the_trainer_calls_forward_on_every_batch():
    assert not hasattr(nn.Loss, "check_target") and not hasattr(nn.Loss, "score")
    x, y = _data()
    OwnScore.calls = 0
    _trainer(OwnScore()).fit((x, y), epochs=1)
    assert OwnScore.calls == 40 // 8


class SmoothedCrossEntropy(nn.CrossEntropyLoss):
    """A subclass with a forward of its own: the Trainer must call it on every batch."""

    calls = 0

    def forward(self, logits, target):
        SmoothedCrossEntropy.calls += 1
        return super().forward(logits, target) * 0.5


def test_a_subclass_forward_is_called_for_every_batch():
    x, y = _data()
    SmoothedCrossEntropy.calls = 0
    _trainer(SmoothedCrossEntropy()).fit((x, y), epochs=1)
    assert SmoothedCrossEntropy.calls == 40 // 8


def test_a_plain_function_works_as_the_loss():
    x, y = _data()
    cross_entropy = nn.CrossEntropyLoss()
    history = _trainer(lambda logits, target: cross_entropy(logits, target)).fit((x, y), epochs=1)
    assert np.isfinite(history.train_loss[0])


def test_gradients_are_there_for_batch_callbacks_and_released_after():
    from tinygrad_mnist.train import Callback

    seen = []

    class GradientNorms(Callback):
        def on_batch_end(self, trainer, batch, loss):
            seen.append([p.grad is not None for p in trainer.model.parameters()])

    x, y = _data()
    trainer = _trainer()
    trainer.callbacks.append(GradientNorms())
    trainer.fit((x, y), epochs=1)
    assert len(seen) == 5 and all(all(batch) for batch in seen)
    assert all(p.grad is None for p in trainer.model.parameters())


def test_a_gradient_left_before_fit_does_not_add_into_the_first_step():
    x, y = _data()
    fresh, stale = _trainer(), _trainer()
    for p in stale.model.parameters():
        p.grad = np.full(p.shape, 100.0, dtype=p.dtype)
    fresh.fit((x, y), epochs=1)
    stale.fit((x, y), epochs=1)
    for a, b in zip(fresh.model.parameters(), stale.model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)
