"""Issue 23 through the command line, in process: each case as a user meets it (exit status,
one line on stderr, nothing of theirs overwritten). Each failed on the commit before its fix."""

from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from tinygrad_mnist.app.cli import main
from tinygrad_mnist.app.run_folder import run_folder_lock, write_config
from tinygrad_mnist.data.by_name import save_npz_dataset, synthetic_digits
from tinygrad_mnist.experiments import ResultStore
from tinygrad_mnist.train.config import RunConfig as TrainConfig

QUICK = ["--dataset", "synthetic", "--hidden", "8", "--epochs", "1"]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    return tmp_path


def run(args, capsys):
    """`tinygrad-mnist ARGS` in this process: (status, stdout, stderr lines)."""
    status = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return status, out, [line for line in err.splitlines() if line.startswith("tinygrad-mnist")]


def one_line(err, *fragments):
    assert len(err) == 1, err
    for fragment in fragments:
        assert fragment in err[0], err[0]


def save_run(folder, weights=None, **files):
    """A run folder as `train` leaves it, without training; `weights(state)` edits them."""
    config = TrainConfig(hidden_sizes=(8,), dataset="synthetic")
    folder.mkdir(parents=True, exist_ok=True)
    model = config.build().model
    if weights is not None:
        state = model.state_dict()
        weights(state)
        model.load_state_dict(state)
    model.save(folder / "model.npz")
    write_config(folder, config)
    for name, content in files.items():
        (folder / f"{name}.json").write_text(json.dumps(content))
    return folder


def digit(path):
    from PIL import Image

    image = np.zeros((28, 28), np.uint8)
    image[6:22, 12:16] = 255
    Image.fromarray(image).save(path)
    return path


# ------------------------------------------------------------ item 1, 2, 18
def test_item1_export_and_kfold_refuse_a_run_folders_own_files_before_any_work(here, capsys):
    folder = save_run(here / "run")
    before = {name: (folder / name).read_bytes() for name in ("model.npz", "config.json")}
    status, _, err = run(["export", folder, "--onnx", folder / "config.json"], capsys)
    assert status == 2
    one_line(err, "config.json", "is not an earlier onnx")
    start = time.monotonic()
    status, out, err = run(["kfold", *QUICK, "--k", "2", "--out", folder / "model.npz"], capsys)
    assert status == 2 and out == ""  # refused before any fold trained
    one_line(err, "model.npz", "is not an earlier out")
    assert time.monotonic() - start < 30  # before any fold trained; loose: a busy machine
    assert {name: (folder / name).read_bytes() for name in before} == before


def test_item18_kfold_out_a_folder_and_export_to_no_folder_name_the_users_path(here, capsys):
    (here / "adir").mkdir()
    status, out, err = run(["kfold", *QUICK, "--k", "2", "--out", "adir"], capsys)
    assert status == 2 and out == ""
    one_line(err, "'adir' is a folder")
    folder = save_run(here / "run")
    status, _, err = run(["export", folder, "--onnx", "nodir/m.onnx"], capsys)
    assert status == 2
    one_line(err, "nodir/m.onnx", "no such folder")
    assert ".part" not in err[0]


def test_item2_train_out_refuses_a_folder_holding_a_report_of_the_users(here, capsys):
    (here / "mine").mkdir()
    (here / "mine" / "report.md").write_text("my report")
    status, _, err = run(["train", *QUICK, "--out", "mine"], capsys)
    assert status == 2
    one_line(err, "already holds report.md")
    assert (here / "mine" / "report.md").read_text() == "my report"


# ------------------------------------------------------------------ item 3
def test_item3_predict_evaluate_export_say_diverged_and_exit_3(here, capsys):
    folder = save_run(here / "div", weights=lambda s: s["0.weight"].fill(np.nan),
                      history={"stopped_reason": "diverged"})
    image = digit(here / "one.png")
    for args in (["predict", folder, image], ["predict", folder, image, "--json"],
                 ["evaluate", folder], ["export", folder, "--onnx", here / "div.onnx"]):
        status, out, err = run(args, capsys)
        assert status == 3, (args, err)
        one_line(err, "diverged")
        assert "nan" not in out.lower()
    assert not (here / "div.onnx").exists()
    assert not list(folder.glob("evaluation-*.json"))


def test_item3_a_damaged_model_is_refused_naming_the_array(here, capsys):
    folder = save_run(here / "bad", weights=lambda s: s["2.bias"].fill(np.inf))
    status, _, err = run(["predict", folder, digit(here / "one.png")], capsys)
    assert status == 2
    one_line(err, "is damaged", "'2.bias'", "infinite")


def test_item3_predict_json_is_strict_json(here, capsys):
    folder = save_run(here / "run")
    status, out, _ = run(["predict", folder, digit(here / "one.png"), "--json", "--top", "3"],
                         capsys)
    assert status == 0
    parsed = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert len(parsed[0]["predictions"]) == 3


# ----------------------------------------------------------------- item 4
@pytest.mark.slow  # trains and writes a run folder
def test_item4_resume_refuses_data_that_changed(here, capsys):
    save_npz_dataset("d.npz", synthetic_digits(n_train=200, n_test=40, seed=0))
    status, _, err = run(["train", "--dataset", "d.npz", "--hidden", "8", "--epochs", "2",
                          "--validation", "0", "--out", "r"], capsys)
    assert status == 0, err
    record = json.loads((here / "r" / "data.json").read_text())
    assert record["path"] == str(here / "d.npz") and len(record["digest"]) == 16
    save_npz_dataset("d.npz", synthetic_digits(n_train=200, n_test=40, seed=5))
    status, _, err = run(["train", "--resume", "r"], capsys)
    assert status == 2
    one_line(err, "d.npz", "now holds other data")
    # From another folder the run reads the absolute path it recorded, not ./d.npz.
    (here / "elsewhere").mkdir()
    os.chdir(here / "elsewhere")
    save_npz_dataset("d.npz", synthetic_digits(n_train=200, n_test=40, seed=0))
    status, _, err = run(["train", "--resume", here / "r"], capsys)
    assert status == 2
    one_line(err, "now holds other data")


# ----------------------------------------------------------------- item 7
def test_item7_a_search_where_no_trial_succeeded_says_so_and_exits_1(here, capsys,
                                                                    monkeypatch):
    from tinygrad_mnist.experiments import search as search_module

    (here / "grid.toml").write_text('[grid]\nhidden_sizes = [[4], [8]]\n[config]\nepochs = 1\n')
    monkeypatch.setattr(search_module, "fit_split", lambda *a, **k: 1 / 0)
    status, out, err = run(["search", "grid.toml", "--dataset", "synthetic", "--out", "o"],
                           capsys)
    assert status == 1
    one_line(err, "no trial succeeded", "2 holdout trial(s) failed", "ZeroDivisionError")
    assert "best:" not in out
    with ResultStore(here / "o" / "results.sqlite") as store:
        assert len(store) == 2  # kept, to be retried


# ---------------------------------------------------------------- item 10
def test_item10_search_at_a_service_that_is_not_dask_is_one_line(here, capsys, monkeypatch):
    import socket

    from tinygrad_mnist.experiments import dask_scheduler

    monkeypatch.setattr(dask_scheduler, "TIMEOUT", 1.0)
    (here / "grid.toml").write_text('[grid]\nhidden_sizes = [[4]]\n[config]\nepochs = 1\n')
    with socket.create_server(("127.0.0.1", 0)) as server:  # accepts (backlog), never answers
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        start = time.monotonic()
        status, _, err = run(["search", "grid.toml", "--dataset", "synthetic", "--scheduler",
                              address], capsys)
    assert status == 2 and time.monotonic() - start < 30  # it hung; loose: a busy machine
    one_line(err, address, "not a Dask scheduler")


# ---------------------------------------------------------------- item 13
def stored_row(trial_id, config):
    return {"trial_id": trial_id, "experiment": "e1", "key": trial_id, "phase": "holdout",
            "fold": None, "split": "holdout 0.8", "search_seed": 0, "trial_seed": 1,
            "data_id": "d", "config": config, "status": "ok", "error": None,
            "train_loss": 0.1, "train_accuracy": 0.9, "val_loss": 0.2, "val_accuracy": 0.8,
            "test_loss": 0.3, "test_accuracy": 0.7, "epochs_run": 3, "best_epoch": 2,
            "seconds": 1.5, "history": None}


def test_item13_report_reads_rows_of_an_older_version_with_the_defaults(here, capsys):
    from tinygrad_mnist.train.config import CONFIG_DEFAULTS

    with ResultStore(here / "old.sqlite") as store:
        store.add(stored_row("t1", {"hidden_sizes": [32], "learning_rate": 0.5}))
        store.add(stored_row("t2", {"hidden_sizes": [64], "learning_rate": 0.1}))
    status, _, err = run(["report", "old.sqlite"], capsys)
    assert status == 0, err
    rows = json.loads((here / "results.json").read_text())
    assert rows[0]["epochs"] == CONFIG_DEFAULTS["epochs"] and rows[0]["hidden_sizes"] == [32]


def test_item13_a_config_this_version_cannot_read_is_one_line_before_any_write(here, capsys):
    with ResultStore(here / "new.sqlite") as store:
        store.add(stored_row("t1", {"hidden_sizes": [32], "dropout_rate": 0.5}))
    status, _, err = run(["report", "new.sqlite"], capsys)
    assert status == 2
    one_line(err, "trial 't1' has a config this version cannot read", "dropout_rate")
    assert sorted(p.name for p in here.iterdir()) == ["new.sqlite"]


# ---------------------------------------------------------- items 15, 16
def test_item15_train_cnn_with_no_channels_is_refused_naming_the_option(here, capsys):
    status, _, err = run(["train", "--model", "cnn", "--channels", "none", "--dataset",
                          "synthetic"], capsys)
    assert status == 2
    one_line(err, "--channels", "at least one convolution")
    assert not (here / "runs").exists()


def test_item16_predict_with_class_names_of_another_model_is_one_line(here, capsys):
    folder = save_run(here / "run", metrics={"class_names": ["a", "b", "c"]})
    status, _, err = run(["predict", folder, digit(here / "one.png")], capsys)
    assert status == 2
    one_line(err, "metrics.json", "names 3 classes, but the model scores 10")


# ----------------------------------------------------------- items 17, 20
@pytest.mark.slow  # trains and writes a run folder
def test_item17_a_tampered_checkpoint_is_damaged_and_nothing_is_rewritten(here, capsys):
    status, _, err = run(["train", *QUICK, "--validation", "0", "--out", "r"], capsys)
    assert status == 0, err
    path = here / "r" / "checkpoint.npz"
    with np.load(path) as archive:
        state = dict(archive)
    meta = json.loads(str(state["meta"]))
    meta["stop_reason"] = "interrupted"
    meta["scheduler"] = {"epoch": "one", "base_lr": 0.1}
    meta["generators"]["trainer.rng"]["state"] = "garbage"
    state["meta"] = np.array(json.dumps(meta))
    np.savez(path, **state)
    before = {p.name: p.stat().st_mtime_ns for p in (here / "r").iterdir()}
    status, _, err = run(["train", "--resume", "r"], capsys)
    assert status == 2
    one_line(err, f"checkpoint '{path.relative_to(here)}' is damaged")
    assert {p.name: p.stat().st_mtime_ns for p in (here / "r").iterdir()
            if p.name != ".lock"} == {k: v for k, v in before.items() if k != ".lock"}


@pytest.mark.slow  # trains and writes a run folder
def test_item20_a_run_killed_in_its_first_epoch_resumes_from_the_start(here, capsys):
    folder = here / "r"
    folder.mkdir()
    write_config(folder, TrainConfig(hidden_sizes=(8,), epochs=1, validation=0,
                                     dataset="synthetic"))
    (folder / ".checkpoint.npz.999.abcdef12.part").write_bytes(b"x" * 1000)  # the kill's
    status, out, err = run(["train", "--resume", "r"], capsys)
    assert status == 0, err
    assert "test accuracy" in out and (folder / "model.npz").is_file()
    assert not list(folder.glob(".*.part"))
    straight = here / "s"
    assert run(["train", *QUICK, "--validation", "0", "--out", straight], capsys)[0] == 0
    with np.load(folder / "model.npz") as a, np.load(straight / "model.npz") as b:
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name])


# ------------------------------------------------------------------- also
def test_a_run_folder_in_use_is_refused_in_one_line(here, capsys):
    folder = save_run(here / "run")
    with run_folder_lock(folder):
        status, _, err = run(["train", "--resume", folder], capsys)
    assert status == 2
    one_line(err, "in use by another process", f"process {os.getpid()}")


def test_report_on_an_empty_file_leaves_it_empty(here, capsys):
    (here / "empty.sqlite").write_bytes(b"")
    status, _, err = run(["report", "empty.sqlite"], capsys)
    assert status == 2
    one_line(err, "empty.sqlite is an empty file, not a result store")
    assert (here / "empty.sqlite").read_bytes() == b""


def test_predict_prints_file_names_escaped(here, capsys):
    folder = save_run(here / "run")
    image = digit(here / "a\nb\x1b[31m.png")
    status, out, _ = run(["predict", folder, image], capsys)
    assert status == 0
    assert "\x1b" not in out and out.count("\n") == 1
    assert "a\\nb\\x1b[31m.png" in out
