"""`TrainConfig`: every choice of one training run, with the defaults kept in one place.

The `tinygrad-mnist train` and `kfold` commands build one from their options, write it
as `config.json` into the run folder, and `show` reads it back to rebuild the model.
Its training fields and their defaults are those of the one schema,
`train.builders.CONFIG_DEFAULTS` (the fast configuration that reaches 98% MNIST test
accuracy), checked once by `canonical_config`; the fields this class adds say how the
run is validated, seeded and which data set it reads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tinygrad_mnist.train import builders
from tinygrad_mnist.utils.checks import check_int

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "TrainConfig",
]

OPTIMIZERS = builders.OPTIMIZERS
SCHEDULES = builders.SCHEDULES
_DEFAULTS = builders.CONFIG_DEFAULTS


@dataclass(frozen=True)
class TrainConfig:
    """One training run: model, optimizer, schedule, epochs, validation, seed and data set.

    `model` is "mlp" or "cnn"; `hidden_sizes` are the hidden Dense layers of an `MLP`
    (784 inputs, 10 outputs) or of a `CNN` after its convolution blocks (`channels`,
    `kernel_size`, `batch_norm`); `augment` moves each training image by up to 2 pixels;
    `optimizer` is one of `OPTIMIZERS` ("momentum" and "nesterov" are SGD with
    `momentum`); `batch_size=None` is full-batch gradient descent; `patience` (None:
    no early stopping) watches the validation loss; `schedule` ("none", "cosine" or
    "step") changes the learning rate once per epoch; `clip_grad_norm` (None: off) caps
    each batch's gradient norm; `validation` is the number of training images held out,
    stratified, to validate every epoch (0: none; at most half the training set, see
    `validation_size`); `dataset` is a name of `data.by_name.DATASET_NAMES` or the path
    of an `.npz` file. Every field is checked when made.
    """

    model: str = _DEFAULTS["model"]
    hidden_sizes: tuple[int, ...] = tuple(_DEFAULTS["hidden_sizes"])
    channels: tuple[int, ...] = tuple(_DEFAULTS["channels"])
    kernel_size: int = _DEFAULTS["kernel_size"]
    batch_norm: bool = _DEFAULTS["batch_norm"]
    activation: str = _DEFAULTS["activation"]
    optimizer: str = _DEFAULTS["optimizer"]
    learning_rate: float = _DEFAULTS["learning_rate"]
    momentum: float = _DEFAULTS["momentum"]
    weight_decay: float = _DEFAULTS["weight_decay"]
    batch_size: int | None = _DEFAULTS["batch_size"]
    epochs: int = _DEFAULTS["epochs"]
    schedule: str = _DEFAULTS["schedule"]
    patience: int | None = _DEFAULTS["patience"]
    augment: bool = _DEFAULTS["augment"]
    clip_grad_norm: float | None = _DEFAULTS["clip_grad_norm"]
    validation: int = 5000
    seed: int = 0
    dataset: str = "mnist"

    def __post_init__(self) -> None:
        for name in ("hidden_sizes", "channels"):
            if isinstance(getattr(self, name), (list, tuple)):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        try:  # as in the schema (builders.canonical_config): a wrong type is bad data too
            check_int("validation", self.validation, "config", low=0)  # images held out
            check_int("seed", self.seed, "config", low=0)
        except TypeError as error:
            raise ValueError(str(error)) from None
        if self.patience is not None and self.validation == 0:
            raise ValueError(
                f"patience: early stopping (patience={self.patience}) needs validation data; "
                "hold out some images (validation above 0, e.g. 5000)"
            )
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ValueError(f"dataset: expected a data set name or an .npz path, "
                             f"got {self.dataset!r}")
        # The schema checks and normalises every training field, in one place.
        canonical = builders.canonical_config(self.trial_config())
        for name in self.trial_config():
            if name == "momentum":  # kept as given, though the schema ignores it for sgd/adam
                continue
            value = canonical[name]
            object.__setattr__(self, name, tuple(value) if isinstance(value, list) else value)

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict (`hidden_sizes` and `channels` as lists)."""
        data = dataclasses.asdict(self)
        data["hidden_sizes"], data["channels"] = list(self.hidden_sizes), list(self.channels)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """The inverse of `to_dict`; an unknown key is a ValueError (a typo, or a newer file)."""
        if not isinstance(data, dict):
            raise TypeError(f"config: expected a dict of fields, got {type(data).__name__}")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"config: unknown keys {unknown}; known keys are {sorted(known)}")
        return cls(**data)

    # --------------------------------------------------------------- building
    def trial_config(self) -> dict:
        """This run as a `train.build_from_config` dict (the vocabulary of experiment files)."""
        return {
            "model": self.model,
            "hidden_sizes": list(self.hidden_sizes),
            "channels": list(self.channels),
            "kernel_size": self.kernel_size,
            "batch_norm": self.batch_norm,
            "activation": self.activation,
            "optimizer": self.optimizer,
            "learning_rate": self.learning_rate,
            "momentum": self.momentum,
            "weight_decay": self.weight_decay,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
            "patience": self.patience,
            "schedule": self.schedule,
            "augment": self.augment,
            "clip_grad_norm": self.clip_grad_norm,
        }

    def validation_size(self, train_size: int) -> int:
        """The images held out of `train_size` for validation: `validation`, but at most
        half, so a small data set (say, `synthetic`) still trains on most of its images."""
        return min(self.validation, train_size // 2)

    def build_model(self, input_shape, num_classes: int = 10, seed=None):
        """This run's model alone, for examples of `input_shape` (`train.builders.build_model`):
        what loading the trained weights needs, without optimizer or `Trainer`."""
        return builders.build_model(self.trial_config(), input_shape=input_shape,
                                    num_classes=num_classes,
                                    seed=self.seed if seed is None else seed)

    def build(self, input_size: int = 784, num_classes: int = 10, callbacks=(),
              seed=None, input_shape=None) -> builders.TrainingSetup:
        """The model, optimizer and `Trainer` of this run (a `train.TrainingSetup`).

        `seed` (default: this config's `seed`) draws the weights and the batch order.
        `input_shape` is a CNN's (channels, height, width), by default square grey images.
        """
        seed = self.seed if seed is None else seed
        return builders.build_from_config(self.trial_config(), seed, input_size=input_size,
                                          num_classes=num_classes, callbacks=callbacks,
                                          input_shape=input_shape)
