"""`ResultStore`: one SQLite row per finished trial, committed at once, so a killed search resumes.

Only the process that drives a search writes (workers return results to it), so
there is one writer and no locking beyond SQLite's own. Each `add` is its own
transaction: a crash loses at most the trial that was running, never a saved one,
and SQLite's journal rolls back a half-written commit on the next open.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import sqlite3

import tinygrad_mnist

#: Bumped whenever the table layout or the meaning of a column changes.
SCHEMA_VERSION = 1

STATUSES = ("ok", "early-stopped", "diverged", "failed")
# Why a run ended -> the status a result store records for it. A reason of a user's
# own callback (say "target-reached") is an early stop.
_STATUS_BY_REASON = {
    "completed": "ok",
    "early-stopped": "early-stopped",
    "diverged": "diverged",
    "interrupted": "interrupted",
}


def status_of(stopped_reason: str) -> str:
    """The status a result store records for a run that ended for `stopped_reason`."""
    return _STATUS_BY_REASON.get(stopped_reason, "early-stopped")

METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
           "test_accuracy")

_SCHEMA = f"""
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
    id INTEGER PRIMARY KEY,
    trial_id TEXT NOT NULL UNIQUE,  -- config key + phase + fold + split + seed + data
    key TEXT NOT NULL,              -- config_key(config): the same for every fold
    phase TEXT NOT NULL,            -- 'holdout' or 'kfold'
    fold INTEGER,                   -- 0-based fold of a k-fold trial, else NULL
    split TEXT NOT NULL,            -- e.g. 'holdout 0.8' or 'kfold 5'
    search_seed INTEGER,
    trial_seed INTEGER,
    data_id TEXT,                   -- fingerprint of the data the trial saw
    config TEXT NOT NULL,           -- canonical config, JSON
    status TEXT NOT NULL CHECK (status IN ({", ".join(f"'{s}'" for s in STATUSES)})),
    error TEXT,                     -- the traceback of a failed trial
    {" REAL, ".join(METRICS)} REAL,  -- NULL where NaN or not measured
    epochs_run INTEGER,
    best_epoch INTEGER,
    seconds REAL,
    history TEXT,                   -- History.to_dict(), JSON
    version TEXT NOT NULL,          -- tinygrad_mnist.__version__ that ran the trial
    finished_at TEXT NOT NULL       -- UTC, ISO 8601
);
"""

# Columns of the trials table that `add` fills from a row dict (id is SQLite's).
_COLUMNS = ("trial_id", "key", "phase", "fold", "split", "search_seed", "trial_seed", "data_id",
            "config", "status", "error", *METRICS, "epochs_run", "best_epoch", "seconds",
            "history", "version", "finished_at")


class ResultStore:
    """A SQLite file of trial results: `add(row)` commits one, `rows()` reads them back.

    `ResultStore(path)` creates the file or opens an existing store; a store written
    with another schema version, or a file that is not a result store, is a
    ValueError (nothing in it is touched). Missing parent folders are made;
    `":memory:"` keeps results in memory.
    Rows come back flat: the config's keys beside the metrics (NaN where unknown),
    as the exports and the search heat map expect.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._connection = sqlite3.connect(self.path, timeout=30)
        try:
            self._open()
        except BaseException:
            self._connection.close()
            raise

    def _open(self) -> None:
        try:
            tables = {name for (name,) in self._connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as error:
            raise ValueError(f"store: {self.path} is not a SQLite result store ({error})") from None
        if not tables:
            with self._connection:
                self._connection.executescript(_SCHEMA)
                self._connection.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)),
                     ("package_version", tinygrad_mnist.__version__)])
            return
        if not {"meta", "trials"} <= tables:
            raise ValueError(
                f"store: {self.path} is a SQLite file with tables {sorted(tables)}, not a "
                "result store (expected tables 'meta' and 'trials')"
            )
        meta = dict(self._connection.execute("SELECT name, value FROM meta"))
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise ValueError(
                f"store: {self.path} was written by tinygrad_mnist "
                f"{meta.get('package_version', '(unknown version)')} with store schema "
                f"{meta.get('schema_version')}; this tinygrad_mnist "
                f"{tinygrad_mnist.__version__} reads schema {SCHEMA_VERSION}. Use a new "
                "store file (or the version that wrote it)"
            )

    # ------------------------------------------------------------------ writing
    def add(self, row: dict) -> None:
        """Insert one finished trial and commit it at once.

        `row` holds the trial's fields (see the table above; `config` and `history`
        as dicts); missing optional fields are stored as NULL. A `trial_id` that is
        already stored is a ValueError: a trial is recorded exactly once.
        """
        if row.get("status") not in STATUSES:
            raise ValueError(
                f"row['status']: expected one of {STATUSES}, got {row.get('status')!r}"
            )
        values = {name: row.get(name) for name in _COLUMNS}
        values["config"] = json.dumps(row["config"], sort_keys=True)
        values["history"] = None if row.get("history") is None else json.dumps(row["history"])
        values["version"] = row.get("version") or tinygrad_mnist.__version__
        values["finished_at"] = row.get("finished_at") or datetime.datetime.now(
            datetime.timezone.utc).isoformat(timespec="seconds")
        placeholders = ", ".join("?" for _ in _COLUMNS)
        try:
            with self._connection:
                self._connection.execute(
                    f"INSERT INTO trials ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                    [values[name] for name in _COLUMNS])
        except sqlite3.IntegrityError as error:
            raise ValueError(
                f"store: trial {values['trial_id']!r} cannot be stored ({error})"
            ) from None

    # ------------------------------------------------------------------ reading
    def trial_ids(self) -> set[str]:
        """The ids of every stored trial (these are skipped when a search resumes)."""
        return {trial_id for (trial_id,) in self._connection.execute(
            "SELECT trial_id FROM trials")}

    def rows(self, phase: str | None = None) -> list[dict]:
        """Every stored trial (or those of one `phase`) as flat dicts, in insertion order."""
        query = f"SELECT {', '.join(_COLUMNS)} FROM trials"
        parameters = ()
        if phase is not None:
            query, parameters = query + " WHERE phase = ?", (phase,)
        cursor = self._connection.execute(query + " ORDER BY id", parameters)
        return [decode_row(dict(zip(_COLUMNS, values))) for values in cursor]

    def __len__(self) -> int:
        return self._connection.execute("SELECT COUNT(*) FROM trials").fetchone()[0]

    def integrity_check(self) -> str:
        """SQLite's `PRAGMA integrity_check`: "ok" for a sound file."""
        return self._connection.execute("PRAGMA integrity_check").fetchone()[0]

    def close(self) -> None:
        """Close the file (every row is already committed)."""
        self._connection.close()

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResultStore({self.path!r})"


def decode_row(stored: dict) -> dict:
    """A stored row made flat: config keys at the top level, NULL metrics as NaN."""
    config = json.loads(stored.pop("config"))
    history = stored.pop("history")
    row = {**stored, **config, "config": config}
    for name in METRICS:
        row[name] = math.nan if row[name] is None else row[name]
    row["history"] = None if history is None else json.loads(history)
    return row
