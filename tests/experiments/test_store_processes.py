"""Searches and processes (issue 14): a killed lock holder, a killed worker, a killed
search with --jobs 2 leaving no orphans, and a real Dask cluster losing a worker."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinygrad_mnist.experiments import ResultStore

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

GRID = """
name = "process grid"
dataset = "synthetic"
k = 2
top_n = 1

[grid]
hidden_sizes = [[48], [64]]
learning_rate = [0.05, 0.1, 0.2]

[config]
batch_size = 32
epochs = 3
"""
TRIALS = 6 + 2


@pytest.fixture
def env():
    return {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg",
            "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def stored_count(path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return connection.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.Error:  # not created yet, or being written
        return 0


def children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == pid:
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(
                    b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def start_search(tmp_path, env, *options):
    """The search in a child process; its output goes to files (no pipe left to close)."""
    (tmp_path / "grid.toml").write_text(GRID)
    with open(tmp_path / "stdout", "w") as out, open(tmp_path / "stderr", "w") as err:
        return subprocess.Popen([sys.executable, "-m", "tinygrad_mnist", "search", "grid.toml",
                                 "--out", "out", *options], cwd=tmp_path, env=env,
                                stdout=out, stderr=err)


def wait_for_trials(process, store, count, timeout=90):
    deadline = time.monotonic() + timeout
    while stored_count(store) < count:
        assert process.poll() is None, "the search ended before it could be killed"
        assert time.monotonic() < deadline, "no trial finished in time"
        time.sleep(0.02)


def workers_of(pid: int) -> list[int]:
    return [child for child, command in children(pid).items()
            if "resource_tracker" not in command]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table in /proc")
def test_a_killed_worker_is_one_line_and_keeps_the_finished_trials(tmp_path, env):
    process = start_search(tmp_path, env, "--jobs", "2")
    store = tmp_path / "out" / "results.sqlite"
    try:
        wait_for_trials(process, store, 1)
        victim = workers_of(process.pid)[0]
        os.kill(victim, signal.SIGKILL)  # as the out-of-memory killer does
        process.wait(timeout=60)
    finally:
        process.kill()
    stderr = (tmp_path / "stderr").read_text()
    assert process.returncode == 1, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("tinygrad-mnist:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    assert "a worker process died" in errors[0] and "SIGKILL" in errors[0]
    with ResultStore(store) as opened:
        kept = len(opened)
        assert opened.integrity_check() == "ok"
    assert 1 <= kept < TRIALS and f"the {kept} finished trial(s) are kept" in errors[0]
    deadline = time.monotonic() + 10
    while children(process.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    # The search resumes: each trial exactly once.
    again = subprocess.run([sys.executable, "-m", "tinygrad_mnist", "search", "grid.toml",
                            "--out", "out", "--jobs", "2"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    with ResultStore(store) as opened:
        ids = [row["trial_id"] for row in opened.rows()]
    assert len(ids) == len(set(ids)) == TRIALS


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table in /proc")
def test_a_search_killed_with_two_jobs_leaves_no_process_behind(tmp_path, env):
    process = start_search(tmp_path, env, "--jobs", "2")
    store = tmp_path / "out" / "results.sqlite"
    try:
        wait_for_trials(process, store, 1)
        left = children(process.pid)
        assert len(workers_of(process.pid)) == 2, left
        assert any("resource_tracker" in command for command in left.values()), left
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        process.kill()
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in left) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [command for pid, command in left.items() if alive(pid)]
    # The kernel released the lock with the search: the next one runs at once.
    with ResultStore(store) as opened, opened.lock():
        assert 1 <= len(opened) < TRIALS


def test_the_lock_of_a_sigkilled_holder_is_released(tmp_path, env):
    store = tmp_path / "s.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\n"
         "from tinygrad_mnist.experiments import ResultStore\n"
         "with ResultStore(sys.argv[1]) as s, s.lock():\n    print('held', flush=True)\n"
         "    time.sleep(60)\n", str(store)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        holder.stdout.close()
        (tmp_path / "grid.toml").write_text(GRID)
        busy = subprocess.run([sys.executable, "-m", "tinygrad_mnist", "search", "grid.toml",
                               "--store", "s.db", "--out", "out"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)
        assert busy.returncode == 2 and len(busy.stderr.splitlines()) == 1, busy.stderr
        assert f"s.db is in use by another search (process {holder.pid})" in busy.stderr
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        holder.kill()
    with ResultStore(store) as opened, opened.lock():
        pass


# ----------------------------------------------------------- a real Dask cluster
def test_an_unreachable_scheduler_is_one_line(tmp_path, env):
    pytest.importorskip("distributed")
    (tmp_path / "grid.toml").write_text(GRID)
    result = subprocess.run([sys.executable, "-m", "tinygrad_mnist", "search", "grid.toml",
                             "--scheduler", "tcp://127.0.0.1:9", "--out", "out"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "tinygrad-mnist:" in line]
    assert len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert "--scheduler: cannot reach tcp://127.0.0.1:9" in errors[0]
def comparable(rows):
    """Rows without the wall-clock fields, in a fixed order, as JSON text."""
    import json

    def strip(row):
        row = {k: v for k, v in row.items() if k not in ("seconds", "finished_at", "id")}
        if row["history"] is not None:
            row["history"] = {k: v for k, v in row["history"].items() if k != "seconds"}
        return json.dumps(row, sort_keys=True)

    return sorted(strip(row) for row in rows)


def wait_for_file(path: Path, process, timeout=60):
    deadline = time.monotonic() + timeout
    while not path.is_file() or not path.read_text().strip():
        assert process.poll() is None, f"{process.args} ended early"
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.1)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table in /proc")
def test_a_search_on_a_dask_cluster_survives_a_killed_worker(tmp_path, env, monkeypatch,
                                                             capsys):
    import json
    import threading

    distributed = pytest.importorskip("distributed")
    import numpy as np

    from tinygrad_mnist.app import cli

    dask = [sys.executable, "-m", "dask"]
    logs = open(tmp_path / "cluster.log", "w")
    scheduler_file = tmp_path / "scheduler.json"
    processes = [subprocess.Popen(
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)], env=env, stdout=logs, stderr=logs)]
    try:
        wait_for_file(scheduler_file, processes[0])
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for _ in range(2):  # two worker processes, one thread each, no nanny to revive them
            processes.append(subprocess.Popen(
                [*dask, "worker", address, "--nthreads", "1", "--no-nanny", "--host",
                 "127.0.0.1", "--no-dashboard"], env=env, stdout=logs, stderr=logs,
                cwd=tmp_path))
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
            workers = client.run(os.getpid)  # address -> pid
        assert sorted(workers.values()) == sorted(p.pid for p in processes[1:])

        monkeypatch.chdir(tmp_path)
        (tmp_path / "grid.toml").write_text(GRID)
        scattered = []
        real_scatter = distributed.Client.scatter

        def scatter(self, data, *args, **kwargs):  # every array sent ahead of the tasks
            items = data if isinstance(data, (list, tuple)) else [data]
            scattered.append([getattr(item, "shape", None) for item in items])
            return real_scatter(self, data, *args, **kwargs)

        monkeypatch.setattr(distributed.Client, "scatter", scatter)
        store = tmp_path / "cluster" / "results.sqlite"
        killed = []

        def kill_one_worker_mid_search():
            deadline = time.monotonic() + 120
            while stored_count(store) < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(processes[1].pid, signal.SIGKILL)
            killed.append(stored_count(store))

        killer = threading.Thread(target=kill_one_worker_mid_search, daemon=True)
        killer.start()
        status = cli.main(["search", "grid.toml", "--scheduler", address, "--out", "cluster"])
        killer.join(timeout=10)
        out, err = capsys.readouterr()
        assert status == 0, err
        assert killed and killed[0] < TRIALS, "the worker was killed after the search"
        assert processes[1].wait(timeout=10) == -signal.SIGKILL

        assert cli.main(["search", "grid.toml", "--jobs", "1", "--out", "local"]) == 0
        with ResultStore(store) as cluster, ResultStore(tmp_path / "local" /
                                                        "results.sqlite") as local:
            ids = [row["trial_id"] for row in cluster.rows()]
            assert len(ids) == len(set(ids)) == TRIALS  # every trial exactly once
            assert comparable(cluster.rows()) == comparable(local.rows())
        # The images went to the workers in one scatter (with the labels and the test set),
        # not once per trial.
        images = [shapes for shapes in scattered if (2000, 784) in shapes]
        assert images == [[(2000, 784), (2000,), (500, 784), (500,)]], scattered
    finally:
        for process in reversed(processes):
            process.kill()
            process.wait(timeout=30)
        logs.close()
        logging_off()
    _ = np


def logging_off():
    """`cli.main` adds a stderr handler to the package's logger: take it off again."""
    import logging

    package = logging.getLogger("tinygrad_mnist")
    for handler in list(package.handlers):
        if getattr(handler, "_tinygrad_mnist_cli", False):
            package.removeHandler(handler)
