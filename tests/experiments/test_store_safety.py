"""Result stores that never mix or lose experiments (issue 14, items 1-9), fast cases.

The command line runs in this process (`cli.main`) on the built-in synthetic data, so
each case takes about a second; the kill and cluster cases are in
experiments/test_store_processes.py.
"""

import json
import logging
import math
import os
import sqlite3

import pytest
from support import synthetic

from tinygrad_mnist.app import cli
from tinygrad_mnist.experiments import ResultStore, grid_search, kfold_summary, ranking_table
from tinygrad_mnist.experiments import search as search_module
from tinygrad_mnist.experiments.outputs import check_distinct, check_replaceable
from tinygrad_mnist.experiments.ranking import rank, rows_of, summary_table
from tinygrad_mnist.experiments.search import NoTrialSucceededError
from tinygrad_mnist.experiments.store import StoreBusyError, StoreError

GRID = """
name = "tiny grid"
dataset = "synthetic"
k = 2
top_n = 1

[grid]
hidden_sizes = [[8]]
learning_rate = [0.1, 0.5]

[config]
batch_size = 100
epochs = 1
"""


def blobs(n=120, **kwargs):
    return synthetic.blobs(n, spread=2.0, **kwargs)


@pytest.fixture(autouse=True)
def _cli_logging_undone():
    """`cli.main` adds a stderr handler to the package's logger: take it off after a test."""
    yield
    package = logging.getLogger("tinygrad_mnist")
    for handler in list(package.handlers):
        if getattr(handler, "_tinygrad_mnist_cli", False):
            package.removeHandler(handler)


def run_cli(args, capsys):
    """`tinygrad-mnist ARGS` in this process: (status, stdout, stderr lines)."""
    status = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


def assert_one_line(err, *fragments):
    errors = [line for line in err if line.startswith("tinygrad-mnist: error: ")]
    assert len(errors) == 1, err
    assert not any("Traceback" in line for line in err)
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.fixture
def grid(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grid.toml").write_text(GRID)
    return tmp_path / "grid.toml"


# ---------------------------------------------- 1. no output over another
def test_outputs_at_one_path_or_inside_one_another_are_refused(tmp_path):
    with pytest.raises(ValueError, match="the store and the csv are the same file"):
        check_distinct({"store": tmp_path / "r.csv", "csv": tmp_path / "x" / ".." / "r.csv"})
    with pytest.raises(ValueError, match="the json .* lies inside the store"):
        check_distinct({"store": tmp_path / "s.db", "json": tmp_path / "s.db" / "r.json"})
    check_distinct({"store": tmp_path / "s.db", "json": tmp_path / "s.json"})


def test_search_refuses_a_store_that_an_export_would_overwrite(grid, capsys):
    status, _, err = run_cli(["search", grid, "--out", "out", "--store", "out/results.csv"],
                             capsys)
    assert status == 2
    assert_one_line(err, "the store and the csv are the same file")
    assert not (grid.parent / "out").exists()  # refused before anything was written
    # The same through the experiment file's [outputs].
    grid.write_text(GRID + '\n[outputs]\nstore = "o/r.sqlite"\njson = "o/r.sqlite"\n')
    status, _, err = run_cli(["search", grid], capsys)
    assert status == 2 and not (grid.parent / "o").exists()
    assert_one_line(err, "the store and the json are the same file")


# ------------------------------------------ 2. one experiment per store
def test_the_default_folder_names_the_data_set_and_reports_name_it(grid, capsys):
    status, out, err = run_cli(["search", grid], capsys)
    assert status == 0, err
    folder = grid.parent / "runs" / "grid-synthetic"
    assert sorted(p.name for p in folder.iterdir() if not p.name.endswith(".lock")) == [
        "heatmap.png", "report.md", "results.csv", "results.json", "results.sqlite"]
    report = (folder / "report.md").read_text()
    assert "# tiny grid (data set: synthetic)" in report
    assert "Experiment: synthetic (data " in report and "k=2, seed 0" in report
    assert b"tinygrad-mnist experiment " in (folder / "heatmap.png").read_bytes()
    with ResultStore(folder / "results.sqlite") as store:
        assert store.experiment["dataset"] == "synthetic" and store.experiment["k"] == 2


def test_a_search_of_another_experiment_is_refused_with_how_to_start_a_new_store(grid, capsys):
    assert run_cli(["search", grid, "--store", "s.db", "--out", "a"], capsys)[0] == 0
    with ResultStore(grid.parent / "s.db") as store:
        before = store.rows()
    grid.write_text(GRID.replace("k = 2", "k = 3"))
    status, _, err = run_cli(["search", grid, "--store", "s.db", "--out", "b"], capsys)
    assert status == 2
    assert_one_line(err, "s.db holds another experiment", "differs in k",
                    "start a new store")
    with ResultStore(grid.parent / "s.db") as store:
        assert [r["trial_id"] for r in store.rows()] == [r["trial_id"] for r in before]


def test_tables_refuse_rows_of_two_experiments():
    x, y = blobs()
    first = grid_search({"epochs": [1]}, (x, y), top_n=0, seed=0)
    second = grid_search({"epochs": [1]}, (x, y), top_n=0, seed=1)
    mixed = first.rows + second.rows
    for table in (ranking_table, summary_table, kfold_summary):
        rows = mixed if table is not kfold_summary else [
            {**r, "phase": "kfold", "fold": 0} for r in mixed]
        with pytest.raises(ValueError, match="more than one experiment"):
            table(rows)


def test_the_heat_map_refuses_rows_of_two_experiments():
    from tinygrad_mnist.viz import plot_search_heatmap

    rows = [{"learning_rate": 0.1, "activation": "relu", "val_accuracy": 0.9,
             "experiment": name} for name in ("mnist-run", "synthetic-run")]
    with pytest.raises(ValueError, match="more than one experiment"):
        plot_search_heatmap(rows, facet=None)
    plot_search_heatmap(rows[:1], facet=None)


# ------------------------------------------------------ 3. --out honoured
def test_search_help_and_the_docs_give_the_same_defaults():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "command-line.md").read_text()
    doc = doc[doc.index("\n## search\n"):doc.index("\n## report\n")]
    search = next(a for a in cli.build_parser()._actions if a.dest == "command").choices[
        "search"]
    help_of = {option: action.help for action in search._actions
               for option in action.option_strings}
    for option, default in (("--out", "runs/<file name>-<data set>"),
                            ("--store", "results.sqlite")):
        assert default in " ".join(help_of[option].split()), option
        (line,) = [line for line in doc.splitlines() if line.startswith(f"| `{option} ")]
        assert default in line, option
    assert "the experiment file's [outputs] store" in " ".join(help_of["--store"].split())
    assert "the file's `outputs.store`" in doc
def test_search_out_is_honoured_when_the_store_lies_elsewhere(grid, capsys):
    status, out, err = run_cli(["search", grid, "--store", "stores/s.db", "--out", "exports"],
                               capsys)
    assert status == 0, err
    assert sorted(p.name for p in (grid.parent / "exports").iterdir()) == [
        "heatmap.png", "report.md", "results.csv", "results.json"]
    assert sorted(p.name for p in (grid.parent / "stores").iterdir()) == ["s.db", "s.db.lock"]
    assert "exports/report.md" in out


# ------------------------------------------------ 4. a failed trial
def failing_fold(monkeypatch, fail):
    real = search_module.fit_split
    calls = []

    def fit_split(config, x, y, train_index, valid_index, seed, **kwargs):
        calls.append(seed)
        if fail[0] and len(valid_index) == 60 and len(calls) == 3:  # a k-fold trial
            raise MemoryError("out of memory")
        return real(config, x, y, train_index, valid_index, seed, **kwargs)

    monkeypatch.setattr(search_module, "fit_split", fit_split)
    return calls


def test_a_failed_fold_never_wedges_the_store_and_is_retried_on_request(tmp_path, monkeypatch):
    x, y = blobs()
    space = {"hidden_sizes": [[8]], "learning_rate": [0.1, 0.5], "epochs": [1]}
    path = tmp_path / "s.db"
    fail = [True]
    calls = failing_fold(monkeypatch, fail)
    result = grid_search(space, (x, y), store=path, k=2, top_n=1)
    assert len(result.failed) == 1 and "MemoryError: out of memory" in result.failed[0]["error"]
    summary = result.kfold[0]
    assert summary["failed"] == 1 and summary["statuses"]["failed"] == 1
    assert math.isfinite(summary["mean"]["val_accuracy"])  # the finished fold's figures
    # A resumed search and the tables read the store without "NoneType + int".
    calls.clear()
    again = grid_search(space, (x, y), store=path, k=2, top_n=1)
    assert calls == [] and len(again.failed) == 1
    assert kfold_summary(path)[0]["failed"] == 1
    # --retry-failed runs the failed trial again, and only it.
    fail[0] = False
    retried = grid_search(space, (x, y), store=path, k=2, top_n=1, retry_failed=True)
    assert len(calls) == 1 and retried.failed == [] and retried.kfold[0]["failed"] == 0
    with ResultStore(path) as store:
        assert len(store) == 2 + 2 and store.trial_ids("failed") == set()


def test_search_says_how_many_trials_failed(grid, capsys, monkeypatch):
    # The first k-fold trial fails (when none succeeds, the search has no winner and
    # exits 1: tests/app/test_reliability_commands.py, issue 23 item 7).
    real, calls = search_module.fit_split, []

    def fit_split(*args, **kwargs):
        calls.append(1)
        return 1 / 0 if len(calls) == 3 else real(*args, **kwargs)

    monkeypatch.setattr(search_module, "fit_split", fit_split)
    status, out, err = run_cli(["search", grid, "--out", "o"], capsys)
    assert status == 0, err
    said = [line for line in err if line.startswith("tinygrad-mnist")]
    assert len(said) == 1 and "1 trial(s) failed" in said[0] and "--retry-failed" in said[0]
    assert "1 failed, left out of every figure" in (grid.parent / "o" / "report.md").read_text()
    monkeypatch.undo()
    monkeypatch.chdir(grid.parent)
    status, out, err = run_cli(["search", grid, "--out", "o", "--retry-failed"], capsys)
    assert status == 0 and "failed ones to retry" in "".join(err)
    assert not any("failed" in line for line in err if line.startswith("tinygrad-mnist"))
    with ResultStore(grid.parent / "o" / "results.sqlite") as store:
        assert len(store) == 4 and store.trial_ids("failed") == set()


# ---------------------------------------------------------------- 5. lock
def test_a_second_search_on_a_locked_store_says_so_at_once(tmp_path):
    x, y = blobs()
    path = tmp_path / "s.db"
    with ResultStore(path) as holder, holder.lock():
        with pytest.raises(StoreBusyError, match=rf"s\.db is in use by another search "
                                                 rf"\(process {os.getpid()}\)"):
            grid_search({"epochs": [1]}, (x, y), store=path, top_n=0)
    assert len(grid_search({"epochs": [1]}, (x, y), store=path, top_n=0).rows) == 1
    # A file of someone else's at the lock's path is locked, never overwritten.
    other = tmp_path / "t.db.lock"
    other.write_text("someone's notes")
    grid_search({"epochs": [1]}, (x, y), store=tmp_path / "t.db", top_n=0)
    assert other.read_text() == "someone's notes"


# ----------------------------------------------- 7. damaged stores, full disk
def stored(tmp_path):
    path = tmp_path / "s.db"
    grid_search({"epochs": [1]}, blobs(), store=path, top_n=0)
    return path


def test_a_row_with_bad_json_is_one_error_naming_the_store_and_trial(tmp_path):
    path = stored(tmp_path)
    with sqlite3.connect(path) as connection:
        trial = connection.execute("SELECT trial_id FROM trials").fetchone()[0]
        connection.execute("UPDATE trials SET history = '{not json'")
    with pytest.raises(StoreError, match=rf"s\.db: trial '{trial}' holds text that is not JSON"):
        ResultStore(path).rows()


def test_a_full_disk_is_one_error_and_keeps_what_was_stored(tmp_path):
    path = stored(tmp_path)
    store = ResultStore(path)
    pages = store._connection.execute("PRAGMA page_count").fetchone()[0]
    store._connection.execute(f"PRAGMA max_page_count = {pages}")  # as a full disk does
    row = {**store.rows()[0], "trial_id": "another", "error": "x" * 100_000}
    with pytest.raises(StoreError, match=r"s\.db: cannot store trial 'another' \(database or "
                                         r"disk is full\); the trials stored so far are kept"):
        store.add(row)
    store.close()
    with ResultStore(path) as reopened:
        assert len(reopened) == 1 and reopened.integrity_check() == "ok"


def test_a_damaged_store_is_one_line_naming_it(tmp_path, capsys):
    path = stored(tmp_path)
    with sqlite3.connect(path) as connection:
        (root,) = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'trials'").fetchone()
        (size,) = connection.execute("PRAGMA page_size").fetchone()
    data = bytearray(path.read_bytes())
    data[(root - 1) * size:root * size] = b"\xff" * size  # the trials table's page destroyed
    path.write_bytes(bytes(data))
    status, _, err = run_cli(["report", path], capsys)
    assert status == 2
    assert_one_line(err, str(path), "malformed")


def test_a_store_of_the_older_schema_is_read_but_not_extended(tmp_path):
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as connection:  # schema 1: no experiment column or record
        script = search_module.ResultStore.__module__  # noqa: F841 - the module under test
        from tinygrad_mnist.experiments import store as store_module

        connection.executescript(store_module._SCHEMA.replace(
            "    experiment TEXT,                -- experiment_id() of the search the trial "
            "belongs to\n", ""))
        connection.executemany("INSERT INTO meta VALUES (?, ?)",
                               [("schema_version", "1"), ("package_version", "0.1.0")])
        columns = store_module._V1_COLUMNS
        values = {"trial_id": "t1", "key": "k", "phase": "holdout", "split": "holdout 0.8",
                  "search_seed": 0, "data_id": "d", "config": json.dumps({"epochs": 2}),
                  "status": "ok", "val_accuracy": 0.5, "version": "0.1.0",
                  "finished_at": "2026-01-01T00:00:00+00:00"}
        connection.execute(f"INSERT INTO trials ({', '.join(values)}) VALUES "
                           f"({', '.join('?' for _ in values)})", list(values.values()))
        assert "experiment" not in columns
    with ResultStore(path) as store:
        (row,) = ranking_table(store)
        assert row["epochs"] is None and row["validation accuracy"] == 0.5
        with pytest.raises(StoreError, match="store schema 1 .* can be read .* start a new"):
            store.add({**store.rows()[0], "trial_id": "t2"})


# ------------------------------------------- 8. outputs of an experiment file
def test_experiment_outputs_are_relative_to_the_file_and_never_replace_a_strangers_file(
        tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp").mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "exp" / "grid.toml").write_text(
        GRID + '\n[outputs]\nstore = "r/s.db"\njson = "../victim.txt"\n')
    status, _, err = run_cli(["search", "exp/grid.toml"], capsys)
    assert status == 2
    assert_one_line(err, "victim.txt already exists and is not an earlier json export")
    assert victim.read_text() == "precious"
    (tmp_path / "exp" / "grid.toml").write_text(
        GRID + f'\n[outputs]\nstore = "r/s.db"\nmarkdown = "{tmp_path / "victim.txt"}"\n')
    status, _, err = run_cli(["search", "exp/grid.toml"], capsys)
    assert status == 2 and victim.read_text() == "precious"
    assert_one_line(err, "not an earlier markdown export", "tinygrad-mnist experiment")
    # Its own earlier exports are replaced; the store went beside the file.
    (tmp_path / "exp" / "grid.toml").write_text(GRID + '\n[outputs]\nstore = "r/s.db"\n'
                                                'json = "r/s.json"\n')
    assert run_cli(["search", "exp/grid.toml"], capsys)[0] == 0
    assert (tmp_path / "exp" / "r" / "s.json").is_file()
    assert run_cli(["search", "exp/grid.toml"], capsys)[0] == 0


def test_an_export_of_another_experiment_is_not_replaced(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps([{"experiment": "aaa"}]))
    with pytest.raises(ValueError, match="holds rows of experiment aaa, this one is bbb"):
        check_replaceable("json", path, "bbb")
    check_replaceable("json", path, "aaa")


# --------------------------------------------------- 9. the epoch budget
def test_the_ranking_shows_epochs_run_and_the_budget_apart(tmp_path):
    x, y = blobs()
    space = {"hidden_sizes": [[8]], "learning_rate": [1e4], "epochs": [3, 9],
             "batch_size": [16]}
    # Diverges at once: runs fewer epochs. No trial succeeds, so the search has no winner
    # (issue 23 item 7); its trials are in the store, and the ranking of the store shows them.
    with pytest.raises(NoTrialSucceededError, match="2 holdout trial"):
        grid_search(space, (x, y), top_n=0, store=tmp_path / "s.db")
    table = ranking_table(tmp_path / "s.db")
    assert sorted(row["epoch budget"] for row in table) == [3, 9]
    assert [row["epochs"] for row in table] == [r["epochs_run"] for r in rank(
        rows_of(tmp_path / "s.db"))]
    assert all(row["epochs"] < row["epoch budget"] for row in table)


# ----------------------------------------------- 16-18. nothing lost (train, kfold)
def test_ctrl_c_during_the_test_evaluation_keeps_the_model(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    from tinygrad_mnist.app.commands import train

    monkeypatch.setattr(train, "evaluate", interrupted)
    status, _, err = run_cli(["train", "--dataset", "synthetic", "--hidden", "8", "--epochs",
                              "1", "--out", "r"], capsys)
    assert status == 130
    assert "interrupted during the test evaluation; kept the model" in err[-1]
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        ".lock", "checkpoint.npz", "config.json", "data.json", "events.jsonl", "history.json",
        "metrics.csv",
        "model.json", "model.npz"]


def test_ctrl_c_during_kfold_prints_and_keeps_the_finished_folds(tmp_path, capsys,
                                                                  monkeypatch):
    from tinygrad_mnist.train import validation

    real, calls = validation.fit_split, []

    def fit_split(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(validation, "fit_split", fit_split)
    status, out, err = run_cli(["kfold", "--dataset", "synthetic", "--hidden", "8",
                                "--epochs", "1", "--k", "4", "--out", tmp_path / "k.json"],
                               capsys)
    assert status == 130
    assert out.count("| ok |") == 2 and "of the 2 finished before the interruption" in out
    assert "interrupted after 2 of 4 folds" in err[-1]
    summary = json.loads((tmp_path / "k.json").read_text())
    assert len(summary["folds"]) == 2 and summary["interrupted"] is True


def test_kfold_out_and_save_npz_dataset_are_atomic(tmp_path, capsys, monkeypatch):
    from tinygrad_mnist.app.kfold_summary import FORMAT
    from tinygrad_mnist.data.by_name import save_npz_dataset, synthetic_digits
    from tinygrad_mnist.utils import atomic

    earlier = json.dumps({"format": FORMAT})  # an earlier summary: kfold may replace it
    (tmp_path / "k.json").write_text(earlier)
    (tmp_path / "d.npz").write_text("earlier")

    def disk_full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", disk_full)
    status, _, err = run_cli(["kfold", "--dataset", "synthetic", "--hidden", "4", "--epochs",
                              "1", "--k", "2", "--out", tmp_path / "k.json"], capsys)
    assert status == 2 and f"{tmp_path / 'k.json'}: No space left" in err[-1]
    with pytest.raises(OSError):
        save_npz_dataset(tmp_path / "d.npz", synthetic_digits(n_train=20, n_test=10))
    assert (tmp_path / "k.json").read_text() == earlier
    assert (tmp_path / "d.npz").read_text() == "earlier"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz", "k.json"]


@pytest.mark.slow  # trains and writes a run folder with its figures, then runs show
def test_a_diverged_model_is_reported_as_diverged_by_train_and_show(tmp_path, capsys,
                                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    status, out, err = run_cli(["train", "--dataset", "synthetic", "--hidden", "16", "--lr",
                                "1e30", "--optimizer", "sgd", "--epochs", "3", "--out", "r"],
                               capsys)
    assert status == 3, err
    assert out.startswith("diverged: ") and "%" not in out.splitlines()[0]
    assert "training diverged" in err[-1]
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["test_accuracy"] is None and metrics["diverged"] is True
    assert "**Diverged**" in (tmp_path / "r" / "report.md").read_text()
    status, out, err = run_cli(["show", "r/model.npz"], capsys)
    assert status == 3 and out == "" and "diverged" in err[-1]
    assert not list((tmp_path / "r").glob("predictions-*.png"))


@pytest.mark.slow  # trains and writes a run folder with its figures, then runs show
def test_show_out_an_existing_folder_writes_into_it_and_prints_the_true_path(tmp_path, capsys,
                                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_cli(["train", "--dataset", "synthetic", "--hidden", "8", "--epochs", "1",
                    "--out", "r"], capsys)[0] == 0
    (tmp_path / "pictures").mkdir()
    status, out, err = run_cli(["show", "r/model.npz", "--n", "4", "--out", "pictures"],
                               capsys)
    assert status == 0, err
    assert (tmp_path / "pictures" / "predictions-4.png").is_file()
    assert not (tmp_path / "pictures.png").exists()
    assert f"wrote {os.path.join('pictures', 'predictions-4.png')} (4 predictions)" in out
    status, out, _ = run_cli(["show", "r/model.npz", "--n", "4", "--out", "plain"], capsys)
    assert status == 0 and "wrote plain.png " in out and (tmp_path / "plain.png").is_file()
