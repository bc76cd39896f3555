"""`tinygrad-mnist search`: the grid search an experiment file describes, resumable, with
its exports and heat map."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from tinygrad_mnist.app.commands.kfold import check_folds
from tinygrad_mnist.app.errors import EXIT_FAILED, EXIT_INTERRUPTED, PROG, UsageError
from tinygrad_mnist.app.options import add_data_options, int_at_least
from tinygrad_mnist.app.trial_bar import trial_bar
from tinygrad_mnist.data import prepare_images
from tinygrad_mnist.data.by_name import load_named_dataset
from tinygrad_mnist.experiments import ResultStore, expand_grid, grid_search, load_experiment
from tinygrad_mnist.experiments.experiment import shipped_experiments
from tinygrad_mnist.experiments.export import check_exports, write_exports
from tinygrad_mnist.experiments.outputs import check_distinct
from tinygrad_mnist.experiments.ranking import ranking_table
from tinygrad_mnist.experiments.search import SearchFailedError, experiment_record
from tinygrad_mnist.experiments.store import experiment_id
from tinygrad_mnist.experiments.tables import markdown_table

logger = logging.getLogger(__name__)


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "search", help="grid search from an experiment file (TOML)",
        description="Run the grid search an experiment file describes: holdout screening of "
                    "every configuration, k-fold of the best, then the test score of the "
                    "winner. Every finished trial is saved at once to the result store; run "
                    "the same command again to resume after a crash or Ctrl-C. Writes the "
                    "JSON, CSV and Markdown exports and a heat map PNG.",
    )
    parser.add_argument("config", type=Path, metavar="CONFIG.toml",
                        help="the experiment file, or the name of one that ships with the "
                             f"package: {', '.join(shipped_experiments())}")
    parser.add_argument("--jobs", type=int_at_least(-1), default=None, metavar="N",
                        help="trials run in parallel (-1: one per core; default: the "
                             "experiment file's value, else 1)")
    parser.add_argument("--store", type=Path, metavar="PATH",
                        help="the SQLite result store (default: the experiment file's "
                             "[outputs] store, else results.sqlite in the output folder)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="the output folder: results.json, results.csv, report.md and "
                             "heatmap.png go there, whatever the experiment file's [outputs] "
                             "say (default: those [outputs], else runs/<file name>-<data "
                             "set> in the current folder)")
    parser.add_argument("--retry-failed", action="store_true",
                        help="run the trials that failed in an earlier run again (by "
                             "default a resumed search keeps them as they are)")
    parser.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                        help="run the trials on the Dask cluster of this scheduler (started "
                             "with 'dask scheduler' and 'dask worker'; see "
                             "docs/command-line.md) instead of local processes")
    add_data_options(parser, default_dataset=None)
    return parser


def export_paths(folder: Path, outputs: dict | None = None) -> dict[str, Path]:
    """Where the exports go: `outputs` ("json", "csv", "markdown") or default names in
    `folder`; the heat map beside the Markdown report."""
    outputs = outputs or {}
    paths = {kind: Path(outputs.get(kind, folder / name)) for kind, name in
             (("json", "results.json"), ("csv", "results.csv"), ("markdown", "report.md"))}
    paths["heat map"] = paths["markdown"].with_name("heatmap.png")
    return paths


def _slug(name: str) -> str:
    """A data set's name or file as part of a folder name: mnist, fashion-mnist, mine."""
    stem = Path(name).stem if name.endswith(".npz") else name
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-.") or "data"


def run(args) -> int:
    if args.jobs == 0:
        raise UsageError("argument --jobs: expected an integer >= 1, or -1 for every core, got 0")
    if args.scheduler is not None and args.jobs is not None:
        raise UsageError("argument --jobs: not with --scheduler (the cluster's workers decide)")
    experiment = load_experiment(args.config)
    dataset = args.dataset or experiment.dataset
    folder = args.out if args.out is not None else \
        Path("runs") / f"{experiment.path.stem}-{_slug(dataset)}"
    paths = export_paths(folder, experiment.outputs if args.out is None else None)
    store_path = Path(args.store or experiment.outputs.get("store") or folder / "results.sqlite")
    check_distinct({"store": store_path, **paths})  # before the data are even loaded
    jobs = experiment.jobs if args.jobs is None else args.jobs
    data = load_named_dataset(dataset, args.data_root)
    x, y = prepare_images(data.train_images), data.train_labels
    test = (prepare_images(data.test_images), data.test_labels)
    if experiment.top_n:
        check_folds(f"{experiment.path}: k", experiment.k, y)
    record = experiment_record((x, y), test, train_fraction=experiment.train_fraction,
                               k=experiment.k, seed=experiment.seed, dataset=data.title)
    check_exports({"store": store_path, **paths}, experiment_id(record))
    # Not a store, another experiment's, or in use by another search: one line, at once.
    with ResultStore(store_path) as store, store.lock():
        store.claim(record)
        # What a resumed search need not run again (a retried failure it must).
        stored = len(store.trial_ids() - (store.trial_ids("failed") if args.retry_failed
                                          else set()))
    arguments = {**experiment.search_arguments(), "store": store_path, "n_jobs": jobs,
                 "dataset": data.title, "retry_failed": args.retry_failed}
    title = f"{experiment.name} (data set: {data.title})"
    where = f"the cluster at {args.scheduler}" if args.scheduler else f"{jobs} job(s)"
    configurations = len(expand_grid(experiment.space))
    logger.info("search %r on %s: %d configurations, store %s, %s", experiment.name,
                data.title, configurations, store_path, where)
    # Every configuration's holdout trial, then k folds of each of the top N: the count
    # may end short (fewer succeeded) or start high (a store kept trials of an older grid).
    trials = configurations + min(experiment.top_n, configurations) * experiment.k
    try:
        with trial_bar(trials, "search", done=stored, quiet=args.quiet) as bar:
            if bar is not None:
                arguments["on_trial"] = lambda row: bar.update(1)
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
    except SearchFailedError as error:  # a worker or the cluster died, or no trial succeeded
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    written = write_exports(result.rows, {"store": store_path, **paths}, title, record)
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
    """A `dask.distributed` client of the scheduler at `address`, or one line saying why not
    (within 10 seconds, the handshake included: `experiments.dask_scheduler`)."""
    from tinygrad_mnist.experiments.dask_scheduler import SchedulerError, connect_scheduler

    try:
        return connect_scheduler(address)
    except (ModuleNotFoundError, SchedulerError) as error:  # both say "scheduler: ..."
        raise UsageError(f"--{error}") from None


def _describe(config: dict) -> str:
    return (f"hidden {','.join(map(str, config['hidden_sizes'])) or 'none'}, "
            f"{config['activation']}, {config['optimizer']} lr {config['learning_rate']:g}, "
            f"batch {config['batch_size'] or 'full'}")
