"""Callbacks: small objects the `Trainer` calls at fixed points of training.

The interface (every method optional; override the ones you need)::

    on_train_begin(trainer)                 before the first epoch
    on_epoch_begin(trainer, epoch)          epoch is 1-based
    on_batch_end(trainer, batch, loss)      batch is 0-based in the epoch; loss a float
    on_epoch_end(trainer, epoch, logs)      logs: train_loss, train_accuracy, val_loss,
                                            val_accuracy, seconds, lr (the epoch's rate)
    on_train_end(trainer, history)          after the last epoch, also when stopped early

A callback stops training with `trainer.stop(reason)`; the trainer finishes the current
batch (or epoch), then calls `on_train_end`. Callbacks see `trainer.model`,
`trainer.optimizer`, `trainer.max_epochs` (the epochs asked for), `trainer.has_validation`,
`trainer.batches_per_epoch` and, in `on_batch_end`, `trainer.batch_logs` (the batch's
loss, accuracy and number of examples).

A callback that remembers something across epochs (early stopping's best value) gives
it in `state_dict()` and takes it back in `load_state_dict()`, so a resumed run
(`Trainer.load_checkpoint`) goes on exactly as the uninterrupted one would.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import sys
import time

import numpy as np

from tinygrad_mnist.utils.atomic import atomic_write_text
from tinygrad_mnist.utils.terminal import stderr_is_terminal

logger = logging.getLogger("tinygrad_mnist.train")


class Callback:
    """The base class: every hook does nothing."""

    def on_train_begin(self, trainer) -> None:
        """Called once before the first epoch."""

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        """Called before each epoch (1-based)."""

    def on_batch_end(self, trainer, batch: int, loss: float) -> None:
        """Called after each optimizer step with the batch's loss."""

    def on_epoch_end(self, trainer, epoch: int, logs: dict) -> None:
        """Called after each epoch with its figures."""

    def on_train_end(self, trainer, history) -> None:
        """Called once when training ends, however it ends."""

    def state_dict(self) -> dict:
        """What this callback remembers across epochs: JSON values and NumPy arrays."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Take back what `state_dict()` gave (called after `on_train_begin` on resume)."""


class MonitorCallback(Callback):
    """A callback that tracks the best value of one logged figure, `monitor`.

    Lower is better for losses, higher for accuracies (`mode="auto"`, or say "min" /
    "max"); an improvement must exceed `min_delta`. `best_epoch` is the 1-based epoch
    of the best value so far. Subclasses call `improved(epoch, logs)` at each epoch end.
    """

    def __init__(self, monitor: str, mode: str, min_delta: float):
        owner = type(self).__name__
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max', got {mode!r}")
        if not (isinstance(min_delta, (int, float)) and min_delta >= 0):
            raise ValueError(f"{owner}: min_delta must be a number >= 0, got {min_delta!r}")
        if mode == "auto":
            mode = "max" if "accuracy" in monitor else "min"
        self.monitor, self.mode, self.min_delta = monitor, mode, float(min_delta)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None

    def on_train_begin(self, trainer) -> None:
        if self.monitor.startswith("val_") and not trainer.has_validation:
            raise ValueError(
                f"{type(self).__name__}: monitor {self.monitor!r} needs validation data; pass "
                "validation= to fit, or monitor 'train_loss'"
            )
        self._reset()

    def state_dict(self) -> dict:
        return {"best": self.best if math.isfinite(self.best) else None,
                "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict) -> None:
        if state["best"] is not None:
            self.best = float(state["best"])
        self.best_epoch = state["best_epoch"]

    def improved(self, epoch: int, logs: dict) -> bool:
        """Record the epoch's value; True when it improves on the best by more than min_delta."""
        if self.monitor not in logs:
            raise ValueError(
                f"{type(self).__name__}: monitor {self.monitor!r} is not a logged figure; "
                f"choose from {sorted(logs)}"
            )
        value = logs[self.monitor]
        if not math.isfinite(value):
            return False
        if self.mode == "min":
            better = value < self.best - self.min_delta
        else:
            better = value > self.best + self.min_delta
        if better:
            self.best, self.best_epoch = value, epoch
        return better


class EarlyStopping(MonitorCallback):
    """Stop when `monitor` has not improved for `patience` epochs (Keras's options).

    The run stops at epoch `best + max(patience, 1)`. With `restore_best_weights` the
    model ends holding the weights of its best epoch, and `History.best_epoch` says
    which (also `self.best_epoch`). `mode="auto"` maximises accuracies and minimises
    everything else; an improvement must exceed `min_delta`.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0,
                 mode: str = "auto", restore_best_weights: bool = True):
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an int >= 0, got {patience!r}")
        super().__init__(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self._best_state = None
        self._waited = 0

    def on_train_begin(self, trainer) -> None:
        super().on_train_begin(trainer)
        self._best_state, self._waited = None, 0

    def state_dict(self) -> dict:
        state = {**super().state_dict(), "waited": self._waited}
        for name, array in (self._best_state or {}).items():
            state[f"best_weights.{name}"] = array
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._waited = int(state["waited"])
        prefix = "best_weights."
        weights = {name[len(prefix):]: np.array(value) for name, value in state.items()
                   if name.startswith(prefix)}
        self._best_state = weights or None

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        if self.improved(epoch, logs):
            self._waited = 0
            if self.restore_best_weights:
                self._best_state = trainer.model.state_dict()
            return
        self._waited += 1
        if self._waited >= max(self.patience, 1):
            trainer.stop("early-stopped")

    def on_train_end(self, trainer, history) -> None:
        if self.best_epoch is None:
            return
        history.best_epoch = self.best_epoch
        if self._best_state is not None and self.best_epoch != history.epochs_run:
            trainer.model.load_state_dict(self._best_state)
        self._best_state = None


class DivergenceGuard(Callback):
    """Stop a run whose loss becomes NaN or infinite, marking it "diverged".

    The `Trainer` adds one unless its callbacks already hold one. It checks every
    batch's training loss and, at the end of each epoch, the validation loss.
    """

    def on_batch_end(self, trainer, batch, loss) -> None:
        if not math.isfinite(loss):
            trainer.stop("diverged")

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        figures = [logs["train_loss"]] + ([logs["val_loss"]] if trainer.has_validation else [])
        if not all(math.isfinite(value) for value in figures):
            trainer.stop("diverged")


class ProgressBar(Callback):
    """On a terminal: one bar per epoch that advances per batch with the running loss and
    accuracy, then a line that stays, per finished epoch, with its figures and time.

    Everything fits in 80 columns. `enabled=None` shows it only when stderr is a
    terminal, so it stays silent in tests, pipes and worker processes.
    `description` (say "fold 2/5") starts every line, before "epoch 3/6".
    """

    #: The widest a line may be, whatever the terminal's width.
    columns = 80
    #: The least time between two redraws of the bar (tqdm's `mininterval`).
    refresh_seconds = 0.1
    # No rate, a short bar: the running loss and accuracy must fit beside it.
    bar_format = "{desc}: {percentage:3.0f}%|{bar:10}| {n_fmt}/{total_fmt} [{elapsed}]{postfix}"

    def __init__(self, enabled: bool | None = None, description: str = ""):
        self.enabled = enabled
        self.description = description
        self._bar = None
        self._shown = False
        self._loss = self._correct = self._seen = 0.0

    def on_train_begin(self, trainer) -> None:
        self._shown = stderr_is_terminal() if self.enabled is None else bool(self.enabled)

    def on_epoch_begin(self, trainer, epoch: int) -> None:
        self._loss = self._correct = self._seen = 0.0
        self._started = time.perf_counter()
        if self._shown:
            # A terminal that reports no size (0 x 0, as a bare pseudo-terminal does) is
            # taken as 80 x 24: tqdm hides a bar that has no row to stand on.
            size = shutil.get_terminal_size((self.columns, 24))
            from tqdm import tqdm  # only for a terminal: a log or a pipe never loads it

            self._bar = tqdm(total=trainer.batches_per_epoch, desc=self._prefix(trainer, epoch),
                             unit="batch", leave=False, file=sys.stderr,
                             ncols=min(self.columns, size.columns), nrows=size.lines,
                             mininterval=self.refresh_seconds, miniters=1,
                             bar_format=self.bar_format)

    def on_batch_end(self, trainer, batch: int, loss: float) -> None:
        if self._bar is None:
            return
        logs = trainer.batch_logs
        size = logs.get("examples", 1)
        self._loss += loss * size
        self._correct += logs.get("accuracy", math.nan) * size
        self._seen += size
        self._bar.set_postfix_str(f"loss {self._loss / self._seen:.4f} "
                                  f"acc {self._correct / self._seen:.2%}", refresh=False)
        self._bar.update(1)

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        if self._bar is None:
            return
        self._bar.close()
        self._bar = None
        line = (f"{self._prefix(trainer, epoch)}: loss {logs['train_loss']:.4f} "
                f"acc {logs['train_accuracy']:.2%}")
        if trainer.has_validation:
            line += f", val loss {logs['val_loss']:.4f} acc {logs['val_accuracy']:.2%}"
        timed = f"{line}, {logs['seconds']:.1f}s"
        from tqdm import tqdm  # loaded already, by on_epoch_begin

        tqdm.write(timed if len(timed) <= self.columns else line, file=sys.stderr)

    def on_train_end(self, trainer, history) -> None:
        if self._bar is not None:  # stopped in the middle of an epoch
            self._bar.close()
            self._bar = None

    def _prefix(self, trainer, epoch: int) -> str:
        width = len(str(trainer.max_epochs))
        return f"{self.description} epoch {epoch:>{width}}/{trainer.max_epochs}".strip()


class ModelCheckpoint(MonitorCallback):
    """Save the model to `path` (`.npz`, by `Layer.save`) whenever `monitor` improves.

    The file always holds the best weights seen so far (from epoch `self.best_epoch`);
    it is replaced atomically, so a run killed mid-write leaves the previous best intact.
    """

    def __init__(self, path, monitor: str = "val_loss", mode: str = "auto",
                 min_delta: float = 0.0):
        super().__init__(monitor, mode, min_delta)
        self.path = os.fspath(path)

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        if self.improved(epoch, logs):
            trainer.model.save(self.path)


class EpochLog(Callback):
    """One log line per epoch: the progress report when stderr is not a terminal."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        line = (f"{self.prefix}epoch {epoch}/{trainer.max_epochs}: "
                f"loss {logs['train_loss']:.4f}, accuracy {logs['train_accuracy']:.2%}")
        if trainer.has_validation:
            line += (f"; validation loss {logs['val_loss']:.4f}, "
                     f"accuracy {logs['val_accuracy']:.2%}")
        logger.info("%s (%.1f s)", line, logs["seconds"])


class CSVLogger(Callback):
    """Append one row per epoch to the CSV file `path`, as Keras's `CSVLogger` does:
    `epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds` (an empty cell
    where a run has no validation).

    Each row is flushed to the operating system as its epoch ends, so a run that is
    killed (even by SIGKILL) keeps its curves, and `tail -f` follows the run. At the
    start of a fit the file is rewritten from the trainer's history (empty for a new
    run; the saved epochs for a resumed one), so a row written just before a kill and
    run again after the resume is never doubled.
    """

    columns = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr",
               "seconds")

    def __init__(self, path):
        self.path = os.fspath(path)
        self._file = None

    def on_train_begin(self, trainer) -> None:
        history = trainer.history
        rows = [self._row(epoch, {name: getattr(history, name)[epoch - 1]
                                  for name in self.columns[1:]})
                for epoch in range(1, history.epochs_run + 1)]
        atomic_write_text(self.path, "".join([",".join(self.columns) + "\n", *rows]))
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed at the end)

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        if self._file is not None:
            self._file.write(self._row(epoch, logs))
            self._file.flush()

    def on_train_end(self, trainer, history) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _row(self, epoch: int, logs: dict) -> str:
        cells = [str(epoch)] + [repr(float(logs[name])) if math.isfinite(logs[name]) else ""
                                for name in self.columns[1:]]
        return ",".join(cells) + "\n"


def progress_report(prefix: str = "") -> Callback:
    """A tqdm bar when stderr is a terminal, else one log line per epoch (an `EpochLog`)."""
    if stderr_is_terminal():
        return ProgressBar(enabled=True, description=prefix.rstrip(": "))
    return EpochLog(prefix)
