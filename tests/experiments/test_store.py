"""The SQLite result store and the JSON, CSV and Markdown exports."""

import csv
import json
import math
import sqlite3

import numpy as np
import pytest

import tinygrad_mnist
from tinygrad_mnist.experiments import (
    ResultStore,
    export_csv,
    export_json,
    export_markdown,
    grid_search,
    markdown_report,
    ranking_table,
    summary_table,
)
from tinygrad_mnist.experiments import export as export_module
from tinygrad_mnist.experiments.store import SCHEMA_VERSION


def row(trial_id="t1", **changes):
    base = {"trial_id": trial_id, "key": "k1", "phase": "holdout", "fold": None,
            "split": "holdout 0.8", "search_seed": 0, "trial_seed": 2**62 + 1, "data_id": "d",
            "config": {"hidden_sizes": [100], "activation": "relu", "learning_rate": 0.5},
            "status": "ok", "error": None, "train_loss": 0.1, "train_accuracy": 0.9,
            "val_loss": float("nan"), "val_accuracy": 0.8, "test_loss": float("nan"),
            "test_accuracy": float("nan"), "epochs_run": 3, "best_epoch": 2, "seconds": 1.5,
            "history": {"train_loss": [1.0, None]}}
    return {**base, **changes}


# ------------------------------------------------------------------------ store
def test_rows_come_back_flat_with_nan_for_missing_figures(tmp_path):
    path = tmp_path / "r.db"
    with ResultStore(path) as store:
        store.add(row())
        store.add(row("t2", phase="kfold", fold=1, status="diverged"))
        assert len(store) == 2 and store.trial_ids() == {"t1", "t2"}
    with ResultStore(path) as store:  # committed, so visible after reopening
        first, second = store.rows()
        assert [r["trial_id"] for r in store.rows(phase="kfold")] == ["t2"]
    assert first["hidden_sizes"] == [100] and first["learning_rate"] == 0.5
    assert first["config"] == row()["config"]
    assert math.isnan(first["val_loss"]) and first["val_accuracy"] == 0.8
    assert first["trial_seed"] == 2**62 + 1 and first["history"] == {"train_loss": [1.0, None]}
    assert first["version"] == tinygrad_mnist.__version__ and first["finished_at"]
    assert second["fold"] == 1 and second["status"] == "diverged"


def test_a_trial_is_stored_once_and_statuses_are_checked(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        store.add(row())
        with pytest.raises(ValueError, match="trial 't1' is already stored"):
            store.add(row())
        with pytest.raises(ValueError, match="status"):
            store.add(row("t3", status="great"))
        assert len(store) == 1


def test_a_store_of_another_schema_version_is_refused_untouched(tmp_path):
    path = tmp_path / "old.db"
    ResultStore(path).close()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'",
                           (str(SCHEMA_VERSION + 1),))
        connection.execute("UPDATE meta SET value = '9.9.9' WHERE name = 'package_version'")
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"written by tinygrad_mnist 9\.9\.9 with store schema"):
        ResultStore(path)
    assert path.read_bytes() == before


def test_files_that_are_not_result_stores_are_refused_untouched(tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("not a database, just words " * 40)
    with pytest.raises(ValueError, match="is not a SQLite result store"):
        ResultStore(text)
    assert text.read_text().startswith("not a database")
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE birds (name TEXT)")
    with pytest.raises(ValueError, match=r"tables \['birds'\], not a result store"):
        ResultStore(other)


# ---------------------------------------------------------------------- exports
@pytest.fixture(scope="module")
def search():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=2.0, size=(3, 6))
    y = rng.integers(0, 3, size=200)
    x = (centres[y] + rng.normal(size=(200, 6))).astype(np.float32)
    space = {"hidden_sizes": [[4], [8, 4]], "activation": ["tanh", "relu"],
             "learning_rate": [0.3, 1e3], "batch_size": [16, 64], "epochs": [3]}
    return grid_search(space, (x[:160], y[:160]), test=(x[160:], y[160:]), k=2, top_n=2)


def test_json_export_is_strict_json_with_every_row(search, tmp_path):
    path = tmp_path / "r.json"
    export_json(search, path)

    def no_constants(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    rows = json.loads(path.read_text(), parse_constant=no_constants)
    assert len(rows) == len(search.rows) == 16 + 4
    assert {r["trial_id"] for r in rows} == {r["trial_id"] for r in search.rows}
    diverged = [r for r in rows if r["status"] == "diverged"]
    assert diverged and any(r["val_loss"] is None for r in diverged)
    assert rows[0]["history"]["train_loss"] == search.rows[0]["history"]["train_loss"]


def test_csv_export_reads_back_to_the_same_figures(search, tmp_path):
    path = tmp_path / "r.csv"
    export_csv(search, path)
    with open(path, newline="") as file:
        lines = list(csv.DictReader(file))
    assert len(lines) == len(search.rows)
    for line, original in zip(lines, search.rows):
        assert line["trial_id"] == original["trial_id"]
        assert json.loads(line["hidden_sizes"]) == original["hidden_sizes"]
        for name in ("val_accuracy", "val_loss", "test_accuracy"):
            value = float(line[name]) if line[name] else math.nan
            assert value == original[name] or (math.isnan(value) and math.isnan(original[name]))


def test_ranking_table_has_the_seeds_columns_best_first_plus_varying_settings(search):
    table = ranking_table(search)
    # Validation first (trials are chosen by it), the test accuracy last, for reference.
    assert list(table[0])[:9] == ["rank", "hidden layers", "activation", "learning rate",
                                  "validation accuracy", "validation error", "epochs",
                                  "status", "test accuracy"]
    assert "batch_size" in table[0] and "optimizer" not in table[0]
    assert [entry["rank"] for entry in table] == list(range(1, 17))
    finite = [e["validation accuracy"] for e in table if not math.isnan(e["validation accuracy"])]
    assert finite == sorted(finite, reverse=True)
    for entry in table:
        assert entry["validation error"] == pytest.approx(1 - entry["validation accuracy"],
                                                          nan_ok=True)


@pytest.mark.parametrize("by", ["activation", "hidden_sizes", "learning_rate"])
def test_summary_statistics_per_setting_agree_with_numpy(search, by):
    table = summary_table(search, by=by)
    holdout = [r for r in search.rows if r["phase"] == "holdout"]
    assert sum(entry["trials"] for entry in table) == len(holdout)
    for entry in table:
        label = entry[by]
        group = [r["val_accuracy"] for r in holdout
                 if (str(r[by]) if by != "hidden_sizes" else
                     "[" + ", ".join(map(str, r[by])) + "]") == label]
        finite = [v for v in group if math.isfinite(v)]
        assert entry["trials"] == len(group) and entry["not finite"] == len(group) - len(finite)
        assert entry["mean"] == pytest.approx(np.mean(finite))
        assert entry["std"] == pytest.approx(np.std(finite))
        assert entry["best"] == max(finite) and entry["worst"] == min(finite)
    with pytest.raises(ValueError, match="by: expected a config key"):
        summary_table(search, by="colour")


def test_markdown_report_has_ranking_kfold_winner_and_summaries(search, tmp_path):
    path = tmp_path / "report.md"
    export_markdown(search, path, title="Tiny search")
    text = path.read_text()
    assert text.splitlines()[1:3] == ["# Tiny search", ""]
    assert text.splitlines()[3].startswith("Experiment: data ")  # the data digest, k, seed
    assert text == markdown_report(search, title="Tiny search")
    for heading in ("## Holdout screening", "## K-fold validation", "**Winner**",
                    "## Validation accuracy per activation",
                    "## Validation accuracy per hidden layers"):
        assert heading in text
    header = ("| rank | hidden layers | activation | learning rate | validation accuracy | "
              "validation error | epochs | status |")
    assert header in text
    # Only the winner meets the test set; no JSON null reaches the prose.
    assert text.count("test") == text.split("**Winner**")[1].count("test") == 1
    assert "null" not in text and "None" not in text
    best = search.ranking[0]
    first_line = text.split(header)[1].splitlines()[2]
    assert first_line.startswith(f"| 1 | [{', '.join(map(str, best['hidden_sizes']))}] | "
                                 f"{best['activation']} |")
    assert f"{100 * best['val_accuracy']:.2f}%" in first_line
    winner = search.kfold[0]
    assert f"{100 * winner['mean']['val_accuracy']:.2f}%" in text.split("**Winner**")[1]


def test_exports_read_a_store_path_and_reject_what_is_not_rows(search, tmp_path):
    path = tmp_path / "s.db"
    with ResultStore(path) as store:
        for r in search.rows:
            store.add(r)
    export_csv(path, tmp_path / "from_path.csv")
    export_csv(search.rows, tmp_path / "from_rows.csv")
    assert (tmp_path / "from_path.csv").read_text().count("\n") == len(search.rows) + 1
    with pytest.raises(ValueError, match="no result store"):
        export_json(tmp_path / "missing.db", tmp_path / "x.json")
    with pytest.raises(TypeError, match="source"):
        export_json(42, tmp_path / "x.json")


def test_a_failed_export_leaves_the_previous_file_whole(search, tmp_path, monkeypatch):
    path = tmp_path / "r.md"
    export_markdown(search.rows[:3], path)
    before = path.read_text()

    def disk_full(source, destination):
        raise OSError("disk full")

    monkeypatch.setattr(export_module.os, "replace", disk_full)
    with pytest.raises(OSError, match="disk full"):
        export_markdown(search, path)
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.md"]  # no temporary left
