"""`grid_search`: holdout screening of every config, k-fold of the best, the winner's test score.

As the seed's `main.py` did, but resumable and parallel:

- Every trial (one config on one split) runs as a task through joblib: in this
  process when `n_jobs=1`, in `n_jobs` worker processes otherwise, or on a Dask
  cluster with `backend="dask"`. Each task uses one BLAS thread, so parallel trials
  do not fight over cores, and a trial's numbers never depend on the thread count.
- A trial's seed comes from the search seed and its config key (`trial_seed`), never
  from its position, so results are identical to the bit whatever `n_jobs` is.
- The driving process commits each finished trial to the `ResultStore` at once; a
  search started again on the same store skips every trial already there (failed
  trials too, unless `retry_failed=True`). It holds the store's lock while it runs, and
  the store records the experiment (data, split, k, seed): another one is refused.
- On a Dask cluster the data are scattered to every worker once, not sent with each
  trial. Loky worker processes watch the driving process and end when it dies, so a
  SIGKILLed search leaves no orphans; a worker that dies (the out-of-memory killer)
  ends the search with `WorkerDiedError`, every finished trial kept.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import os
import re
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from tinygrad_mnist.data import stratified_kfold, stratified_split
from tinygrad_mnist.experiments.ranking import kfold_summary, rank, rows_of
from tinygrad_mnist.experiments.store import METRICS, ResultStore, experiment_id
from tinygrad_mnist.train.config import canonical_config, config_key
from tinygrad_mnist.train.evaluation import class_labels
from tinygrad_mnist.train.trainer import as_arrays
from tinygrad_mnist.train.validation import fit_split, trial_seed
from tinygrad_mnist.utils.blas import blas_on_one_thread

logger = logging.getLogger(__name__)


#: The most configurations a grid may hold. Each one trains at least one model, so a
#: larger grid is a mistake (a list given where a value was meant), and expanding it
#: would take minutes and gigabytes before the first trial: it is counted, then refused.
MAX_GRID_SIZE = 10_000


def expand_grid(space: dict) -> list[dict]:
    """The canonical configs of the Cartesian product of `space` (a dict of lists).

    Configs that are equal once canonical (say `1` and `1.0`) are kept once. An empty
    space, an empty list, an unknown key or more than `MAX_GRID_SIZE` combinations
    (counted before any is made) is a ValueError.
    """
    if not isinstance(space, dict) or not space:
        raise ValueError(f"space: expected a non-empty dict of lists of values, got {space!r}")
    for name, values in space.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(
                f"space[{name!r}]: expected a non-empty list of values to try, got {values!r}"
            )
    size = math.prod(len(values) for values in space.values())
    if size > MAX_GRID_SIZE:
        counts = " x ".join(f"{len(values)} {name}" for name, values in space.items())
        raise ValueError(f"space: the grid holds {size:,} configurations ({counts}), more "
                         f"than the limit of {MAX_GRID_SIZE:,}; search a smaller grid")
    configs = {}
    for values in itertools.product(*space.values()):
        config = canonical_config(dict(zip(space, values)))
        configs.setdefault(config_key(config), config)
    return list(configs.values())


class SearchFailedError(RuntimeError):
    """The search cannot go on or has no result; the message says why, and what is kept."""


class WorkerDiedError(SearchFailedError):
    """A worker process died while it ran trials (say, killed by the out-of-memory killer),
    or the Dask scheduler went away."""


class NoTrialSucceededError(SearchFailedError):
    """Every trial of a phase failed or diverged: there is no best configuration."""


# The exceptions of a Dask cluster whose scheduler went away mid-search, by name (dask is
# an optional extra): the futures are cancelled, the connection closed.
_LOST_CLUSTER = ("FutureCancelledError", "CancelledError", "CommClosedError",
                 "StreamClosedError")
# Statuses of trials that produced a model with figures (a winner must have one).
_SUCCEEDED = ("ok", "early-stopped")


@dataclass
class SearchResult:
    """What `grid_search` found.

    `rows`: every trial of this search (flat dicts, as `ResultStore.rows()`);
    `ranking`: the holdout trials, best first (failed ones last); `kfold`: the k-fold
    summary of the top configs, best first (see `ranking.kfold_summary`); `best_config` /
    `best_key`: the winner (best mean k-fold validation accuracy, or best holdout trial when
    `top_n=0`); `test_accuracy` / `test_loss`: the test score of the winner's best
    fold model (NaN without test data).
    """

    rows: list[dict]
    ranking: list[dict]
    kfold: list[dict]
    best_config: dict
    best_key: str
    test_accuracy: float
    test_loss: float
    experiment: dict | None = None

    @property
    def failed(self) -> list[dict]:
        """The failed trials of this search (their `error` holds the traceback)."""
        return [row for row in self.rows if row["status"] == "failed"]


def grid_search(space: dict, data, *, store=None, n_jobs: int = 1, backend: str | None = None,
                train_fraction: float = 0.8, k: int = 5, top_n: int = 3, seed: int = 0,
                test=None, on_trial=None, dataset: str | None = None,
                retry_failed: bool = False) -> SearchResult:
    """Search the Cartesian product of `space` (config key -> list of values).

    1. Holdout: every config trains on a stratified `train_fraction` of `data` (the
       same split for all, drawn from `seed`) and is scored on the rest.
    2. K-fold: the `top_n` best configs by validation accuracy go through stratified
       `k`-fold cross-validation (`top_n=0` skips this).
    3. The winner is scored on `test` (a `Dataset` or `(x, y)`) if given; every trial
       reports its test score too, as the seed's ranking did.

    `store`: a `ResultStore`, a path, or None (kept in memory). `n_jobs`: trials in
    parallel processes (-1: one per core). `backend="dask"` runs them on the current
    `dask.distributed` client through joblib's Dask backend (all of its worker
    threads; `n_jobs` is then ignored), the data scattered to every worker once.
    `on_trial(row)` is called in this process after each trial is stored (for progress
    reports). `dataset` names the data in the store's experiment record (for titles).
    `retry_failed=True` runs the failed trials of an earlier run again.

    The search holds the store's lock (a second search on it fails at once with
    `store.StoreBusyError`) and records its experiment in the store (a store of
    another experiment is refused with `store.StoreError`). A worker process that dies
    ends the search with `WorkerDiedError`; the finished trials are kept.
    """
    configs = expand_grid(space)
    if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 0:
        raise ValueError(f"top_n: expected an int >= 0, got {top_n!r}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0 or n_jobs < -1:
        raise ValueError(f"n_jobs: expected an int >= 1, or -1 for every core, got {n_jobs!r}")
    x, y = as_arrays(data, "data")
    labels = class_labels(y)
    # Both splits are drawn before any trial runs, so a bad train_fraction or k fails at once.
    split = stratified_split(labels, train_fraction, seed)
    folds = stratified_kfold(labels, k, seed) if top_n else []
    test = None if test is None else as_arrays(test, "test")
    experiment = experiment_record((x, y), test, train_fraction=train_fraction, k=k, seed=seed,
                                   dataset=dataset)
    runner = _Runner(x, y, test, seed, experiment["data_id"], n_jobs, on_trial,
                     experiment_id(experiment), retry_failed)

    owns_store = not isinstance(store, ResultStore)
    store = ResultStore(":memory:" if store is None else store) if owns_store else store
    try:
        from joblib import parallel_config  # here, not at the top: `train` never needs it

        with store.lock(), parallel_config(**runner.settings(backend)):
            store.claim(experiment)
            holdout_ids = runner.run(store, configs, "holdout", f"holdout {train_fraction:g}",
                                     [split])
            holdout_rows = _rows(store, holdout_ids)
            ranking = rank(holdout_rows)
            _check_succeeded(holdout_rows, "holdout", store)
            fold_rows = []
            if top_n:
                top = [row["config"] for row in ranking[:top_n]
                       if row["status"] in _SUCCEEDED]
                fold_ids = runner.run(store, top, "kfold", f"kfold {k}", folds)
                fold_rows = _rows(store, fold_ids)
                _check_succeeded(fold_rows, "k-fold", store)
    finally:
        if owns_store:
            store.close()

    summaries = kfold_summary(fold_rows)
    winner_row = summaries[0]["best_fold"] if summaries else ranking[0]
    return SearchResult(
        rows=holdout_rows + fold_rows, ranking=ranking, kfold=summaries,
        best_config=winner_row["config"], best_key=winner_row["key"],
        test_accuracy=winner_row["test_accuracy"], test_loss=winner_row["test_loss"],
        experiment=experiment,
    )


def _check_succeeded(rows: list[dict], phase: str, store: ResultStore) -> None:
    """Refuse (`NoTrialSucceededError`) a phase in which no trial succeeded."""
    if any(row["status"] in _SUCCEEDED for row in rows):
        return
    statuses = Counter(row["status"] for row in rows)
    first = next((row["error"] for row in rows if row.get("error")), None)
    reason = f"; the first error: {first.strip().splitlines()[-1]}" if first else ""
    raise NoTrialSucceededError(
        f"no trial succeeded: all {len(rows)} {phase} trial(s) "
        f"{' or '.join(sorted(statuses))}{reason}; they are kept in {store.path}"
        + ("; fix the cause and run again with --retry-failed" if "failed" in statuses else
           "; try smaller learning rates"))


def experiment_record(data, test=None, *, train_fraction: float = 0.8, k: int = 5, seed: int = 0,
                      dataset: str | None = None) -> dict:
    """What `grid_search` records in its store: the data's digest, split, k, seed and label.

    A store holds one experiment; `store.experiment_id` of this record tells them apart.
    """
    x, y = as_arrays(data, "data")
    test = None if test is None else as_arrays(test, "test")
    return {"dataset": dataset, "data_id": _fingerprint(x, y, test),
            "train_fraction": train_fraction, "k": k, "seed": seed}


def _rows(store: ResultStore, trial_ids: list[str]) -> list[dict]:
    """The stored rows of `trial_ids`, in that order (not in order of completion)."""
    by_id = {row["trial_id"]: row for row in rows_of(store)}  # older rows: defaults filled
    return [by_id[trial_id] for trial_id in trial_ids]


def _fingerprint(x: np.ndarray, y: np.ndarray, test) -> str:
    """A digest of the data, so a store never mistakes trials on other data for these."""
    digest = hashlib.sha256()
    for array in (x, y, *(test or ())):
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(np.ascontiguousarray(array).data)
    return digest.hexdigest()[:16]


class _Runner:
    """Runs the trials a search still needs and stores each as it finishes."""

    def __init__(self, x, y, test, seed, data_id, n_jobs, on_trial, experiment, retry_failed):
        self.x, self.y, self.test = x, y, test
        self.seed, self.data_id, self.experiment = seed, data_id, experiment
        self.n_jobs, self.on_trial, self.retry_failed = n_jobs, on_trial, retry_failed

    def settings(self, backend: str | None) -> dict:
        """joblib's `parallel_config` for the whole search (both phases share one backend)."""
        if backend is None:  # Loky workers start with one BLAS thread; run_trial enforces it.
            # Each worker watches the search from the moment it starts, busy or idle, so
            # that none outlives a SIGKILLed search (see _ParentWatcher).
            return {"backend": "loky", "inner_max_num_threads": 1,
                    "initializer": _ParentWatcher.start, "initargs": (os.getpid(),)}
        if backend == "dask":  # every array once to every worker, not once per trial
            arrays = [self.x, self.y, *(self.test if self.test is not None else ())]
            return {"backend": "dask", "scatter": arrays}
        return {"backend": backend}

    def run(self, store: ResultStore, configs: list[dict], phase: str, split: str,
            splits: list) -> list[str]:
        """Make sure every (config, split) trial is stored; returns their trial ids."""
        tasks = []
        for config in configs:
            key = config_key(config)
            for index, (train_index, valid_index) in enumerate(splits):
                fold = index if phase == "kfold" else None
                identity = [key, phase, fold, split, self.seed, self.data_id]
                tasks.append(({
                    "trial_id": hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16],
                    "key": key, "phase": phase, "fold": fold, "split": split,
                    "search_seed": self.seed, "trial_seed": trial_seed(self.seed, key, phase, fold),
                    "data_id": self.data_id, "experiment": self.experiment, "config": config,
                }, train_index, valid_index))
        done = store.trial_ids()
        failed = store.trial_ids("failed") if self.retry_failed else set()
        pending = [task for task in tasks
                   if task[0]["trial_id"] not in done or task[0]["trial_id"] in failed]
        logger.info("%s: %d trials, %d already stored%s", phase, len(tasks),
                    len(tasks) - len(pending),
                    f", {len(failed & {t[0]['trial_id'] for t in tasks})} failed ones to retry"
                    if failed else "")
        if pending:
            test_x, test_y = self.test if self.test is not None else (None, None)
            from joblib import Parallel, delayed

            calls = (delayed(run_trial)(task, self.x, self.y, train_index, valid_index,
                                        test_x, test_y, driver_pid=os.getpid())
                     for task, train_index, valid_index in pending)
            progress = TrialProgress(phase, 0, len(pending), _varying(configs))
            try:
                results = Parallel(n_jobs=self.n_jobs, return_as="generator_unordered")(calls)
                for row in results:
                    store.add(row, replace_failed=self.retry_failed)
                    progress = progress.one_more()
                    logger.info("%s", progress.line(row))
                    if self.on_trial is not None:
                        self.on_trial(row)
            except Exception as error:
                if type(error).__name__ in _LOST_CLUSTER:
                    raise WorkerDiedError(
                        f"the Dask cluster went away while running trials "
                        f"({type(error).__name__}); the {len(store)} finished trial(s) are "
                        f"kept in {store.path}; run the search again to resume"
                    ) from None
                if type(error).__name__ != "TerminatedWorkerError":
                    raise
                codes = re.search(r"exit codes of the workers are \{([^}]*)\}", str(error))
                raise WorkerDiedError(
                    f"a worker process died while running trials"
                    f"{f' (exit {codes.group(1)})' if codes else ''}, perhaps killed for "
                    f"using too much memory; the {len(store)} finished trial(s) are kept in "
                    f"{store.path}; run the search again to resume (fewer jobs use less memory)"
                ) from None
        return [task[0]["trial_id"] for task in tasks]


@dataclass(frozen=True)
class TrialProgress:
    """How far a phase of a search has come: `done` of `total` trials (those this run
    trains: the stored ones are not counted), since `started` (perf_counter seconds)."""

    phase: str
    done: int
    total: int
    varying: tuple = ()
    started: float = field(default_factory=time.perf_counter)

    def one_more(self) -> TrialProgress:
        return TrialProgress(self.phase, self.done + 1, self.total, self.varying, self.started)

    @property
    def seconds_left(self) -> float | None:
        """The time the trials still to come should take, at the pace so far."""
        if not self.done:
            return None
        return (time.perf_counter() - self.started) / self.done * (self.total - self.done)

    def line(self, row: dict) -> str:
        """`trial 7/18 [100] tanh lr 0.5: validation 85.32% (4.1 s), about 1 min left`."""
        what = "trial" if self.phase == "holdout" else "k-fold trial"
        fold = f" fold {row['fold'] + 1}" if row.get("fold") is not None else ""
        if row["status"] == "failed":
            outcome = "failed"
        else:
            outcome = f"validation {row['val_accuracy']:.2%}"
            if row["status"] != "ok":
                outcome += f" ({row['status']})"
        seconds = row.get("seconds")
        took = f" ({seconds:.1f} s)" if isinstance(seconds, (int, float)) else ""
        left = "" if self.done == self.total else f", {about_time(self.seconds_left)} left"
        return (f"{what} {self.done}/{self.total} {describe_config(row['config'], self.varying)}"
                f"{fold}: {outcome}{took}{left}")


def about_time(seconds: float | None) -> str:
    """A duration as people say it: "about 40 s", "about 3 min", "about 1.5 h"."""
    if seconds is None:
        return "some time"
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min"
    return f"about {seconds / 3600:.1f} h"


def _varying(configs: list[dict]) -> tuple:
    """The config keys whose values differ between `configs`, in their order."""
    keys = list(dict.fromkeys(key for config in configs for key in config))
    return tuple(key for key in keys
                 if len({json.dumps(config.get(key), sort_keys=True) for config in configs}) > 1)


def describe_config(config: dict, keys=None) -> str:
    """A short name for a configuration: `[100] tanh lr 0.5` (the values of `keys`, by
    default the hidden sizes, activation and learning rate)."""
    keys = keys or ("hidden_sizes", "activation", "learning_rate")
    words = []
    for key in keys:
        value = config.get(key)
        if key in ("hidden_sizes", "channels"):
            words.append("[" + ",".join(map(str, value or [])) + "]")
        elif key == "activation":
            words.append(str(value))
        elif key == "learning_rate":
            words.append(f"lr {value:g}" if isinstance(value, (int, float)) else f"lr {value}")
        elif isinstance(value, bool):
            words.append(key.replace("_", " ") if value else f"no {key.replace('_', ' ')}")
        else:
            shown = "full" if value is None and key == "batch_size" else value
            words.append(f"{key.replace('_', ' ')} {shown}")
    return " ".join(words)


def run_trial(task: dict, x, y, train_index, valid_index, test_x=None, test_y=None, *,
              driver_pid: int | None = None) -> dict:
    """Train one trial (in whatever process joblib chose) and return its store row.

    An exception becomes a "failed" row holding the traceback, so the search goes
    on; KeyboardInterrupt and the like still stop it. In a worker process that the
    search (`driver_pid`) started itself, a watcher ends the worker when the search dies.
    """
    if driver_pid is not None and os.getpid() != driver_pid and os.getppid() == driver_pid:
        _ParentWatcher.start(driver_pid)
    start = time.perf_counter()
    test = None if test_x is None else (test_x, test_y)
    with blas_on_one_thread():
        try:
            result = fit_split(task["config"], x, y, train_index, valid_index,
                               task["trial_seed"], test=test)
        except Exception:
            return {**task, **dict.fromkeys(METRICS, math.nan), "status": "failed",
                    "error": traceback.format_exc(), "epochs_run": None, "best_epoch": None,
                    "seconds": time.perf_counter() - start, "history": None}
    return {**task, **result.metrics, "error": None, "history": result.history.to_dict()}


class _ParentWatcher:
    """Ends this worker process as soon as its parent, the search, is gone.

    A SIGKILLed search cannot tell its workers to stop; without this they (and the
    resource tracker that waits for them) would live on as orphans. One daemon thread
    per process checks the parent every `period` seconds.
    """

    _lock = threading.Lock()
    _watching = None
    period = 0.2

    @classmethod
    def start(cls, parent_pid: int) -> None:
        with cls._lock:
            if cls._watching == parent_pid:
                return
            cls._watching = parent_pid
        threading.Thread(target=cls._watch, args=(parent_pid,), daemon=True,
                         name="tinygrad-mnist parent watcher").start()

    @classmethod
    def _watch(cls, parent_pid: int) -> None:
        while os.getppid() == parent_pid:
            time.sleep(cls.period)
        os._exit(1)  # nothing here to save: the search stores results, and it is gone
