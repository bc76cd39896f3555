"""`tinygrad-mnist report`: the exports and summary tables of a result store."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinygrad_mnist.app.commands.search import export_paths
from tinygrad_mnist.app.errors import UsageError
from tinygrad_mnist.experiments import ResultStore, markdown_report
from tinygrad_mnist.experiments.export import write_exports
from tinygrad_mnist.experiments.ranking import rows_of


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report", help="exports and a summary table of a result store",
        description="Write the JSON, CSV and Markdown exports of a result store and print "
                    "its summary table.",
    )
    parser.add_argument("store", type=Path, metavar="STORE", help="the SQLite result store")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="the folder for the exports (default: the store's folder)")
    return parser


def run(args) -> int:
    if not args.store.is_file():
        raise FileNotFoundError(2, "no such result store", str(args.store))
    # A reader: never a schema written into an empty file; rows of an older version read
    # with the schema's defaults (or refused in one line) before anything is written.
    with ResultStore(args.store, create=False) as store:
        rows, experiment = rows_of(store), store.experiment
    if not rows:
        raise UsageError(f"store: {args.store} holds no trials yet")
    folder = args.out if args.out is not None else args.store.parent
    label = f" (data set: {experiment['dataset']})" if experiment and experiment.get(
        "dataset") else ""
    written = write_exports(rows, {"store": args.store, **export_paths(folder)},
                            title=f"{args.store.stem}{label}", experiment=experiment)
    print(markdown_report(rows, title=f"Results of {args.store}{label}",
                          experiment=experiment), end="")
    print("\nwrote " + ", ".join(str(path) for path in written))
    return 0
