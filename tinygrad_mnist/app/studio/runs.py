"""What the studio reads under RUNS_DIR: run folders, their files, and search result stores.

Everything here only reads. Ids come from requests, so each one is checked before it
touches the file system: a run id is one folder name (letters, digits, `.`, `_`, `-`;
no `/`, no `..`), and every path is resolved (symlinks followed) and must still lie
inside RUNS_DIR, so neither a crafted id nor a symlink in a run folder reads a file
outside it. A result store is opened read-only by SQLite's own `mode=ro`, so not even a
journal file is created beside it.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sqlite3
import time
from pathlib import Path

from tinygrad_mnist.app import run_folder
from tinygrad_mnist.train.config import RunConfig
from tinygrad_mnist.train.event_log import EVENTS_FILE

# A run that has written no event for this long while its log has no "end" has stopped
# without saying so (killed, or the machine went down).
SILENT_SECONDS = 30.0
STORE_FILE = "results.sqlite"
# JSON files of a run are small (a history of 1000 epochs is ~300 kB); a larger one is
# not ours, and is refused rather than read into memory.
MAX_JSON_BYTES = 20 * 2**20
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


class StudioError(Exception):
    """A request the studio cannot serve: answered with `status` and `{"error": message}`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class RunsDirectory:
    """The run folders and result stores directly under `root` (RUNS_DIR)."""

    def __init__(self, root):
        self.root = Path(root).resolve()

    # ------------------------------------------------------------------ paths
    def _inside(self, path: Path, what: str) -> Path:
        real = path.resolve()
        if real != self.root and self.root not in real.parents:
            raise StudioError(f"{what}: not found", 404)  # never say where it points
        return real

    def folder(self, run_id: str, what: str = "run") -> Path:
        """The folder of `run_id`, checked to be a folder inside RUNS_DIR."""
        if not isinstance(run_id, str) or not _ID.fullmatch(run_id):
            raise StudioError(f"{what}: {str(run_id)[:80]!r} is not a run id (a folder name "
                              "of letters, digits, '.', '_' and '-')", 400 if run_id else 404)
        folder = self._inside(self.root / run_id, what)
        if not folder.is_dir():
            raise StudioError(f"{what}: no {what} {run_id!r} in the runs folder", 404)
        return folder

    def file(self, folder: Path, name: str) -> Path | None:
        """`folder/name` if it is a file inside RUNS_DIR; None when it is missing or is a
        symlink to somewhere outside (not ours to read, so as good as missing)."""
        path = folder / name
        if not path.exists():
            return None
        try:
            real = self._inside(path, name)
        except StudioError:
            return None
        return real if real.is_file() else None

    def read_json(self, folder: Path, name: str):
        """The JSON in `folder/name`, or None when it is missing, too large or not JSON."""
        path = self.file(folder, name)
        if path is None or path.stat().st_size > MAX_JSON_BYTES:
            return None
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return None

    # ------------------------------------------------------------------- runs
    def run_folders(self) -> list[Path]:
        """Every folder directly under RUNS_DIR holding a run's config.json, newest first."""
        found = []
        if not self.root.is_dir():
            return found
        for child in self.root.iterdir():
            if not _ID.fullmatch(child.name):
                continue
            try:
                folder = self._inside(child, "run")
            except StudioError:
                continue  # a symlink out of RUNS_DIR: not ours to show
            if folder.is_dir() and (folder / run_folder.CONFIG_FILE).is_file():
                found.append((child.name, folder))
        found.sort(key=lambda item: item[1].stat().st_mtime, reverse=True)
        return [self.root / name for name, _ in found]

    def summary(self, run_id: str) -> dict:
        """One run's line in the list: id, model, data set, test accuracy, epochs, status."""
        folder = self.folder(run_id)
        if self.file(folder, run_folder.CONFIG_FILE) is None:
            raise StudioError(f"run: {run_id!r} is not a run folder (no "
                              f"{run_folder.CONFIG_FILE})", 404)
        config = self.read_json(folder, run_folder.CONFIG_FILE) or {}
        metrics = self.read_json(folder, run_folder.METRICS_FILE) or {}
        history = self.read_json(folder, run_folder.HISTORY_FILE) or {}
        events = self.events_state(folder)
        epochs_run = len(history.get("train_loss") or [])
        if events["epochs_run"] is not None:
            epochs_run = max(epochs_run, events["epochs_run"])
        return {
            "id": run_id,
            "model": describe_model(config),
            "kind": config.get("model", "mlp"),
            "dataset": str(config.get("dataset", "")),
            "test_accuracy": _number(metrics.get("test_accuracy")),
            "epochs": epochs_run,
            "max_epochs": config.get("epochs"),
            "status": self.status(folder, history, events),
            "has_model": self.file(folder, run_folder.MODEL_FILE) is not None,
            "live": events["present"],
            "modified": folder.stat().st_mtime,
        }

    def runs(self) -> list[dict]:
        """The summary of every run, newest first (a folder removed meanwhile is left out)."""
        listed = []
        for folder in self.run_folders():
            try:
                listed.append(self.summary(folder.name))
            except (StudioError, OSError):
                continue
        return listed

    def detail(self, run_id: str) -> dict:
        """Everything the run page shows: summary, config, history, test metrics."""
        folder = self.folder(run_id)
        metrics = self.read_json(folder, run_folder.METRICS_FILE) or {}
        return {
            **self.summary(run_id),
            "config": self.read_json(folder, run_folder.CONFIG_FILE),
            "history": self.read_json(folder, run_folder.HISTORY_FILE),
            "metrics": {key: metrics.get(key) for key in (
                "test_accuracy", "test_images", "class_names", "per_class_accuracy",
                "confusion_matrix")} if metrics else None,
        }

    def status(self, folder: Path, history: dict, events: dict) -> str:
        """"running", or why the run ended ("completed", "early-stopped", "diverged",
        "interrupted"), "stopped" (no word from it for a while) or "incomplete"."""
        if events["present"] and events["stopped_reason"] is None:
            if time.time() - events["modified"] < SILENT_SECONDS:
                return "running"
            return "stopped"
        if events["stopped_reason"] is not None and self.file(
                folder, run_folder.METRICS_FILE) is None:
            # Training ended; the test evaluation and the figures are being written.
            if time.time() - events["modified"] < SILENT_SECONDS:
                return "running"
        if self.file(folder, run_folder.MODEL_FILE) is None:
            return "incomplete"
        return str(history.get("stopped_reason") or events["stopped_reason"] or "completed")

    def events_state(self, folder: Path) -> dict:
        """Whether the run has an event log, its last epoch and how it ended (read from the
        log's tail only: a long log is not read whole for a list)."""
        state = {"present": False, "stopped_reason": None, "epochs_run": None, "modified": 0.0}
        path = self.file(folder, EVENTS_FILE)
        if path is None:
            return state
        stat = path.stat()
        state.update(present=True, modified=stat.st_mtime)
        with open(path, "rb") as file:
            file.seek(max(0, stat.st_size - 16384))
            tail = file.read().decode("utf-8", "replace").splitlines()
        for line in reversed(tail):
            try:
                event = json.loads(line)
            except ValueError:
                continue  # the first, cut line of the tail
            if not isinstance(event, dict):
                continue
            kind = event.get("event")
            if kind == "end" and state["stopped_reason"] is None:
                state["stopped_reason"] = str(event.get("stopped_reason"))
                state["epochs_run"] = _int(event.get("epochs_run"))
                break
            if kind == "start":
                break  # the last start came after any end: the run goes on
            if kind in ("epoch", "batch") and state["epochs_run"] is None:
                epoch = _int(event.get("epoch"))
                state["epochs_run"] = epoch if kind == "epoch" else \
                    (None if epoch is None else epoch - 1)
                break
        return state

    def events_file(self, run_id: str) -> Path:
        """The path of a run's event log (which may not exist yet)."""
        folder = self.folder(run_id)
        path = folder / EVENTS_FILE
        if path.exists():
            self._inside(path, EVENTS_FILE)
        return path

    # --------------------------------------------------------------- searches
    def store_folders(self) -> list[Path]:
        """Every folder directly under RUNS_DIR holding a result store, newest first."""
        found = []
        if not self.root.is_dir():
            return found
        for child in self.root.iterdir():
            if not _ID.fullmatch(child.name):
                continue
            try:
                store = self.file(self._inside(child, "search"), STORE_FILE)
            except (StudioError, OSError):
                continue
            if store is not None:
                found.append((store.stat().st_mtime, child))
        return [folder for _, folder in sorted(found, reverse=True)]

    def store(self, search_id: str) -> Path:
        """The result store of search `search_id`."""
        folder = self.folder(search_id, "search")
        store = self.file(folder, STORE_FILE)
        if store is None:
            raise StudioError(f"search: {search_id!r} has no {STORE_FILE}", 404)
        return store

    def search_rows(self, search_id: str, after: int = 0) -> tuple[list[dict], int]:
        """The trials of a search's store with a row id above `after`, and the last row id.

        Read-only (`mode=ro`): the studio never writes into a store, not even a journal.
        """
        from tinygrad_mnist.experiments.store import decode_row

        store = self.store(search_id)
        try:
            connection = sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True, timeout=5)
        except sqlite3.Error as error:
            raise StudioError(f"search: cannot open its store ({error})", 409) from None
        try:
            cursor = connection.execute("SELECT * FROM trials WHERE id > ? ORDER BY id",
                                        (int(after),))
            names = [column[0] for column in cursor.description]
            rows, last = [], int(after)
            for values in cursor.fetchall():
                stored = dict(zip(names, values))
                last = max(last, int(stored["id"]))
                rows.append(_json_row(decode_row(stored, search_id)))
            return rows, last
        except (sqlite3.Error, ValueError) as error:
            raise StudioError(f"search: {search_id!r}: its store cannot be read ({error})",
                              409) from None
        finally:
            connection.close()

    def searches(self) -> list[dict]:
        """Each search's id, number of trials and best validation accuracy."""
        listed = []
        for folder in self.store_folders():
            try:
                rows, _ = self.search_rows(folder.name)
            except StudioError:
                continue
            accuracies = [row["val_accuracy"] for row in rows
                          if isinstance(row.get("val_accuracy"), float)]
            listed.append({"id": folder.name, "trials": len(rows),
                           "best_val_accuracy": max(accuracies) if accuracies else None})
        return listed


def _json_row(row: dict) -> dict:
    """A store row with JSON values only: NaN as None, the history left out (large)."""
    return {key: (None if isinstance(value, float) and not math.isfinite(value) else value)
            for key, value in row.items() if key not in ("history", "config")}


def describe_model(config: dict) -> str:
    """"mlp 256-128" or "cnn conv 16-32, dense 128": a run's architecture in a few words,
    from the fields that apply to its model (a config.json of an older version holds the
    others too)."""
    with contextlib.suppress(TypeError, ValueError):  # a damaged file: described as it is
        config = RunConfig.from_dict(config).to_dict()
    hidden = "-".join(map(str, config.get("hidden_sizes") or [])) or "linear"
    kind = config.get("model", "mlp")
    if config.get("channels"):
        channels = "-".join(map(str, config["channels"]))
        return f"{kind} conv {channels}, dense {hidden}"
    return f"{kind} {hidden}"


def _number(value):
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _int(value):
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else None
