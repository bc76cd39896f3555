"""`ResultStore`: one SQLite row per finished trial, committed at once, so a killed search resumes.

Only the process that drives a search writes (workers return results to it), and it
holds the store's lock (`ResultStore.lock`) while it runs, so a second search on the
same file stops at once instead of training the same trials again. Each `add` is its
own transaction: a crash loses at most the trial that was running, never a saved one,
and SQLite's journal rolls back a half-written commit on the next open.

A store belongs to one experiment (`ResultStore.claim`): the data, the holdout
fraction, `k` and the search seed. Trials of another experiment are refused, so tables
and figures never average things that differ in something no column shows.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import math
import os
import sqlite3

import tinygrad_mnist

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    import msvcrt

#: Bumped whenever the table layout or the meaning of a column changes.
#: 2: the `experiment` column and the store's experiment in `meta`.
SCHEMA_VERSION = 2
#: Older schemas this version still reads (but never extends).
READABLE_SCHEMAS = (1,)

STATUSES = ("ok", "early-stopped", "diverged", "failed")
METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
           "test_accuracy")

_SCHEMA = f"""
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
    id INTEGER PRIMARY KEY,
    trial_id TEXT NOT NULL UNIQUE,  -- config key + phase + fold + split + seed + data
    experiment TEXT,                -- experiment_id() of the search the trial belongs to
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
_COLUMNS = ("trial_id", "experiment", "key", "phase", "fold", "split", "search_seed",
            "trial_seed", "data_id", "config", "status", "error", *METRICS, "epochs_run",
            "best_epoch", "seconds", "history", "version", "finished_at")
_V1_COLUMNS = tuple(name for name in _COLUMNS if name != "experiment")

# What makes two searches one experiment (the data set's label is only for titles).
EXPERIMENT_KEYS = ("data_id", "train_fraction", "k", "seed")


class StoreError(ValueError):
    """A result store that cannot be used: the message names the file and what is wrong."""


class StoreBusyError(StoreError):
    """Another process (a search) holds the store's lock."""


def experiment_id(experiment: dict) -> str:
    """A short digest of the keys that make an experiment (`EXPERIMENT_KEYS`)."""
    identity = json.dumps([experiment.get(key) for key in EXPERIMENT_KEYS])
    return hashlib.sha256(identity.encode()).hexdigest()[:12]


def describe_experiment(experiment: dict) -> str:
    """One line a person reads: data set, data digest, split, k, seed."""
    label = experiment.get("dataset")
    return (f"{label + ' (data ' if label else 'data '}{experiment.get('data_id')}"
            f"{')' if label else ''}, "
            f"holdout {experiment.get('train_fraction')}, k={experiment.get('k')}, "
            f"seed {experiment.get('seed')}")


class ResultStore:
    """A SQLite file of trial results: `add(row)` commits one, `rows()` reads them back.

    `ResultStore(path)` creates the file or opens an existing store (with `create=False`,
    only an existing, non-empty file: a reader never makes a store); a store written
    with a newer schema, or a file that is not a result store, is a `StoreError` (a
    ValueError; nothing in it is touched). A store of an older schema in
    `READABLE_SCHEMAS` is read but not extended. Missing parent folders are made;
    `":memory:"` keeps results in memory. Every SQLite failure (a damaged file, a full
    disk) is a `StoreError` naming the file.
    Rows come back flat: the config's keys beside the metrics (NaN where unknown),
    as the exports and the search heat map expect.
    """

    def __init__(self, path, create: bool = True):
        self.path = os.fspath(path)
        self.schema = SCHEMA_VERSION
        if not create and self.path != ":memory:" and not (
                os.path.isfile(self.path) and os.path.getsize(self.path)):
            # What reads a store (`report`) never makes one, nor writes into an empty file.
            raise StoreError(f"store: {self.path} " + (
                "is an empty file, not a result store" if os.path.isfile(self.path)
                else "does not exist" if not os.path.lexists(self.path)
                else "is not a file"))
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        try:
            self._connection = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as error:
            raise StoreError(f"store: cannot open {self.path} ({error})") from None
        try:
            with self._sqlite("open"):
                self._open()
        except BaseException:
            self._connection.close()
            raise

    @contextlib.contextmanager
    def _sqlite(self, doing: str):
        """Turn SQLite's exceptions into one `StoreError` line naming the store."""
        try:
            yield
        except sqlite3.Error as error:
            hint = ("; the trials stored so far are kept" if "full" in str(error) else "")
            raise StoreError(f"store: {self.path}: cannot {doing} ({error}){hint}") from None

    def _open(self) -> None:
        try:
            tables = {name for (name,) in self._connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as error:
            raise StoreError(f"store: {self.path} is not a SQLite result store ({error})") \
                from None
        if not tables:
            with self._connection:
                self._connection.executescript(_SCHEMA)
                self._connection.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)),
                     ("package_version", tinygrad_mnist.__version__)])
            return
        if not {"meta", "trials"} <= tables:
            raise StoreError(
                f"store: {self.path} is a SQLite file with tables {sorted(tables)}, not a "
                "result store (expected tables 'meta' and 'trials')"
            )
        meta = dict(self._connection.execute("SELECT name, value FROM meta"))
        readable = {str(v): v for v in (SCHEMA_VERSION, *READABLE_SCHEMAS)}
        if meta.get("schema_version") not in readable:
            raise StoreError(
                f"store: {self.path} was written by tinygrad_mnist "
                f"{meta.get('package_version', '(unknown version)')} with store schema "
                f"{meta.get('schema_version')}; this tinygrad_mnist "
                f"{tinygrad_mnist.__version__} reads schema {SCHEMA_VERSION} (and "
                f"{', '.join(map(str, READABLE_SCHEMAS))}). Use a new store file (or the "
                "version that wrote it)"
            )
        self.schema = readable[meta["schema_version"]]
        columns = {name for (_, name, *_) in self._connection.execute("PRAGMA table_info(trials)")}
        missing = set(self._columns) - columns
        if missing:
            raise StoreError(f"store: {self.path} has a damaged trials table (no column "
                             f"{', '.join(sorted(missing))} of schema {self.schema})")

    @property
    def _columns(self) -> tuple:
        return _COLUMNS if self.schema == SCHEMA_VERSION else _V1_COLUMNS

    def _writable(self) -> None:
        if self.schema != SCHEMA_VERSION:
            raise StoreError(
                f"store: {self.path} has store schema {self.schema} (an older tinygrad_mnist); "
                "it can be read (tinygrad-mnist report) but not extended: start a new store "
                "(another --store path)"
            )

    # ------------------------------------------------------------ experiment
    @property
    def experiment(self) -> dict | None:
        """The experiment the store belongs to (see `claim`), or None before the first."""
        if self.schema != SCHEMA_VERSION:
            return None
        with self._sqlite("read its experiment"):
            found = self._connection.execute(
                "SELECT value FROM meta WHERE name = 'experiment'").fetchone()
        if found is None:
            return None
        try:
            return json.loads(found[0])
        except json.JSONDecodeError as error:
            raise StoreError(f"store: {self.path}: its experiment record is not valid JSON "
                             f"({error})") from None

    def claim(self, experiment: dict) -> None:
        """Make the store `experiment`'s, or refuse (StoreError) if it holds another's.

        `experiment` holds `EXPERIMENT_KEYS` and optionally "dataset" (a label for titles).
        """
        self._writable()
        mine = self.experiment
        if mine is None:
            with self._sqlite("record its experiment"), self._connection:
                self._connection.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('experiment', ?)",
                    (json.dumps(experiment, sort_keys=True),))
            return
        if experiment_id(mine) != experiment_id(experiment):
            differ = [key if key != "data_id" else "data" for key in EXPERIMENT_KEYS
                      if mine.get(key) != experiment.get(key)]
            raise StoreError(
                f"store: {self.path} holds another experiment ({describe_experiment(mine)}); "
                f"this search differs in {', '.join(differ)} ({describe_experiment(experiment)})"
                "; start a new store for it (another --store path, or --out DIR)"
            )

    # ------------------------------------------------------------------ lock
    @contextlib.contextmanager
    def lock(self):
        """Hold the store's lock file (`<store>.lock`) or fail at once with `StoreBusyError`.

        The operating system releases the lock when its holder dies, even by SIGKILL, so
        a killed search never leaves the store locked.
        """
        if self.path == ":memory:":
            yield self
            return
        lock_path = self.path + ".lock"
        fd = _try_lock(lock_path)
        if fd is None:
            try:
                with open(lock_path, encoding="utf-8", errors="replace") as file:
                    pid = file.read().strip()
            except OSError:
                pid = ""
            raise StoreBusyError(
                f"store: {self.path} is in use by another search"
                f"{f' (process {pid})' if pid.isdigit() else ''}; wait for it to end, or use "
                "another store"
            )
        try:
            yield self
        finally:
            os.close(fd)  # closing the last descriptor releases the lock

    # ------------------------------------------------------------------ writing
    def add(self, row: dict, *, replace_failed: bool = False) -> None:
        """Insert one finished trial and commit it at once.

        `row` holds the trial's fields (see the table above; `config` and `history`
        as dicts); missing optional fields are stored as NULL. A `trial_id` that is
        already stored is a ValueError: a trial is recorded exactly once, except that
        `replace_failed=True` replaces a stored *failed* trial (a retry) in the same
        transaction, so the failure is kept until its retry is stored.
        """
        self._writable()
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
            with self._sqlite(f"store trial {values['trial_id']!r}"), self._connection:
                if replace_failed:
                    self._connection.execute(
                        "DELETE FROM trials WHERE trial_id = ? AND status = 'failed'",
                        (values["trial_id"],))
                self._connection.execute(
                    f"INSERT INTO trials ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
                    [values[name] for name in _COLUMNS])
        except StoreError as error:
            if "UNIQUE" not in str(error):
                raise
            raise StoreError(
                f"store: {self.path}: trial {values['trial_id']!r} is already stored"
            ) from None

    # ------------------------------------------------------------------ reading
    def trial_ids(self, status: str | None = None) -> set[str]:
        """The ids of every stored trial, or of those with `status` (say "failed")."""
        query, parameters = "SELECT trial_id FROM trials", ()
        if status is not None:
            query, parameters = query + " WHERE status = ?", (status,)
        with self._sqlite("read its trials"):
            return {trial_id for (trial_id,) in self._connection.execute(query, parameters)}

    def rows(self, phase: str | None = None) -> list[dict]:
        """Every stored trial (or those of one `phase`) as flat dicts, in insertion order."""
        columns = self._columns
        query = f"SELECT {', '.join(columns)} FROM trials"
        parameters = ()
        if phase is not None:
            query, parameters = query + " WHERE phase = ?", (phase,)
        with self._sqlite("read its trials"):
            stored = self._connection.execute(query + " ORDER BY id", parameters).fetchall()
        return [decode_row(dict(zip(columns, values)), self.path) for values in stored]

    def __len__(self) -> int:
        with self._sqlite("count its trials"):
            return self._connection.execute("SELECT COUNT(*) FROM trials").fetchone()[0]

    def integrity_check(self) -> str:
        """SQLite's `PRAGMA integrity_check`: "ok" for a sound file."""
        with self._sqlite("check its integrity"):
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


def _try_lock(path: str) -> int | None:
    """An open descriptor of `path` holding an exclusive lock, or None if another holds it.

    The holder's process id is written into the file for the message of the next one.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError:
        os.close(fd)
        return None
    earlier = os.read(fd, 64)
    if not earlier.strip() or earlier.strip().isdigit():  # ours: never clobber another file
        os.ftruncate(fd, 0)  # a lock file, not data: written in place, never renamed
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def legacy_experiment(row: dict) -> str:
    """The experiment of a row with none recorded (schema 1): its data and search seed."""
    identity = {"data_id": row.get("data_id"), "seed": row.get("search_seed")}
    return "unrecorded-" + experiment_id(identity)


def decode_row(stored: dict, where: str = "store") -> dict:
    """A stored row made flat: config keys at the top level, NULL metrics as NaN.

    Text that is not JSON is a `StoreError` naming `where` and the trial. (Configs of
    an older version, with fewer keys, are completed by `ranking.rows_of`.)
    """
    trial = stored.get("trial_id")
    try:
        config = json.loads(stored.pop("config"))
        history = stored.pop("history")
        history = None if history is None else json.loads(history)
    except (json.JSONDecodeError, TypeError) as error:
        raise StoreError(f"store: {where}: trial {trial!r} holds text that is not JSON "
                         f"({error})") from None
    if not isinstance(config, dict):
        raise StoreError(f"store: {where}: trial {trial!r} has a config that is not a JSON "
                         f"object ({config!r})")
    row = {**stored, **config, "config": config}
    if row.get("experiment") is None:
        row["experiment"] = legacy_experiment(row)
    for name in METRICS:
        row[name] = math.nan if row[name] is None else row[name]
    row["history"] = history
    return row
