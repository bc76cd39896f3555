"""`Trainer`: the training loop, evaluation and prediction for one model."""

from __future__ import annotations

import os
import time

import numpy as np

from tinygrad_mnist.data import batches as shuffled_batches
from tinygrad_mnist.inference import (
    BATCH_SIZE,
    QUIET_OVERFLOW,
    model_dtype,
    predict,
    predict_proba,
)
from tinygrad_mnist.optim.clip import clip_grad_norm as clip_gradients
from tinygrad_mnist.tensor import Tensor
from tinygrad_mnist.train import checkpoint
from tinygrad_mnist.train.callbacks import Callback, DivergenceGuard, EpochLog, ProgressBar
from tinygrad_mnist.train.evaluation import Evaluation, class_labels, evaluate
from tinygrad_mnist.train.history import History
from tinygrad_mnist.utils.checks import check_int, check_number


def as_arrays(data, name: str) -> tuple[np.ndarray, np.ndarray]:
    """`(x, y)` from a `Dataset` (anything with `.x` and `.y`) or an `(x, y)` pair."""
    if hasattr(data, "x") and hasattr(data, "y"):
        x, y = data.x, data.y
    elif isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
    else:
        raise TypeError(f"{name}: expected a Dataset or an (x, y) pair, got {type(data).__name__}")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"{name}: x has {len(x)} rows but y has {len(y)}")
    if len(x) == 0:
        raise ValueError(f"{name}: expected at least one example, got none")
    return x, y


def _accuracy(correct: int, total: int, loss: float) -> float:
    """The fraction correct, or NaN for a model whose loss is NaN or infinite (diverged)."""
    return correct / total if np.isfinite(loss) else float("nan")


class Trainer:
    """Trains `model` on `loss` with `optimizer`; evaluates and predicts.

    `batch_size=None` is full-batch gradient descent (as the seed trained); otherwise
    each epoch visits a fresh permutation drawn from `seed` in batches (the last one
    may be smaller). `scheduler` (if any) steps once per epoch. A `DivergenceGuard`
    is added unless `callbacks` holds one. Set `trainer.stop(reason)` from a callback
    to end training early. `transform` (say `data.RandomShift`), if given, is applied
    to the inputs of each training batch as it is gathered: augmentation without copying
    the training set.

    `clip_grad_norm` (a number > 0) scales each batch's gradients so their joint norm
    is at most that (`optim.clip_grad_norm`). The parameters' `.grad` live from a batch's
    backward pass to the end of its `on_batch_end` callbacks, then are released, so
    they are None between batches and after `fit`. `checkpoint` (a path) makes the trainer
    write its whole state there (`save_checkpoint`) at the end of every epoch, so a
    killed run can go on: `load_checkpoint(path)`, then `fit(..., resume=True)`.
    `eval_batch_size` rows go through the model at once in `evaluate` and `predict`
    (memory, never results: a CNN's windows want smaller chunks than an MLP's rows).
    """

    def __init__(self, model, loss, optimizer, batch_size: int | None = 128,
                 callbacks=(), seed=None, scheduler=None, clip_grad_norm=None,
                 checkpoint=None, transform=None, eval_batch_size: int = BATCH_SIZE):
        try:
            batch_size = check_int("batch_size", batch_size, "Trainer", allow_none=True)
        except TypeError as error:  # a wrong type of size is a bad value here, as it was
            raise ValueError(str(error)) from None
        #: Rows per forward pass in `evaluate` and `predict`: bounds memory, not results.
        self.eval_batch_size = check_int("eval_batch_size", eval_batch_size, "Trainer")
        callbacks = list(callbacks)
        for callback in callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(f"callbacks: expected Callback instances, got {callback!r}")
        if not any(isinstance(callback, DivergenceGuard) for callback in callbacks):
            callbacks.insert(0, DivergenceGuard())
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.batch_size = batch_size
        self.callbacks = callbacks
        self.scheduler = scheduler
        if transform is not None and not callable(transform):
            raise TypeError(f"transform: expected a callable batch -> batch, got {transform!r}")
        self.transform = transform
        if clip_grad_norm is not None and check_number("clip_grad_norm", clip_grad_norm,
                                                       "Trainer") == 0:
            raise ValueError("Trainer: clip_grad_norm must be a number > 0, got 0")
        self.clip_grad_norm = None if clip_grad_norm is None else float(clip_grad_norm)
        self.checkpoint = None if checkpoint is None else os.fspath(checkpoint)
        self.rng = np.random.default_rng(seed)
        self.max_epochs = 0
        self.has_validation = False
        self.stop_training = False
        self.stop_reason: str | None = None
        self.history: History | None = None
        # The last batch's figures and the batches in an epoch, for progress callbacks.
        self.batch_logs: dict = {}
        self.batches_per_epoch = 0
        self._restored: checkpoint.Restored | None = None

    def stop(self, reason: str) -> None:
        """Ask training to stop after the current batch; the first reason given is kept."""
        self.stop_training = True
        self.stop_reason = self.stop_reason or reason

    def _notify(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    # ------------------------------------------------------------------- training
    def fit(self, train, validation=None, epochs: int = 10, resume: bool = False,
            verbose="auto") -> History:
        """Train for up to `epochs` epochs; returns the `History` (also `self.history`).

        `verbose` as in Keras: "auto" shows a progress bar when stderr is a terminal (and
        nothing in a pipe, a log or a worker process), 1 always, 2 one log line per epoch
        (logging, at INFO), 0 nothing. Callbacks that already report progress (a
        `ProgressBar`, an `EpochLog`) take its place.

        `train` and `validation` are `Dataset`s or `(x, y)` pairs with `x` already
        prepared (float features) and `y` integer labels (or targets for the loss).
        A KeyboardInterrupt ends the run as "interrupted": callbacks still see
        `on_train_end` (so checkpoints and best weights are kept), then it propagates.

        `resume=True` continues the run whose state `load_state_dict` (or
        `load_checkpoint`) restored: epochs `saved + 1` to `epochs`, appended to its
        history. Given the same data and callbacks, the result is bit for bit the
        result of one uninterrupted `fit`.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
            raise ValueError(f"epochs: expected an int >= 1, got {epochs!r}")
        if not isinstance(verbose, (str, int)) or verbose not in ("auto", 0, 1, 2):
            raise ValueError(f"verbose: expected 'auto', 0, 1 or 2, got {verbose!r}")
        restored = self._restored if resume else None
        if resume and restored is None:
            raise ValueError("resume: this trainer has no saved state to continue; call "
                             "load_checkpoint(path) or load_state_dict(state) first")
        if restored is not None and epochs < restored.history.epochs_run:
            raise ValueError(f"epochs: the saved run has already trained "
                             f"{restored.history.epochs_run} epochs, got epochs={epochs}")
        x, y = as_arrays(train, "train")
        # Converted once per fit (if at all), never per epoch; so is the validation set.
        x = x.astype(model_dtype(self.model), copy=False)
        if validation is not None:
            validation_x, validation_y = as_arrays(validation, "validation")
            validation = validation_x.astype(model_dtype(self.model), copy=False), validation_y
        self.max_epochs, self.has_validation = int(epochs), validation is not None
        self.batches_per_epoch = 1 if self.batch_size is None else -(-len(x) // self.batch_size)
        self.stop_training, self.stop_reason = False, None
        history = self.history = History() if restored is None else restored.history
        self._restored = None
        self.model.train()
        shown = self.callbacks
        self.callbacks = shown + _progress_for(verbose, shown)
        with np.errstate(**QUIET_OVERFLOW):
            try:
                self._notify("on_train_begin")
                if restored is not None:
                    # After on_train_begin, which resets what callbacks remember.
                    checkpoint.restore_callbacks(self, restored.callbacks)
                    if restored.stop_reason is not None:  # the saved run had already ended
                        self.stop(restored.stop_reason)
                for epoch in range(history.epochs_run + 1, self.max_epochs + 1):
                    if self.stop_training:
                        break
                    self._notify("on_epoch_begin", epoch)
                    logs = self._run_epoch(x, y, validation)
                    history.append(logs)
                    self._notify("on_epoch_end", epoch, logs)
                    if self.scheduler is not None:
                        self.scheduler.step()
                    if self.checkpoint is not None:
                        # Last, so the file holds what every callback made of this epoch.
                        self.save_checkpoint(self.checkpoint)
            except KeyboardInterrupt:
                self.stop("interrupted")
                self._finish(history)
                raise
            else:
                self._finish(history)
            finally:
                self.callbacks = shown
        return history

    def _finish(self, history: History) -> None:
        history.stopped_reason = self.stop_reason or "completed"
        history.best_epoch = history.lowest_loss_epoch()
        # Callbacks come last: early stopping overrides best_epoch with its own.
        self._notify("on_train_end", history)

    def _run_epoch(self, x: np.ndarray, y: np.ndarray, validation) -> dict:
        start = time.perf_counter()
        lr = self.optimizer.lr
        n = len(x)
        if self.batch_size is None or self.batch_size >= n:
            # Full batch: the arrays themselves, no permutation, no copy.
            batches = [(x, y)]
        else:
            # One gather per batch from a fresh permutation; the training set is never copied.
            batches = ((x[index], y[index])
                       for index in shuffled_batches(n, self.batch_size, rng=self.rng))
        total_loss, correct, seen = 0.0, 0, 0
        # Only the hooks a callback defines: the others do nothing, on every batch.
        batch_hooks = [callback.on_batch_end for callback in self.callbacks
                       if type(callback).on_batch_end is not Callback.on_batch_end]
        self.optimizer.zero_grad()  # nothing left from before this epoch adds in
        for batch, (xb, yb) in enumerate(batches):
            if self.transform is not None:
                xb = self.transform(xb)
            logits = self.model(Tensor(xb))
            loss = self.loss(logits, yb)
            loss.backward()
            if self.clip_grad_norm is not None:
                clip_gradients(self.optimizer.params, self.clip_grad_norm)
            self.optimizer.step()
            value = float(loss.data)
            right = int(np.count_nonzero(logits.data.argmax(axis=1) == class_labels(yb)))
            total_loss += value * len(xb)
            correct += right
            seen += len(xb)
            self.batch_logs = {"loss": value, "accuracy": right / len(xb), "examples": len(xb)}
            for hook in batch_hooks:
                hook(self, batch, value)
            # Released now rather than before the next batch, so that their memory is free
            # for its gather and forward pass (W4: 3% of an epoch, measured).
            self.optimizer.zero_grad()
            if self.stop_training:
                break
        logs = {"train_loss": total_loss / seen, "train_accuracy": _accuracy(correct, seen,
                                                                              total_loss)}
        if validation is None:
            logs.update(val_loss=float("nan"), val_accuracy=float("nan"))
        else:
            scores = self.evaluate(validation)
            logs.update(val_loss=scores.loss, val_accuracy=scores.accuracy)
        logs.update(seconds=time.perf_counter() - start, lr=lr)
        return logs

    # ------------------------------------------------------------ evaluation
    def evaluate(self, data) -> Evaluation:
        """The model scored on `data` (a `Dataset` or `(x, y)` pair) with this trainer's loss:
        an `Evaluation` (`.loss`, `.accuracy`, `.probabilities`; `.scores()` as a dict)."""
        x, y = as_arrays(data, "data")
        return evaluate(self.model, x, y, self.loss, self.eval_batch_size)

    def predict_proba(self, x) -> np.ndarray:
        """Class probabilities (softmax of the logits), one row per example."""
        return predict_proba(self.model, x, self.eval_batch_size)

    def predict(self, x) -> np.ndarray:
        """The predicted class index of each example."""
        return predict(self.model, x, self.eval_batch_size)

    # ------------------------------------------------------------ saving the run
    def state_dict(self) -> dict[str, np.ndarray]:
        """Everything needed to continue training: model, optimizer, scheduler, epoch,
        random generators, history and callback state, as arrays (`np.savez`-ready)."""
        return checkpoint.trainer_state(self)

    def load_state_dict(self, state: dict) -> Trainer:
        """Restore what `state_dict()` returned (`history` too); then `fit(..., resume=True)`
        continues. Every part is checked; on any error the trainer is left as it was.
        """
        self._restored = checkpoint.restore_trainer(self, state)
        self.history = self._restored.history
        return self

    def save_checkpoint(self, path) -> None:
        """Write `state_dict()` to `path` as an `.npz`, atomically (old file or new, never half)."""
        checkpoint.write_checkpoint(self.state_dict(), path)

    def load_checkpoint(self, path) -> Trainer:
        """Read a file `save_checkpoint` wrote and `load_state_dict` it; a file whose
        values do not restore is a ValueError saying "checkpoint FILE is damaged"."""
        state = checkpoint.read_checkpoint(path)
        try:
            return self.load_state_dict(state)
        except ValueError as error:
            raise checkpoint.CheckpointDamagedError(path, error) from None


def _progress_for(verbose, callbacks) -> list:
    """The progress callback `fit(verbose=...)` adds: none where one is there already."""
    if any(isinstance(callback, (ProgressBar, EpochLog)) for callback in callbacks):
        return []
    if verbose == "auto":
        return [ProgressBar()]  # enabled=None: only when stderr is a terminal
    if verbose == 2:
        return [EpochLog()]
    return [ProgressBar(enabled=True)] if verbose else []
