"""What a run folder's config.json says: only the fields of its model (issue 22 §5), where
its weights came from (`train --init-from`), and older files that still resume."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tinygrad_mnist.app.cli import main
from tinygrad_mnist.app.run_folder import RUN_FILES, load_run_model

pytestmark = pytest.mark.slow  # each trains a run or two: seconds apiece

QUICK = ["--dataset", "synthetic", "--hidden", "16"]
CNN_ONLY = {"channels", "kernel_size", "batch_norm"}


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    return tmp_path


def config_of(folder) -> dict:
    return json.loads((folder / "config.json").read_text())


def test_an_mlp_run_and_its_kfold_summary_hold_no_cnn_fields(here):
    assert main(["train", *QUICK, "--epochs", "1", "--out", "run"]) == 0
    config = config_of(here / "run")
    assert CNN_ONLY.isdisjoint(config) and config["hidden_sizes"] == [16]
    assert "kernel_size" not in (here / "run" / "report.md").read_text()
    assert main(["kfold", *QUICK, "--epochs", "1", "--k", "2", "--out", "kfold.json"]) == 0
    assert CNN_ONLY.isdisjoint(json.loads((here / "kfold.json").read_text())["config"])


def test_a_run_whose_older_config_holds_the_cnn_fields_still_resumes(here):
    assert main(["train", *QUICK, "--epochs", "1", "--out", "run"]) == 0
    older = {**config_of(here / "run"), "channels": [16, 32], "kernel_size": 5,
             "batch_norm": False}
    del older["init_from"]  # older versions did not record it
    (here / "run" / "config.json").write_text(json.dumps(older, indent=1))
    assert main(["train", "--resume", "run", "--epochs", "2"]) == 0
    assert len(json.loads((here / "run" / "history.json").read_text())["train_loss"]) == 2
    config = config_of(here / "run")  # written again for the new budget, as this version does
    assert CNN_ONLY.isdisjoint(config) and config["epochs"] == 2
    load_run_model(here / "run")


def test_init_from_is_recorded_and_such_a_run_resumes_from_its_source_weights(here, capsys):
    assert main(["train", *QUICK, "--epochs", "2", "--out", "first"]) == 0
    first, _ = load_run_model(here / "first")
    # A rate so small that the weights barely move: the run ends where it started.
    assert main(["train", *QUICK, "--epochs", "1", "--lr", "1e-9", "--init-from", "first",
                 "--out", "warm"]) == 0
    assert config_of(here / "warm")["init_from"] == str(here / "first")
    assert str(here / "first") in (here / "warm" / "report.md").read_text()
    assert main(["train", "--resume", "warm", "--epochs", "2"]) == 0  # a finished run, extended
    assert config_of(here / "warm")["init_from"] == str(here / "first")
    # Killed before its first epoch ended (only config.json and data.json written): resumed,
    # it starts again from the weights it recorded, not from random ones.
    for name in RUN_FILES:
        if name not in ("config.json", "data.json") and (here / "warm" / name).exists():
            os.remove(here / "warm" / name)
    config = config_of(here / "warm")
    (here / "warm" / "config.json").write_text(json.dumps({**config, "epochs": 1}))
    assert main(["train", "--resume", "warm"]) == 0
    warm, _ = load_run_model(here / "warm")
    for name, value in first.state_dict().items():
        np.testing.assert_allclose(warm.state_dict()[name], value, atol=1e-6)
    capsys.readouterr()
    assert main(["train", "--resume", "warm", "--init-from", "first", "--epochs", "3"]) == 2
    assert "--init-from cannot change it" in capsys.readouterr().err
