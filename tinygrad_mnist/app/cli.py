"""The `tinygrad-mnist` command: train, predict, evaluate, export, search, kfold, report,
show, fetch, studio.

This is the only module that prints. Each subcommand is one `_cmd_*` function that
puts library pieces together; the library does the work and reports through return
values and `logging`. Errors in what the user typed or gave (a bad option value, a
missing or corrupt file) end as one line on stderr and exit status 2; Ctrl-C ends with
status 130 after saying what was kept.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import logging
import os
import re
import sys
from pathlib import Path

import numpy as np

from tinygrad_mnist import __version__, predict_proba
from tinygrad_mnist import data as data_module
from tinygrad_mnist.app.predict import (
    classify_files,
    evaluate_model,
    model_classes,
    model_inputs,
)
from tinygrad_mnist.app.run_config import OPTIMIZERS, SCHEDULES, TrainConfig
from tinygrad_mnist.app.run_folder import (
    CHECKPOINT_FILE,
    load_run_model,
    model_file,
    new_run_folder,
    prepare_run_folder,
    read_run_config,
    run_class_names,
    save_model_first,
    write_config,
    write_run_folder,
)
from tinygrad_mnist.data import prepare_images, stratified_split
from tinygrad_mnist.data.by_name import DATASET_NAMES, load_named_dataset
from tinygrad_mnist.experiments import (
    ResultStore,
    expand_grid,
    export_csv,
    export_json,
    export_markdown,
    grid_search,
    load_experiment,
    markdown_report,
    ranking_table,
)
from tinygrad_mnist.experiments.experiment import SHIPPED_EXPERIMENTS
from tinygrad_mnist.experiments.outputs import check_distinct, check_replaceable, marker
from tinygrad_mnist.experiments.ranking import one_experiment
from tinygrad_mnist.experiments.search import WorkerDiedError, experiment_record
from tinygrad_mnist.experiments.store import experiment_id
from tinygrad_mnist.experiments.tables import json_safe, markdown_table
from tinygrad_mnist.train import (
    CONFIG_DEFAULTS,
    KFoldResult,
    confident_mistakes,
    kfold,
    metrics,
    progress_report,
)
from tinygrad_mnist.train.builders import MODELS, PRESETS
from tinygrad_mnist.train.evaluation import evaluate
from tinygrad_mnist.train.event_log import EVENTS_FILE, EventLog
from tinygrad_mnist.utils.atomic import atomic_write_text
from tinygrad_mnist.viz.figure_file import save_figure

PROG = "tinygrad-mnist"
EXIT_FAILED = 1  # the work itself failed (say, a worker process of a search died)
EXIT_USAGE = 2
EXIT_DIVERGED = 3  # training diverged: the model's outputs are not finite, no accuracy
EXIT_INTERRUPTED = 130

logger = logging.getLogger("tinygrad_mnist.app.cli")


class UsageError(Exception):
    """Something the user typed or pointed at is wrong: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a mistake is one line (no usage block), raised for `main` to report."""

    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ---------------------------------------------------------------- option types
def hidden_sizes(text: str) -> tuple[int, ...]:
    """`"512,256"` -> (512, 256); `"none"` -> () (no hidden layer: a linear model)."""
    if text.strip().lower() == "none":
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected layer sizes separated by commas (e.g. 512,256), got {text!r}"
        ) from None


def batch_size(text: str) -> int | str:
    """An int, or `"full"` (full-batch gradient descent; the schema reads it as None)."""
    if text.strip().lower() == "full":
        return "full"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'full', got {text!r}") \
            from None


def _int_at_least(low: int, also: str = ""):
    """For options outside the training schema (--k, --jobs, --n): parsed and checked here."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {low}{' ' + also if also else ''}, got {text!r}"
            )
        return value

    parse.__name__ = f"int>={low}"
    return parse


# --------------------------------------------------------------------- parser
def _add_data_options(parser: argparse.ArgumentParser, default_dataset: str | None = "mnist",
                      applied_later: bool = False):
    """`--dataset` and `--data-root`. `applied_later`: the option stays None when not given
    (so a command can tell), and `default_dataset` is what it then means."""
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset", default=None if applied_later else default_dataset, metavar="NAME|FILE",
        help=f"the data set: {' or '.join(DATASET_NAMES)}, or an .npz file holding the arrays "
             "train_images, train_labels, test_images, test_labels (images N x 28 x 28 uint8 "
             "or N x 784, labels 0..9)" + (f" (default: {default_dataset})"
                                           if default_dataset else ""),
    )
    group.add_argument(
        "--data-root", type=Path, metavar="DIR",
        help="a folder holding the data set's four IDX files (.gz or raw) or the older CSV "
             "files, used instead of the cache (files are verified against the known checksums)",
    )


def _add_model_options(parser: argparse.ArgumentParser, holdout: bool = True) -> None:
    """The options of one training configuration, shared by `train` and `kfold`.

    `holdout=False` (k-fold, whose folds are the validation data) leaves out
    `--validation`.
    """
    d, cnn = TrainConfig(), TrainConfig(**PRESETS["cnn"])
    model = parser.add_argument_group("model")
    model.add_argument(
        "--model", choices=MODELS, default=None, metavar="KIND",
        help="mlp (Dense layers) or cnn (convolutions, then Dense layers); cnn brings its own "
             f"defaults: {_preset_text('cnn')} (default: {d.model})",
    )
    model.add_argument(
        "--hidden", type=hidden_sizes, default=None, metavar="SIZES",
        help="hidden layer sizes, comma-separated, e.g. 512,256 or 100; 'none' for a linear "
             f"model (default: {','.join(map(str, d.hidden_sizes))}; with --model cnn, the "
             f"Dense layers after the convolutions: {_sizes_text(cnn.hidden_sizes)})",
    )
    model.add_argument(
        "--channels", type=hidden_sizes, default=None, metavar="SIZES",
        help="cnn: the channels of each convolution block (convolution, activation, 2x2 max "
             f"pool), comma-separated (default: {_sizes_text(cnn.channels)})",
    )
    model.add_argument(
        "--kernel-size", type=int, default=None, metavar="K",
        help=f"cnn: the side of the convolution kernels, odd (default: {cnn.kernel_size})",
    )
    model.add_argument(
        "--batch-norm", action=argparse.BooleanOptionalAction, default=None,
        help="cnn: batch normalisation after each convolution and hidden Dense layer "
             f"(default: {'on' if cnn.batch_norm else 'off'})",
    )
    from tinygrad_mnist.nn import ACTIVATIONS

    model.add_argument(
        "--activation", choices=[name for name in ACTIVATIONS if name != "softmax"],
        default=None, metavar="NAME",
        help="the activation between layers: "
             f"{', '.join(n for n in ACTIVATIONS if n != 'softmax')} (default: {d.activation})",
    )
    training = parser.add_argument_group("training")
    training.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=None, metavar="NAME",
        help="sgd (plain), momentum (SGD with --momentum), nesterov (SGD with Nesterov "
             f"momentum), adam or adamw (default: {d.optimizer})",
    )
    training.add_argument(
        "--lr", type=float, default=None, metavar="RATE",
        help=f"the learning rate, > 0 (default: {d.learning_rate:g}; about 1e-3 suits adam)",
    )
    training.add_argument(
        "--momentum", type=float, default=None, metavar="M",
        help=f"the momentum of the momentum and nesterov optimizers, in [0, 1) "
             f"(default: {d.momentum:g})",
    )
    training.add_argument(
        "--weight-decay", type=float, default=None, metavar="W",
        help=f"L2 weight decay (decoupled for adamw), >= 0 (default: {d.weight_decay:g})",
    )
    training.add_argument(
        "--schedule", choices=SCHEDULES, default=None, metavar="NAME",
        help="how the learning rate changes per epoch: none (constant), cosine (down to zero "
             f"at the last epoch) or step (halved every third of the epochs) "
             f"(default: {d.schedule})",
    )
    training.add_argument(
        "--batch-size", type=batch_size, default=None, metavar="N|full",
        help="examples per gradient step, or 'full' for full-batch gradient descent as the "
             f"seed project trained (default: {d.batch_size})",
    )
    training.add_argument(
        "--epochs", type=int, default=None, metavar="N",
        help=f"the most epochs to train (default: {d.epochs})",
    )
    training.add_argument(
        "--patience", type=int, default=None, metavar="N",
        help="stop when the validation loss has not improved for N epochs and keep the best "
             "weights (default: no early stopping)" + (
                 "; needs validation data (--validation above 0)"
                 if holdout else "; each fold validates its own model"),
    )
    training.add_argument(
        "--clip-grad-norm", type=float, default=None, metavar="X",
        help="scale each batch's gradients so their joint norm is at most X, > 0 (default: "
             "no clipping)",
    )
    if holdout:
        training.add_argument(
            "--validation", type=int, default=None, metavar="N",
            help=f"hold out N stratified training images (at most half the training set) to "
                 f"validate on after every epoch; 0: none (default: {d.validation})",
        )
    training.add_argument(
        "--augment", action=argparse.BooleanOptionalAction, default=None,
        help="move each training image by up to 2 pixels at random, a fresh draw every batch "
             f"(default: {'on' if d.augment else 'off'})",
    )
    training.add_argument(
        "--seed", type=int, default=None, metavar="N",
        help=f"seeds the weights, the batch order and the validation split (default: {d.seed})",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `tinygrad-mnist` and all its subcommands."""
    parser = _Parser(
        prog=PROG,
        description="Train, search and inspect small neural networks on MNIST, with a "
                    "readable NumPy autograd framework.",
        epilog=f"Run '{PROG} COMMAND --help' for a command's options. "
               f"Start with '{PROG} train'.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="log only warnings (no per-epoch lines)")
    parser.add_argument("--traceback", action="store_true",
                        help="on an error, show the full Python traceback (for bug reports)")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train", help="train a model and write a run folder (the main job)",
        description="Train one model, print its test accuracy and write a run folder: "
                    "model.npz, config.json, history.json, report.md and the figures "
                    "(learning curves, predictions, confusion matrix, true vs predicted). "
                    "With no options it fetches MNIST and trains the default model "
                    "(about 98% test accuracy in seconds, one BLAS thread unless OMP_NUM_THREADS "
                    "or OPENBLAS_NUM_THREADS says otherwise).",
    )
    _add_model_options(train)
    _add_data_options(train, applied_later=True)  # --resume takes the run's own
    train.add_argument(
        "--out", type=Path, metavar="DIR",
        help="the run folder to write; it must not already hold a run (default: "
             "runs/<date>-<time> in the current folder)",
    )
    train.add_argument(
        "--resume", type=Path, metavar="RUN",
        help="continue the run in folder RUN from its last finished epoch (after Ctrl-C, a "
             "crash or a kill), as it was configured; the result is the one an uninterrupted "
             "run gives, bit for bit",
    )
    train.set_defaults(handler=_cmd_train)

    predict = commands.add_parser(
        "predict", help="classify image files (PNG, JPEG) with a trained model",
        description="Classify the digit in each image file: any size, grey or colour, light "
                    "on dark or dark on light. Each image is framed as MNIST's are (cropped "
                    "to the digit, scaled into 20x20, centred by mass in 28x28). Prints one "
                    "line per image: the file, the class and its probability. A file that "
                    "cannot be read is one line on stderr; the others are still classified, "
                    "and the exit status is 2.",
    )
    predict.add_argument("model", type=Path, metavar="MODEL",
                         help="a run folder, or the model.npz in one")
    predict.add_argument("images", type=Path, nargs="+", metavar="IMAGE",
                         help="PNG or JPEG files")
    predict.add_argument("--top", type=_int_at_least(1), default=1, metavar="K",
                         help="show the K most probable classes (default: 1)")
    predict.add_argument("--json", action="store_true",
                         help="print the results as one JSON document, for programs")
    predict.set_defaults(handler=_cmd_predict)

    evaluate_command = commands.add_parser(
        "evaluate", help="score a trained model on a test set",
        description="Score a saved model on a data set's test images: loss, accuracy and "
                    "the accuracy of each class; writes the confusion matrix and the most "
                    "confident mistakes as PNGs, and the figures as JSON, beside the model "
                    "(or into --out).",
    )
    evaluate_command.add_argument("model", type=Path, metavar="MODEL",
                                  help="a run folder, or the model.npz in one")
    evaluate_command.add_argument("--out", type=Path, metavar="DIR",
                                  help="the folder for the figures (default: the model's)")
    _add_data_options(evaluate_command, default_dataset=None)
    evaluate_command.set_defaults(handler=_cmd_evaluate)

    export = commands.add_parser(
        "export", help="export a trained model to ONNX",
        description="Write a saved model as an ONNX file that other runtimes (onnxruntime, "
                    "browsers, phones) run. Its input 'images' is a float32 batch of "
                    "pixel / 255 (N x 784 for an MLP), its output 'logits'. Needs the onnx "
                    "extra: pip install 'tinygrad-mnist[onnx]'.",
    )
    export.add_argument("model", type=Path, metavar="MODEL",
                        help="a run folder, or the model.npz in one")
    export.add_argument("--onnx", type=Path, required=True, metavar="FILE",
                        help="the .onnx file to write")
    export.set_defaults(handler=_cmd_export)

    kfold = commands.add_parser(
        "kfold", help="k-fold cross-validation of one configuration",
        description="Stratified k-fold cross-validation of one training configuration on the "
                    "training set: each fold's validation accuracy and loss, their mean and "
                    "standard deviation.",
    )
    _add_model_options(kfold, holdout=False)
    _add_data_options(kfold)
    kfold.add_argument("--k", type=_int_at_least(2), default=5, metavar="K",
                       help="the number of folds, >= 2 (default: 5)")
    kfold.add_argument("--out", type=Path, metavar="FILE",
                       help="also write the per-fold figures and the summary as JSON to FILE")
    kfold.set_defaults(handler=_cmd_kfold)

    search = commands.add_parser(
        "search", help="grid search from an experiment file (TOML)",
        description="Run the grid search an experiment file describes: holdout screening of "
                    "every configuration, k-fold of the best, then the test score of the "
                    "winner. Every finished trial is saved at once to the result store; run "
                    "the same command again to resume after a crash or Ctrl-C. Writes the "
                    "JSON, CSV and Markdown exports and a heat map PNG.",
    )
    search.add_argument("config", type=Path, metavar="CONFIG.toml",
                        help="the experiment file, or the name of one that ships with the "
                             f"package: {', '.join(_shipped_experiments())}")
    search.add_argument("--jobs", type=_int_at_least(-1), default=None, metavar="N",
                        help="trials run in parallel (-1: one per core; default: the "
                             "experiment file's value, else 1)")
    search.add_argument("--store", type=Path, metavar="PATH",
                        help="the SQLite result store (default: the experiment file's "
                             "[outputs] store, else results.sqlite in the output folder)")
    search.add_argument("--out", type=Path, metavar="DIR",
                        help="the output folder: results.json, results.csv, report.md and "
                             "heatmap.png go there, whatever the experiment file's [outputs] "
                             "say (default: those [outputs], else runs/<file name>-<data "
                             "set> in the current folder)")
    search.add_argument("--retry-failed", action="store_true",
                        help="run the trials that failed in an earlier run again (by "
                             "default a resumed search keeps them as they are)")
    search.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="run the trials on the Dask cluster of this scheduler (started "
                             "with 'dask scheduler' and 'dask worker'; see "
                             "docs/command-line.md) instead of local processes")
    _add_data_options(search, default_dataset=None)
    search.set_defaults(handler=_cmd_search)

    report = commands.add_parser(
        "report", help="exports and a summary table of a result store",
        description="Write the JSON, CSV and Markdown exports of a result store and print "
                    "its summary table.",
    )
    report.add_argument("store", type=Path, metavar="STORE", help="the SQLite result store")
    report.add_argument("--out", type=Path, metavar="DIR",
                        help="the folder for the exports (default: the store's folder)")
    report.set_defaults(handler=_cmd_report)

    show = commands.add_parser(
        "show", help="a PNG of a saved model's predictions on test images",
        description="Load a model saved by 'train' (its config.json must lie beside it) and "
                    "draw its predictions on test images, mistakes marked in red; or, with "
                    "--saliency, which pixels each prediction depends on.",
    )
    show.add_argument("model", type=Path, metavar="MODEL",
                      help="a run folder, or the model.npz in one")
    show.add_argument("--out", type=Path, metavar="PNG|DIR",
                      help="the image to write, or a folder to write it into (default: "
                           "predictions-<n>.png, mistakes-<n>.png or saliency-<n>.png beside "
                           "the model)")
    show.add_argument("--n", type=_int_at_least(1), default=25, metavar="N",
                      help="how many test images to show (default: 25; at most 64 with "
                           "--saliency)")
    shown = show.add_mutually_exclusive_group()
    shown.add_argument("--mistakes", action="store_true",
                       help="show only images the model gets wrong, the most confident first")
    shown.add_argument("--saliency", action="store_true",
                       help="beside each image, the gradient of the predicted class's score "
                            "with respect to its pixels, computed by backward()")
    _add_data_options(show, default_dataset=None)
    show.set_defaults(handler=_cmd_show)

    fetch = commands.add_parser(
        "fetch", help="download and verify a data set into the cache",
        description="Fill the data cache (download or copy, verify against the known "
                    "checksums) and print where it is. Set TINYGRAD_MNIST_HOME to choose "
                    "the cache folder.",
    )
    fetch.add_argument("--dataset", choices=DATASET_NAMES[:2], default="mnist", metavar="NAME",
                       help=f"{' or '.join(DATASET_NAMES[:2])} (default: mnist)")
    fetch.add_argument("--data-root", type=Path, metavar="DIR",
                       help="take the files from this folder (IDX, .gz or raw, or the CSV "
                            "layout) instead of downloading them; they are verified")
    fetch.add_argument("--offline", action="store_true",
                       help="never use the network: only the cache and --data-root")
    fetch.set_defaults(handler=_cmd_fetch)

    from tinygrad_mnist.app.studio.server import add_parser as add_studio_parser

    add_studio_parser(commands)
    return parser


# ---------------------------------------------------------------- subcommands
# Option -> TrainConfig field. argparse only parses: an option not given stays None and
# the schema (train.builders.CONFIG_DEFAULTS, through TrainConfig) fills it and checks it.
_CONFIG_OPTIONS = {"model": "model", "hidden": "hidden_sizes", "channels": "channels",
                   "kernel_size": "kernel_size", "batch_norm": "batch_norm",
                   "augment": "augment", "activation": "activation",
                   "optimizer": "optimizer", "lr": "learning_rate", "momentum": "momentum",
                   "weight_decay": "weight_decay", "batch_size": "batch_size",
                   "epochs": "epochs", "schedule": "schedule", "patience": "patience",
                   "seed": "seed", "dataset": "dataset", "clip_grad_norm": "clip_grad_norm",
                   "validation": "validation"}
_OPTION_OF = {field: option.replace("_", "-") for option, field in _CONFIG_OPTIONS.items()}


def _config_from_args(args) -> TrainConfig:
    given = {field: getattr(args, option) for option, field in _CONFIG_OPTIONS.items()
             if getattr(args, option, None) is not None}
    # A model kind's preset (the CNN's) fills what the options leave out.
    preset = PRESETS.get(given.get("model"), {})
    try:
        return TrainConfig(**{**preset, **given, "dataset": str(given.get("dataset", "mnist"))})
    except (TypeError, ValueError) as error:  # the schema's word for it, under the option's name
        field = re.match(r"(?:config(?:\['|: ))?(\w+)", str(error)).group(1)
        option = _OPTION_OF.get(field)
        raise UsageError(f"argument --{option}: {error}" if option else str(error)) from None


def _preset_text(name: str) -> str:
    return ", ".join(f"{key} {_sizes_text(value) if isinstance(value, list) else value}"
                     for key, value in PRESETS[name].items() if key != "model")


def _sizes_text(sizes) -> str:
    return ",".join(map(str, sizes)) or "none"


def _prepare(images, config: TrainConfig) -> np.ndarray:
    """Images as a model of `config` eats them: NCHW for a CNN (unless flat already), else rows."""
    images = np.asarray(images)
    return prepare_images(images, layout="nchw" if config.model == "cnn" and images.ndim == 3
                          else "flat")


def _architecture(config: TrainConfig, input_size: int, num_classes: int) -> str:
    if config.model == "cnn":
        return (f"a CNN (convolutions {_sizes_text(config.channels)}, Dense "
                f"{_sizes_text([*config.hidden_sizes, num_classes])})")
    return " -> ".join(map(str, (input_size, *config.hidden_sizes, num_classes)))


def _holdout(config: TrainConfig, images, y: np.ndarray):
    """`(train, validation)`, prepared for `config`'s model: the stratified validation images
    `config` holds out (or None). Split as uint8 pixels, then prepared: a quarter of the
    bytes to gather, and one float copy of the images instead of two."""
    images = np.asarray(images)
    size = config.validation_size(len(y))
    if size == 0:
        return (_prepare(images, config), y), None
    train_index, valid_index = stratified_split(y, 1 - size / len(y), seed=config.seed)
    return ((_prepare(images[train_index], config), y[train_index]),
            (_prepare(images[valid_index], config), y[valid_index]))


def _resumed_run(args) -> tuple[Path, TrainConfig]:
    """The run folder `--resume` names and its config; refuses options that would change it."""
    changed = [f"--{option.replace('_', '-')}" for option in (*_CONFIG_OPTIONS, "out")
               if getattr(args, option, None) is not None]
    if changed:
        raise UsageError(f"argument --resume: the run goes on as it was configured; "
                         f"{changed[0]} cannot change it")
    folder = args.resume
    if not folder.is_dir():
        raise FileNotFoundError(2, "no such run folder", str(folder))
    config = read_run_config(folder)
    if not (folder / CHECKPOINT_FILE).is_file():
        raise UsageError(f"argument --resume: {folder} has no {CHECKPOINT_FILE}: no epoch of "
                         "that run finished, so there is nothing to continue; train it again")
    return folder, config


# Set one of these to choose the BLAS threads of `train` and `kfold` yourself.
_BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _one_blas_thread():
    """Limit BLAS to one thread while training, unless the environment chose a number.

    On 2 cores shared with any other work, OpenBLAS's second thread waits for a busy
    core: a batch's 128x784 by 784x256 product took 0.36 ms on one thread and 19 ms on
    two, and an epoch of the default model 0.9 s against 2.5 to 24 s (measured).
    """
    if any(os.environ.get(name) for name in _BLAS_THREAD_VARIABLES):
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _cmd_train(args) -> int:
    with _one_blas_thread():
        return _train(args)


def _train(args) -> int:
    resume = args.resume is not None
    if resume:
        folder, config = _resumed_run(args)
    else:
        config = _config_from_args(args)
    data = load_named_dataset(config.dataset, args.data_root)
    train, validation = _holdout(config, data.train_images, data.train_labels)
    x = train[0]
    built = config.build(input_size=x[0].size, num_classes=data.num_classes,
                         callbacks=[progress_report()],
                         input_shape=x.shape[1:] if x.ndim == 4 else None)
    if resume:
        built.trainer.load_checkpoint(folder / CHECKPOINT_FILE)
    else:
        folder = prepare_run_folder(args.out) if args.out is not None else new_run_folder()
        write_config(folder, config)
    built.trainer.checkpoint = folder / CHECKPOINT_FILE
    # The live log the studio follows (and `tail -f` shows): appended to, never rewritten.
    built.trainer.callbacks.append(EventLog(folder / EVENTS_FILE))
    # The first log line comes only now, once every input has been checked: an error
    # before this point is the one line on stderr.
    done = built.trainer.history.epochs_run if resume else 0
    logger.info("%s %s on %s %s images (%s held out for validation) for up to %d epochs; "
                "run folder %s", f"resuming after epoch {done}:" if resume else "training",
                _architecture(config, x[0].size, data.num_classes), f"{len(train[1]):,}",
                data.title, f"{0 if validation is None else len(validation[1]):,}",
                config.epochs, folder)
    interrupted = False
    try:
        history = built.trainer.fit(train, validation, epochs=config.epochs, resume=resume)
    except KeyboardInterrupt:
        history, interrupted = built.trainer.history, True
    # Saved before the test evaluation, so a Ctrl-C during it still leaves the model.
    save_model_first(folder, model=built.model, config=config, history=history)
    try:
        evaluation = evaluate(built.model, _prepare(data.test_images, config), data.test_labels,
                              batch_size=built.trainer.eval_batch_size)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted during the test evaluation; kept the model, its config and "
              f"history in {folder}", file=sys.stderr)
        return EXIT_INTERRUPTED
    written = write_run_folder(folder, model=built.model, config=config, history=history,
                               evaluation=evaluation, images=data.test_images,
                               class_names=data.class_names, dataset_label=data.title)
    figures = sum(name.endswith(".png") for name in written)
    score = ("diverged: the model's outputs are not finite, so it has no test accuracy"
             if evaluation.diverged else f"test accuracy: {evaluation.accuracy:.2%}")
    print(f"{score} on {len(data.test_labels):,} {data.title} "
          f"test images, after {history.epochs_run} epochs ({sum(history.seconds):.1f} s)")
    print(f"run folder: {folder} (report.md, model.npz, history.json, {figures} figures)")
    if interrupted:
        print(f"{PROG}: interrupted after {history.epochs_run} of {config.epochs} epochs; kept the "
              f"run folder {folder} with the model and the history so far; "
              f"'{PROG} train --resume {folder}' goes on", file=sys.stderr)
        return EXIT_INTERRUPTED
    if evaluation.diverged or history.stopped_reason == "diverged":
        print(f"{PROG}: training diverged (the loss became NaN or infinite); try a smaller --lr",
              file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def _cmd_kfold(args) -> int:
    with _one_blas_thread():
        return _kfold(args)


def _kfold(args) -> int:
    config = _config_from_args(args)
    data = load_named_dataset(config.dataset, args.data_root)
    x, y = _prepare(data.train_images, config), data.train_labels
    test = (_prepare(data.test_images, config), data.test_labels)
    fold_numbers = itertools.count(1)  # kfold builds one model per fold, in order

    def build(seed):
        prefix = f"fold {next(fold_numbers)}/{args.k}: "
        return config.build(input_size=x[0].size, num_classes=data.num_classes,
                            callbacks=[progress_report(prefix)], seed=seed,
                            input_shape=x.shape[1:] if x.ndim == 4 else None).trainer

    _check_folds("--k", args.k, y)
    logger.info("%d-fold cross-validation of %s on %s %s training images", args.k,
                _architecture(config, x[0].size, data.num_classes),
                f"{len(y):,}", data.title)
    finished = []
    try:
        kfold(build, (x, y), k=args.k, seed=config.seed, test=test, epochs=config.epochs,
              on_fold=finished.append)
    except KeyboardInterrupt:
        if finished:
            _print_folds(finished, args.k, config, args.out, interrupted=True)
        print(f"{PROG}: interrupted after {len(finished)} of {args.k} folds"
              + (f"; the finished folds are above{' and in ' + str(args.out) if args.out else ''}"
                 if finished else ""), file=sys.stderr)
        return EXIT_INTERRUPTED
    _print_folds(finished, args.k, config, args.out)
    return 0


def _print_folds(folds: list, k: int, config, out: Path | None, interrupted=False) -> None:
    """Print the table of the finished `folds` and their summary; write it to `out` if given."""
    rows = [{"fold": i, "status": fold.metrics["status"], "epochs": fold.metrics["epochs_run"],
             "validation accuracy": fold.metrics["val_accuracy"],
             "validation loss": round(fold.metrics["val_loss"], 4),
             "test accuracy": fold.metrics["test_accuracy"],
             "seconds": round(fold.metrics["seconds"], 1)}
            for i, fold in enumerate(folds, 1)]
    result = KFoldResult(folds)
    print(markdown_table(rows, percent_columns=("validation accuracy", "test accuracy")), end="")
    print(f"mean validation accuracy {result.mean['val_accuracy']:.2%} "
          f"(std {result.std['val_accuracy']:.2%}); mean test accuracy "
          f"{result.mean['test_accuracy']:.2%} (std {result.std['test_accuracy']:.2%}); "
          f"best fold {result.best_fold + 1}"
          + (f" (of the {len(folds)} finished before the interruption)" if interrupted else ""))
    if out is not None:
        summary = {"config": config.to_dict(), "k": k,
                   "folds": [fold.metrics for fold in result.folds],
                   "mean": result.mean, "std": result.std, "best_fold": result.best_fold + 1,
                   "interrupted": interrupted}
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out, json.dumps(json_safe(summary), indent=1) + "\n")
        print(f"wrote {out}")


def _check_folds(name: str, k: int, labels) -> None:
    """Refuse more folds than the smallest class has members, before any work starts."""
    smallest = int(np.unique(labels, return_counts=True)[1].min())
    if k > smallest:
        raise UsageError(f"{name}: {k} folds need at least {k} examples of every class, but "
                         f"the smallest class has {smallest}")


def _export_paths(folder: Path, outputs: dict | None = None) -> dict[str, Path]:
    """Where the exports go: `outputs` ("json", "csv", "markdown") or default names in
    `folder`; the heat map beside the Markdown report."""
    outputs = outputs or {}
    paths = {kind: Path(outputs.get(kind, folder / name)) for kind, name in
             (("json", "results.json"), ("csv", "results.csv"), ("markdown", "report.md"))}
    paths["heat map"] = paths["markdown"].with_name("heatmap.png")
    return paths


def _check_outputs(paths: dict[str, Path], experiment: str | None) -> None:
    """Before anything runs or is written: no output over another, none over a stranger's file."""
    check_distinct(paths)
    if experiment is not None:
        for kind in ("json", "csv", "markdown", "heat map"):
            check_replaceable(kind, paths[kind], experiment)


def _write_exports(rows: list[dict], paths: dict[str, Path], title: str,
                   experiment: dict | None = None) -> list[Path]:
    """JSON, CSV and Markdown exports and the heat map of one experiment's rows, at `paths`.

    `paths` holds "json", "csv", "markdown", "heat map" (and "store", checked too).
    """
    from tinygrad_mnist.utils.atomic import atomic_write
    from tinygrad_mnist.viz import plot_search_heatmap
    from tinygrad_mnist.viz.figure_file import DPI

    rows = one_experiment(rows, "store")
    _check_outputs(paths, rows[0]["experiment"])
    for kind in ("json", "csv", "markdown", "heat map"):
        paths[kind].parent.mkdir(parents=True, exist_ok=True)
    export_json(rows, paths["json"])
    export_csv(rows, paths["csv"])
    export_markdown(rows, paths["markdown"], title=title, experiment=experiment)
    written = [paths["json"], paths["csv"], paths["markdown"]]
    holdout = [row for row in rows if row["phase"] == "holdout"]
    averaged = [name for name in CONFIG_DEFAULTS
                if name not in ("learning_rate", "activation", "hidden_sizes")
                and len({json.dumps(row[name]) for row in holdout}) > 1]
    if averaged:  # the figure says what its cells average over
        title += f"\neach cell: the mean over {', '.join(averaged)}"
    try:
        figure = plot_search_heatmap(holdout, title=title)
    except ValueError as error:  # e.g. every trial diverged: nothing to colour
        logger.warning("no heat map: %s", error)
        return written
    with atomic_write(paths["heat map"]) as file:  # the marker names the experiment
        figure.savefig(file, format="png", dpi=DPI,
                       metadata={"Description": marker(rows[0]["experiment"])})
    return [*written, paths["heat map"]]


def _slug(name: str) -> str:
    """A data set's name or file as part of a folder name: mnist, fashion-mnist, mine."""
    stem = Path(name).stem if name.endswith(".npz") else name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "data"


def _shipped_experiments() -> list[str]:
    return sorted(path.stem for path in SHIPPED_EXPERIMENTS.glob("*.toml"))


def _experiment_file(path: Path) -> Path:
    """`path` itself, or, for a bare name that is no file here, the shipped experiment file."""
    if path.exists() or path.suffix or len(path.parts) > 1:
        return path
    shipped = SHIPPED_EXPERIMENTS / f"{path.name}.toml"
    if not shipped.is_file():
        raise UsageError(f"config: no file {str(path)!r}, and no experiment of that name ships "
                         f"with the package (those that do: "
                         f"{', '.join(_shipped_experiments())})")
    return shipped


def _cmd_search(args) -> int:
    if args.jobs == 0:
        raise UsageError("argument --jobs: expected an integer >= 1, or -1 for every core, got 0")
    if args.scheduler is not None and args.jobs is not None:
        raise UsageError("argument --jobs: not with --scheduler (the cluster's workers decide)")
    experiment = load_experiment(_experiment_file(args.config))
    dataset = args.dataset or experiment.dataset
    folder = args.out if args.out is not None else \
        Path("runs") / f"{experiment.path.stem}-{_slug(dataset)}"
    paths = _export_paths(folder, experiment.outputs if args.out is None else None)
    store_path = Path(args.store or experiment.outputs.get("store") or folder / "results.sqlite")
    check_distinct({"store": store_path, **paths})  # before the data are even loaded
    jobs = experiment.jobs if args.jobs is None else args.jobs
    data = load_named_dataset(dataset, args.data_root)
    x, y = prepare_images(data.train_images), data.train_labels
    test = (prepare_images(data.test_images), data.test_labels)
    if experiment.top_n:
        _check_folds(f"{experiment.path}: k", experiment.k, y)
    record = experiment_record((x, y), test, train_fraction=experiment.train_fraction,
                               k=experiment.k, seed=experiment.seed, dataset=data.title)
    _check_outputs({"store": store_path, **paths}, experiment_id(record))
    # Not a store, another experiment's, or in use by another search: one line, at once.
    with ResultStore(store_path) as store, store.lock():
        store.claim(record)
    arguments = {**experiment.search_arguments(), "store": store_path, "n_jobs": jobs,
                 "dataset": data.title, "retry_failed": args.retry_failed}
    title = f"{experiment.name} (data set: {data.title})"
    where = f"the cluster at {args.scheduler}" if args.scheduler else f"{jobs} job(s)"
    logger.info("search %r on %s: %d configurations, store %s, %s", experiment.name,
                data.title, len(expand_grid(experiment.space)), store_path, where)
    try:
        if args.scheduler is None:
            result = grid_search(data=(x, y), test=test, **arguments)
        else:
            with _dask_client(args.scheduler):
                result = grid_search(data=(x, y), test=test, backend="dask", **arguments)
    except KeyboardInterrupt:
        with ResultStore(store_path) as store:
            kept = len(store)
        print(f"{PROG}: interrupted; {kept} finished trial(s) kept in {store_path}; run the "
              "same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except WorkerDiedError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    written = _write_exports(result.rows, {"store": store_path, **paths}, title, record)
    print(markdown_table(ranking_table(result)[:10], percent_columns=(
        "test accuracy", "validation accuracy", "validation error")), end="")
    print(f"best: {_describe(result.best_config)}; test accuracy {result.test_accuracy:.2%} "
          f"on {data.title}")
    print(f"store: {store_path}")
    print("wrote " + ", ".join(str(path) for path in written))
    if result.failed:
        print(f"{PROG}: {len(result.failed)} trial(s) failed and are left out of the tables "
              f"(their errors are in the store); run again with --retry-failed to retry them",
              file=sys.stderr)
    return 0


def _dask_client(address: str):
    """A `dask.distributed` client of the scheduler at `address`, or one line saying why not."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise UsageError("--scheduler: needs dask.distributed (pip install 'dask[distributed]')"
                         ) from None
    try:
        return Client(address, timeout=10)
    except (OSError, TimeoutError, ValueError) as error:
        raise UsageError(f"--scheduler: cannot reach {address} ({_one_line(error)})") from None


def _describe(config: dict) -> str:
    return (f"hidden {','.join(map(str, config['hidden_sizes'])) or 'none'}, "
            f"{config['activation']}, {config['optimizer']} lr {config['learning_rate']:g}, "
            f"batch {config['batch_size'] or 'full'}")


def _cmd_report(args) -> int:
    if not args.store.is_file():
        raise FileNotFoundError(2, "no such result store", str(args.store))
    with ResultStore(args.store) as store:
        rows, experiment = store.rows(), store.experiment
    if not rows:
        raise UsageError(f"store: {args.store} holds no trials yet")
    folder = args.out if args.out is not None else args.store.parent
    label = f" (data set: {experiment['dataset']})" if experiment and experiment.get(
        "dataset") else ""
    written = _write_exports(rows, {"store": args.store, **_export_paths(folder)},
                             title=f"{args.store.stem}{label}", experiment=experiment)
    print(markdown_report(rows, title=f"Results of {args.store}{label}",
                          experiment=experiment), end="")
    print("\nwrote " + ", ".join(str(path) for path in written))
    return 0


def _test_set(model, config: TrainConfig, args):
    """The data set (`--dataset`, else the run's own) and its test images as the model takes
    them; a data set of another image size is one line, not a traceback."""
    data = load_named_dataset(args.dataset or config.dataset, args.data_root)
    x = model_inputs(model, data.test_images, f"the {data.title} test images")
    classes = model_classes(model)
    if classes is not None and classes != data.num_classes:
        raise UsageError(f"dataset: the model scores {classes} classes but {data.title} has "
                         f"{data.num_classes}")
    return data, x


def _figure_path(args, name: str) -> Path:
    """`--out` as given, `name` inside it when it is a folder, else `name` beside the model."""
    if args.out is None:
        return model_file(args.model).with_name(name)
    return args.out / name if args.out.is_dir() else args.out


def _cmd_show(args) -> int:
    from tinygrad_mnist.viz import plot_predictions, plot_saliency

    model, config = load_run_model(args.model)
    data, x = _test_set(model, config, args)
    if args.saliency:
        if args.n > 64:
            raise UsageError(f"argument --n: at most 64 images with --saliency, got {args.n}")
        count = min(args.n, len(x))
        figure = plot_saliency(model, data.test_images[:count], x[:count],
                               data.test_labels[:count], n=count, class_names=data.class_names,
                               title=f"Saliency on {data.title} test images: "
                                     "|d score / d pixel|")
        out = save_figure(figure, _figure_path(args, f"saliency-{count}.png"))
        print(f"wrote {out} ({count} images and their saliency maps)")
        return 0
    probabilities = predict_proba(model, x)
    if not np.isfinite(probabilities).all():
        print(f"{PROG}: diverged: the model {args.model} gives outputs that are not finite "
              "(NaN), so it has no accuracy and nothing to show", file=sys.stderr)
        return EXIT_DIVERGED
    predictions = probabilities.argmax(axis=1)
    chosen = confident_mistakes(data.test_labels, probabilities) if args.mistakes else \
        np.arange(len(predictions))
    if len(chosen) == 0:
        raise UsageError("--mistakes: the model gets every test image right; nothing to show")
    chosen = chosen[:args.n]
    kind = "mistakes" if args.mistakes else "predictions"
    out = _figure_path(args, f"{kind}-{len(chosen)}.png")
    accuracy = metrics.accuracy(data.test_labels, predictions)
    figure = plot_predictions(data.test_images[chosen], data.test_labels[chosen],
                              predictions[chosen], n=len(chosen),
                              probabilities=probabilities[chosen], class_names=data.class_names,
                              title=f"{kind.capitalize()} on {data.title} test images")
    out = save_figure(figure, out)  # the path it wrote (".png" added to a name without one)
    print(f"test accuracy: {accuracy:.2%} on {len(predictions):,} {data.title} test images")
    print(f"wrote {out} ({len(chosen)} {kind})")
    return 0


def _cmd_predict(args) -> int:
    model, _ = load_run_model(args.model)
    names = run_class_names(args.model)
    failed = []

    def report(path: str, error: Exception) -> None:
        failed.append(path)
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)

    results = classify_files(model, args.images, top=args.top, on_error=report)
    named = (lambda c: str(c)) if names is None else (lambda c: names[c])
    if args.json:
        print(json.dumps([{"file": result.path, "predictions": [
            {"class": c, "name": named(c), "probability": p}
            for c, p in zip(result.classes, result.probabilities)]} for result in results],
            indent=1))
    for result in [] if args.json else results:
        print(f"{result.path}: " + ", ".join(
            f"{named(c)} ({p:.1%})" for c, p in zip(result.classes, result.probabilities)))
    return EXIT_USAGE if failed else 0


def _cmd_evaluate(args) -> int:
    from tinygrad_mnist.viz import plot_confusion_matrix, plot_predictions

    model, config = load_run_model(args.model)
    data, x = _test_set(model, config, args)
    result = evaluate_model(model, x, data.test_labels)  # a train.evaluation.Evaluation
    loss, probabilities = result.loss, result.probabilities
    folder = args.out if args.out is not None else model_file(args.model).parent
    folder.mkdir(parents=True, exist_ok=True)
    tag = re.sub(r"[^a-z0-9]+", "-", data.title.lower()).strip("-") or "data"
    per_class = result.per_class_accuracy()
    rows = [{"class": name, "test images": int(count), "accuracy": value}
            for name, count, value in zip(data.class_names,
                                          np.bincount(data.test_labels,
                                                      minlength=data.num_classes), per_class)]
    print(f"loss {loss:.4f}, accuracy {result.accuracy:.2%} on {len(x):,} {data.title} "
          "test images")
    print(markdown_table(rows, percent_columns=("accuracy",)), end="")
    written = [folder / f"confusion_matrix-{tag}.png", folder / f"evaluation-{tag}.json"]
    plot_confusion_matrix(result.confusion_matrix(), class_names=data.class_names,
                          path=written[0])
    mistakes = confident_mistakes(data.test_labels, probabilities)[:36]
    if len(mistakes):
        written.insert(1, folder / f"mistakes-{tag}.png")
        plot_predictions(data.test_images[mistakes], data.test_labels[mistakes],
                         result.predictions[mistakes], n=len(mistakes),
                         probabilities=probabilities[mistakes], class_names=data.class_names,
                         title=f"The most confident mistakes on {data.title}", path=written[1])
    figures = {"dataset": data.title, "test_images": len(x), "loss": loss,
               "accuracy": result.accuracy, "class_names": list(data.class_names),
               "per_class_accuracy": per_class.tolist(),
               "confusion_matrix": result.confusion_matrix().tolist()}
    atomic_write_text(written[-1], json.dumps(json_safe(figures), indent=1) + "\n")
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def _cmd_export(args) -> int:
    from tinygrad_mnist.app.onnx_export import export_onnx

    model, _ = load_run_model(args.model)
    try:
        export_onnx(model, args.onnx)
    except ModuleNotFoundError as error:  # the optional extra: say what to install
        raise UsageError(str(error)) from None
    print(f"wrote {args.onnx} (ONNX: input 'images', float32 pixel / 255, any batch size; "
          "output 'logits')")
    return 0


def _cmd_fetch(args) -> int:
    spec = data_module.MNIST if args.dataset == "mnist" else data_module.FASHION_MNIST
    folder = data_module.fetch_dataset(spec, root=args.data_root, download=not args.offline)
    print(folder)
    return 0


# ----------------------------------------------------------------------- main
# Loggers whose INFO lines are the progress a user wants to see by default; the rest of
# the package (say, each data source tried in turn) speaks up at WARNING, or with -v.
_PROGRESS_LOGGERS = ("tinygrad_mnist.app.cli", "tinygrad_mnist.train", "tinygrad_mnist.experiments",
                     "tinygrad_mnist.data.fetch")


def _configure_logging(verbose: bool, quiet: bool) -> None:
    """Log lines of the package go to stderr as plain messages."""
    package_logger = logging.getLogger("tinygrad_mnist")
    for handler in list(package_logger.handlers):
        if getattr(handler, "_tinygrad_mnist_cli", False):
            package_logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler._tinygrad_mnist_cli = True
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for name in _PROGRESS_LOGGERS:
        logging.getLogger(name).setLevel(
            logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the command line `argv` (default: `sys.argv[1:]`); returns the exit status."""
    parser = build_parser()
    show_traceback = "--traceback" in (sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv)
        _configure_logging(args.verbose, args.quiet)
        return args.handler(args) or 0
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, ValueError, TypeError, OSError, MemoryError, RecursionError) as error:
        if show_traceback:
            raise
        print(f"{PROG}: error: {_RESOURCE_ERRORS.get(type(error), '')}{_one_line(error)}",
              file=sys.stderr)
        return EXIT_USAGE


# What a bare MemoryError or RecursionError means here: something given was too large.
_RESOURCE_ERRORS = {
    MemoryError: "out of memory (try smaller layers, batches or data): ",
    RecursionError: "input nested too deeply: ",
}


if __name__ == "__main__":
    sys.exit(main())
