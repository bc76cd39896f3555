"""After training, round 2: metrics.csv, continuing and warm-starting runs, compare,
evaluate's metrics, predict's warnings and --show, -q on a terminal."""

from __future__ import annotations

import csv
import json
import os
import re
import sys

import numpy as np
import pytest
from PIL import Image
from support.terminal import on_terminal

from tinygrad_mnist.app.cli import main
from tinygrad_mnist.app.run_folder import load_run_model

pytestmark = pytest.mark.slow  # each trains and writes run folders: seconds apiece

QUICK = ["--dataset", "synthetic", "--hidden", "16"]


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    return tmp_path


def train(*args) -> int:
    return main(["train", *QUICK, *args])


def csv_rows(folder):
    with open(folder / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_train_writes_metrics_csv_and_resume_extends_a_finished_run(here, capsys):
    assert train("--epochs", "2", "--out", "run") == 0
    assert [row["epoch"] for row in csv_rows(here / "run")] == ["1", "2"]
    assert main(["train", "--resume", "run", "--epochs", "4"]) == 0
    history = json.loads((here / "run" / "history.json").read_text())
    assert len(history["train_loss"]) == 4
    rows = csv_rows(here / "run")
    assert [row["epoch"] for row in rows] == ["1", "2", "3", "4"]
    assert [float(row["train_loss"]) for row in rows] == pytest.approx(history["train_loss"])
    assert json.loads((here / "run" / "config.json").read_text())["epochs"] == 4
    # The schedule is stretched to the new budget: epoch 3 runs at the rate a 4-epoch cosine
    # gives it (half the base rate), not at the 2-epoch schedule's end (0).
    assert float(rows[2]["lr"]) == pytest.approx(0.05)
    capsys.readouterr()
    assert main(["train", "--resume", "run", "--epochs", "3"]) == 2
    assert "can only extend it" in capsys.readouterr().err
    assert main(["train", "--resume", "run", "--lr", "0.5"]) == 2  # other options: refused


def test_init_from_starts_from_a_trained_models_weights(here, capsys):
    assert train("--epochs", "2", "--out", "first") == 0
    first, _ = load_run_model(here / "first")
    # A learning rate so small that the weights barely move: the run ends where it started.
    assert train("--epochs", "1", "--lr", "1e-9", "--init-from", "first", "--out", "warm") == 0
    warm, _ = load_run_model(here / "warm")
    for name, value in first.state_dict().items():
        np.testing.assert_allclose(warm.state_dict()[name], value, atol=1e-6)
    capsys.readouterr()
    assert main(["train", "--dataset", "synthetic", "--hidden", "8", "--epochs", "1",
                 "--init-from", "first", "--out", "other"]) == 2
    assert "another architecture" in capsys.readouterr().err


def test_compare_prints_what_differs_and_draws_the_curves(here, capsys):
    assert train("--epochs", "2", "--out", "a") == 0
    assert train("--epochs", "3", "--lr", "0.05", "--out", "b") == 0
    capsys.readouterr()
    assert main(["compare", "a", "b", "--out", "both.png"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:3] == ["run", "learning_rate", "epochs"] and "test" in header
    assert "hidden_sizes" not in out
    assert (here / "both.png").read_bytes()[:4] == b"\x89PNG"
    (here / "notes.png").write_text("mine")
    assert main(["compare", "a", "b", "--out", "notes.png"]) == 2  # never overwritten
    assert (here / "notes.png").read_text() == "mine"


def test_evaluate_reports_precision_recall_f1_and_top_k(here, capsys):
    assert train("--epochs", "2", "--out", "run") == 0
    capsys.readouterr()
    assert main(["evaluate", "run", "--out", "scores"]) == 0
    out = capsys.readouterr().out
    assert "top-2" in out and "| class | test images | accuracy | precision | recall | F1 |" in out
    assert "| macro average |" in out
    figures = json.loads((here / "scores" / "evaluation-synthetic.json").read_text())
    assert len(figures["per_class_f1"]) == 10 and 0 < figures["macro_f1"] <= 1
    assert figures["top_k_accuracy"]["5"] >= figures["top_k_accuracy"]["2"] >= \
        figures["test_accuracy"]
    (here / "notes.txt").write_text("mine")  # --out names a folder: a file is refused
    assert main(["evaluate", "run", "--out", "notes.txt"]) == 2
    assert "argument --out: 'notes.txt' exists and is not a folder" in capsys.readouterr().err
    assert (here / "notes.txt").read_text() == "mine"


def test_predict_warns_of_doubtful_framing_and_shows_what_the_model_saw(here, capsys):
    assert train("--epochs", "1", "--out", "run") == 0
    two = np.zeros((60, 120), np.uint8)
    two[10:50, 20:30] = 255
    two[10:50, 80:95] = 255
    Image.fromarray(two).save(here / "two.png")
    one = np.zeros((60, 60), np.uint8)
    one[10:50, 25:33] = 255
    Image.fromarray(one).save(here / "one.png")
    capsys.readouterr()
    assert main(["predict", "run", "two.png", "one.png", "--json", "--show", "seen"]) == 0
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document[0]["warnings"] and "separate marks" in document[0]["warnings"][0]
    assert document[1]["warnings"] == []
    assert "tinygrad-mnist: warning: two.png: 2 separate marks" in captured.err
    for name in ("two.png", "one.png"):
        assert (here / "seen" / name).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("quiet_at", [3, 4])  # `-q train ...` and `train -q ...` alike
def test_quiet_is_quiet_on_a_terminal(tmp_path, quiet_at):
    environment = {**os.environ, "TINYGRAD_MNIST_HOME": str(tmp_path / "cache"),
                   "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    loud_command = [sys.executable, "-m", "tinygrad_mnist", "train", *QUICK, "--epochs", "2",
                    "--out"]
    command = loud_command[:quiet_at] + ["-q"] + loud_command[quiet_at:] + [str(tmp_path / "run")]
    output, _ = on_terminal(command, environment)
    assert "test accuracy" in output  # the result, as ever
    assert "epoch" not in output.replace("after 2 epochs", "")  # no bar, no epoch lines
    loud, _ = on_terminal(loud_command + [str(tmp_path / "loud")], environment)
    assert "epoch 2/2" in loud  # without -q the terminal shows the progress
    assert "%|" in loud  # and the per-batch bar, though this bare terminal reports no size


def test_a_run_whose_loss_explodes_but_stays_finite_says_it_did_not_learn(here, capsys):
    assert train("--epochs", "2", "--lr", "30", "--out", "boom") == 3
    err = capsys.readouterr().err
    assert "the model did not learn" in err and "try a smaller --lr" in err
    assert (here / "boom" / "model.npz").is_file()  # the run folder is still written


def test_kfold_names_each_fold_with_its_configuration_and_the_time_left(here, capsys):
    assert main(["kfold", *QUICK, "--k", "3", "--epochs", "1"]) == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("fold ") and "[16]" in line]
    assert len(lines) == 3
    assert re.fullmatch(r"fold 1/3 \[16\] relu lr 0\.1: validation \d+\.\d\d% \(\d+\.\d s\), "
                        r"about \d+ s left", lines[0]), lines[0]
    assert "left" not in lines[2]
    assert main(["-q", "kfold", *QUICK, "--k", "2", "--epochs", "1"]) == 0
    assert "fold 1/2" not in capsys.readouterr().err  # -q: no progress at all
