"""Exports of trial rows to JSON, CSV and Markdown files (each written through `atomic_write`).

Every function takes `source`: a `ResultStore`, the path of one, a `SearchResult`, or a
list of flat row dicts (as `ResultStore.rows()` gives). Accuracies are fractions in
the data (JSON, CSV) and percentages in the Markdown report.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import os
from pathlib import Path

from tinygrad_mnist.experiments.outputs import check_distinct, check_replaceable, marker
from tinygrad_mnist.experiments.ranking import (
    kfold_summary,
    one_experiment,
    ranking_table,
    rows_of,
    summary_table,
)
from tinygrad_mnist.experiments.store import METRICS, ResultStore, describe_experiment
from tinygrad_mnist.experiments.tables import (
    architecture,
    describe,
    json_safe,
    markdown_table,
    percent,
)
from tinygrad_mnist.train.config import CONFIG_DEFAULTS, canonical_config
from tinygrad_mnist.utils.atomic import atomic_write, atomic_write_text

logger = logging.getLogger(__name__)

_CSV_COLUMNS = ("trial_id", "experiment", "key", "phase", "fold", "status", *CONFIG_DEFAULTS,
                *METRICS, "epochs_run", "best_epoch", "seconds", "split", "search_seed",
                "trial_seed", "data_id", "version", "finished_at", "error")


def export_json(source, path) -> None:
    """Write every row (config, metrics, per-epoch history) as a JSON list."""
    rows = [json_safe({k: v for k, v in row.items() if k != "config"}) for row in rows_of(source)]
    atomic_write_text(path, json.dumps(rows, indent=1) + "\n")


def export_csv(source, path) -> None:
    """Write one CSV line per row (no history); lists as JSON text, NaN as an empty cell."""

    def cell(value):
        if isinstance(value, float) and math.isnan(value):
            return ""
        return json.dumps(value) if isinstance(value, (list, dict)) or value is None else value

    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(_CSV_COLUMNS)
    for row in rows_of(source):
        writer.writerow([cell(row.get(name)) for name in _CSV_COLUMNS])
    atomic_write_text(path, text.getvalue())


def experiment_of(source) -> dict | None:
    """The experiment record of a store, a store's path or a `SearchResult` (None for rows)."""
    if isinstance(source, ResultStore):
        return source.experiment
    if isinstance(source, (str, os.PathLike)):
        with ResultStore(source, create=False) as store:
            return store.experiment
    return getattr(source, "experiment", None)


def markdown_report(source, title: str = "Grid search", experiment: dict | None = None) -> str:
    """The report as Markdown text: ranking, k-fold of the top configs, winner, summaries.

    The report names its experiment (`experiment`, else the store's or the search's
    record: the data set, split, k and seed) and says how many trials failed.
    """
    rows = one_experiment(rows_of(source))
    experiment = experiment or experiment_of(source)
    accuracies = ("test accuracy", "validation accuracy", "validation error")
    failed = sum(row["status"] == "failed" for row in rows)
    counts = f"{len(rows)} trials" + (
        f"; {failed} failed, left out of every figure (run the search again with "
        "--retry-failed to retry them)" if failed else "") + "."
    about = f"Experiment: {describe_experiment(experiment)}.\n\n" if experiment else ""
    header = f"<!-- {marker(rows[0]['experiment'])} -->\n" if rows else ""
    # The screening ranks by validation and shows no test figure: only the winner meets
    # the test set, so nothing here invites choosing by it.
    screening = [{name: value for name, value in entry.items() if name != "test accuracy"}
                 for entry in ranking_table(rows)]
    sections = [f"{header}# {title}\n\n{about}{counts}",
                "## Holdout screening, best validation accuracy first\n\n"
                + markdown_table(screening, percent_columns=accuracies)]
    folds = kfold_summary(rows)
    if folds:
        table = [{
            "hidden layers": architecture(s["config"]["hidden_sizes"]),
            "activation": s["config"]["activation"],
            "learning rate": s["config"]["learning_rate"],
            "folds": len(s["folds"]),
            "mean validation accuracy": s["mean"]["val_accuracy"],
            "std": s["std"]["val_accuracy"],
            "best fold": s["best_fold"]["fold"] + 1,
            "statuses": ", ".join(f"{n} {status}" for status, n in s["statuses"].items()),
            # the mean and std are over the folds that did not fail
        } for s in folds]
        winner = folds[0]
        sections += [
            "## K-fold validation of the top configurations\n\n"
            + markdown_table(table, percent_columns=("mean validation accuracy", "std")),
            f"**Winner**: {describe(winner['config'], canonical_config({}))}: "
            f"mean validation accuracy "
            f"{percent(winner['mean']['val_accuracy'])} "
            f"(± {percent(winner['std']['val_accuracy'])}); its best fold's model scores "
            f"{percent(winner['best_fold']['test_accuracy'])} on the test set."]
    for by, name in (("activation", "activation"), ("hidden_sizes", "hidden layers")):
        table = [{name: entry.pop(by), **entry} for entry in summary_table(rows, by=by)]
        sections.append(f"## Validation accuracy per {name}\n\n"
                        + markdown_table(table, percent_columns=("mean", "std", "best", "worst")))
    return "\n\n".join(section.rstrip("\n") for section in sections) + "\n"


def export_markdown(source, path, title: str = "Grid search",
                    experiment: dict | None = None) -> None:
    """Write `markdown_report(source, title, experiment)` to `path`."""
    atomic_write_text(path, markdown_report(source, title, experiment))


_WRITTEN = ("json", "csv", "markdown", "heat map")


def write_exports(source, paths: dict, title: str, experiment: dict | None = None) -> list[Path]:
    """Write the exports of one experiment's trials that `paths` names: "json", "csv",
    "markdown" and "heat map" (a PNG of the holdout phase); a "store" path is only checked.
    Returns the paths written (no heat map when nothing can be coloured, say every trial
    diverged: a warning says so).

    Checked first, before any file is written: the paths are distinct, and a file already at
    one is an earlier export of the same experiment (else ValueError). The report names
    `experiment` (else the store's or the search's record).
    """
    rows = one_experiment(rows_of(source), "store" if "store" in paths else "rows")
    paths = {kind: Path(path) for kind, path in paths.items()}
    check_exports(paths, rows[0]["experiment"] if rows else None)
    for kind in _WRITTEN:
        if kind in paths:
            paths[kind].parent.mkdir(parents=True, exist_ok=True)
    written = []
    if "json" in paths:
        export_json(rows, paths["json"])
        written.append(paths["json"])
    if "csv" in paths:
        export_csv(rows, paths["csv"])
        written.append(paths["csv"])
    if "markdown" in paths:
        export_markdown(rows, paths["markdown"], title=title,
                        experiment=experiment if experiment is not None else experiment_of(source))
        written.append(paths["markdown"])
    if "heat map" in paths and _write_heat_map(rows, paths["heat map"], title):
        written.append(paths["heat map"])
    return written


def check_exports(paths: dict, experiment: str | None) -> None:
    """Before anything runs or is written: no export over another (or over the "store"), and
    none over a file that is not an earlier export of `experiment` (an experiment id)."""
    check_distinct(paths)
    if experiment is not None:
        for kind in _WRITTEN:
            if kind in paths:
                check_replaceable(kind, Path(paths[kind]), experiment)


def _write_heat_map(rows: list[dict], path: Path, title: str) -> bool:
    from tinygrad_mnist.viz import plot_search_heatmap  # matplotlib: only when one is asked for
    from tinygrad_mnist.viz.figure_file import DPI

    holdout = [row for row in rows if row["phase"] == "holdout"]
    averaged = [name for name in CONFIG_DEFAULTS
                if name not in ("learning_rate", "activation", "hidden_sizes")
                and len({json.dumps(row[name]) for row in holdout}) > 1]
    try:  # the figure says what its cells average over
        figure = plot_search_heatmap(holdout, title=title, averaged=averaged)
    except ValueError as error:  # e.g. every trial diverged: nothing to colour
        logger.warning("no heat map: %s", error)
        return False
    with atomic_write(path) as file:  # the marker names the experiment
        figure.savefig(file, format="png", dpi=DPI,
                       metadata={"Description": marker(rows[0]["experiment"])})
    return True
