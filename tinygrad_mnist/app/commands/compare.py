"""`tinygrad-mnist compare RUN RUN...`: the runs' configurations side by side (what differs)
with their test accuracies, and their learning curves overlaid in one figure."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinygrad_mnist.app.compare import comparison_table, read_runs
from tinygrad_mnist.app.errors import UsageError


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
                        help="where to write the figure (default: compare.png)")
    return parser


def run(args) -> int:
    from tinygrad_mnist.viz import plot_runs_compared
    from tinygrad_mnist.viz.figure_file import save_figure

    out = args.out if args.out.suffix else args.out.with_suffix(".png")
    if out.exists() and not (out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"):
        raise UsageError(f"argument --out: {str(out)!r} exists and is not a PNG figure; "
                         "choose another path")  # never overwrite someone's file
    runs = read_runs(args.runs)
    print(comparison_table(runs))
    names = [run.name for run in runs]
    labels = names if len(set(names)) == len(names) else [str(run.folder) for run in runs]
    figure = plot_runs_compared({label: run.history for label, run in zip(labels, runs)},
                                title=f"{len(runs)} runs compared")
    print(f"wrote {save_figure(figure, out)}")
    return 0
