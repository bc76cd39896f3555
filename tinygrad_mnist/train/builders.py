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
import math
import numbers
from dataclasses import dataclass

import numpy as np

from tinygrad_mnist import nn, optim
from tinygrad_mnist.data import RandomShift
from tinygrad_mnist.inference import BATCH_SIZE
from tinygrad_mnist.train.callbacks import EarlyStopping
from tinygrad_mnist.train.trainer import Trainer
from tinygrad_mnist.utils.checks import check_int, check_number

# The same names as the command line's: "momentum" and "nesterov" are SGD with `momentum`.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
SCHEDULES = ("none", "cosine", "step")
MODELS = ("mlp", "cnn")
# What only a CNN uses: an MLP's config leaves them at their defaults (see canonical_config).
CNN_KEYS = ("channels", "kernel_size", "batch_norm")

# The one schema of a training run: every key, its default and (in `_NORMALISE`) its check.
# The defaults are what `tinygrad-mnist train` runs with no options: 784-256-128-10 ReLU,
# Nesterov SGD, cosine schedule, batches of 128, 5 epochs (98.21% and 98.08% MNIST test
# accuracy with seeds 0 and 1; a sixth epoch added 0.01-0.08 points and a sixth of the time).
CONFIG_DEFAULTS = {
    "model": "mlp",  # "mlp": Dense layers; "cnn": nn.CNN, convolution blocks then Dense layers
    "hidden_sizes": [256, 128],  # the Dense layers (after the convolutions, for a CNN)
    "channels": [16, 32],  # cnn: one convolution block (conv, activation, 2x2 max pool) each
    "kernel_size": 5,  # cnn: odd, padded to keep the image size
    "batch_norm": False,  # cnn: BatchNorm after each convolution and hidden Dense layer
    "activation": "relu",
    "init": "auto",  # "auto": He for ReLU-like activations, Xavier for the others
    "optimizer": "nesterov",
    "learning_rate": 0.1,
    "momentum": 0.9,  # used by "momentum" and "nesterov" only
    "weight_decay": 0.0,
    "batch_size": 128,  # None (or "full" in TOML): full-batch gradient descent
    "epochs": 5,
    "patience": None,  # None: no early stopping; else EarlyStopping on val_loss
    "min_delta": 0.0,
    "schedule": "cosine",  # "cosine": CosineLR down to 0 over the epochs; "step": StepLR
    # halving the rate every third of the epochs; "none": constant
    "augment": False,  # True: each training batch's images moved by up to 2 pixels at random
    "clip_grad_norm": None,  # None: no clipping; else the most a batch's gradient norm may be
}

# Named sets of choices laid over the defaults. "seed": how the seed project trained
# (one hidden layer of 100, plain full-batch gradient descent, constant rate, 20 epochs).
PRESETS = {
    "seed": {"hidden_sizes": [100], "optimizer": "sgd", "batch_size": None, "epochs": 20,
             "schedule": "none"},
    # "cnn": what `train --model cnn` runs: 99.38% MNIST test accuracy (seed 0) in 7 epochs.
    # A He-initialised Dense layer straight after the pooled maps (1,568 inputs) made
    # SGD above lr 0.02 unstable; a batch-normalised hidden layer in between takes 0.05.
    "cnn": {"model": "cnn", "channels": [16, 32], "kernel_size": 3, "batch_norm": True,
            "hidden_sizes": [128], "optimizer": "nesterov", "learning_rate": 0.05,
            "weight_decay": 5e-4, "batch_size": 64, "epochs": 7, "schedule": "cosine",
            "augment": True},
}


def _int(name, value, low, allow_none=False):
    return check_int(name, value, "config", low, allow_none)


def _float(name, value, low, high=np.inf, low_open=False):
    # A config value is a float below `high`; the library's checks read the same everywhere.
    return check_number(name, value, "config", low, high, high_inclusive=False,
                        low_inclusive=not low_open)


def _choice(name, value, choices):
    if not isinstance(value, str) or value.lower() not in choices:
        raise ValueError(f"config[{name!r}]: expected one of {list(choices)}, got {value!r}")
    return value.lower()


def _sizes(name, value):
    sizes = [value] if isinstance(value, numbers.Integral) else value
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (list, tuple)):
        raise ValueError(f"config[{name!r}]: expected a list of ints >= 1, got {value!r}")
    return [_int(f"{name}[{i}]", size, 1) for i, size in enumerate(sizes)]


def _kernel_size(value):
    value = _int("kernel_size", value, 1)
    if value % 2 == 0:
        raise ValueError(f"config['kernel_size']: expected an odd int >= 1, got {value}")
    return value


def _bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"config[{name!r}]: expected true or false, got {value!r}")
    return bool(value)


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
    "model": lambda v: _choice("model", v, MODELS),
    "hidden_sizes": lambda v: _sizes("hidden_sizes", v),
    "channels": lambda v: _sizes("channels", v),
    "kernel_size": _kernel_size,
    "batch_norm": lambda v: _bool("batch_norm", v),
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
    "augment": lambda v: _bool("augment", v),
    "clip_grad_norm": lambda v: None if v is None else _float("clip_grad_norm", v, 0.0,
                                                              low_open=True),
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
    try:
        canonical = {name: _NORMALISE[name](value) for name, value in merged.items()}
    except TypeError as error:  # a config is a document: a value of the wrong type is bad data
        raise ValueError(str(error)) from None
    # Unused values must not make two identical trials look different.
    unused = [] if canonical["optimizer"] in ("momentum", "nesterov") else ["momentum"]
    unused += CNN_KEYS if canonical["model"] == "mlp" else []
    if canonical["model"] == "cnn" and not canonical["channels"]:
        raise ValueError("config['channels']: a cnn needs at least one convolution block, "
                         "got none (for no convolutions, use model mlp)")
    for name in unused:
        canonical[name] = _NORMALISE[name](CONFIG_DEFAULTS[name])
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


def build_model(config: dict, *, input_shape, num_classes: int, seed=None) -> nn.Layer:
    """The model of `config` alone (an `MLP` or a `CNN`), for examples of `input_shape`.

    No optimizer, schedule or `Trainer`: what loading a trained model needs. An MLP takes
    rows of `prod(input_shape)` values; a CNN takes images: `input_shape` (channels,
    height, width), (height, width) for grey ones, or rows of a square's pixels. `seed`
    (int or Generator) draws the weights.
    """
    config = canonical_config(config)
    init = None if config["init"] == "auto" else config["init"]
    input_shape = tuple(int(n) for n in input_shape)
    size = int(np.prod(input_shape))
    rng = np.random.default_rng(seed)
    if config["model"] == "mlp":
        return nn.MLP(size, config["hidden_sizes"], num_classes,
                      activation=config["activation"], init=init, seed=rng)
    shape = _image_shape(size, input_shape if len(input_shape) > 1 else None)
    if shape is None:
        raise ValueError(f"config['model']: a CNN needs images, but inputs of {size} "
                         "values are not square; give their input_shape")
    return nn.CNN(shape, config["channels"], num_classes, kernel_size=config["kernel_size"],
                  hidden_sizes=config["hidden_sizes"], batch_norm=config["batch_norm"],
                  activation=config["activation"], init=init, seed=rng)


def build_from_config(config: dict, seed=None, *, input_size: int, num_classes: int,
                      callbacks=(), input_shape=None) -> TrainingSetup:
    """Make the model (`MLP` or `CNN`), `CrossEntropyLoss`, optimizer and `Trainer` of `config`.

    One `seed` (int, SeedSequence or None) is split into independent streams for the
    weights, the batch order and the augmentation. `patience` adds an `EarlyStopping`
    on the validation loss (restoring the best weights); `callbacks` are added after
    it. A CNN's images are `input_shape` (channels, height, width); by default one
    channel of square images of `input_size` pixels.
    """
    config = canonical_config(config)
    # The first two streams are the same whatever the count: older runs stay reproducible.
    weights_seed, order_seed, augment_seed = np.random.SeedSequence(seed).spawn(3)
    shape = _image_shape(input_size, input_shape)
    model = build_model(config, input_shape=(input_size,) if input_shape is None else input_shape,
                        num_classes=num_classes, seed=np.random.default_rng(weights_seed))
    optimizer = _make_optimizer(config, model.parameters())
    scheduler = None
    if config["schedule"] == "cosine":
        scheduler = optim.CosineLR(optimizer, total_epochs=config["epochs"])
    elif config["schedule"] == "step":
        scheduler = optim.StepLR(optimizer, step_size=max(1, config["epochs"] // 3), gamma=0.5)
    stopping = []
    if config["patience"] is not None:
        stopping = [EarlyStopping(patience=config["patience"], min_delta=config["min_delta"])]
    transform = None
    if config["augment"]:
        if shape is None:
            raise ValueError(f"config['augment']: shifts need square images, but inputs have "
                             f"{input_size} values")
        transform = RandomShift(2, seed=np.random.default_rng(augment_seed),
                                image_shape=shape[1:])
    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer,
                      batch_size=config["batch_size"], callbacks=[*stopping, *callbacks],
                      seed=np.random.default_rng(order_seed), scheduler=scheduler,
                      clip_grad_norm=config["clip_grad_norm"], transform=transform,
                      # A CNN's evaluation gathers every window of a chunk at once: smaller
                      # chunks, bounded memory.
                      eval_batch_size=500 if config["model"] == "cnn" else BATCH_SIZE)
    return TrainingSetup(model, trainer.loss, optimizer, trainer, config["epochs"], config)


def _image_shape(input_size: int, input_shape) -> tuple[int, int, int] | None:
    """`input_shape` as (channels, height, width), else one channel of square images, or None."""
    if input_shape is not None:
        shape = tuple(int(n) for n in input_shape)
        return (1, *shape) if len(shape) == 2 else shape
    side = math.isqrt(input_size)
    return (1, side, side) if side * side == input_size else None


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
