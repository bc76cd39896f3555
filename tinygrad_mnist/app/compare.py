"""Compare run folders: their configurations (what differs), their curves, their figures.

    runs = read_runs(["runs/relu", "runs/tanh"])
    print(comparison_table(runs))          # what differs, epochs, validation and test
    plot_runs_compared({run.name: run.history for run in runs}, path="compare.png")

What `tinygrad-mnist compare RUN RUN...` prints and draws.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from tinygrad_mnist.train.config import RunConfig
from tinygrad_mnist.train.history import History

HISTORY_FILE, METRICS_FILE, CONFIG_FILE = "history.json", "metrics.json", "config.json"


@dataclass(frozen=True)
class RunSummary:
    """What a run folder says of itself: its configuration, history and test accuracy."""

    folder: Path
    config: dict
    history: History
    test_accuracy: float | None

    @property
    def name(self) -> str:
        """The folder's name: how the table and the figure's legend call the run."""
        return self.folder.name or str(self.folder)


def _json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"run: {str(path.parent)!r} has no {path.name}; give run folders "
                         f"written by 'tinygrad-mnist train'") from None
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise ValueError(f"{what}: {str(path)!r} is not valid JSON ({error})") from None


def read_run(folder) -> RunSummary:
    """The `RunSummary` of the run folder `folder` (a ValueError naming what is missing)."""
    folder = Path(folder)
    if folder.name in ("model.npz",) and folder.is_file():
        folder = folder.parent
    if not folder.is_dir():
        raise ValueError(f"run: {str(folder)!r} is not a folder; give run folders written by "
                         f"'tinygrad-mnist train'")
    config = _json(folder / CONFIG_FILE, "config")
    try:
        history = History.from_dict(_json(folder / HISTORY_FILE, "history"))
    except (TypeError, ValueError) as error:
        raise ValueError(f"history: {str(folder / HISTORY_FILE)!r} is damaged ({error})") \
            from None
    metrics_path = folder / METRICS_FILE
    accuracy = None
    if metrics_path.is_file():
        value = _json(metrics_path, "metrics").get("test_accuracy")
        accuracy = float(value) if isinstance(value, (int, float)) else None
    if not isinstance(config, dict):
        raise ValueError(f"config: {str(folder / CONFIG_FILE)!r} is not a run configuration")
    # As this version writes it, so an older file's extra fields (an MLP's kernel_size) and
    # missing ones (init_from) are no differences; a file the schema refuses, as it is.
    with contextlib.suppress(TypeError, ValueError):
        config = RunConfig.from_dict(config).to_dict()
    return RunSummary(folder, config, history, accuracy)


def read_runs(folders) -> list[RunSummary]:
    """`read_run` of each folder, in order; two runs of one name are told apart by path."""
    runs = [read_run(folder) for folder in folders]
    if len(runs) < 2:
        raise ValueError(f"runs: expected at least two run folders to compare, got {len(runs)}")
    first_named = {}
    for folder in map(Path, folders):
        first = first_named.setdefault(folder.resolve(), folder)
        if first is not folder:
            also = "" if str(first) == str(folder) else f" (first as {str(first)!r})"
            raise ValueError(f"runs: {str(folder)!r} is given twice{also}; give each run once")
    return runs


#: What the figure `compare` writes says of itself (PNG metadata): how an earlier one is
#: known, and may be replaced.
FIGURE_TITLE = "tinygrad-mnist compare"


def is_comparison_figure(path) -> bool:
    """Whether `path` holds a figure that `compare` wrote (and may be written over)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.text.get("Title") == FIGURE_TITLE
    except (OSError, ValueError, Image.DecompressionBombError):
        return False


def differing_fields(configs: list[dict]) -> list[str]:
    """The configuration keys whose values are not the same in every config (in order of
    first appearance); a key some configs lack counts as differing."""
    keys = list(dict.fromkeys(key for config in configs for key in config))
    return [key for key in keys
            if len({json.dumps(config[key], sort_keys=True) if key in config else "<absent>"
                    for config in configs}) > 1]


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _percent(value) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2%}"


def comparison_table(runs: list[RunSummary]) -> str:
    """A text table: one row per run, the configuration fields that differ between the
    runs, the epochs run, the best validation accuracy and the test accuracy."""
    fields = differing_fields([run.config for run in runs])
    header = ["run", *fields, "epochs run", "best validation", "test"]
    rows = []
    for run in runs:
        validation = [v for v in run.history.val_accuracy if math.isfinite(v)]
        rows.append([run.name, *(_cell(run.config.get(key, "<absent>")) for key in fields),
                     str(run.history.epochs_run), _percent(max(validation, default=None)),
                     _percent(run.test_accuracy)])
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    same = "" if fields else "\n(the runs' configurations are the same)"
    return "\n".join(lines) + same
