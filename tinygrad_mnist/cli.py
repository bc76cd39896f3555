"""The `tinygrad-mnist` command: train, search, kfold, report, show, fetch.

This is the only module that prints. Each subcommand is one `_cmd_*` function that
puts library pieces together; the library does the work and reports through return
values and `logging`. Errors in what the user typed or gave (a bad option value, a
missing or corrupt file) end as one line on stderr and exit status 2; Ctrl-C ends with
status 130 after saying what was kept.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from tinygrad_mnist.data import prepare_images, stratified_split
from tinygrad_mnist.datasets import DATASET_NAMES, load_named_dataset
from tinygrad_mnist.run_config import OPTIMIZERS, SCHEDULES, TrainConfig
from tinygrad_mnist.run_folder import (
    evaluate,
    new_run_folder,
    prepare_run_folder,
    write_run_folder,
)
from tinygrad_mnist.train import Callback, ProgressBar

PROG = "tinygrad-mnist"
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

logger = logging.getLogger("tinygrad_mnist.cli")


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
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(
            f"expected positive layer sizes separated by commas (e.g. 512,256), got {text!r}"
        )
    return sizes


def batch_size(text: str) -> int | None:
    """An int >= 1, or `"full"` (None: full-batch gradient descent)."""
    if text.strip().lower() == "full":
        return None
    return _int_at_least(1, "or 'full'")(text)


def _int_at_least(low: int, also: str = ""):
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


def _float_in(low: float, high: float | None, low_open: bool, high_open: bool = True):
    shown = f"{'(' if low_open else '['}{low:g}, {'inf' if high is None else f'{high:g}'}" + (
        ")" if high_open or high is None else "]")

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        above = value > low if low_open else value >= low
        below = high is None or (value < high if high_open else value <= high)
        if not (above and below) or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected a number in {shown}, got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


positive_float = _float_in(0.0, None, low_open=True)
non_negative_float = _float_in(0.0, None, low_open=False)
fraction = _float_in(0.0, 1.0, low_open=False)
positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)


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


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options of one training configuration, shared by `train` and `kfold`."""
    d = TrainConfig()
    model = parser.add_argument_group("model")
    model.add_argument(
        "--hidden", type=hidden_sizes, default=d.hidden_sizes, metavar="SIZES",
        help="hidden layer sizes, comma-separated, e.g. 512,256 or 100; 'none' for a linear "
             f"model (default: {','.join(map(str, d.hidden_sizes))})",
    )
    from tinygrad_mnist.nn import ACTIVATIONS

    model.add_argument(
        "--activation", choices=[name for name in ACTIVATIONS if name != "softmax"],
        default=d.activation, metavar="NAME",
        help="the activation between layers: "
             f"{', '.join(n for n in ACTIVATIONS if n != 'softmax')} (default: {d.activation})",
    )
    training = parser.add_argument_group("training")
    training.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=d.optimizer, metavar="NAME",
        help="sgd (plain), momentum (SGD with --momentum), nesterov (SGD with Nesterov "
             f"momentum), adam or adamw (default: {d.optimizer})",
    )
    training.add_argument(
        "--lr", type=positive_float, default=d.learning_rate, metavar="RATE",
        help=f"the learning rate, > 0 (default: {d.learning_rate:g}; about 1e-3 suits adam)",
    )
    training.add_argument(
        "--momentum", type=fraction, default=d.momentum, metavar="M",
        help=f"the momentum of the momentum and nesterov optimizers, in [0, 1) "
             f"(default: {d.momentum:g})",
    )
    training.add_argument(
        "--weight-decay", type=non_negative_float, default=d.weight_decay, metavar="W",
        help=f"L2 weight decay (decoupled for adamw), >= 0 (default: {d.weight_decay:g})",
    )
    training.add_argument(
        "--schedule", choices=SCHEDULES, default=d.schedule, metavar="NAME",
        help="how the learning rate changes per epoch: none (constant), cosine (down to zero "
             f"at the last epoch) or step (halved every third of the epochs) "
             f"(default: {d.schedule})",
    )
    training.add_argument(
        "--batch-size", type=batch_size, default=d.batch_size, metavar="N|full",
        help="examples per gradient step, or 'full' for full-batch gradient descent as the "
             f"seed project trained (default: {d.batch_size})",
    )
    training.add_argument(
        "--epochs", type=positive_int, default=d.epochs, metavar="N",
        help=f"the most epochs to train (default: {d.epochs})",
    )
    training.add_argument(
        "--patience", type=non_negative_int, default=d.patience, metavar="N",
        help="stop when the validation loss has not improved for N epochs and keep the best "
             "weights; needs validation data, so it sets --validation-fraction 0.1 unless "
             "given (default: no early stopping)",
    )
    training.add_argument(
        "--validation-fraction", type=fraction, default=None,
        metavar="F",
        help="hold out this stratified fraction of the training set to validate each epoch, "
             "in [0, 1) (default: 0, or 0.1 with --patience)",
    )
    training.add_argument(
        "--seed", type=non_negative_int, default=d.seed, metavar="N",
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
    _add_model_options(kfold)
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
    fetch.add_argument("--dataset", choices=DATASET_NAMES, default="mnist", metavar="NAME",
                       help=f"{' or '.join(DATASET_NAMES)} (default: mnist)")
    fetch.add_argument("--data-root", type=Path, metavar="DIR",
                       help="copy the files from this folder instead of downloading them")
    fetch.set_defaults(handler=_cmd_fetch)
    return parser


# ---------------------------------------------------------------- subcommands
class EpochLog(Callback):
    """One log line per epoch: the progress report when stderr is not a terminal."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        line = (f"{self.prefix}epoch {epoch}/{trainer.epochs}: "
                f"loss {logs['train_loss']:.4f}, accuracy {logs['train_accuracy']:.2%}")
        if trainer.has_validation:
            line += (f"; validation loss {logs['val_loss']:.4f}, "
                     f"accuracy {logs['val_accuracy']:.2%}")
        logger.info("%s (%.1f s)", line, logs["seconds"])


def _progress(prefix: str = ""):
    """A tqdm bar when stderr is a terminal, else one log line per epoch."""
    if sys.stderr.isatty():
        return ProgressBar(enabled=True, description=prefix.rstrip(": ") or "training")
    return EpochLog(prefix)


def _config_from_args(args) -> TrainConfig:
    validation = args.validation_fraction
    if validation is None:
        validation = 0.1 if args.patience is not None else 0.0
    return TrainConfig(
        hidden_sizes=args.hidden, activation=args.activation, optimizer=args.optimizer,
        learning_rate=args.lr, momentum=args.momentum, weight_decay=args.weight_decay,
        batch_size=args.batch_size, epochs=args.epochs, schedule=args.schedule,
        patience=args.patience, validation_fraction=validation, seed=args.seed,
        dataset=str(args.dataset),
    )


def _load_data(dataset: str, data_root):
    data = load_named_dataset(dataset, data_root)
    logger.info("data: %s, %d training and %d test images", data.title,
                len(data.train_labels), len(data.test_labels))
    return data


def _cmd_train(args) -> int:
    config = _config_from_args(args)
    if args.out is not None:
        prepare_run_folder(args.out)  # refuse a used folder before any work is done
    data = _load_data(config.dataset, args.data_root)
    x, y = prepare_images(data.train_images), data.train_labels
    train, validation = (x, y), None
    if config.validation_fraction:
        train_index, valid_index = stratified_split(y, 1 - config.validation_fraction,
                                                    seed=config.seed)
        train, validation = (x[train_index], y[train_index]), (x[valid_index], y[valid_index])
    built = config.build(input_size=x.shape[1], num_classes=data.num_classes,
                         callbacks=[_progress()])
    folder = prepare_run_folder(args.out) if args.out is not None else new_run_folder()
    logger.info("training %s for up to %d epochs; run folder %s",
                " -> ".join(map(str, built.model.sizes)), config.epochs, folder)
    interrupted = False
    try:
        history = built.trainer.fit(train, validation, epochs=config.epochs)
    except KeyboardInterrupt:
        history, interrupted = built.trainer.history, True
    evaluation = evaluate(built.trainer, data.test_images, prepare_images(data.test_images),
                          data.test_labels)
    written = write_run_folder(folder, model=built.model, config=config, history=history,
                               evaluation=evaluation, class_names=data.class_names,
                               dataset_label=data.title)
    figures = sum(name.endswith(".png") for name in written)
    print(f"test accuracy: {evaluation.accuracy:.2%} on {len(data.test_labels):,} {data.title} "
          f"test images, after {history.epochs} epochs ({sum(history.seconds):.1f} s)")
    print(f"run folder: {folder} (report.md, model.npz, history.json, {figures} figures)")
    if interrupted:
        print(f"{PROG}: interrupted after {history.epochs} of {config.epochs} epochs; kept the "
              f"run folder {folder} with the model and the history so far", file=sys.stderr)
        return EXIT_INTERRUPTED
    if history.stopped_reason == "diverged":
        logger.warning("training diverged (the loss became NaN or infinite); try a smaller --lr")
    return 0


def _cmd_kfold(args) -> int:
    raise UsageError("kfold: not implemented yet")


def _cmd_search(args) -> int:
    raise UsageError("search: not implemented yet")


def _cmd_report(args) -> int:
    raise UsageError("report: not implemented yet")


def _cmd_show(args) -> int:
    raise UsageError("show: not implemented yet")


def _cmd_fetch(args) -> int:
    raise UsageError("fetch: not implemented yet")


# ----------------------------------------------------------------------- main
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
    package_logger.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet
                            else logging.INFO)


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
