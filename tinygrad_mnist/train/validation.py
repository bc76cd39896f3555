"""Validation schemes: `holdout` (one stratified split) and `kfold` (stratified k folds).

Both take `build`: a config dict (see `train/config.py`) or a function `build(seed) ->
Trainer`. Each model trained on one split is seeded by `trial_seed(seed, key, phase,
fold)`, from the config and the split alone, so `grid_search` reproduces exactly what
these functions give for the same config, data and seed.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field

import numpy as np

from tinygrad_mnist.data import stratified_kfold, stratified_split
from tinygrad_mnist.train.config import build_training, config_key
from tinygrad_mnist.train.evaluation import class_labels
from tinygrad_mnist.train.history import History
from tinygrad_mnist.train.trainer import Trainer, as_arrays

#: The figures each trained split reports (`SplitResult.metrics`).
METRIC_NAMES = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
                "test_accuracy", "epochs_run", "best_epoch", "seconds")


def validation_order(metrics: dict) -> tuple:
    """A sort key, best first: higher validation accuracy, then lower validation loss; NaN last."""
    accuracy, loss = metrics["val_accuracy"], metrics["val_loss"]
    return (-accuracy if math.isfinite(accuracy) else math.inf,
            loss if math.isfinite(loss) else math.inf)


_DEFAULT_EPOCHS = 10  # for a `build` function; a config dict brings its own


def trial_seed(seed: int, key: str | None, phase: str, fold: int | None = None) -> int:
    """A 63-bit seed from the search seed, the config key and the split, never from order."""
    text = json.dumps([seed, key, phase, fold])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


@dataclass
class SplitResult:
    """One model trained on one split: its figures, its history and its trainer.

    `metrics` holds `METRIC_NAMES` and `status` ("ok", "early-stopped", "diverged").
    Validation and test figures are those of the final model (the best epoch's
    weights when early stopping restored them); training figures are the history's
    at `best_epoch`.
    """

    metrics: dict
    history: History
    trainer: Trainer
    seed: int

    @property
    def model(self):
        """The trained model."""
        return self.trainer.model


@dataclass
class KFoldResult:
    """The `k` fold results, the mean and (population) standard deviation of each figure
    over the folds, and the best fold (highest validation accuracy, then lowest loss)."""

    folds: list[SplitResult]
    mean: dict = field(init=False)
    std: dict = field(init=False)
    best_fold: int = field(init=False)

    def __post_init__(self):
        names = [n for n in METRIC_NAMES if n != "best_epoch"]
        values = {n: np.array([fold.metrics[n] for fold in self.folds], float) for n in names}
        self.mean = {n: float(v.mean()) for n, v in values.items()}
        self.std = {n: float(v.std()) for n, v in values.items()}
        self.best_fold = min(range(len(self.folds)),
                             key=lambda i: validation_order(self.folds[i].metrics))

    @property
    def best_model(self):
        """The model of the best fold."""
        return self.folds[self.best_fold].model


def _trainer_for(build, seed: int, x: np.ndarray, y: np.ndarray, epochs):
    """(trainer, epochs) from a config dict or a `build(seed)` function."""
    if isinstance(build, dict):
        if x.ndim != 2:
            raise ValueError(
                f"data: a config builds an MLP, which needs 2-D features (n, features); got x of "
                f"shape {x.shape} (flatten images with data.prepare_images)"
            )
        num_classes = int(y.max()) + 1 if y.ndim == 1 else y.shape[1]
        built = build_training(build, seed, input_size=x.shape[1], num_classes=num_classes)
        return built.trainer, epochs or built.epochs
    if not callable(build):
        raise TypeError(f"build: expected a config dict or a function seed -> Trainer, got "
                        f"{type(build).__name__}")
    trainer = build(seed)
    if not isinstance(trainer, Trainer):
        raise TypeError(f"build: the function must return a Trainer, got {type(trainer).__name__}")
    return trainer, epochs or _DEFAULT_EPOCHS


def fit_split(build, x: np.ndarray, y: np.ndarray, train_index, valid_index, seed: int, *,
              test=None, epochs: int | None = None) -> SplitResult:
    """Train a fresh model from `build` on rows `train_index`, validate on `valid_index`.

    `x`, `y` are the whole data set (the split picks rows once per call); `test` an
    optional `(x, y)` or `Dataset` scored at the end; `epochs` overrides the config's.
    """
    start = time.perf_counter()
    trainer, epochs = _trainer_for(build, seed, x, y, epochs)
    validation = (x[valid_index], y[valid_index])
    # verbose=0: a trial's progress is the caller's to report (search and kfold name the
    # trial; a bar per trial would bury them).
    history = trainer.fit((x[train_index], y[train_index]), validation, epochs=epochs,
                          verbose=0)
    scores = {f"val_{name}": value for name, value in trainer.evaluate(validation).scores().items()}
    if test is not None:
        scores.update({f"test_{n}": v for n, v in trainer.evaluate(test).scores().items()})
    best = history.best_epoch or history.epochs_run
    metrics = {
        "train_loss": history.train_loss[best - 1],
        "train_accuracy": history.train_accuracy[best - 1],
        "val_loss": scores["val_loss"], "val_accuracy": scores["val_accuracy"],
        "test_loss": scores.get("test_loss", math.nan),
        "test_accuracy": scores.get("test_accuracy", math.nan),
        "epochs_run": history.epochs_run, "best_epoch": history.best_epoch,
        "seconds": time.perf_counter() - start, "status": history.status,
    }
    return SplitResult(metrics, history, trainer, seed)


def _key(build) -> str | None:
    return config_key(build) if isinstance(build, dict) else None


def holdout(build, data, train_fraction: float = 0.8, *, seed: int = 0, test=None,
            epochs: int | None = None) -> SplitResult:
    """Train on a stratified `train_fraction` of `data`, validate on the rest.

    `data` and `test` are `Dataset`s or `(x, y)` pairs. The split is drawn from
    `seed`, the model's seed from `seed` and the config (see `trial_seed`).
    """
    x, y = as_arrays(data, "data")
    train_index, valid_index = stratified_split(class_labels(y), train_fraction, seed)
    return fit_split(build, x, y, train_index, valid_index,
                     trial_seed(seed, _key(build), "holdout"), test=test, epochs=epochs)


def kfold(build, data, k: int = 5, *, seed: int = 0, test=None,
          epochs: int | None = None, on_fold=None) -> KFoldResult:
    """Stratified k-fold cross-validation: k models, each validated on one fold.

    Returns each fold's figures, their mean and standard deviation, and the best fold
    (whose model is `result.best_model`). `k` must lie in [2, smallest class count].
    `on_fold(split_result)` is called as each fold finishes, so a caller interrupted
    midway keeps the finished folds.
    """
    x, y = as_arrays(data, "data")
    folds = stratified_kfold(class_labels(y), k, seed)
    key = _key(build)
    results = []
    for i, (train_index, valid_index) in enumerate(folds):
        results.append(fit_split(build, x, y, train_index, valid_index,
                                 trial_seed(seed, key, "kfold", i), test=test, epochs=epochs))
        if on_fold is not None:
            on_fold(results[-1])
    return KFoldResult(results)
