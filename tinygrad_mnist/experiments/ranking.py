"""Rankings and summaries of trial rows: which trial is best, and tables that say why.

Every function takes `source`: a `ResultStore`, the path of one, a `SearchResult`, or a
list of flat row dicts (as `ResultStore.rows()` gives). Accuracies are fractions in
the rows; `experiments.export` writes them to files.

Rows of different experiments (another data set, split, k or search seed) are never
ranked or averaged together: `one_experiment` refuses them. Failed trials have no
figures: summaries leave them out and count them.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter

import numpy as np

from tinygrad_mnist.experiments.store import METRICS, ResultStore, StoreError
from tinygrad_mnist.experiments.tables import architecture
from tinygrad_mnist.train.config import CONFIG_DEFAULTS, canonical_config
from tinygrad_mnist.train.validation import validation_order

# The seed's ranking columns: (title, row -> value).
# Validation first: trials are chosen by it. The test accuracy comes last, for reference;
# choosing by it would fit the test set.
_SEED_COLUMNS = {
    "hidden layers": lambda row: architecture(row["hidden_sizes"]),
    "activation": lambda row: row["activation"],
    "learning rate": lambda row: row["learning_rate"],
    "validation accuracy": lambda row: row["val_accuracy"],
    "validation error": lambda row: 1.0 - row["val_accuracy"],
    "epochs": lambda row: row["epochs_run"],  # epochs run; a varying budget is "epoch budget"
    "status": lambda row: row["status"],
    "test accuracy": lambda row: row["test_accuracy"],
}



# A config key that varies in the grid gets its own column, under this title where its
# name would collide with a seed column's.
_VARYING_TITLES = {"epochs": "epoch budget"}


def rows_of(source) -> list[dict]:
    """The flat rows of a store, a store's path, a `SearchResult` or a list of rows."""
    if isinstance(source, ResultStore):
        return _complete(source.rows(), source.path)
    if isinstance(source, (str, os.PathLike)):
        if not os.path.exists(source):
            raise ValueError(f"source: no result store at {os.fspath(source)!r}")
        with ResultStore(source, create=False) as store:
            return _complete(store.rows(), store.path)
    rows = getattr(source, "rows", source)
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(
            "source: expected a ResultStore, its path, a SearchResult or a list of row dicts, "
            f"got {type(source).__name__}"
        )
    return list(rows)


def _complete(rows: list[dict], where: str) -> list[dict]:
    """Stored rows with canonical configs: a row of an older version (fewer config keys)
    reads with today's defaults; a config this version does not know is a StoreError."""
    completed = []
    for row in rows:
        try:
            config = canonical_config(row["config"])
        except (TypeError, ValueError) as error:
            raise StoreError(f"store: {where}: trial {row['trial_id']!r} has a config this "
                             f"version cannot read ({error})") from None
        completed.append({**row, **config, "config": config})
    return completed


def _ranking_key(row: dict) -> tuple:
    """`validation_order`, then the config key and the fold, so ties rank the same every time."""
    return (*validation_order(row), row["key"], row["fold"] or 0)


def rank(rows: list[dict]) -> list[dict]:
    """`rows` sorted best first (validation accuracy, then validation loss, then key)."""
    return sorted(rows, key=_ranking_key)


def one_experiment(rows: list[dict], what: str = "rows") -> list[dict]:
    """`rows`, if they all belong to one experiment and each phase to one split; else ValueError.

    An experiment is the data, the holdout fraction, k and the search seed (the
    `experiment` field of a row); averaging or ranking across them would compare trials
    that differ in something no column shows.
    """
    experiments = sorted({str(row.get("experiment")) for row in rows})
    splits = {}
    for row in rows:
        splits.setdefault(row["phase"], set()).add(row.get("split"))
    mixed = {phase: sorted(map(str, found)) for phase, found in splits.items() if len(found) > 1}
    if len(experiments) > 1 or mixed:
        detail = (f"experiments {', '.join(experiments)}" if len(experiments) > 1 else
                  "; ".join(f"{phase} splits {', '.join(found)}" for phase, found in mixed.items()))
        raise ValueError(
            f"{what}: trials of more than one experiment ({detail}); report one experiment at "
            "a time (keep each in its own store)"
        )
    return rows


def ranking_table(source, phase: str = "holdout") -> list[dict]:
    """The ranked trials of `phase` with the seed's columns, plus any other setting that varies.

    "epochs" is the epochs run; when the budget varies in the grid it has its own
    column, "epoch budget".
    """
    rows = rank(one_experiment([row for row in rows_of(source) if row["phase"] == phase]))
    varying = [name for name in CONFIG_DEFAULTS
               if name not in ("hidden_sizes", "activation", "learning_rate")
               and len({json.dumps(row[name]) for row in rows}) > 1]
    table = []
    for place, row in enumerate(rows, 1):
        entry = {"rank": place, **{title: get(row) for title, get in _SEED_COLUMNS.items()}}
        entry.update({_VARYING_TITLES.get(name, name): row[name] for name in varying})
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
    whose metric is NaN (diverged, failed) are left out of the figures and counted
    ("not finite"; "failed" counts the failed ones among them).
    """
    rows = one_experiment([row for row in rows_of(source) if row["phase"] == phase])
    if by not in CONFIG_DEFAULTS:
        raise ValueError(f"by: expected a config key ({', '.join(CONFIG_DEFAULTS)}), got {by!r}")
    groups: dict[str, list[dict]] = {}
    for row in rows:
        label = architecture(row[by]) if by == "hidden_sizes" else str(row[by])
        groups.setdefault(label, []).append(row)
    table = []
    for label, group in groups.items():
        values = [row[metric] for row in group]
        table.append({by: label, "trials": len(group),
                      "not finite": sum(not math.isfinite(v) for v in values),
                      "failed": sum(row["status"] == "failed" for row in group),
                      **_statistics(values)})
    return table


def kfold_summary(source) -> list[dict]:
    """One entry per k-fold-validated config, best mean validation accuracy first.

    Each has the config, its `key`, the fold rows, the mean and standard deviation of
    every metric over the folds that did not fail, the best fold's row, the count of
    each status and `failed` (how many folds failed; a config whose folds all failed
    has NaN figures and ranks last).
    """
    groups: dict[str, list[dict]] = {}
    for row in one_experiment([row for row in rows_of(source) if row["phase"] == "kfold"]):
        groups.setdefault(row["key"], []).append(row)
    summaries = []
    for key, folds in groups.items():
        folds = sorted(folds, key=lambda row: row["fold"])
        usable = [row for row in folds if row["status"] != "failed"]
        figures = {name: [math.nan if row[name] is None else row[name] for row in usable]
                   for name in (*METRICS, "epochs_run", "seconds")}
        summaries.append({
            "key": key,
            "config": folds[0]["config"],
            "folds": folds,
            "mean": {name: float(np.mean(v)) if v else math.nan for name, v in figures.items()},
            "std": {name: float(np.std(v)) if v else math.nan for name, v in figures.items()},
            "best_fold": rank(folds)[0],
            "statuses": dict(Counter(row["status"] for row in folds)),
            "failed": len(folds) - len(usable),
        })
    return sorted(summaries, key=lambda s: _ranking_key(
        {"val_accuracy": s["mean"]["val_accuracy"], "val_loss": s["mean"]["val_loss"],
         "key": s["key"], "fold": 0}))
