"""Config builder, holdout, k-fold and grid search: resumable, parallel, on Dask, after SIGKILL."""

import hashlib
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from support import synthetic

from tinygrad_mnist import nn, optim
from tinygrad_mnist.experiments import ResultStore, grid_search
from tinygrad_mnist.experiments import search as search_module
from tinygrad_mnist.train import (
    CONFIG_DEFAULTS,
    EarlyStopping,
    Trainer,
    build_training,
    canonical_config,
    config_key,
    holdout,
    kfold,
)

REPO = Path(__file__).resolve().parents[2]


def blobs(n=240, **kwargs):
    """Tighter clusters than the trainer tests use, so configurations differ in the ranking."""
    return synthetic.blobs(n, spread=2.0, **kwargs)


def comparable(rows):
    """Rows as JSON text without the wall-clock fields, so NaN compares equal to NaN."""
    def strip(row):
        row = {k: v for k, v in row.items() if k not in ("seconds", "finished_at")}
        if row["history"] is not None:
            row["history"] = {k: v for k, v in row["history"].items() if k != "seconds"}
        return row

    return [json.dumps(strip(row), sort_keys=True) for row in rows]


SPACE = {"hidden_sizes": [[6], [12, 6]], "activation": ["tanh", "relu"],
         "learning_rate": [0.05, 0.5], "batch_size": [32], "epochs": [4]}


# ------------------------------------------------------------------- builders
def test_build_training_makes_the_described_model_optimizer_and_trainer():
    built = build_training({"hidden_sizes": [12, 6], "activation": "tanh",
                               "optimizer": "nesterov", "learning_rate": 0.3, "batch_size": 16,
                               "epochs": 7, "patience": 2, "schedule": "cosine"},
                              seed=0, input_size=8, num_classes=3)
    assert built.model.sizes == (8, 12, 6, 3)
    assert isinstance(built.model[0].activation, nn.Tanh)
    assert isinstance(built.optimizer, optim.SGD)
    assert built.optimizer.nesterov and built.optimizer.momentum == 0.9
    assert built.optimizer.lr == 0.3 and built.epochs == 7
    assert isinstance(built.trainer.scheduler, optim.CosineLR)
    assert built.trainer.batch_size == 16
    assert [type(c) for c in built.trainer.callbacks if isinstance(c, EarlyStopping)]
    adam = build_training({"optimizer": "adam"}, seed=0, input_size=8, num_classes=3)
    assert isinstance(adam.optimizer, optim.Adam)
    assert adam.trainer.batch_size == CONFIG_DEFAULTS["batch_size"]


def test_a_step_schedule_halves_the_rate_every_third_of_the_epochs():
    built = build_training({"schedule": "step", "epochs": 9, "learning_rate": 0.8},
                              seed=0, input_size=8, num_classes=3)
    scheduler = built.trainer.scheduler
    assert isinstance(scheduler, optim.StepLR)
    rates = []
    for _ in range(9):
        rates.append(built.optimizer.lr)
        scheduler.step()
    assert rates == pytest.approx([0.8] * 3 + [0.4] * 3 + [0.2] * 3)


def test_the_same_seed_builds_the_same_weights_and_another_seed_others():
    def weights(seed):
        return build_training({}, seed=seed, input_size=8, num_classes=3).model.state_dict()

    assert all(np.array_equal(a, b) for a, b in zip(weights(1).values(), weights(1).values()))
    assert not np.array_equal(weights(1)["0.weight"], weights(2)["0.weight"])


def test_canonical_configs_and_keys_treat_equivalent_configs_as_one():
    assert config_key({"learning_rate": 1}) == config_key({"learning_rate": 1.0})
    assert config_key({"hidden_sizes": 100}) == config_key({"hidden_sizes": [100]})
    assert config_key({"batch_size": "full"}) == config_key({"batch_size": None})
    assert config_key({"activation": "ReLU"}) == config_key({})
    # momentum only matters to the momentum optimizers
    assert config_key({"optimizer": "sgd", "momentum": 0.5}) == config_key({"optimizer": "sgd"})
    assert config_key({"optimizer": "momentum", "momentum": 0.5}) != config_key(
        {"optimizer": "momentum"})
    assert config_key({"learning_rate": 0.5}) != config_key({"learning_rate": 0.1})
    # The key hashes what differs from the defaults, so new keys keep old keys valid.
    assert config_key({}) == hashlib.sha256(b"{}").hexdigest()[:16]
    assert set(canonical_config({})) == set(CONFIG_DEFAULTS)


@pytest.mark.parametrize("config, match", [
    ({"learning_rat": 0.1}, "unknown key 'learning_rat'"),
    ({"hidden": [1], "colour": 2}, "unknown keys 'colour', 'hidden'"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"activation": "swish"}, "activation"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"patience": -1}, "patience"),
    ({"batch_size": 0}, "batch_size"),
    ({"hidden_sizes": [10, 0]}, "hidden_sizes"),
    ({"epochs": 2.5}, "epochs"),
    ({"momentum": 1.0}, "momentum"),
    ({"schedule": "linear"}, "schedule"),
    ({"init": "ones"}, "init"),
])
def test_bad_configs_are_value_errors_naming_the_key(config, match):
    with pytest.raises(ValueError, match=match):
        canonical_config(config)


# --------------------------------------------------------- holdout and k-fold
CONFIG = {"hidden_sizes": [8], "learning_rate": 0.5, "batch_size": 32, "epochs": 5}


def test_holdout_trains_on_a_stratified_split_and_is_reproducible():
    x, y = blobs()
    first = holdout(CONFIG, (x, y), train_fraction=0.75, seed=3, test=(x[:50], y[:50]))
    again = holdout(CONFIG, (x, y), train_fraction=0.75, seed=3, test=(x[:50], y[:50]))
    assert first.metrics == {**again.metrics, "seconds": first.metrics["seconds"]}
    assert first.metrics["val_accuracy"] > 0.8
    assert first.metrics["status"] == "ok" and first.metrics["epochs_run"] == 5
    assert first.trainer.evaluate((x[:50], y[:50])).accuracy == first.metrics["test_accuracy"]
    assert holdout(CONFIG, (x, y), seed=4).metrics["val_loss"] != first.metrics["val_loss"]


def test_holdout_takes_a_build_function_too():
    x, y = blobs()
    seeds = []

    def build(seed):
        seeds.append(seed)
        model = nn.MLP(8, [8], 3, seed=seed)
        return Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.5),
                       batch_size=32, seed=seed)

    result = holdout(build, (x, y), epochs=3, seed=0)
    assert result.metrics["epochs_run"] == 3 and result.seed == seeds[0]
    with pytest.raises(TypeError, match="must return a Trainer"):
        holdout(lambda seed: None, (x, y))
    with pytest.raises(TypeError, match="config dict or a function"):
        holdout(42, (x, y))


def test_kfold_reports_each_fold_their_mean_and_std_and_the_best_fold():
    x, y = blobs()
    result = kfold(CONFIG, (x, y), k=4, seed=0)
    assert len(result.folds) == 4
    accuracies = [fold.metrics["val_accuracy"] for fold in result.folds]
    assert result.mean["val_accuracy"] == pytest.approx(np.mean(accuracies))
    assert result.std["val_accuracy"] == pytest.approx(np.std(accuracies))
    assert accuracies[result.best_fold] == max(accuracies)
    assert result.best_model is result.folds[result.best_fold].model
    # Each fold's model has its own seed, drawn from the config and the fold.
    assert len({fold.seed for fold in result.folds}) == 4


def test_early_stopping_from_patience_restores_and_reports_status():
    x, y = blobs(n=120)
    noise = np.random.default_rng(1)
    y = np.where(noise.random(120) < 0.3, noise.integers(0, 3, 120), y)  # so it overfits
    config = {"hidden_sizes": [64], "learning_rate": 0.5, "batch_size": 16, "epochs": 60,
              "patience": 2}
    result = holdout(config, (x, y))
    assert result.metrics["status"] == "early-stopped"
    assert result.metrics["epochs_run"] < 60
    best = result.history.best_epoch
    assert result.metrics["val_loss"] == pytest.approx(result.history.val_loss[best - 1], rel=1e-5)


@pytest.mark.parametrize("k", [1, 0, -2, 1.5, 1000])
def test_bad_k_is_a_value_error(k):
    x, y = blobs(n=60)
    with pytest.raises(ValueError, match="k"):
        kfold(CONFIG, (x, y), k=k)
    with pytest.raises(ValueError, match="k"):
        grid_search({"epochs": [1]}, (x, y), k=k)


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.2])
def test_bad_train_fraction_is_a_value_error(fraction):
    x, y = blobs(n=60)
    with pytest.raises(ValueError, match="train_fraction"):
        holdout(CONFIG, (x, y), train_fraction=fraction)
    with pytest.raises(ValueError, match="train_fraction"):
        grid_search({"epochs": [1]}, (x, y), train_fraction=fraction)


def test_images_must_be_flattened_for_a_config():
    x, y = blobs()
    with pytest.raises(ValueError, match="2-D features"):
        holdout(CONFIG, (x.reshape(-1, 2, 4), y))


# ------------------------------------------------------------------ grid search
@pytest.mark.parametrize("space, match", [
    ({}, "space"),
    ({"learning_rate": []}, r"space\['learning_rate'\]"),
    ({"learning_rate": 0.1}, r"space\['learning_rate'\]"),
    ({"learning_rate": [0.1], "colour": ["red"]}, "unknown key 'colour'"),
    ({"patience": [-1]}, "patience"),
])
def test_bad_grids_are_value_errors(space, match):
    x, y = blobs(n=60)
    with pytest.raises(ValueError, match=match):
        grid_search(space, (x, y))


def test_bad_search_arguments_are_value_errors():
    x, y = blobs(n=60)
    with pytest.raises(ValueError, match="top_n"):
        grid_search({"epochs": [1]}, (x, y), top_n=-1)
    with pytest.raises(ValueError, match="n_jobs"):
        grid_search({"epochs": [1]}, (x, y), n_jobs=0)


def test_grid_search_screens_every_config_then_kfolds_the_top_and_scores_the_winner(tmp_path):
    x, y = blobs(n=300)
    test = (x[240:], y[240:])
    seen = []
    result = grid_search(SPACE, (x[:240], y[:240]), store=tmp_path / "s.db", k=3, top_n=2,
                         seed=0, test=test, on_trial=seen.append)
    assert len(result.ranking) == 8 and len(result.rows) == 8 + 2 * 3 == len(seen)
    accuracies = [row["val_accuracy"] for row in result.ranking]
    assert accuracies == sorted(accuracies, reverse=True)
    top_keys = [row["key"] for row in result.ranking[:2]]
    assert sorted(s["key"] for s in result.kfold) == sorted(top_keys)
    winner = result.kfold[0]
    assert winner["mean"]["val_accuracy"] >= result.kfold[1]["mean"]["val_accuracy"]
    assert result.best_key == winner["key"] and result.best_config == winner["config"]
    assert result.test_accuracy == winner["best_fold"]["test_accuracy"] > 0.5
    # The search's holdout and k-fold trials are exactly what holdout() and kfold() give.
    row = result.ranking[0]
    alone = holdout(row["config"], (x[:240], y[:240]), seed=0, test=test)
    assert alone.metrics["val_loss"] == row["val_loss"]
    assert alone.history.to_dict()["train_loss"] == row["history"]["train_loss"]
    folds = kfold(winner["config"], (x[:240], y[:240]), k=3, seed=0, test=test)
    assert [f.metrics["val_loss"] for f in folds.folds] == [
        f["val_loss"] for f in winner["folds"]]


def test_a_diverging_config_is_marked_and_the_search_goes_on(tmp_path):
    x, y = blobs()
    space = {"hidden_sizes": [[16]], "learning_rate": [1e3, 0.1], "batch_size": [16],
             "epochs": [30]}
    result = grid_search(space, (x, y), store=tmp_path / "d.db", top_n=0)
    by_rate = {row["learning_rate"]: row for row in result.rows}
    assert by_rate[1000.0]["status"] == "diverged"
    assert by_rate[1000.0]["epochs_run"] < 30
    assert math.isnan(by_rate[1000.0]["val_accuracy"])  # NaN logits predict nothing
    assert by_rate[0.1]["status"] == "ok" and by_rate[0.1]["val_accuracy"] > 0.8
    assert result.best_config["learning_rate"] == 0.1


def test_a_failing_trial_is_stored_with_its_error_and_the_search_goes_on(monkeypatch):
    x, y = blobs(n=90)
    real = search_module.fit_split

    def fit_split(config, *args, **kwargs):
        if config["learning_rate"] == 0.3:
            raise RuntimeError("out of coffee")
        return real(config, *args, **kwargs)

    monkeypatch.setattr(search_module, "fit_split", fit_split)
    result = grid_search({"learning_rate": [0.3, 0.1], "epochs": [2]}, (x, y), top_n=0)
    failed, ok = sorted(result.rows, key=lambda row: row["learning_rate"], reverse=True)
    assert failed["status"] == "failed" and "RuntimeError: out of coffee" in failed["error"]
    assert math.isnan(failed["val_accuracy"])
    assert ok["status"] == "ok" and result.ranking[0] == ok


def test_a_search_started_again_on_its_store_runs_nothing_twice(tmp_path):
    x, y = blobs()
    path = tmp_path / "again.db"
    first = grid_search(SPACE, (x, y), store=path, k=2, top_n=1)
    seen = []
    again = grid_search(SPACE, (x, y), store=path, k=2, top_n=1, on_trial=seen.append)
    assert seen == [] and comparable(again.rows) == comparable(first.rows)
    with ResultStore(path) as store:
        assert len(store) == 8 + 2
    # Other data, another k or seed are another experiment: refused, nothing written.
    for other in ({"data": blobs(seed=9)}, {"k": 3}, {"seed": 1}, {"train_fraction": 0.7}):
        arguments = {"data": (x, y), "k": 2, "top_n": 0, **other}
        with pytest.raises(ValueError, match=r"holds another experiment .*start a new store"):
            grid_search({"epochs": [2]}, store=path, **arguments)
    with ResultStore(path) as store:
        assert len(store) == 8 + 2
        assert store.experiment["k"] == 2 and store.experiment["data_id"] == first.rows[0][
            "data_id"]


@pytest.mark.slow  # two joblib worker processes
def test_results_are_identical_to_the_bit_with_one_or_two_jobs(tmp_path):
    x, y = blobs(n=300)
    test, (x, y) = (x[240:], y[240:]), (x[:240], y[:240])
    one = grid_search(SPACE, (x, y), n_jobs=1, k=2, top_n=2, seed=7, test=test)
    two = grid_search(SPACE, (x, y), store=tmp_path / "two.db", n_jobs=2, k=2, top_n=2, seed=7,
                      test=test)
    assert comparable(one.rows) == comparable(two.rows)
    assert one.best_key == two.best_key and one.test_accuracy == two.test_accuracy


@pytest.mark.slow
def test_a_dask_cluster_gives_the_same_results_as_one_job():
    from dask.distributed import Client, LocalCluster

    x, y = blobs()
    space = {**SPACE, "hidden_sizes": [[6]]}
    local = grid_search(space, (x, y), n_jobs=1, k=2, top_n=1, seed=3)
    # Worker threads in this process (several trials at once), reached over TCP on 127.0.0.1.
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address=None) as cluster, Client(cluster):
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        remote = grid_search(space, (x, y), backend="dask", k=2, top_n=1, seed=3)
    assert comparable(remote.rows) == comparable(local.rows)


# --------------------------------------------------------------- SIGKILL resume
KILL_SCRIPT = """
import sys
import numpy as np
from tinygrad_mnist.experiments import grid_search

rng = np.random.default_rng(0)
centres = rng.normal(scale=2.0, size=(4, 32))
y = rng.integers(0, 4, size=1500)
x = (centres[y] + rng.normal(size=(1500, 32))).astype(np.float32)
grid_search({"hidden_sizes": [[128]], "learning_rate": [0.02, 0.05, 0.1],
             "batch_size": [32], "epochs": [30]},  # about 0.3 s a trial
            (x, y), store=sys.argv[1], k=2, top_n=1, seed=0)
"""


def _stored_count(path) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return connection.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet, or being written
        return 0


@pytest.mark.slow
def test_a_search_killed_mid_trial_resumes_with_every_trial_exactly_once(tmp_path):
    script = tmp_path / "search.py"
    script.write_text(textwrap.dedent(KILL_SCRIPT))
    store = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, str(script), str(store)]
    process = subprocess.Popen(command, env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while _stored_count(store) < 1:
            assert process.poll() is None, "the search ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.1)  # inside the second trial
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -signal.SIGKILL
    with ResultStore(store) as opened:
        before = {row["trial_id"]: row for row in opened.rows()}
    assert 1 <= len(before) < 3 + 2  # killed with trials still to run

    subprocess.run(command, env=env, cwd=tmp_path, check=True, timeout=120)
    with ResultStore(store) as opened:
        after = opened.rows()
        assert opened.integrity_check() == "ok"
    trial_ids = [row["trial_id"] for row in after]
    assert len(trial_ids) == len(set(trial_ids)) == 3 + 2
    assert sorted(row["phase"] for row in after) == ["holdout"] * 3 + ["kfold"] * 2
    for row in after:  # the trials stored before the kill were kept, not run again
        if row["trial_id"] in before:
            assert row["finished_at"] == before[row["trial_id"]]["finished_at"]
            assert row["seconds"] == before[row["trial_id"]]["seconds"]


def test_an_empty_config_builds_what_the_command_line_trains_by_default():
    from tinygrad_mnist.train.config import RunConfig

    from_dict = build_training({}, seed=0, input_size=784, num_classes=10)
    from_cli = RunConfig().build(input_size=784, num_classes=10)
    assert from_dict.config == from_cli.config
    assert from_dict.model.sizes == from_cli.model.sizes == (784, 256, 128, 10)
    assert isinstance(from_dict.optimizer, optim.SGD) and from_dict.optimizer.nesterov
    assert from_dict.optimizer.lr == 0.1 and from_dict.optimizer.momentum == 0.9
    assert from_dict.trainer.batch_size == 128 and from_dict.epochs == 5
    assert isinstance(from_dict.trainer.scheduler, optim.CosineLR)
