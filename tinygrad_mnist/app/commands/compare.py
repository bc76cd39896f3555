"""`tinygrad-mnist compare RUN RUN...`: the runs' configurations side by side (what differs)
with their test accuracies, and their learning curves overlaid in one figure."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinygrad_mnist.app.compare import (
    FIGURE_TITLE,
    comparison_table,
    is_comparison_figure,
    read_runs,
)
from tinygrad_mnist.app.errors import UsageError
from tinygrad_mnist.utils.output_file import check_output_file


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "compare", help="compare run folders: what differs, their accuracies, their curves",
        description="Print a table of the runs' settings that differ, their epochs, best "
                    "validation and test accuracies, and draw their learning curves in one "
                    "figure.",
    )
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                        help="run folders written by 'tinygrad-mnist train' (two or more)")
    parser.add_argument("--out", type=Path, default=Path("compare.png"), metavar="PNG",
                        help="where to write the figure, or a folder to write compare.png "
                             "into; an existing file is replaced only when it is an earlier "
                             "comparison (default: compare.png)")
    return parser


def run(args) -> int:
    from tinygrad_mnist.viz import plot_runs_compared
    from tinygrad_mnist.viz.figure_file import save_figure

    out = args.out / "compare.png" if args.out.is_dir() else args.out
    out = out if out.suffix else out.with_suffix(".png")
    # Before any work: never over a stranger's file, a run's own figure or a device; only
    # over an earlier comparison.
    try:
        check_output_file(out, "comparison figure", is_comparison_figure, make_folders=True)
    except ValueError as error:  # the user typed --out
        message = str(error).removeprefix("comparison figure: ")
        raise UsageError(f"argument --out: {message}") from None
    runs = read_runs(args.runs)
    print(comparison_table(runs))
    names = [run.name for run in runs]
    labels = names if len(set(names)) == len(names) else [str(run.folder) for run in runs]
    figure = plot_runs_compared({label: run.history for label, run in zip(labels, runs)},
                                title=f"{len(runs)} runs compared")
    print(f"wrote {save_figure(figure, out, metadata={'Title': FIGURE_TITLE})}")
    return 0
