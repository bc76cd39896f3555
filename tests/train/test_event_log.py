"""`EventLog`: the run's append-only log of batches and epochs, one JSON object a line."""

from __future__ import annotations

import json
import math

import pytest
from support.synthetic import blobs

from tinygrad_mnist import nn, optim
from tinygrad_mnist.train import Callback, EventLog, Trainer


def _trainer(callbacks, lr=0.1):
    model = nn.MLP(8, [16], 3, seed=0)
    return Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr),
                   batch_size=50, callbacks=callbacks, seed=0)


def _events(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


class _ReadsTheLog(Callback):
    """Reads the log after each batch, as another process would: a line must be there."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def on_batch_end(self, trainer, batch, loss):
        self.seen.append(len(self.path.read_text().splitlines()))


def test_every_batch_and_epoch_is_a_whole_line_as_soon_as_it_ends(tmp_path):
    path = tmp_path / "events.jsonl"
    reader = _ReadsTheLog(path)
    x, y = blobs(n=300)
    history = _trainer([EventLog(path), reader]).fit((x[:200], y[:200]), (x[200:], y[200:]),
                                                    epochs=2)
    events = _events(path)
    kinds = [event["event"] for event in events]
    assert kinds == ["start"] + (["batch"] * 4 + ["epoch"]) * 2 + ["end"]
    assert events[0]["epochs"] == 2 and events[0]["batches_per_epoch"] == 4
    # Flushed per line: the reader after batch k of epoch e saw every line up to it.
    assert reader.seen == [2, 3, 4, 5, 7, 8, 9, 10]
    epochs = [event for event in events if event["event"] == "epoch"]
    assert [e["val_accuracy"] for e in epochs] == pytest.approx(history.val_accuracy)
    assert [e["train_loss"] for e in epochs] == pytest.approx(history.train_loss)
    assert events[-1]["stopped_reason"] == "completed" and events[-1]["epochs_run"] == 2


def test_a_diverged_loss_is_null_and_a_resumed_run_appends(tmp_path):
    path = tmp_path / "events.jsonl"
    x, y = blobs(n=200)
    x = x * 1e30  # overflows at once
    _trainer([EventLog(path)], lr=1e10).fit((x, y), epochs=3)
    events = _events(path)  # every line is strict JSON (no NaN)
    assert events[-1]["stopped_reason"] == "diverged"
    assert any(e["event"] == "batch" and e["loss"] is None for e in events)
    first = len(events)
    x, y = blobs(n=200)
    _trainer([EventLog(path, batch_every=2)]).fit((x, y), epochs=1)
    more = _events(path)[first:]
    assert [e["event"] for e in more] == ["start", "batch", "batch", "epoch", "end"]
    assert [e["batch"] for e in more if e["event"] == "batch"] == [0, 2]


def test_a_resumed_fit_says_after_which_epoch(tmp_path):
    path = tmp_path / "events.jsonl"
    x, y = blobs(n=200)
    trainer = _trainer([EventLog(path)])
    trainer.checkpoint = tmp_path / "checkpoint.npz"
    trainer.fit((x, y), epochs=1)
    again = _trainer([EventLog(path)])
    again.load_checkpoint(tmp_path / "checkpoint.npz")
    again.fit((x, y), epochs=2, resume=True)
    starts = [e for e in _events(path) if e["event"] == "start"]
    assert [s.get("resumed_after") for s in starts] == [None, 1]
    assert all(math.isfinite(e["loss"]) for e in _events(path) if e["event"] == "batch")


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_batch_every_must_be_a_positive_int(tmp_path, value):
    with pytest.raises(ValueError, match="batch_every"):
        EventLog(tmp_path / "e.jsonl", batch_every=value)


def test_the_log_is_closed_when_training_ends(tmp_path):
    log = EventLog(tmp_path / "events.jsonl")
    x, y = blobs(n=100)
    _trainer([log]).fit((x, y), epochs=1)
    assert log._file is None
    assert len(_events(tmp_path / "events.jsonl")) == 1 + 2 + 1 + 1  # start, 2 batches, epoch, end
