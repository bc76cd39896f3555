"""One plain dict describes a trial: `build_from_config` turns it into model, optimizer, trainer.

    config = {"hidden_sizes": [100], "activation": "relu", "learning_rate": 0.5,
              "optimizer": "sgd", "batch_size": None, "epochs": 50}
    built = build_from_config(config, seed=0, input_size=784, num_classes=10)
    built.trainer.fit(train, validation, epochs=built.epochs)

Every key has a default (`CONFIG_DEFAULTS`, the one schema of a run, shared by the command
line, `TrainConfig` and experiment files); an unknown key is a ValueError naming it.
`PRESETS` holds named sets of choices, such as the seed project's ("seed").
`canonical_config` fills the defaults and normalises values (so `1` and `1.0`, `100` and
`[100]` are the same trial), and `config_key` hashes what differs from the defaults: a
key that stays stable when later versions add new keys with defaults.
"""

from __future__ import annotations

import hashlib
import json
import numbers
from dataclasses import dataclass

import numpy as np

from tinygrad_mnist import nn, optim
from tinygrad_mnist.train.callbacks import EarlyStopping
from tinygrad_mnist.train.trainer import Trainer

# The same names as the command line's: "momentum" and "nesterov" are SGD with `momentum`.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
SCHEDULES = ("none", "cosine", "step")

# The one schema of a training run: every key, its default and (in `_NORMALISE`) its check.
# The defaults are what `tinygrad-mnist train` runs with no options: 784-256-128-10 ReLU,
# Nesterov SGD, cosine schedule, batches of 128, 6 epochs (about 98% MNIST test accuracy).
CONFIG_DEFAULTS = {
    "hidden_sizes": [256, 128],
    "activation": "relu",
    "init": "auto",  # "auto": He for ReLU-like activations, Xavier for the others
    "optimizer": "nesterov",
    "learning_rate": 0.1,
    "momentum": 0.9,  # used by "momentum" and "nesterov" only
    "weight_decay": 0.0,
    "batch_size": 128,  # None (or "full" in TOML): full-batch gradient descent
    "epochs": 6,
    "patience": None,  # None: no early stopping; else EarlyStopping on val_loss
    "min_delta": 0.0,
    "schedule": "cosine",  # "cosine": CosineLR down to 0 over the epochs; "step": StepLR
    # halving the rate every third of the epochs; "none": constant
}

# Named sets of choices laid over the defaults. "seed": how the seed project trained
# (one hidden layer of 100, plain full-batch gradient descent, constant rate, 20 epochs).
PRESETS = {
    "seed": {"hidden_sizes": [100], "optimizer": "sgd", "batch_size": None, "epochs": 20,
             "schedule": "none"},
}


def _int(name, value, low, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        expected = f"an int >= {low}" + (" or None" if allow_none else "")
        raise ValueError(f"config[{name!r}]: expected {expected}, got {value!r}")
    return int(value)


def _float(name, value, low, high=np.inf, low_open=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"config[{name!r}]: expected a number, got {value!r}")
    value = float(value)
    inside = (low < value if low_open else low <= value) and value < high
    if not inside:
        interval = f"{'(' if low_open else '['}{low}, {high})"
        raise ValueError(f"config[{name!r}]: expected a number in {interval}, got {value!r}")
    return value


def _choice(name, value, choices):
    if not isinstance(value, str) or value.lower() not in choices:
        raise ValueError(f"config[{name!r}]: expected one of {list(choices)}, got {value!r}")
    return value.lower()


def _hidden_sizes(value):
    sizes = [value] if isinstance(value, numbers.Integral) else value
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (list, tuple)):
        raise ValueError(f"config['hidden_sizes']: expected a list of ints >= 1, got {value!r}")
    return [_int(f"hidden_sizes[{i}]", size, 1) for i, size in enumerate(sizes)]


def _init(value):
    if value == "auto":
        return value
    if not isinstance(value, str) or value.lower() not in nn.init.INITIALIZERS:
        raise ValueError(
            f"config['init']: expected 'auto' or one of {list(nn.init.INITIALIZERS)}, "
            f"got {value!r}"
        )
    return value.lower()


def _batch_size(value):
    return None if value in (None, "full") else _int("batch_size", value, 1, allow_none=True)


_NORMALISE = {
    "hidden_sizes": _hidden_sizes,
    "activation": lambda v: _choice("activation", v, nn.ACTIVATIONS),
    "init": _init,
    "optimizer": lambda v: _choice("optimizer", v, OPTIMIZERS),
    "learning_rate": lambda v: _float("learning_rate", v, 0.0, low_open=True),
    "momentum": lambda v: _float("momentum", v, 0.0, 1.0),
    "weight_decay": lambda v: _float("weight_decay", v, 0.0),
    "batch_size": _batch_size,
    "epochs": lambda v: _int("epochs", v, 1),
    "patience": lambda v: _int("patience", v, 0, allow_none=True),
    "min_delta": lambda v: _float("min_delta", v, 0.0),
    "schedule": lambda v: _choice("schedule", v, SCHEDULES),
}


def canonical_config(config: dict) -> dict:
    """`config` with every default filled in and every value normalised and checked."""
    if not isinstance(config, dict):
        raise TypeError(f"config: expected a dict, got {type(config).__name__}")
    unknown = sorted(set(config) - set(CONFIG_DEFAULTS))
    if unknown:
        raise ValueError(
            f"config: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
            f"; known keys: {', '.join(CONFIG_DEFAULTS)}"
        )
    merged = {**CONFIG_DEFAULTS, **config}
    canonical = {name: _NORMALISE[name](value) for name, value in merged.items()}
    if canonical["optimizer"] not in ("momentum", "nesterov"):
        # Unused, so it must not make two identical trials look different.
        canonical["momentum"] = CONFIG_DEFAULTS["momentum"]
    return canonical


def config_key(config: dict) -> str:
    """A stable 16-hex-digit key for the trial `config` describes.

    It hashes only the values that differ from the defaults, in canonical form, so
    equivalent configs share a key and adding a new key (with a default) later
    leaves every existing key unchanged.
    """
    canonical = canonical_config(config)
    defaults = canonical_config({})
    differing = {k: v for k, v in canonical.items() if v != defaults[k]}
    text = json.dumps(differing, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class TrainingSetup:
    """What `build_from_config` makes: ready to `trainer.fit(..., epochs=built.epochs)`."""

    model: nn.Layer
    loss: nn.Loss
    optimizer: optim.Optimizer
    trainer: Trainer
    epochs: int
    config: dict


def build_from_config(config: dict, seed=None, *, input_size: int, num_classes: int,
                      callbacks=()) -> TrainingSetup:
    """Make the `MLP`, `CrossEntropyLoss`, optimizer and `Trainer` that `config` describes.

    One `seed` (int, SeedSequence or None) is split into independent streams for the
    weights and the batch order. `patience` adds an `EarlyStopping` on the
    validation loss (restoring the best weights); `callbacks` are added after it.
    """
    config = canonical_config(config)
    weights_seed, order_seed = np.random.SeedSequence(seed).spawn(2)
    model = nn.MLP(input_size, config["hidden_sizes"], num_classes,
                   activation=config["activation"],
                   init=None if config["init"] == "auto" else config["init"],
                   seed=np.random.default_rng(weights_seed))
    optimizer = _make_optimizer(config, model.parameters())
    scheduler = None
    if config["schedule"] == "cosine":
        scheduler = optim.CosineLR(optimizer, total_epochs=config["epochs"])
    elif config["schedule"] == "step":
        scheduler = optim.StepLR(optimizer, step_size=max(1, config["epochs"] // 3), gamma=0.5)
    stopping = []
    if config["patience"] is not None:
        stopping = [EarlyStopping(patience=config["patience"], min_delta=config["min_delta"])]
    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer,
                      batch_size=config["batch_size"], callbacks=[*stopping, *callbacks],
                      seed=np.random.default_rng(order_seed), scheduler=scheduler)
    return TrainingSetup(model, trainer.loss, optimizer, trainer, config["epochs"], config)


def _make_optimizer(config: dict, parameters) -> optim.Optimizer:
    lr, decay = config["learning_rate"], config["weight_decay"]
    name = config["optimizer"]
    if name == "adam":
        return optim.Adam(parameters, lr=lr, weight_decay=decay)
    if name == "adamw":
        return optim.AdamW(parameters, lr=lr, weight_decay=decay)
    momentum = 0.0 if name == "sgd" else config["momentum"]
    return optim.SGD(parameters, lr=lr, momentum=momentum, nesterov=name == "nesterov",
                     weight_decay=decay)
