"""`TrainConfig`: every choice of one training run, with the defaults kept in one place.

The `tinygrad-mnist train` and `kfold` commands build one from their options, write it
as `config.json` into the run folder, and `show` reads it back to rebuild the model.
The defaults are the fast configuration that reaches 98% MNIST test accuracy.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
SCHEDULES = ("none", "cosine", "step")
DATASETS = ("mnist", "fashion-mnist")


@dataclass(frozen=True)
class TrainConfig:
    """One training run: model, optimizer, schedule, epochs, validation, seed and data set.

    `hidden_sizes` are the hidden layers of an `MLP` (784 inputs, 10 outputs);
    `optimizer` is one of `OPTIMIZERS` ("momentum" and "nesterov" are SGD with
    `momentum`); `batch_size=None` is full-batch gradient descent; `patience` (None:
    no early stopping) watches the validation loss on a stratified `validation_fraction`
    of the training set; `schedule` ("none", "cosine" or "step") changes the learning
    rate once per epoch; `dataset` is "mnist", "fashion-mnist" or the path of an `.npz`
    file (see `tinygrad_mnist.data`). Every field is checked when the config is made.
    """

    hidden_sizes: tuple[int, ...] = (256, 128)
    activation: str = "relu"
    optimizer: str = "nesterov"
    learning_rate: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int | None = 128
    epochs: int = 8
    schedule: str = "cosine"
    patience: int | None = None
    validation_fraction: float = 0.0
    seed: int = 0
    dataset: str = "mnist"

    def __post_init__(self) -> None:
        hidden = self.hidden_sizes
        if isinstance(hidden, numbers.Integral) and not isinstance(hidden, bool):
            hidden = (hidden,)
        if not isinstance(hidden, (list, tuple)) or not all(_is_int(h) and h > 0 for h in hidden):
            raise ValueError(
                f"hidden_sizes: expected a list of positive ints (e.g. [256, 128]), got {hidden!r}"
            )
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in hidden))
        from tinygrad_mnist.nn import ACTIVATIONS  # the one list of activation names

        if not isinstance(self.activation, str) or self.activation.lower() not in ACTIVATIONS:
            raise ValueError(
                f"activation: expected one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"
            )
        object.__setattr__(self, "activation", self.activation.lower())
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_number("learning_rate", self.learning_rate, low=0.0, low_inclusive=False)
        _check_number("momentum", self.momentum, low=0.0, high=1.0, high_inclusive=False)
        _check_number("weight_decay", self.weight_decay, low=0.0)
        _check_number(
            "validation_fraction", self.validation_fraction, low=0.0, high=1.0,
            high_inclusive=False,
        )
        if self.batch_size is not None:
            _check_int("batch_size", self.batch_size, low=1, also="or None for full batch")
        _check_int("epochs", self.epochs, low=1)
        if self.patience is not None:
            _check_int("patience", self.patience, low=0, also="or None for no early stopping")
            if self.validation_fraction == 0:
                raise ValueError(
                    f"patience: early stopping (patience={self.patience}) needs validation "
                    "data; set validation_fraction above 0 (e.g. 0.1)"
                )
        _check_int("seed", self.seed, low=0)
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ValueError(
                f"dataset: expected one of {', '.join(DATASETS)} or an .npz path, "
                f"got {self.dataset!r}"
            )

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict (`hidden_sizes` as a list)."""
        data = dataclasses.asdict(self)
        data["hidden_sizes"] = list(self.hidden_sizes)
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

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed (and checked again)."""
        return dataclasses.replace(self, **changes)

    # --------------------------------------------------------------- building
    def build_model(self, input_size: int = 784, num_classes: int = 10):
        """The `MLP` this config describes, its weights drawn from `seed`."""
        from tinygrad_mnist.nn import MLP

        return MLP(input_size, list(self.hidden_sizes), num_classes,
                   activation=self.activation, seed=self.seed)

    def build_optimizer(self, parameters):
        """The optimizer over `parameters` with `learning_rate`, `momentum`, `weight_decay`."""
        from tinygrad_mnist import optim

        lr, decay = self.learning_rate, self.weight_decay
        if self.optimizer == "adam":
            return optim.Adam(parameters, lr=lr, weight_decay=decay)
        if self.optimizer == "adamw":
            return optim.AdamW(parameters, lr=lr, weight_decay=decay)
        momentum = 0.0 if self.optimizer == "sgd" else self.momentum
        return optim.SGD(parameters, lr=lr, momentum=momentum,
                         nesterov=self.optimizer == "nesterov", weight_decay=decay)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")


def _check_int(name: str, value, low: int, also: str = "") -> None:
    if not _is_int(value) or value < low:
        raise ValueError(f"{name}: expected an int >= {low}{' ' + also if also else ''}, "
                         f"got {value!r}")


def _check_number(name: str, value, low: float = -math.inf, high: float = math.inf,
                  low_inclusive: bool = True, high_inclusive: bool = True) -> None:
    interval = f"{'[' if low_inclusive else '('}{low:g}, {high:g}{']' if high_inclusive else ')'}"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (low <= value if low_inclusive else low < value) and (
            value <= high if high_inclusive else value < high)
    if not ok:
        raise ValueError(f"{name}: expected a number in {interval}, got {value!r}")
