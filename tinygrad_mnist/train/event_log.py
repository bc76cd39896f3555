"""`EventLog`: a run's append-only log of what training does, one JSON object a line.

    {"event": "start", "time": 1764700000.0, "epochs": 5, "batches_per_epoch": 430, ...}
    {"event": "batch", "time": ..., "epoch": 1, "batch": 0, "loss": 2.31, "accuracy": 0.09}
    {"event": "epoch", "time": ..., "epoch": 1, "train_loss": 0.41, "val_accuracy": 0.93, ...}
    {"event": "end", "time": ..., "stopped_reason": "completed", "epochs_run": 5}

Every line is written whole and flushed at once, so another process (`tail -f`, the
studio) sees each batch as it finishes and never a half-written object. Lines are only
ever appended: a resumed run adds a "start" with `"resumed_after"`, and a reader keeps
what it has. Figures that are not finite (a diverged loss) are written as null, so every
line is valid JSON.
"""

from __future__ import annotations

import json
import math
import os
import time

from tinygrad_mnist.train.callbacks import Callback

EVENTS_FILE = "events.jsonl"


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class EventLog(Callback):
    """Append one JSON line per batch, per epoch, and at the start and end of training.

    `path` is the file (say `run_folder / "events.jsonl"`); it is opened for appending
    when training begins and closed when it ends. `batch_every` writes every n-th batch
    only (the epoch lines are always written).
    """

    def __init__(self, path, batch_every: int = 1):
        if isinstance(batch_every, bool) or not isinstance(batch_every, int) or batch_every < 1:
            raise ValueError(f"EventLog: batch_every must be an int >= 1, got {batch_every!r}")
        self.path = os.fspath(path)
        self.batch_every = batch_every
        self._file = None
        self._epoch = 0

    def _write(self, event: str, **fields) -> None:
        if self._file is None:
            return
        record = {"event": event, "time": round(time.time(), 3),
                  **{key: _finite(value) for key, value in fields.items()}}
        # One write of a whole line, then flush: a reader sees complete lines only.
        self._file.write(json.dumps(record, allow_nan=False) + "\n")
        self._file.flush()

    def on_train_begin(self, trainer) -> None:
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed at the end)
        done = trainer.history.epochs_run
        self._write("start", epochs=trainer.max_epochs,
                    batches_per_epoch=trainer.batches_per_epoch,
                    has_validation=bool(trainer.has_validation),
                    **({"resumed_after": done} if done else {}))

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        self._epoch = epoch

    def on_batch_end(self, trainer, batch: int, loss: float) -> None:
        if batch % self.batch_every:
            return
        logs = trainer.batch_logs
        self._write("batch", epoch=self._epoch, batch=batch, loss=float(loss),
                    accuracy=_finite(float(logs.get("accuracy", math.nan))))

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        self._write("epoch", epoch=epoch, **{key: float(value) for key, value in logs.items()})

    def on_train_end(self, trainer, history) -> None:
        self._write("end", stopped_reason=history.stopped_reason,
                    epochs_run=history.epochs_run)
        if self._file is not None:
            self._file.close()
            self._file = None
