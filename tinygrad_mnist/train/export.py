"""Rankings and summaries of trial rows, and their exports to JSON, CSV and Markdown.

Every function takes `source`: a `ResultStore`, the path of one, a `SearchResult`, or a
list of flat row dicts (as `ResultStore.rows()` gives). Accuracies are fractions in
the data (JSON, CSV) and percentages in the Markdown report.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections import Counter

import numpy as np

from tinygrad_mnist.atomic import atomic_write_text
from tinygrad_mnist.train.builders import CONFIG_DEFAULTS, canonical_config
from tinygrad_mnist.train.store import METRICS, ResultStore

# The seed's ranking columns: (title, row -> value).
_SEED_COLUMNS = {
    "hidden layers": lambda row: _architecture(row["hidden_sizes"]),
    "activation": lambda row: row["activation"],
    "learning rate": lambda row: row["learning_rate"],
    "test accuracy": lambda row: row["test_accuracy"],
    "validation accuracy": lambda row: row["val_accuracy"],
    "epochs": lambda row: row["epochs_run"],
    "validation error": lambda row: 1.0 - row["val_accuracy"],
    "status": lambda row: row["status"],
}
_CSV_COLUMNS = ("trial_id", "key", "phase", "fold", "status", *CONFIG_DEFAULTS, *METRICS,
                "epochs_run", "best_epoch", "seconds", "split", "search_seed", "trial_seed",
                "data_id", "version", "finished_at", "error")


def rows_of(source) -> list[dict]:
    """The flat rows of a store, a store's path, a `SearchResult` or a list of rows."""
    if isinstance(source, ResultStore):
        return source.rows()
    if isinstance(source, (str, os.PathLike)):
        if not os.path.exists(source):
            raise ValueError(f"source: no result store at {os.fspath(source)!r}")
        with ResultStore(source) as store:
            return store.rows()
    rows = getattr(source, "rows", source)
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(
            "source: expected a ResultStore, its path, a SearchResult or a list of row dicts, "
            f"got {type(source).__name__}"
        )
    return list(rows)


def _architecture(hidden_sizes) -> str:
    return "[" + ", ".join(str(size) for size in hidden_sizes) + "]"


def validation_order(metrics: dict) -> tuple:
    """A sort key, best first: higher validation accuracy, then lower validation loss; NaN last."""
    accuracy, loss = metrics["val_accuracy"], metrics["val_loss"]
    return (-accuracy if math.isfinite(accuracy) else math.inf,
            loss if math.isfinite(loss) else math.inf)


def _ranking_key(row: dict) -> tuple:
    """`validation_order`, then the config key and the fold, so ties rank the same every time."""
    return (*validation_order(row), row["key"], row["fold"] or 0)


def rank(rows: list[dict]) -> list[dict]:
    """`rows` sorted best first (validation accuracy, then validation loss, then key)."""
    return sorted(rows, key=_ranking_key)


def ranking_table(source, phase: str = "holdout") -> list[dict]:
    """The ranked trials of `phase` with the seed's columns, plus any other setting that varies."""
    rows = rank([row for row in rows_of(source) if row["phase"] == phase])
    varying = [name for name in CONFIG_DEFAULTS
               if name not in ("hidden_sizes", "activation", "learning_rate")
               and len({json.dumps(row[name]) for row in rows}) > 1]
    table = []
    for place, row in enumerate(rows, 1):
        entry = {"rank": place, **{title: get(row) for title, get in _SEED_COLUMNS.items()}}
        entry.update({name: row[name] for name in varying})
        table.append(entry)
    return table


def _statistics(values: list[float]) -> dict:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return {"mean": math.nan, "std": math.nan, "best": math.nan, "worst": math.nan}
    return {"mean": float(np.mean(finite)), "std": float(np.std(finite)),
            "best": max(finite), "worst": min(finite)}


def summary_table(source, by: str = "activation", metric: str = "val_accuracy",
                  phase: str = "holdout") -> list[dict]:
    """Mean, standard deviation, best and worst of `metric` per value of the setting `by`.

    `by` is any config key ("activation", "hidden_sizes", "learning_rate"...). Trials
    whose metric is NaN (diverged, failed) are left out of the figures and counted.
    """
    rows = [row for row in rows_of(source) if row["phase"] == phase]
    if by not in CONFIG_DEFAULTS:
        raise ValueError(f"by: expected a config key ({', '.join(CONFIG_DEFAULTS)}), got {by!r}")
    groups: dict[str, list[dict]] = {}
    for row in rows:
        label = _architecture(row[by]) if by == "hidden_sizes" else str(row[by])
        groups.setdefault(label, []).append(row)
    table = []
    for label, group in groups.items():
        values = [row[metric] for row in group]
        table.append({by: label, "trials": len(group),
                      "not finite": sum(not math.isfinite(v) for v in values),
                      **_statistics(values)})
    return table


def kfold_summary(source) -> list[dict]:
    """One entry per k-fold-validated config, best mean validation accuracy first.

    Each has the config, its `key`, the fold rows, the mean and standard deviation of
    every metric over the folds, the best fold's row and the count of each status.
    """
    groups: dict[str, list[dict]] = {}
    for row in rows_of(source):
        if row["phase"] == "kfold":
            groups.setdefault(row["key"], []).append(row)
    summaries = []
    for key, folds in groups.items():
        folds = sorted(folds, key=lambda row: row["fold"])
        figures = {name: [row[name] for row in folds] for name in
                   (*METRICS, "epochs_run", "seconds")}
        summaries.append({
            "key": key,
            "config": folds[0]["config"],
            "folds": folds,
            "mean": {name: float(np.mean(values)) for name, values in figures.items()},
            "std": {name: float(np.std(values)) for name, values in figures.items()},
            "best_fold": rank(folds)[0],
            "statuses": dict(Counter(row["status"] for row in folds)),
        })
    return sorted(summaries, key=lambda s: _ranking_key(
        {"val_accuracy": s["mean"]["val_accuracy"], "val_loss": s["mean"]["val_loss"],
         "key": s["key"], "fold": 0}))


# ---------------------------------------------------------------------- exports
def json_safe(value):
    """NaN and infinities as None: strict JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


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


def _format(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:g}"
    return str(value)


def _percent(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{100 * value:.2f}%"


def markdown_table(rows: list[dict], percent=()) -> str:
    """A Markdown table of dicts sharing keys; columns named in `percent` shown as %."""
    if not rows:
        return "_(none)_\n"
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        cells = [_percent(row[h]) if h in percent else _format(row[h]) for h in headers]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _describe(config: dict) -> str:
    """The seed's three settings, then any other that differs from the defaults, as key=value."""
    defaults = canonical_config({})
    always = ("hidden_sizes", "activation", "learning_rate")
    shown = [k for k in always if k in config]
    shown += [k for k, v in config.items() if k not in always and v != defaults[k]]
    return ", ".join(f"{k}={json.dumps(config[k])}" for k in shown)


def markdown_report(source, title: str = "Grid search") -> str:
    """The report as Markdown text: ranking, k-fold of the top configs, winner, summaries."""
    rows = rows_of(source)
    accuracies = ("test accuracy", "validation accuracy", "validation error")
    sections = [f"# {title}\n\n{len(rows)} trials.",
                "## Holdout screening, best first\n\n"
                + markdown_table(ranking_table(rows), percent=accuracies)]
    folds = kfold_summary(rows)
    if folds:
        table = [{
            "hidden layers": _architecture(s["config"]["hidden_sizes"]),
            "activation": s["config"]["activation"],
            "learning rate": s["config"]["learning_rate"],
            "folds": len(s["folds"]),
            "mean validation accuracy": s["mean"]["val_accuracy"],
            "std": s["std"]["val_accuracy"],
            "best fold": s["best_fold"]["fold"] + 1,
            "best fold test accuracy": s["best_fold"]["test_accuracy"],
            "statuses": ", ".join(f"{n} {status}" for status, n in s["statuses"].items()),
        } for s in folds]
        winner = folds[0]
        sections += [
            "## K-fold validation of the top configurations\n\n"
            + markdown_table(table, percent=("mean validation accuracy", "std",
                                             "best fold test accuracy")),
            f"**Winner**: {_describe(winner['config'])}: mean validation accuracy "
            f"{_percent(winner['mean']['val_accuracy'])} "
            f"(± {_percent(winner['std']['val_accuracy'])}); its best fold's model scores "
            f"{_percent(winner['best_fold']['test_accuracy'])} on the test set."]
    for by, name in (("activation", "activation"), ("hidden_sizes", "hidden layers")):
        table = [{name: entry.pop(by), **entry} for entry in summary_table(rows, by=by)]
        sections.append(f"## Validation accuracy per {name}\n\n"
                        + markdown_table(table, percent=("mean", "std", "best", "worst")))
    return "\n\n".join(section.rstrip("\n") for section in sections) + "\n"


def export_markdown(source, path, title: str = "Grid search") -> None:
    """Write `markdown_report(source, title)` to `path`."""
    atomic_write_text(path, markdown_report(source, title))
