"""The JSON summary `tinygrad-mnist kfold --out FILE` writes: each fold's figures, their mean
and standard deviation, the configuration.

Its path is checked before any fold trains (`check_kfold_path`), and an existing file is
replaced only when it is an earlier summary (`is_kfold_summary`): never a stranger's
file, a run folder's `model.npz`, a folder or a device.
"""

from __future__ import annotations

import json
from pathlib import Path

from tinygrad_mnist.experiments.tables import json_safe
from tinygrad_mnist.utils.atomic import atomic_write_text
from tinygrad_mnist.utils.output_file import check_output_file

FORMAT = "tinygrad-mnist kfold summary"
# An earlier summary of a version that wrote no "format" is known by its keys.
_KEYS = {"config", "k", "folds", "mean", "std", "best_fold"}
# A summary is a few kilobytes; a larger file is no earlier summary to replace.
_LARGEST_SUMMARY = 1 << 24


def check_kfold_path(path) -> Path:
    """Refuse (ValueError naming `path`) a `--out` that must not be written; returns it."""
    return check_output_file(path, "out", is_kfold_summary, make_folders=True)


def is_kfold_summary(path) -> bool:
    """Whether `path` holds a summary that `write_kfold_summary` wrote."""
    try:
        path = Path(path)
        if path.stat().st_size > _LARGEST_SUMMARY:
            return False
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(summary, dict) and (summary.get("format") == FORMAT
                                          or _KEYS <= set(summary))


def kfold_summary(result, k: int, config: dict, interrupted: bool = False) -> dict:
    """The summary of a `KFoldResult`: JSON-ready, NaN as null."""
    return json_safe({"format": FORMAT, "config": config, "k": k,
                      "folds": [fold.metrics for fold in result.folds],
                      "mean": result.mean, "std": result.std,
                      "best_fold": result.best_fold + 1, "interrupted": interrupted})


def write_kfold_summary(path, summary: dict) -> Path:
    """Write `summary` to `path` (checked again first; missing folders are made)."""
    path = check_kfold_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(summary, indent=1) + "\n")
    return path
