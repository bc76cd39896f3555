"""`tinygrad-mnist train`: train one model, print its test accuracy, write a run folder;
`--resume` continues a stopped run."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import math
import sys
from pathlib import Path

from tinygrad_mnist.app.errors import EXIT_DIVERGED, EXIT_INTERRUPTED, PROG, UsageError, one_line
from tinygrad_mnist.app.options import (
    add_data_options,
    add_run_options,
    config_from_args,
    given_run_options,
)
from tinygrad_mnist.app.predict import model_inputs
from tinygrad_mnist.app.run_folder import (
    CHECKPOINT_FILE,
    CURVES_CSV_FILE,
    check_resumed_data,
    data_record,
    load_run_model,
    new_run_folder,
    prepare_run_folder,
    read_data_record,
    read_run_config,
    resumed_dataset,
    run_folder_lock,
    save_model_first,
    write_config,
    write_data_record,
    write_run_folder,
)
from tinygrad_mnist.data.by_name import load_named_dataset
from tinygrad_mnist.train import CSVLogger, progress_report
from tinygrad_mnist.train.config import RunConfig
from tinygrad_mnist.train.evaluation import evaluate
from tinygrad_mnist.train.event_log import EVENTS_FILE, EventLog
from tinygrad_mnist.utils.allocator import keep_freed_memory
from tinygrad_mnist.utils.blas import blas_on_one_thread

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train", help="train a model and write a run folder (the main job)",
        description="Train one model, print its test accuracy and write a run folder: "
                    "model.npz, config.json, history.json, report.md and the figures "
                    "(learning curves, predictions, confusion matrix, true vs predicted). "
                    "With no options it fetches MNIST and trains the default model "
                    "(about 98% test accuracy in seconds, one BLAS thread unless OMP_NUM_THREADS "
                    "or OPENBLAS_NUM_THREADS says otherwise).",
    )
    add_run_options(parser)
    add_data_options(parser, applied_later=True)  # --resume takes the run's own
    parser.add_argument(
        "--out", type=Path, metavar="DIR",
        help="the run folder to write; it must hold no file the run writes (default: "
             "runs/<date>-<time> in the current folder)",
    )
    parser.add_argument(
        "--resume", type=Path, metavar="RUN",
        help="continue the run in folder RUN from its last finished epoch (after Ctrl-C, a "
             "crash or a kill), as it was configured, on the data it began with; the result "
             "is the one an uninterrupted run gives, bit for bit (a run killed before its "
             "first epoch ended starts again). With --epochs N larger than the run's budget, "
             "a finished run goes on to epoch N (its schedule is stretched to N epochs)",
    )
    parser.add_argument(
        "--init-from", type=Path, metavar="RUN",
        help="start from the weights of the trained model in run folder RUN (same "
             "architecture) instead of random ones: fine-tuning, warm starts",
    )
    return parser


def _resumed_run(args) -> tuple[Path, RunConfig]:
    """The run folder `--resume` names and its config; refuses options that would change it."""
    changed = [option for option in given_run_options(args) if option != "--epochs"] + \
        (["--out"] if args.out is not None else [])
    if changed:
        raise UsageError(f"argument --resume: the run goes on as it was configured; "
                         f"{changed[0]} cannot change it")
    folder = args.resume
    if not folder.is_dir():
        raise FileNotFoundError(2, "no such run folder", str(folder))
    config = read_run_config(folder)
    if args.epochs is not None and args.epochs != config.epochs:
        # More epochs for a finished (or stopped) run: the budget grows, and the schedule
        # is rebuilt for it, so the rate goes on along a curve planned for --epochs epochs.
        if args.epochs < config.epochs:
            raise UsageError(f"argument --epochs: the run's budget is {config.epochs} epochs; "
                             f"--resume can only extend it, got {args.epochs}")
        config = dataclasses.replace(config, epochs=args.epochs)
    return folder, config


def _init_from(model, run) -> None:
    """Load the weights of the model in run folder `run` into `model` (same architecture)."""
    try:
        source, _ = load_run_model(run)
    except (OSError, ValueError) as error:  # missing, damaged, not a run: name the option
        raise UsageError(f"argument --init-from: {one_line(error)}") from None
    mine, theirs = model.state_dict(), source.state_dict()
    if set(mine) != set(theirs) or any(mine[k].shape != theirs[k].shape for k in mine):
        different = sorted(k for k in mine if k not in theirs or mine[k].shape != theirs[k].shape)
        raise UsageError(f"argument --init-from: the model in {run} has another architecture "
                         f"than this run's ({(different or sorted(theirs))[0]} differs); "
                         f"give the same model options it was trained with")
    model.load_state_dict(theirs)
    logger.info("starting from the weights of %s", run)


def _epochs(count: int) -> str:
    """"1 epoch", "5 epochs"."""
    return f"{count} epoch{'' if count == 1 else 's'}"


def run(args) -> int:
    keep_freed_memory()  # the cnn preset: a sixth less CPU (utils/allocator.py)
    with blas_on_one_thread(unless_environment_says=True):
        return _train(args)


def _train(args) -> int:
    with contextlib.ExitStack() as held:  # the run folder's lock, until the run ends
        return _train_holding(args, held)


def _train_holding(args, held: contextlib.ExitStack) -> int:
    resume = args.resume is not None
    record = None
    if resume:
        folder, config = _resumed_run(args)
        # One run at a time in a folder; the hidden files of a killed write are removed.
        held.enter_context(run_folder_lock(folder))
        # The data the run began with: its recorded absolute path, its digest checked.
        record = read_data_record(folder)
        data = load_named_dataset(resumed_dataset(config, record), args.data_root)
        check_resumed_data(folder, record, data, config.dataset)
        if not (folder / CHECKPOINT_FILE).is_file():  # killed before its first epoch ended
            logger.info("no epoch of the run in %s had finished: training it from the start",
                        folder)
            resume = False
    else:
        config = config_from_args(args)
        data = load_named_dataset(config.dataset, args.data_root)
    # -q is quiet on a terminal too: no bar, no epoch lines.
    built = config.build(input_size=data.train_images[0].size, num_classes=data.num_classes,
                         callbacks=[] if args.quiet else [progress_report()],
                         input_shape=data.train_images.shape[1:])
    # The images laid out as the model says it takes them (its input_shape).
    train, validation = config.holdout(data.train_images, data.train_labels,
                                       prepare=lambda images: model_inputs(built.model, images))
    if config.init_from is not None and not resume:  # a resumed run has its checkpoint
        _init_from(built.model, config.init_from)
    if resume:
        built.trainer.load_checkpoint(folder / CHECKPOINT_FILE)  # whole, or "damaged"
    if args.resume is not None and config.epochs != read_run_config(folder).epochs:
        write_config(folder, config)  # the new budget: a later --resume continues to it
    if args.resume is None:
        folder = prepare_run_folder(args.out) if args.out is not None else new_run_folder()
        held.enter_context(run_folder_lock(folder))
        write_config(folder, config)
    if record is None:  # a new run, or one begun before runs recorded their data
        write_data_record(folder, data_record(data, config.dataset))
    built.trainer.checkpoint = folder / CHECKPOINT_FILE
    # The live log the studio follows (and `tail -f` shows): appended to, never rewritten.
    built.trainer.callbacks.append(EventLog(folder / EVENTS_FILE))
    # The curves as a CSV, a row per epoch as it ends: a killed run keeps them.
    built.trainer.callbacks.append(CSVLogger(folder / CURVES_CSV_FILE))
    # The first log line comes only now, once every input has been checked: an error
    # before this point is the one line on stderr.
    done = built.trainer.history.epochs_run if resume else 0
    logger.info("%s %s on %s %s images (%s held out for validation) for up to %s; "
                "run folder %s", f"resuming after epoch {done}:" if resume else "training",
                built.model.extra_repr(), f"{len(train[1]):,}",
                data.title, f"{0 if validation is None else len(validation[1]):,}",
                _epochs(config.epochs), folder)
    if logger.isEnabledFor(logging.INFO):  # -q: not even the forward pass that shapes it
        # Keras users look for the layers, their output shapes and sizes before the epochs.
        logger.info("%s", built.model.summary())
    interrupted = False
    try:
        history = built.trainer.fit(train, validation, epochs=config.epochs, resume=resume,
                                    verbose=0)  # the progress report is ours (or none: -q)
    except KeyboardInterrupt:
        history, interrupted = built.trainer.history, True
    # Saved before the test evaluation, so a Ctrl-C during it still leaves the model.
    save_model_first(folder, model=built.model, config=config, history=history)
    try:
        evaluation = evaluate(built.model, model_inputs(built.model, data.test_images),
                              data.test_labels,
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
          f"test images, after {_epochs(history.epochs_run)} ({sum(history.seconds):.1f} s)")
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
    if _did_not_learn(history, evaluation):
        print(f"{PROG}: the model did not learn: training loss {history.train_loss[-1]:.3g} at "
              f"the end, test accuracy {evaluation.accuracy:.2%} (guessing gives "
              f"{1 / evaluation.num_classes:.0%}); try a smaller --lr", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def _did_not_learn(history, evaluation) -> bool:
    """A run whose loss exploded to a huge but finite value, or that ends no better than
    guessing: as useless as a diverged one, and said as plainly."""
    if not history.epochs_run:
        return False
    chance = 1 / evaluation.num_classes
    # Guessing uniformly costs log(classes) (2.3 for ten): a hundred times that is no model,
    # and neither is one that guesses while its loss is twice the guesser's (a run on a
    # tiny or hard data set may end near chance with a loss near log(classes): that one
    # did learn a little, or had nothing to learn).
    guessing = math.log(evaluation.num_classes)
    loss = history.train_loss[-1]
    return loss > 100 * guessing or (evaluation.accuracy <= chance + 0.01 and loss > 2 * guessing)
