"""`RunConfig`: the one schema of a training run, and the builders that turn one into a model
and its training.

    config = RunConfig(hidden_sizes=(100,), learning_rate=0.5, optimizer="sgd", batch_size=None)
    built = config.build(input_size=784, num_classes=10)      # model, optimizer, Trainer
    built.trainer.fit(train, validation, epochs=built.epochs)
    model = config.build_model(input_shape=(784,), num_classes=10)  # the model only

Each field is a `setting`: its default, its help text (the command line's options are
generated from them, see app/options.py) and its check, one of the `utils.checks`
functions. A bad value is a `ConfigError` (a ValueError) whose `field` names the field:
checked once, when the config is made. Adding an option to the whole toolkit (`train`,
`kfold`, experiment files, run folders) is adding one field here.

Experiment files and result stores hold a trial as a plain dict of the training fields
(`TRIAL_FIELDS`); `canonical_config` fills and normalises one (so `1` and `1.0`, `100` and
`[100]` are the same trial), and `config_key` hashes what differs from the defaults: a key
that stays stable when later versions add new fields with defaults.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np

from tinygrad_mnist import nn, optim
from tinygrad_mnist.data import RandomShift, prepare_images, stratified_split
from tinygrad_mnist.inference import BATCH_SIZE
from tinygrad_mnist.train.callbacks import EarlyStopping
from tinygrad_mnist.train.trainer import Trainer
from tinygrad_mnist.utils.checks import check_int, check_number

# The same names as the command line's: "momentum" and "nesterov" are SGD with `momentum`.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
SCHEDULES = ("none", "cosine", "step")
MODELS = ("mlp", "cnn")


class ConfigError(ValueError):
    """A value a run's config cannot take; `field` names the field (None: the whole config)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


# ------------------------------------------------------------------ checks
# Each takes the field's name and value and returns the canonical value, or raises.
def _int(low, allow_none=False):
    return lambda name, value: check_int(name, value, "config", low, allow_none)


def _float(low, high=np.inf, low_open=False, allow_none=False):
    def check(name, value):
        if value is None and allow_none:
            return None
        # A config value is a float below `high`; the library's checks read the same everywhere.
        return check_number(name, value, "config", low, high, high_inclusive=False,
                            low_inclusive=not low_open)
    return check


def _choice(choices):
    def check(name, value):
        if not isinstance(value, str) or value.lower() not in choices:
            raise ValueError(f"config[{name!r}]: expected one of {list(choices)}, got {value!r}")
        return value.lower()
    return check


def _sizes(name, value):
    sizes = [value] if isinstance(value, numbers.Integral) else value
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (list, tuple)):
        raise ValueError(f"config[{name!r}]: expected a list of ints >= 1, got {value!r}")
    return tuple(check_int(f"{name}[{i}]", size, "config", 1) for i, size in enumerate(sizes))


def _odd(name, value):
    value = check_int(name, value, "config", 1)
    if value % 2 == 0:
        raise ValueError(f"config[{name!r}]: expected an odd int >= 1, got {value}")
    return value


def _bool(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"config[{name!r}]: expected true or false, got {value!r}")
    return bool(value)


def _init(name, value):
    if value == "auto":
        return value
    if not isinstance(value, str) or value.lower() not in nn.init.INITIALIZERS:
        raise ValueError(f"config[{name!r}]: expected 'auto' or one of "
                         f"{list(nn.init.INITIALIZERS)}, got {value!r}")
    return value.lower()


def _batch_size(name, value):
    return None if value in (None, "full") else check_int(name, value, "config", 1, True)


def _weights_from(name, value):
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
        raise ValueError(f"config[{name!r}]: expected the path of a trained run, got {value!r}")
    return os.path.abspath(os.fspath(value))  # the run folder says where, from anywhere


def _dataset(name, value):
    if not isinstance(value, str) or not value:
        raise ValueError(f"dataset: expected a data set name or an .npz path, got {value!r}")
    return value


# ------------------------------------------------------- reading from text
def sizes_from_text(text: str) -> tuple[int, ...]:
    """`"512,256"` -> (512, 256); `"none"` -> () (no hidden layer: a linear model)."""
    if text.strip().lower() == "none":
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"expected layer sizes separated by commas (e.g. 512,256), "
                         f"got {text!r}") from None


def batch_size_from_text(text: str) -> int | str:
    """An int, or `"full"` (full-batch gradient descent; the schema reads it as None)."""
    if text.strip().lower() == "full":
        return "full"
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an integer or 'full', got {text!r}") from None


def setting(default, help: str, check, *, option: str | None = None, metavar: str | None = None,
            parse=None, choices=None, group: str = "training", trial: bool = True,
            command_line: bool = True, models: tuple[str, ...] = MODELS):
    """A field of `RunConfig`: its `default`, `help` text and `check(name, value)`.

    The rest is for the command line (app/options.py): the `option` (default: --field-name),
    its `metavar`, `parse` (text -> value; default: the default's type), `choices`, the
    help `group`; `command_line=False` for a field another option sets (--dataset).
    `help` may name {default}, {cnn} (the CNN preset's value) and {choices}. `trial=False`:
    a field of the run, not of the trained model (validation split, seed, data set).
    `models`: the kinds of model the field applies to; for the others it stays at its
    default and is left out of the run's files (`RunConfig.to_dict`).
    """
    metadata = {"help": help, "check": check, "option": option, "metavar": metavar,
                "parse": parse, "choices": choices, "group": group, "trial": trial,
                "command_line": command_line, "models": models}
    if isinstance(default, (list, tuple)):
        return dataclasses.field(default=tuple(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


# -------------------------------------------------------------------- schema
# The defaults are what `tinygrad-mnist train` runs with no options: 784-256-128-10 ReLU,
# Nesterov SGD, cosine schedule, batches of 128, 5 epochs (98.21% and 98.08% MNIST test
# accuracy with seeds 0 and 1; a sixth epoch added 0.01-0.08 points and a sixth of the time).
@dataclass(frozen=True)
class RunConfig:
    """One training run: model, optimizer, schedule, epochs, validation, seed and data set.

    Every field is checked when the config is made (a `ConfigError` naming it); sizes are
    tuples. A field that does not apply to the model (an MLP's `kernel_size`: see each
    field's `models`) holds its default and is left out of `to_dict`. See each field's
    help (`tinygrad-mnist train --help` shows them all).
    """

    model: str = setting(
        "mlp", "mlp (Dense layers) or cnn (convolutions, then Dense layers); cnn brings its own "
        "defaults: {cnn_preset} (default: {default})", _choice(MODELS), metavar="KIND",
        choices=MODELS, group="model")
    hidden_sizes: tuple[int, ...] = setting(
        (256, 128), "hidden layer sizes, comma-separated, e.g. 512,256 or 100; 'none' for a "
        "linear model (default: {default}; with --model cnn, the Dense layers after the "
        "convolutions: {cnn})", _sizes, option="--hidden", metavar="SIZES",
        parse=sizes_from_text, group="model")
    channels: tuple[int, ...] = setting(
        (16, 32), "cnn: the channels of each convolution block (convolution, activation, 2x2 "
        "max pool), comma-separated (default: {cnn})", _sizes, metavar="SIZES",
        parse=sizes_from_text, group="model", models=("cnn",))
    kernel_size: int = setting(
        5, "cnn: the side of the convolution kernels, odd (default: {cnn})", _odd, metavar="K",
        group="model", models=("cnn",))
    batch_norm: bool = setting(
        False, "cnn: batch normalisation after each convolution and hidden Dense layer "
        "(default: {cnn})", _bool, group="model", models=("cnn",))
    activation: str = setting(
        "relu", "the activation between layers: {choices} (default: {default})",
        _choice(nn.ACTIVATIONS), metavar="NAME",
        choices=tuple(name for name in nn.ACTIVATIONS if name != "softmax"), group="model")
    init: str = setting(
        "auto", "how the weights start: {choices}; auto is He for ReLU-like activations, "
        "Xavier for the others (default: {default})", _init, metavar="NAME",
        choices=("auto", *nn.init.INITIALIZERS), group="model")
    optimizer: str = setting(
        "nesterov", "sgd (plain), momentum (SGD with --momentum), nesterov (SGD with Nesterov "
        "momentum), adam or adamw (default: {default})", _choice(OPTIMIZERS), metavar="NAME",
        choices=OPTIMIZERS)
    learning_rate: float = setting(
        0.1, "the learning rate, > 0 (default: {default}; about 1e-3 suits adam)",
        _float(0.0, low_open=True), option="--lr", metavar="RATE")
    momentum: float = setting(
        0.9, "the momentum of the momentum and nesterov optimizers, in [0, 1) "
        "(default: {default})", _float(0.0, 1.0), metavar="M")
    weight_decay: float = setting(
        0.0, "L2 weight decay (decoupled for adamw), >= 0 (default: {default})", _float(0.0),
        metavar="W")
    batch_size: int | None = setting(
        128, "examples per gradient step, or 'full' for full-batch gradient descent as the "
        "seed project trained (default: {default})", _batch_size, metavar="N|full",
        parse=batch_size_from_text)
    epochs: int = setting(5, "the most epochs to train (default: {default})", _int(1),
                          metavar="N")
    patience: int | None = setting(
        None, "stop when the validation loss has not improved for N epochs and keep the best "
        "weights (default: no early stopping); needs validation data (--validation above 0; "
        "in kfold, each fold validates its own model)", _int(0, allow_none=True), metavar="N",
        parse=int)
    min_delta: float = setting(
        0.0, "with --patience: the least decrease of the validation loss that counts as an "
        "improvement, >= 0 (default: {default})", _float(0.0), metavar="X")
    schedule: str = setting(
        "cosine", "how the learning rate changes per epoch: none (constant), cosine (down to "
        "zero at the last epoch) or step (halved every third of the epochs) (default: "
        "{default})", _choice(SCHEDULES), metavar="NAME", choices=SCHEDULES)
    augment: bool = setting(
        False, "move each training image by up to 2 pixels at random, a fresh draw every "
        "batch (default: {default})", _bool)
    clip_grad_norm: float | None = setting(
        None, "scale each batch's gradients so their joint norm is at most X, > 0 (default: "
        "no clipping)", _float(0.0, low_open=True, allow_none=True), metavar="X", parse=float)
    # The run's own fields: how it is validated and seeded, and which data it reads.
    validation: int = setting(
        5000, "hold out N stratified training images (at most half the training set) to "
        "validate on after every epoch; 0: none (default: {default})", _int(0), metavar="N",
        trial=False)
    seed: int = setting(
        0, "seeds the weights, the batch order and the validation split (default: {default})",
        _int(0), metavar="N", trial=False)
    dataset: str = setting("mnist", "the data set: a name or an .npz file", _dataset,
                           trial=False, command_line=False)
    init_from: str | None = setting(
        None, "the run folder (or model.npz) whose trained weights the model started from, "
        "as an absolute path; None: random weights drawn from the seed", _weights_from,
        trial=False, command_line=False)  # `train --init-from` sets it

    def __post_init__(self) -> None:
        for spec in dataclasses.fields(self):
            try:
                value = spec.metadata["check"](spec.name, getattr(self, spec.name))
            except (TypeError, ValueError) as error:  # a wrong type is bad data too
                raise ConfigError(str(error), spec.name) from None
            object.__setattr__(self, spec.name, value)
        if self.model == "cnn" and not self.channels:
            raise ConfigError("config['channels']: a cnn needs at least one convolution block, "
                              "got none (for no convolutions, use model mlp)", "channels")
        for spec in dataclasses.fields(self):  # unused values must not make two runs differ
            if self.model not in spec.metadata["models"]:
                object.__setattr__(self, spec.name, spec.default)
        if self.patience is not None and self.validation == 0:
            raise ConfigError(
                f"patience: early stopping (patience={self.patience}) needs validation data; "
                "hold out some images (validation above 0, e.g. 5000)", "patience")

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict:
        """The fields that apply to this run's model as a JSON-ready dict (sizes as lists):
        what `config.json` and `kfold --out` hold; an MLP's has no CNN fields."""
        return {spec.name: _json_value(getattr(self, spec.name))
                for spec in dataclasses.fields(self) if self.model in spec.metadata["models"]}

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """The inverse of `to_dict`; an unknown key is a ConfigError (a typo, or a newer file).
        A field that does not apply to the model is read and ignored, as files written
        before `to_dict` left such fields out hold them."""
        if not isinstance(data, dict):
            raise ConfigError(f"config: expected a dict of fields, got {type(data).__name__}")
        known = {spec.name for spec in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"config: unknown keys {unknown}; known keys are {sorted(known)}")
        return cls(**data)

    def trial_config(self) -> dict:
        """The training fields as a canonical trial dict (experiment files, stores, keys):
        sizes as lists, and momentum at its default where the optimizer has none."""
        trial = {name: getattr(self, name) for name in TRIAL_FIELDS}
        if self.optimizer not in ("momentum", "nesterov"):
            trial["momentum"] = _DEFAULTS["momentum"]
        return {name: _json_value(value) for name, value in trial.items()}

    # ------------------------------------------------------------------- data
    def validation_size(self, train_size: int) -> int:
        """The images held out of `train_size` for validation: `validation`, but at most
        half, so a small data set (say, `synthetic`) still trains on most of its images."""
        return min(self.validation, train_size // 2)

    @property
    def input_layout(self) -> str:
        """How the model takes images: "nchw" for a CNN, "flat" rows for an MLP."""
        return "nchw" if self.model == "cnn" else "flat"

    def prepare(self, images) -> np.ndarray:
        """Images as this run's model eats them: floats in [0, 1], NCHW for a CNN (unless
        the images are flat rows already), else flat rows."""
        images = np.asarray(images)
        return prepare_images(images, layout=self.input_layout if images.ndim == 3 else "flat")

    def holdout(self, images, labels: np.ndarray, prepare=None):
        """`(train, validation)` pairs, prepared for the model: the stratified validation
        images this run holds out (validation is None when it holds out none). Split as
        uint8 pixels, then prepared (by `prepare(images)`, default `self.prepare`; the
        command line lays them out as the built model's `input_shape` says): a quarter of
        the bytes to gather, one float copy."""
        images = np.asarray(images)
        prepare = self.prepare if prepare is None else prepare
        size = self.validation_size(len(labels))
        if size == 0:
            return (prepare(images), labels), None
        train_index, valid_index = stratified_split(labels, 1 - size / len(labels),
                                                    seed=self.seed)
        return ((prepare(images[train_index]), labels[train_index]),
                (prepare(images[valid_index]), labels[valid_index]))

    # --------------------------------------------------------------- building
    def build_model(self, input_shape, num_classes: int = 10, seed=None) -> nn.Layer:
        """This run's model alone, for examples of `input_shape` (`build_model`): what
        loading the trained weights needs, without optimizer or `Trainer`."""
        return build_model(self, input_shape=input_shape, num_classes=num_classes,
                           seed=self.seed if seed is None else seed)

    def build(self, input_size: int = 784, num_classes: int = 10, callbacks=(), seed=None,
              input_shape=None) -> TrainingSetup:
        """The model, optimizer and `Trainer` of this run (a `TrainingSetup`).

        `seed` (default: this config's `seed`) draws the weights and the batch order.
        `input_shape` is a CNN's (channels, height, width), by default square grey images.
        """
        return build_training(self, self.seed if seed is None else seed,
                              input_size=input_size, num_classes=num_classes,
                              callbacks=callbacks, input_shape=input_shape)


def _json_value(value):
    return list(value) if isinstance(value, tuple) else value


_FIELDS = {spec.name: spec for spec in dataclasses.fields(RunConfig)}
_DEFAULTS = {name: spec.default for name, spec in _FIELDS.items()}
#: The fields of a trial (what a trained model depends on), in order.
TRIAL_FIELDS = tuple(name for name, spec in _FIELDS.items() if spec.metadata["trial"])
#: The default trial, as a canonical dict (sizes as lists).
CONFIG_DEFAULTS = {name: list(_DEFAULTS[name]) if isinstance(_DEFAULTS[name], tuple)
                   else _DEFAULTS[name] for name in TRIAL_FIELDS}

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


def run_config(config) -> RunConfig:
    """`config` as a `RunConfig`: itself, or a trial dict checked (unknown keys refused)."""
    if isinstance(config, RunConfig):
        return config
    if not isinstance(config, dict):
        raise TypeError(f"config: expected a dict, got {type(config).__name__}")
    unknown = sorted(set(config) - set(TRIAL_FIELDS))
    if unknown:
        raise ConfigError(
            f"config: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
            f"; known keys: {', '.join(TRIAL_FIELDS)}")
    return RunConfig(**config)


def canonical_config(config: dict) -> dict:
    """`config` with every default filled in and every value normalised and checked."""
    return run_config(config).trial_config()


def config_key(config: dict) -> str:
    """A stable 16-hex-digit key for the trial `config` describes.

    It hashes only the values that differ from the defaults, in canonical form, so
    equivalent configs share a key and adding a new key (with a default) later
    leaves every existing key unchanged.
    """
    canonical = canonical_config(config)
    differing = {k: v for k, v in canonical.items() if v != CONFIG_DEFAULTS[k]}
    text = json.dumps(differing, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class TrainingSetup:
    """What `build_training` makes: ready to `trainer.fit(..., epochs=built.epochs)`."""

    model: nn.Layer
    loss: nn.Loss
    optimizer: optim.Optimizer
    trainer: Trainer
    epochs: int
    config: dict


def build_model(config, *, input_shape, num_classes: int, seed=None) -> nn.Layer:
    """The model of `config` (a `RunConfig` or a trial dict) alone, an `MLP` or a `CNN`, for
    examples of `input_shape`: no optimizer, schedule or `Trainer` (what loading a trained
    model needs). An MLP takes rows of `prod(input_shape)` values; a CNN takes images:
    `input_shape` (channels, height, width), (height, width) for grey ones, or rows of a
    square's pixels. `seed` (int or Generator) draws the weights.
    """
    config = run_config(config)
    init = None if config.init == "auto" else config.init
    input_shape = tuple(int(n) for n in input_shape)
    size = int(np.prod(input_shape))
    rng = np.random.default_rng(seed)
    if config.model == "mlp":
        return nn.MLP(size, list(config.hidden_sizes), num_classes,
                      activation=config.activation, init=init, seed=rng)
    shape = _image_shape(size, input_shape if len(input_shape) > 1 else None)
    if shape is None:
        raise ConfigError(f"config['model']: a CNN needs images, but inputs of {size} values "
                          "are not square; give their input_shape", "model")
    return nn.CNN(shape, list(config.channels), num_classes, kernel_size=config.kernel_size,
                  hidden_sizes=list(config.hidden_sizes), batch_norm=config.batch_norm,
                  activation=config.activation, init=init, seed=rng)


def build_training(config, seed=None, *, input_size: int, num_classes: int, callbacks=(),
                   input_shape=None) -> TrainingSetup:
    """The model, `CrossEntropyLoss`, optimizer and `Trainer` of `config` (a `RunConfig` or
    a trial dict).

    One `seed` (int, SeedSequence or None) is split into independent streams for the
    weights, the batch order and the augmentation. `patience` adds an `EarlyStopping`
    on the validation loss (restoring the best weights); `callbacks` are added after
    it. A CNN's images are `input_shape` (channels, height, width); by default one
    channel of square images of `input_size` pixels.
    """
    config = run_config(config)
    # The first two streams are the same whatever the count: older runs stay reproducible.
    weights_seed, order_seed, augment_seed = np.random.SeedSequence(seed).spawn(3)
    model = build_model(config, input_shape=(input_size,) if input_shape is None else input_shape,
                        num_classes=num_classes, seed=np.random.default_rng(weights_seed))
    optimizer = _make_optimizer(config, model.parameters())
    scheduler = None
    if config.schedule == "cosine":
        scheduler = optim.CosineLR(optimizer, total_epochs=config.epochs)
    elif config.schedule == "step":
        scheduler = optim.StepLR(optimizer, step_size=max(1, config.epochs // 3), gamma=0.5)
    stopping = []
    if config.patience is not None:
        stopping = [EarlyStopping(patience=config.patience, min_delta=config.min_delta)]
    transform = None
    if config.augment:
        shape = _image_shape(input_size, input_shape)
        if shape is None:
            raise ConfigError(f"config['augment']: shifts need square images, but inputs have "
                              f"{input_size} values", "augment")
        transform = RandomShift(2, seed=np.random.default_rng(augment_seed),
                                image_shape=shape[1:])
    trainer = Trainer(model, nn.CrossEntropyLoss(), optimizer,
                      batch_size=config.batch_size, callbacks=[*stopping, *callbacks],
                      seed=np.random.default_rng(order_seed), scheduler=scheduler,
                      clip_grad_norm=config.clip_grad_norm, transform=transform,
                      # A CNN's evaluation gathers every window of a chunk at once: smaller
                      # chunks, bounded memory.
                      eval_batch_size=500 if config.model == "cnn" else BATCH_SIZE)
    return TrainingSetup(model, trainer.loss, optimizer, trainer, config.epochs,
                         config.trial_config())


def _image_shape(input_size: int, input_shape) -> tuple[int, int, int] | None:
    """`input_shape` as (channels, height, width), else one channel of square images, or None."""
    if input_shape is not None:
        shape = tuple(int(n) for n in input_shape)
        return (1, *shape) if len(shape) == 2 else shape
    side = math.isqrt(input_size)
    return (1, side, side) if side * side == input_size else None


def _make_optimizer(config: RunConfig, parameters) -> optim.Optimizer:
    lr, decay = config.learning_rate, config.weight_decay
    if config.optimizer == "adam":
        return optim.Adam(parameters, lr=lr, weight_decay=decay)
    if config.optimizer == "adamw":
        return optim.AdamW(parameters, lr=lr, weight_decay=decay)
    momentum = 0.0 if config.optimizer == "sgd" else config.momentum
    return optim.SGD(parameters, lr=lr, momentum=momentum,
                     nesterov=config.optimizer == "nesterov", weight_decay=decay)
