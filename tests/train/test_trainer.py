"""Trainer, callbacks, History and metrics on small synthetic data."""

import io
import math
import sys

import numpy as np
import pytest
from support.synthetic import blobs

from tinygrad_mnist import Tensor, nn, optim
from tinygrad_mnist.data import Dataset
from tinygrad_mnist.train import (
    Callback,
    DivergenceGuard,
    EarlyStopping,
    History,
    ModelCheckpoint,
    ProgressBar,
    Trainer,
    accuracy,
    confident_mistakes,
    confusion_matrix,
    per_class_accuracy,
)


def make_trainer(lr=0.1, batch_size=32, seed=0, callbacks=(), hidden=(16,), **kwargs):
    model = nn.MLP(8, list(hidden), 3, seed=seed)
    return Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr),
                   batch_size=batch_size, seed=seed, callbacks=callbacks, **kwargs)


class Recorder(Callback):
    """Remembers every call and the weights after each epoch."""

    def __init__(self):
        self.calls, self.weights, self.logs = [], [], []

    def on_train_begin(self, trainer):
        self.calls.append("train_begin")

    def on_epoch_begin(self, trainer, epoch):
        self.calls.append(f"epoch_begin {epoch}")

    def on_batch_end(self, trainer, batch, loss):
        self.calls.append(f"batch {batch}")

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append(f"epoch_end {epoch}")
        self.logs.append(dict(logs))
        self.weights.append(trainer.model.state_dict())

    def on_train_end(self, trainer, history):
        self.calls.append(f"train_end {history.stopped_reason}")


# ----------------------------------------------------------------------- Trainer
def test_fit_learns_separable_data_and_history_is_complete():
    x, y = blobs()
    trainer = make_trainer()
    history = trainer.fit((x[:200], y[:200]), Dataset(x[200:], y[200:]), epochs=5)
    assert history.epochs_run == 5 and history.stopped_reason == "completed"
    assert history.status == "ok"
    for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds", "lr"):
        assert len(getattr(history, name)) == 5
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_accuracy[-1] > 0.9
    assert history.lr == [0.1] * 5
    assert history.best_epoch == int(np.argmin(history.val_loss)) + 1
    scores = trainer.evaluate((x[200:], y[200:]))
    assert scores.accuracy == pytest.approx(history.val_accuracy[-1])
    assert scores.loss == pytest.approx(history.val_loss[-1], rel=1e-5)


def test_callbacks_are_called_in_order_with_the_documented_logs():
    x, y = blobs(n=64)
    recorder = Recorder()
    make_trainer(batch_size=32, callbacks=[recorder]).fit((x, y), epochs=2)
    assert recorder.calls == ["train_begin", "epoch_begin 1", "batch 0", "batch 1", "epoch_end 1",
                              "epoch_begin 2", "batch 0", "batch 1", "epoch_end 2",
                              "train_end completed"]
    assert set(recorder.logs[0]) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy",
                                     "seconds", "lr"}
    assert math.isnan(recorder.logs[0]["val_loss"])  # no validation data given


def test_full_batch_takes_one_step_per_epoch_on_the_whole_set():
    x, y = blobs(n=50)
    recorder = Recorder()
    trainer = make_trainer(batch_size=None, callbacks=[recorder])
    trainer.fit((x, y), epochs=3)
    assert recorder.calls.count("batch 0") == 3 and "batch 1" not in recorder.calls


def test_full_batch_matches_a_hand_written_gradient_descent_loop():
    x, y = blobs(n=40)
    trainer = make_trainer(batch_size=None, lr=0.3, seed=1)
    reference = nn.MLP(8, [16], 3, seed=1)
    sgd = optim.SGD(reference.parameters(), lr=0.3)
    loss = nn.CrossEntropyLoss()
    trainer.fit((x, y), epochs=4)
    for _ in range(4):
        sgd.zero_grad()
        loss(reference(Tensor(x)), y).backward()
        sgd.step()
    for name, value in reference.state_dict().items():
        np.testing.assert_array_equal(trainer.model.state_dict()[name], value)


def test_mini_batches_visit_every_example_once_per_epoch_in_a_seeded_order():
    x, y = blobs(n=70)
    seen = []

    class Spy(nn.Layer):
        def __init__(self):
            self.inner = nn.MLP(8, [4], 3, seed=0)

        def forward(self, inputs):
            if self.training:
                seen.append(inputs.data[:, 0].copy())
            return self.inner(inputs)

    def run(seed):
        seen.clear()
        model = Spy()
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                          batch_size=32, seed=seed)
        trainer.fit((x, y), epochs=2)
        return [batch.copy() for batch in seen]

    first = run(seed=5)
    assert [len(b) for b in first] == [32, 32, 6, 32, 32, 6]  # last batch kept
    epoch_one = np.sort(np.concatenate(first[:3]))
    np.testing.assert_array_equal(epoch_one, np.sort(x[:, 0]))
    assert not np.array_equal(np.concatenate(first[:3]), np.concatenate(first[3:]))
    again = run(seed=5)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)


def test_predict_and_predict_proba_work_in_chunks_without_a_graph():
    x, y = blobs(n=100)
    trainer = make_trainer()
    trainer.fit((x, y), epochs=3)
    trainer.eval_batch_size = 7  # force several chunks (a plain attribute: no state to redo)
    probabilities = trainer.predict_proba(x)
    assert probabilities.shape == (100, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    predictions = trainer.predict(x)
    np.testing.assert_array_equal(predictions, probabilities.argmax(axis=1))
    trainer.eval_batch_size = 4096
    np.testing.assert_array_equal(trainer.predict(x), predictions)
    assert trainer.model.training  # evaluation mode was switched back


def test_evaluate_gives_the_mean_loss_and_accuracy_whatever_the_chunk_size():
    x, y = blobs(n=101)
    trainer = make_trainer()
    whole = trainer.evaluate((x, y))
    trainer.eval_batch_size = 10
    chunked = trainer.evaluate((x, y))
    assert chunked.accuracy == whole.accuracy
    assert chunked.loss == pytest.approx(whole.loss, rel=1e-5)
    assert whole.accuracy == accuracy(y, trainer.predict(x))
    np.testing.assert_allclose(chunked.probabilities, whole.probabilities, rtol=1e-5)
    assert whole.scores() == {"loss": whole.loss, "accuracy": whole.accuracy}


def test_scheduler_steps_once_per_epoch_and_history_records_each_rate():
    x, y = blobs(n=64)
    model = nn.MLP(8, [4], 3, seed=0)
    sgd = optim.SGD(model.parameters(), lr=0.4)
    trainer = Trainer(model, nn.CrossEntropyLoss(), sgd, batch_size=None,
                      scheduler=optim.CosineLR(sgd, total_epochs=4))
    history = trainer.fit((x, y), epochs=4)
    assert history.lr[0] == pytest.approx(0.4)
    assert all(a > b for a, b in zip(history.lr, history.lr[1:]))


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_bad_batch_size_and_epochs_are_value_errors(bad):
    with pytest.raises(ValueError, match="batch_size"):
        make_trainer(batch_size=bad)
    x, y = blobs(n=10)
    if not isinstance(bad, float):
        with pytest.raises(ValueError, match="epochs"):
            make_trainer().fit((x, y), epochs=bad)


def test_bad_data_is_a_clear_error():
    trainer = make_trainer()
    x, y = blobs(n=10)
    with pytest.raises(ValueError, match="train: x has 10 rows but y has 9"):
        trainer.fit((x, y[:9]))
    with pytest.raises(TypeError, match="train: expected a Dataset or an"):
        trainer.fit(x)
    with pytest.raises(ValueError, match="at least one example"):
        trainer.evaluate((x[:0], y[:0]))
    with pytest.raises(TypeError, match="callbacks"):
        make_trainer(callbacks=[print])


def test_keyboard_interrupt_marks_the_history_and_still_ends_callbacks():
    x, y = blobs(n=64)
    recorder = Recorder()

    class Interrupt(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            if epoch == 2:
                raise KeyboardInterrupt

    trainer = make_trainer(callbacks=[recorder, Interrupt()])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit((x, y), epochs=5)
    assert trainer.history.stopped_reason == "interrupted"
    assert trainer.history.epochs_run == 2
    assert recorder.calls[-1] == "train_end interrupted"


# ------------------------------------------------------------- early stopping
def rising_validation_problem():
    """Train: every x is 1 with label 0, so each step pushes the margin logit0 - logit1 up.

    Validation: the same x with 3 labels 0 to 1 label 1, whose loss is lowest at a margin
    of log 3 and rises beyond it. So the validation loss falls, then rises for good.
    """
    x_train, y_train = np.ones((8, 1), np.float32), np.zeros(8, np.int64)
    x_valid, y_valid = np.ones((4, 1), np.float32), np.array([0, 0, 0, 1])
    model = nn.MLP(1, [], 2, init="zeros", seed=0)
    return model, (x_train, y_train), (x_valid, y_valid)


@pytest.mark.parametrize("patience", [0, 1, 3])
def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights(patience):
    model, train, valid = rising_validation_problem()
    recorder = Recorder()
    stopper = EarlyStopping(patience=patience)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05),
                      batch_size=None, callbacks=[recorder, stopper])
    history = trainer.fit(train, valid, epochs=100)
    losses = history.val_loss
    best = int(np.argmin(losses)) + 1
    assert 5 < best < 40  # the loss really fell for a while
    assert all(a > b for a, b in zip(losses[:best - 1], losses[1:best]))  # fell to the best
    assert all(a < b for a, b in zip(losses[best - 1:], losses[best:]))  # then rose
    assert history.stopped_reason == "early-stopped" and history.status == "early-stopped"
    assert history.epochs_run == best + max(patience, 1)
    assert history.best_epoch == best == stopper.best_epoch
    for name, value in recorder.weights[best - 1].items():
        np.testing.assert_array_equal(model.state_dict()[name], value)
    assert trainer.evaluate(valid).loss == pytest.approx(losses[best - 1], rel=1e-6)


def test_early_stopping_without_restoring_keeps_the_last_weights():
    model, train, valid = rising_validation_problem()
    recorder = Recorder()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05),
                      batch_size=None,
                      callbacks=[recorder, EarlyStopping(patience=2, restore_best_weights=False)])
    trainer.fit(train, valid, epochs=100)
    for name, value in recorder.weights[-1].items():
        np.testing.assert_array_equal(model.state_dict()[name], value)


def test_early_stopping_on_accuracy_maximises_and_min_delta_counts():
    stopper = EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.05)

    class Fake:
        has_validation = True
        stop_reason = None

        def stop(self, reason):
            self.stop_reason = reason

        class model:
            @staticmethod
            def state_dict():
                return {}

    trainer = Fake()
    stopper.on_train_begin(trainer)
    logs = {"val_accuracy": 0.5}
    stopper.on_epoch_end(trainer, 1, logs)
    stopper.on_epoch_end(trainer, 2, {"val_accuracy": 0.53})  # within min_delta: no gain
    assert trainer.stop_reason == "early-stopped" and stopper.best_epoch == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"patience": -1}, "patience"), ({"patience": 1.5}, "patience"),
    ({"mode": "up"}, "mode"), ({"min_delta": -0.1}, "min_delta"),
])
def test_early_stopping_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        EarlyStopping(**kwargs)


def test_monitoring_validation_figures_without_validation_data_is_an_error():
    x, y = blobs(n=20)
    with pytest.raises(ValueError, match="needs validation data"):
        make_trainer(callbacks=[EarlyStopping()]).fit((x, y), epochs=2)
    history = make_trainer(callbacks=[EarlyStopping(monitor="train_loss")]).fit((x, y), epochs=2)
    assert history.epochs_run == 2
    with pytest.raises(ValueError, match="not a logged figure"):
        make_trainer(callbacks=[EarlyStopping(monitor="train_los")]).fit((x, y), epochs=2)


# ----------------------------------------------------------- divergence guard
def test_divergence_guard_is_added_by_default_and_stops_a_diverging_run():
    x, y = blobs()
    trainer = make_trainer(lr=1e3, batch_size=16)
    assert any(isinstance(c, DivergenceGuard) for c in trainer.callbacks)
    history = trainer.fit((x, y), (x, y), epochs=50)
    assert history.stopped_reason == "diverged" and history.status == "diverged"
    assert history.epochs_run < 50
    assert not math.isfinite(history.train_loss[-1])
    assert math.isnan(history.train_accuracy[-1]) and math.isnan(history.val_accuracy[-1])
    # A guard given explicitly is not doubled.
    callbacks = make_trainer(callbacks=[DivergenceGuard()]).callbacks
    assert sum(isinstance(c, DivergenceGuard) for c in callbacks) == 1


def test_divergence_wins_over_early_stopping_as_the_reason():
    x, y = blobs()
    history = make_trainer(lr=1e3, batch_size=16, callbacks=[EarlyStopping(patience=0)]).fit(
        (x, y), (x, y), epochs=50)
    assert history.stopped_reason == "diverged"


# ------------------------------------------------------- checkpoint, progress
def test_model_checkpoint_holds_the_best_epochs_weights(tmp_path):
    model, train, valid = rising_validation_problem()
    recorder = Recorder()
    checkpoint = ModelCheckpoint(tmp_path / "best.npz")
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05),
                      batch_size=None, callbacks=[recorder, checkpoint])
    history = trainer.fit(train, valid, epochs=40)
    best = int(np.argmin(history.val_loss)) + 1
    assert checkpoint.best_epoch == best < 40
    saved = nn.MLP(1, [], 2, init="zeros").load(tmp_path / "best.npz")
    for name, value in recorder.weights[best - 1].items():
        np.testing.assert_array_equal(saved.state_dict()[name], value)


def test_progress_bar_is_silent_off_a_terminal_and_draws_when_enabled(monkeypatch):
    x, y = blobs(n=100)
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    make_trainer(callbacks=[ProgressBar()]).fit((x, y), epochs=2)
    assert stream.getvalue() == ""
    bar = ProgressBar(enabled=True, description="fold 10/10")
    bar.refresh_seconds = 0  # draw every batch, however fast
    history = make_trainer(batch_size=10, callbacks=[bar]).fit((x, y), (x, y), epochs=2)
    # tqdm redraws with carriage returns; the epoch lines stay, each on a line of its own.
    screens = [part for line in stream.getvalue().split("\n") for part in line.split("\r")]
    assert screens and max(len(screen) for screen in screens) <= 80
    assert any("| 10/10 [" in screen and " acc " in screen for screen in screens)  # per batch
    kept = [s for s in screens if s.startswith("fold 10/10 epoch") and s.endswith("s")
            and "batch" not in s]
    assert len(kept) == 2 and kept[1].startswith("fold 10/10 epoch 2/2: loss ")
    assert f"val loss {history.val_loss[1]:.4f}" in kept[1]
    assert f"acc {history.val_accuracy[1]:.2%}" in kept[1]


# ----------------------------------------------------------------------- History
def test_history_round_trips_through_dict_and_json(tmp_path):
    history = History(train_loss=[1.0, float("nan")], train_accuracy=[0.5, 0.25],
                      val_loss=[1.5, float("inf")], val_accuracy=[0.4, 0.1], seconds=[0.1, 0.2],
                      lr=[0.1, 0.1], best_epoch=1, stopped_reason="diverged")
    data = history.to_dict()
    assert data["train_loss"] == [1.0, None] and data["val_loss"] == [1.5, None]
    back = History.from_dict(data)
    assert back.train_accuracy == history.train_accuracy and back.best_epoch == 1
    assert math.isnan(back.train_loss[1]) and back.status == "diverged" and back.epochs_run == 2
    history.save_json(tmp_path / "h.json")
    import json

    assert History.from_dict(json.loads((tmp_path / "h.json").read_text())).seconds == [0.1, 0.2]
    assert History.from_dict({**data, "stopped_reason": "bored"}).status == "early-stopped"
    with pytest.raises(ValueError, match="stopped_reason"):
        History.from_dict({**data, "stopped_reason": 3})
    with pytest.raises(ValueError, match="unknown keys"):
        History.from_dict({**data, "colour": 1})


# ----------------------------------------------------------------------- metrics
def test_metrics_agree_with_a_direct_count():
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 4, 200))
    matrix = confusion_matrix(y_true, y_pred, num_classes=4)
    for t in range(4):
        for p in range(4):
            assert matrix[t, p] == np.sum((y_true == t) & (y_pred == p))
    assert accuracy(y_true, y_pred) == pytest.approx(np.mean(y_true == y_pred))
    per_class = per_class_accuracy(y_true, y_pred, num_classes=5)
    for c in range(4):
        assert per_class[c] == pytest.approx(np.mean(y_pred[y_true == c] == c))
    assert math.isnan(per_class[4])  # class 4 never occurs


def test_metrics_reject_bad_labels():
    with pytest.raises(ValueError, match="same length"):
        accuracy([0, 1], [0])
    with pytest.raises(ValueError, match="y_pred: expected a 1-D array of integer"):
        accuracy([0, 1], [0.5, 1.0])
    with pytest.raises(ValueError, match=r"y_true: labels must lie in \[0, 3\)"):
        confusion_matrix([0, 3], [0, 1], num_classes=3)


def test_confident_mistakes_come_most_confident_first():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.05, 0.95], [0.7, 0.3]])
    labels = np.array([0, 0, 1, 0, 0])  # rows 1, 2 and 3 are wrong
    np.testing.assert_array_equal(confident_mistakes(labels, probabilities), [3, 1, 2])
    assert confident_mistakes(np.array([0]), np.array([[1.0, 0.0]])).size == 0
    with pytest.raises(ValueError, match="probabilities"):
        confident_mistakes(labels, probabilities[:, 0])
