"""The `tinygrad-mnist` command: train, search, kfold, report, show, fetch.

This is the only module that prints. Each subcommand is one `_cmd_*` function that
puts library pieces together; the library does the work and reports through return
values and `logging`. Errors in what the user typed or gave (a bad option value, a
missing or corrupt file) end as one line on stderr and exit status 2; Ctrl-C ends with
status 130 after saying what was kept.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import re
import sys
from pathlib import Path

import numpy as np

from tinygrad_mnist import data as data_module
from tinygrad_mnist.app.run_config import OPTIMIZERS, SCHEDULES, TrainConfig
from tinygrad_mnist.app.run_folder import (
    evaluate,
    load_run_model,
    new_run_folder,
    prepare_run_folder,
    write_run_folder,
)
from tinygrad_mnist.data import prepare_images, stratified_split
from tinygrad_mnist.data.by_name import DATASET_NAMES, load_named_dataset
from tinygrad_mnist.tensor import Tensor, no_grad
from tinygrad_mnist.train import (
    ResultStore,
    expand_grid,
    export_csv,
    export_json,
    export_markdown,
    grid_search,
    kfold,
    load_experiment,
    markdown_report,
    metrics,
    progress_report,
    ranking_table,
)
from tinygrad_mnist.train.builders import MODELS, PRESETS
from tinygrad_mnist.train.ranking import rows_of
from tinygrad_mnist.train.tables import json_safe, markdown_table

PROG = "tinygrad-mnist"
EXIT_USAGE = 2
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
def _add_data_options(parser: argparse.ArgumentParser, default_dataset: str | None = "mnist"):
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset", default=default_dataset, metavar="NAME|FILE",
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
    `--validation-fraction`.
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
                 "; needs validation data, so it sets --validation-fraction 0.1 unless given"
                 if holdout else "; each fold validates its own model"),
    )
    if holdout:
        training.add_argument(
            "--validation-fraction", type=float, default=None, metavar="F",
            help="hold out this stratified fraction of the training set to validate each "
                 "epoch, in [0, 1) (default: 0, or 0.1 with --patience)",
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
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train", help="train a model and write a run folder (the main job)",
        description="Train one model, print its test accuracy and write a run folder: "
                    "model.npz, config.json, history.json, report.md and the figures "
                    "(learning curves, predictions, confusion matrix, true vs predicted). "
                    "With no options it fetches MNIST and trains the default model "
                    "(about 98% test accuracy in half a minute).",
    )
    _add_model_options(train)
    _add_data_options(train)
    train.add_argument(
        "--out", type=Path, metavar="DIR",
        help="the run folder to write; it must not already hold a run (default: "
             "runs/<date>-<time> in the current folder)",
    )
    train.set_defaults(handler=_cmd_train)

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
                        help="the experiment file (see examples/seed_grid.toml)")
    search.add_argument("--jobs", type=_int_at_least(-1), default=None, metavar="N",
                        help="trials run in parallel (-1: one per core; default: the "
                             "experiment file's value, else 1)")
    search.add_argument("--store", type=Path, metavar="PATH",
                        help="the SQLite result store (default: the experiment file's, "
                             "else results.sqlite beside the exports)")
    search.add_argument("--out", type=Path, metavar="DIR",
                        help="the folder for exports and the heat map (default: the "
                             "experiment file's, else the folder of the store)")
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
                    "draw its predictions on test images, mistakes marked in red.",
    )
    show.add_argument("model", type=Path, metavar="MODEL.npz",
                      help="a model.npz from a run folder")
    show.add_argument("--out", type=Path, metavar="PNG",
                      help="the image to write (default: predictions-<n>.png beside the model)")
    show.add_argument("--n", type=_int_at_least(1), default=25, metavar="N",
                      help="how many test images to show (default: 25)")
    show.add_argument("--mistakes", action="store_true",
                      help="show only images the model gets wrong")
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
                   "seed": "seed", "dataset": "dataset"}
_OPTION_OF = {field: option.replace("_", "-") for option, field in _CONFIG_OPTIONS.items()}
_OPTION_OF["validation_fraction"] = "validation-fraction"


def _config_from_args(args) -> TrainConfig:
    given = {field: getattr(args, option) for option, field in _CONFIG_OPTIONS.items()
             if getattr(args, option, None) is not None}
    validation = getattr(args, "validation_fraction", None)  # kfold has none
    if validation is None:
        validation = 0.1 if args.patience is not None else 0.0
    # A model kind's preset (the CNN's) fills what the options leave out.
    preset = PRESETS.get(given.get("model"), {})
    try:
        return TrainConfig(**{**preset, **given, "dataset": str(given.get("dataset", "mnist"))},
                           validation_fraction=validation)
    except (TypeError, ValueError) as error:  # the schema's word for it, under the option's name
        field = re.match(r"(?:config\[')?(\w+)", str(error)).group(1)
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


def _cmd_train(args) -> int:
    config = _config_from_args(args)
    data = load_named_dataset(config.dataset, args.data_root)
    x, y = _prepare(data.train_images, config), data.train_labels
    train, validation = (x, y), None
    if config.validation_fraction:
        train_index, valid_index = stratified_split(y, 1 - config.validation_fraction,
                                                    seed=config.seed)
        train, validation = (x[train_index], y[train_index]), (x[valid_index], y[valid_index])
    built = config.build(input_size=x[0].size, num_classes=data.num_classes,
                         callbacks=[progress_report()],
                         input_shape=x.shape[1:] if x.ndim == 4 else None)
    folder = prepare_run_folder(args.out) if args.out is not None else new_run_folder()
    # The first log line comes only now, once every input has been checked: an error
    # before this point is the one line on stderr.
    logger.info("training %s on %s %s images for up to %d epochs; run folder %s",
                _architecture(config, x[0].size, data.num_classes), f"{len(train[1]):,}",
                data.title,
                config.epochs, folder)
    interrupted = False
    try:
        history = built.trainer.fit(train, validation, epochs=config.epochs)
    except KeyboardInterrupt:
        history, interrupted = built.trainer.history, True
    evaluation = evaluate(built.trainer, data.test_images, _prepare(data.test_images, config),
                          data.test_labels)
    written = write_run_folder(folder, model=built.model, config=config, history=history,
                               evaluation=evaluation, class_names=data.class_names,
                               dataset_label=data.title)
    figures = sum(name.endswith(".png") for name in written)
    print(f"test accuracy: {evaluation.accuracy:.2%} on {len(data.test_labels):,} {data.title} "
          f"test images, after {history.epochs_run} epochs ({sum(history.seconds):.1f} s)")
    print(f"run folder: {folder} (report.md, model.npz, history.json, {figures} figures)")
    if interrupted:
        print(f"{PROG}: interrupted after {history.epochs_run} of {config.epochs} epochs; kept the "
              f"run folder {folder} with the model and the history so far", file=sys.stderr)
        return EXIT_INTERRUPTED
    if history.stopped_reason == "diverged":
        logger.warning("training diverged (the loss became NaN or infinite); try a smaller --lr")
    return 0


def _cmd_kfold(args) -> int:
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
    result = kfold(build, (x, y), k=args.k, seed=config.seed, test=test, epochs=config.epochs)
    rows = [{"fold": i, "status": fold.metrics["status"], "epochs": fold.metrics["epochs_run"],
             "validation accuracy": fold.metrics["val_accuracy"],
             "validation loss": round(fold.metrics["val_loss"], 4),
             "test accuracy": fold.metrics["test_accuracy"],
             "seconds": round(fold.metrics["seconds"], 1)}
            for i, fold in enumerate(result.folds, 1)]
    print(markdown_table(rows, percent_columns=("validation accuracy", "test accuracy")), end="")
    print(f"mean validation accuracy {result.mean['val_accuracy']:.2%} "
          f"(std {result.std['val_accuracy']:.2%}); mean test accuracy "
          f"{result.mean['test_accuracy']:.2%} (std {result.std['test_accuracy']:.2%}); "
          f"best fold {result.best_fold + 1}")
    if args.out is not None:
        summary = {"config": config.to_dict(), "k": args.k,
                   "folds": [fold.metrics for fold in result.folds],
                   "mean": result.mean, "std": result.std, "best_fold": result.best_fold + 1}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(json_safe(summary), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


def _check_folds(name: str, k: int, labels) -> None:
    """Refuse more folds than the smallest class has members, before any work starts."""
    smallest = int(np.unique(labels, return_counts=True)[1].min())
    if k > smallest:
        raise UsageError(f"{name}: {k} folds need at least {k} examples of every class, but "
                         f"the smallest class has {smallest}")


def _write_exports(source, folder: Path, title: str, outputs: dict | None = None) -> list[Path]:
    """JSON, CSV and Markdown exports and the heat map of a store, into `folder`.

    `outputs` (an experiment's "json", "csv", "markdown" paths) overrides the default
    file names; the heat map goes beside the Markdown report.
    """
    from tinygrad_mnist.viz import plot_search_heatmap

    outputs = outputs or {}
    paths = {kind: Path(outputs.get(kind, folder / name)) for kind, name in
             (("json", "results.json"), ("csv", "results.csv"), ("markdown", "report.md"))}
    for path in paths.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    rows = rows_of(source)
    export_json(rows, paths["json"])
    export_csv(rows, paths["csv"])
    export_markdown(rows, paths["markdown"], title=title)
    written = list(paths.values())
    heatmap = paths["markdown"].with_name("heatmap.png")
    try:
        plot_search_heatmap([row for row in rows if row["phase"] == "holdout"], path=heatmap)
        written.append(heatmap)
    except ValueError as error:  # e.g. every trial diverged: nothing to colour
        logger.warning("no heat map: %s", error)
    return written


def _cmd_search(args) -> int:
    if args.jobs == 0:
        raise UsageError("argument --jobs: expected an integer >= 1, or -1 for every core, got 0")
    experiment = load_experiment(args.config)
    folder = args.out if args.out is not None else Path("runs") / experiment.path.stem
    store_path = args.store or experiment.outputs.get("store") or folder / "results.sqlite"
    jobs = experiment.jobs if args.jobs is None else args.jobs
    data = load_named_dataset(args.dataset or experiment.dataset, args.data_root)
    x, y = prepare_images(data.train_images), data.train_labels
    test = (prepare_images(data.test_images), data.test_labels)
    if experiment.top_n:
        _check_folds(f"{experiment.path}: k", experiment.k, y)
    with ResultStore(store_path):  # a file that is not a result store fails here, in one line
        pass
    arguments = {**experiment.search_arguments(), "store": store_path, "n_jobs": jobs}
    logger.info("search %r: %d configurations, store %s, %d job(s)", experiment.name,
                len(expand_grid(experiment.space)), store_path, jobs)
    try:
        result = grid_search(data=(x, y), test=test, **arguments)
    except KeyboardInterrupt:
        with ResultStore(store_path) as store:
            kept = len(store)
        print(f"{PROG}: interrupted; {kept} finished trial(s) kept in {store_path}; run the "
              "same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    outputs = {} if args.out is not None else experiment.outputs
    written = _write_exports(result, Path(store_path).parent, experiment.name, outputs)
    print(markdown_table(ranking_table(result)[:10], percent_columns=(
        "test accuracy", "validation accuracy", "validation error")), end="")
    print(f"best: {_describe(result.best_config)}; test accuracy {result.test_accuracy:.2%}")
    print(f"store: {store_path}")
    print("wrote " + ", ".join(str(path) for path in written))
    return 0


def _describe(config: dict) -> str:
    return (f"hidden {','.join(map(str, config['hidden_sizes'])) or 'none'}, "
            f"{config['activation']}, {config['optimizer']} lr {config['learning_rate']:g}, "
            f"batch {config['batch_size'] or 'full'}")


def _cmd_report(args) -> int:
    if not args.store.is_file():
        raise FileNotFoundError(2, "no such result store", str(args.store))
    with ResultStore(args.store) as store:
        rows = store.rows()
    if not rows:
        raise UsageError(f"store: {args.store} holds no trials yet")
    folder = args.out if args.out is not None else args.store.parent
    written = _write_exports(rows, folder, title=args.store.stem)
    print(markdown_report(rows, title=f"Results of {args.store}"), end="")
    print("\nwrote " + ", ".join(str(path) for path in written))
    return 0


def _cmd_show(args) -> int:
    from tinygrad_mnist.viz import plot_predictions

    model, config = load_run_model(args.model)
    data = load_named_dataset(args.dataset or config.dataset, args.data_root)
    x = prepare_images(data.test_images)
    inputs = int(np.prod(model.input_shape)) if config.model == "cnn" else model.sizes[0]
    if x.shape[1] != inputs:
        raise UsageError(f"dataset: the model takes {inputs} inputs but the "
                         f"{data.title} images have {x.shape[1]} pixels")
    model.eval()
    with no_grad():  # in chunks: a CNN's windows of 10,000 images would fill the memory
        probabilities = np.concatenate([model(Tensor(x[i:i + 500])).softmax(axis=-1).numpy()
                                        for i in range(0, len(x), 500)])
    predictions = probabilities.argmax(axis=1)
    chosen = np.flatnonzero(predictions != data.test_labels) if args.mistakes else \
        np.arange(len(predictions))
    if len(chosen) == 0:
        raise UsageError("--mistakes: the model gets every test image right; nothing to show")
    chosen = chosen[:args.n]
    kind = "mistakes" if args.mistakes else "predictions"
    out = args.out or args.model.with_name(f"{kind}-{len(chosen)}.png")
    accuracy = metrics.accuracy(data.test_labels, predictions)
    plot_predictions(data.test_images[chosen], data.test_labels[chosen], predictions[chosen],
                     n=len(chosen), probabilities=probabilities[chosen],
                     class_names=data.class_names,
                     title=f"{kind.capitalize()} on {data.title} test images", path=out)
    print(f"test accuracy: {accuracy:.2%} on {len(predictions):,} {data.title} test images")
    print(f"wrote {out} ({len(chosen)} {kind})")
    return 0


def _cmd_fetch(args) -> int:
    spec = data_module.MNIST if args.dataset == "mnist" else data_module.FASHION_MNIST
    folder = data_module.fetch_dataset(spec, root=args.data_root, download=not args.offline)
    print(folder)
    return 0


# ----------------------------------------------------------------------- main
# Loggers whose INFO lines are the progress a user wants to see by default; the rest of
# the package (say, each data source tried in turn) speaks up at WARNING, or with -v.
_PROGRESS_LOGGERS = ("tinygrad_mnist.app.cli", "tinygrad_mnist.train")


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
    except (UsageError, ValueError, TypeError, OSError) as error:
        if show_traceback:
            raise
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
