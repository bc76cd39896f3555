"""`tinygrad-mnist kfold`: stratified k-fold cross-validation of one configuration."""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from pathlib import Path

import numpy as np

from tinygrad_mnist.app.errors import EXIT_INTERRUPTED, PROG, UsageError
from tinygrad_mnist.app.kfold_summary import check_kfold_path, kfold_summary, write_kfold_summary
from tinygrad_mnist.app.options import (
    add_data_options,
    add_run_options,
    config_from_args,
    int_at_least,
)
from tinygrad_mnist.app.predict import model_inputs
from tinygrad_mnist.data.by_name import load_named_dataset
from tinygrad_mnist.experiments.search import TrialProgress, about_time, describe_config
from tinygrad_mnist.experiments.tables import markdown_table
from tinygrad_mnist.train import KFoldResult, kfold, progress_report
from tinygrad_mnist.utils.blas import blas_on_one_thread

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "kfold", help="k-fold cross-validation of one configuration",
        description="Stratified k-fold cross-validation of one training configuration on the "
                    "training set: each fold's validation accuracy and loss, their mean and "
                    "standard deviation.",
    )
    add_run_options(parser, holdout=False)
    add_data_options(parser)
    parser.add_argument("--k", type=int_at_least(2), default=5, metavar="K",
                        help="the number of folds, >= 2 (default: 5)")
    parser.add_argument("--out", type=Path, metavar="FILE",
                        help="also write the per-fold figures and the summary as JSON to FILE")
    return parser


def check_folds(name: str, k: int, labels) -> None:
    """Refuse more folds than the smallest class has members, before any work starts."""
    smallest = int(np.unique(labels, return_counts=True)[1].min())
    if k > smallest:
        raise UsageError(f"{name}: {k} folds need at least {k} examples of every class, but "
                         f"the smallest class has {smallest}")


def run(args) -> int:
    with blas_on_one_thread(unless_environment_says=True):
        return _kfold(args)


def _kfold(args) -> int:
    config = config_from_args(args)
    if args.out is not None:  # before any fold trains, not after the last
        check_kfold_path(args.out)
    data = load_named_dataset(config.dataset, args.data_root)
    # The images laid out as the model says it takes them (its input_shape): one built to ask.
    model = config.build_model(data.train_images.shape[1:], data.num_classes)
    x, y = model_inputs(model, data.train_images), data.train_labels
    test = (model_inputs(model, data.test_images), data.test_labels)
    fold_numbers = itertools.count(1)  # kfold builds one model per fold, in order

    def build(seed):
        prefix = f"fold {next(fold_numbers)}/{args.k}: "
        return config.build(input_size=x[0].size, num_classes=data.num_classes,
                            callbacks=[] if args.quiet else [progress_report(prefix)],
                            seed=seed,
                            input_shape=data.train_images.shape[1:]).trainer

    check_folds("--k", args.k, y)
    logger.info("%d-fold cross-validation of %s on %s %s training images", args.k,
                model.extra_repr(),
                f"{len(y):,}", data.title)
    finished = []
    progress = TrialProgress("k-fold", 0, args.k)

    def on_fold(fold) -> None:
        nonlocal progress
        finished.append(fold)
        progress = progress.one_more()
        left = "" if progress.done == args.k else f", {about_time(progress.seconds_left)} left"
        logger.info("fold %d/%d %s: validation %.2f%% (%.1f s)%s", progress.done, args.k,
                    describe_config(config.to_dict()), 100 * fold.metrics["val_accuracy"],
                    fold.metrics["seconds"], left)

    try:
        kfold(build, (x, y), k=args.k, seed=config.seed, test=test, epochs=config.epochs,
              on_fold=on_fold)
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
        write_kfold_summary(out, kfold_summary(result, k, config.to_dict(), interrupted))
        print(f"wrote {out}")
