"""The `tinygrad-mnist` command, run as users run it: in a subprocess.

Every subcommand runs here on small data that needs no download: the built-in
`synthetic` data set, an `.npz` file, or generated IDX files that stand in for MNIST
(with the checksums swapped in the child process only). The cache is a temporary
folder, so the real one is never touched.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from support.command import assert_one_line_error, is_png, run

from tinygrad_mnist.data import write_idx
from tinygrad_mnist.data.by_name import save_npz_dataset, synthetic_digits
from tinygrad_mnist.data.idx import encode_idx
from tinygrad_mnist.experiments import ResultStore

pytestmark = pytest.mark.slow

FIGURES = ("learning_curves.png", "predictions.png", "confusion_matrix.png",
           "true_vs_predicted.png")
# Small and quick: a 32-unit network for a few epochs on the synthetic digits.
QUICK = ("--dataset", "synthetic", "--hidden", "32", "--epochs", "2")

# Runs the command with MNIST's checksums replaced by those of generated files, and every
# network source removed, so the real `mnist` code path runs offline on tiny data.
FAKE_MNIST_LAUNCHER = """
import dataclasses, json, os, sys
from tinygrad_mnist import data
from tinygrad_mnist.data import mnist
fake = dataclasses.replace(mnist.MNIST, checksums=json.loads(os.environ["FAKE_MNIST_SHA256"]),
                           mirrors=(), package_index=False)
data.MNIST = mnist.MNIST = fake
from tinygrad_mnist.app.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory, env):
    """One quick `train` run shared by the tests that read its folder."""
    cwd = tmp_path_factory.mktemp("train")
    result = run(["train", *QUICK, "--seed", "3", "--out", "run"], cwd, env)
    return cwd / "run", result


# ------------------------------------------------------------------------ help
def test_help_lists_every_subcommand_and_each_option_is_explained(tmp_path, env):
    result = run(["--help"], tmp_path, env)
    assert result.returncode == 0
    for command in ("train", "predict", "evaluate", "export", "search", "kfold", "report",
                    "show", "fetch"):
        assert command in result.stdout
    from tinygrad_mnist.app.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for name, subparser in subparsers.items():
        for action in subparser._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
    train_help = run(["train", "--help"], tmp_path, env).stdout
    for option in ("--hidden", "--activation", "--optimizer", "--lr", "--batch-size",
                   "--epochs", "--patience", "--seed", "--out", "--dataset", "--data-root",
                   "--validation", "--clip-grad-norm", "--resume", "--schedule"):
        assert option in train_help


def test_console_script_is_installed(tmp_path, env):
    script = Path(sys.executable).with_name("tinygrad-mnist")
    result = subprocess.run([str(script), "fetch", "--help"], capture_output=True, text=True,
                            env=env, timeout=60)
    assert result.returncode == 0 and "--offline" in result.stdout


# ----------------------------------------------------------------------- train
def test_train_writes_a_complete_run_folder(trained):
    folder, result = trained
    assert result.returncode == 0, result.stderr
    assert "test accuracy: " in result.stdout and f"run folder: {Path('run')}" in result.stdout
    for name in FIGURES:
        assert is_png(folder / name), name
    config = json.loads((folder / "config.json").read_text())
    assert config["hidden_sizes"] == [32] and config["seed"] == 3
    history = json.loads((folder / "history.json").read_text())
    assert len(history["train_loss"]) == 2 and history["stopped_reason"] == "completed"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["test_images"] == 500
    assert np.array(metrics["confusion_matrix"]).sum() == 500
    printed = float(result.stdout.split("test accuracy: ")[1].split("%")[0]) / 100
    assert printed == pytest.approx(metrics["test_accuracy"], abs=5e-5)
    report = (folder / "report.md").read_text()
    for name in FIGURES:
        assert f"]({name})" in report
    assert f"**Test accuracy: {metrics['test_accuracy']:.2%}**" in report
    assert "## Confusion matrix" in report and "| class | test images | accuracy |" in report
    with np.load(folder / "model.npz") as weights:
        assert weights["0.weight"].shape == (784, 32)


def test_train_logs_one_line_per_epoch_when_not_on_a_terminal(trained):
    _, result = trained
    epoch_lines = [line for line in result.stderr.splitlines() if " epoch " in f" {line}"]
    assert [line.split(":")[0] for line in epoch_lines] == ["epoch 1/2", "epoch 2/2"]


def test_train_on_an_npz_data_set_with_early_stopping(tmp_path, env):
    dataset = synthetic_digits(n_train=300, n_test=100, num_classes=3, seed=1)
    save_npz_dataset(tmp_path / "mine.npz", dataset)
    result = run(["train", "--dataset", "mine.npz", "--hidden", "16", "--epochs", "40",
                  "--batch-size", "full", "--optimizer", "adam", "--lr", "0.05",
                  "--patience", "0", "--out", "r"], tmp_path, env)
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert metrics["test_images"] == 100 and len(metrics["per_class_accuracy"]) == 3
    assert "100 mine.npz test images" in result.stdout
    # The validation split (half of 300 images here: 5000 is more than half), whose loss
    # decides when to stop.
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["validation"] == 5000 and config["batch_size"] is None
    assert "on 150 mine.npz images (150 held out for validation)" in result.stderr
    history = json.loads((tmp_path / "r" / "history.json").read_text())
    assert all(value is not None for value in history["val_loss"])
    assert history["stopped_reason"] == "early-stopped" and len(history["val_loss"]) < 40


def fake_mnist(directory: Path) -> dict[str, str]:
    """Tiny MNIST-shaped IDX files in `directory`; returns their SHA-256 sums."""
    dataset = synthetic_digits(n_train=200, n_test=50, seed=2)
    arrays = {"train-images-idx3-ubyte": dataset.train_images,
              "train-labels-idx1-ubyte": dataset.train_labels.astype(np.uint8),
              "t10k-images-idx3-ubyte": dataset.test_images,
              "t10k-labels-idx1-ubyte": dataset.test_labels.astype(np.uint8)}
    directory.mkdir()
    for name, array in arrays.items():
        write_idx(directory / f"{name}.gz", array)
    return {name: hashlib.sha256(encode_idx(array)).hexdigest() for name, array in arrays.items()}


def test_fetch_then_train_on_mnist_from_a_local_folder(tmp_path, env):
    checksums = fake_mnist(tmp_path / "idx")
    extra = {"FAKE_MNIST_SHA256": json.dumps(checksums),
             "TINYGRAD_MNIST_HOME": str(tmp_path / "home")}
    fetched = run(["fetch", "--data-root", "idx", "--offline"], tmp_path, env,
                  launcher=FAKE_MNIST_LAUNCHER, extra_env=extra)
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stdout.strip() == str(tmp_path / "home")
    assert sorted(p.name for p in (tmp_path / "home").glob("*-ubyte")) == sorted(checksums)
    # The default data set is MNIST, now read from the cache that fetch filled.
    trained = run(["train", "--hidden", "8", "--epochs", "1", "--out", "r"], tmp_path, env,
                  launcher=FAKE_MNIST_LAUNCHER, extra_env=extra)
    assert trained.returncode == 0, trained.stderr
    assert "on 50 MNIST test images" in trained.stdout


def _interrupt_after(args, cwd, env, marker: str, timeout: float = 60):
    """Start the command, send Ctrl-C (SIGINT) once `marker` appears on stderr, wait."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tinygrad_mnist", *args], cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        # A child of a shell that ignores SIGINT would inherit that; give it Python's handler.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    deadline = time.monotonic() + timeout
    for line in process.stderr:
        seen.append(line)
        if marker in line:
            process.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline, "".join(seen)
    stdout, rest = process.communicate(timeout=timeout)
    return process.returncode, stdout, "".join(seen) + rest


def test_ctrl_c_during_train_keeps_the_run_folder(tmp_path, env):
    code, stdout, stderr = _interrupt_after(
        ["train", "--dataset", "synthetic", "--hidden", "64", "--epochs", "500", "--out", "r"],
        tmp_path, env, marker="epoch 2/500")
    assert code == 130, stderr
    last = stderr.splitlines()[-1]
    assert last.startswith("tinygrad-mnist: interrupted after ") and "kept the run folder" in last
    assert "Traceback" not in stderr
    history = json.loads((tmp_path / "r" / "history.json").read_text())
    assert history["stopped_reason"] == "interrupted"
    assert 2 <= len(history["train_loss"]) < 500
    assert (tmp_path / "r" / "model.npz").is_file() and (tmp_path / "r" / "report.md").is_file()
    assert "interrupted" in (tmp_path / "r" / "report.md").read_text()


# ------------------------------------------------------------------------ show
def test_show_draws_predictions_of_a_saved_model(trained, env):
    folder, _ = trained
    result = run(["show", folder / "model.npz", "--n", "9", "--out", folder / "nine.png"],
                 folder.parent, env)
    assert result.returncode == 0, result.stderr
    assert is_png(folder / "nine.png")
    metrics = json.loads((folder / "metrics.json").read_text())
    assert f"test accuracy: {metrics['test_accuracy']:.2%}" in result.stdout
    mistakes = run(["show", folder / "model.npz", "--mistakes", "--n", "4"], folder.parent, env)
    if metrics["test_accuracy"] < 1:
        assert mistakes.returncode == 0, mistakes.stderr
        assert is_png(next(folder.glob("mistakes-*.png")))
    else:
        assert_one_line_error(mistakes, "every test image right")


def test_show_without_config_json_is_one_line(tmp_path, trained, env):
    folder, _ = trained
    (tmp_path / "model.npz").write_bytes((folder / "model.npz").read_bytes())
    assert_one_line_error(run(["show", "model.npz"], tmp_path, env), "config.json")


# ----------------------------------------------------------------------- kfold
def test_kfold_prints_each_fold_and_writes_json(tmp_path, env):
    result = run(["kfold", *QUICK, "--epochs", "1", "--k", "3", "--out", "kfold.json"],
                 tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("| ok |") == 3 and "mean validation accuracy" in result.stdout
    summary = json.loads((tmp_path / "kfold.json").read_text())
    assert len(summary["folds"]) == 3 and summary["k"] == 3
    mean = np.mean([fold["val_accuracy"] for fold in summary["folds"]])
    assert summary["mean"]["val_accuracy"] == pytest.approx(mean)


def test_kfold_with_k_above_the_smallest_class_is_one_line(tmp_path, env):
    assert_one_line_error(run(["kfold", *QUICK, "--k", "1000"], tmp_path, env), "--k: 1000")


# ---------------------------------------------------------- search and report
GRID = """
name = "tiny grid"
dataset = "synthetic"
k = 2
top_n = 1

[grid]
hidden_sizes = [[8], [16]]
activation = ["tanh", "relu"]
learning_rate = [0.1, 0.5]

[config]
batch_size = 100
epochs = 1
"""


def test_search_writes_exports_and_resumes_from_its_store(tmp_path, env):
    (tmp_path / "grid.toml").write_text(GRID)
    first = run(["search", "grid.toml", "--out", "out", "--jobs", "1"], tmp_path, env)
    assert first.returncode == 0, first.stderr
    for name in ("results.sqlite", "results.json", "results.csv", "report.md"):
        assert (tmp_path / "out" / name).is_file(), name
    assert is_png(tmp_path / "out" / "heatmap.png")
    assert "test accuracy" in first.stdout and "best: hidden " in first.stdout
    with ResultStore(tmp_path / "out" / "results.sqlite") as store:
        assert len(store) == 8 + 2  # every configuration once, then 2 folds of the best
        stored = store.trial_ids()
    again = run(["search", "grid.toml", "--out", "out", "--jobs", "1"], tmp_path, env)
    assert again.returncode == 0, again.stderr
    assert "holdout: 8 trials, 8 already stored" in again.stderr
    with ResultStore(tmp_path / "out" / "results.sqlite") as store:
        assert store.trial_ids() == stored

    report = run(["report", "out/results.sqlite", "--out", "exported"], tmp_path, env)
    assert report.returncode == 0, report.stderr
    assert "Holdout screening" in report.stdout and "Validation accuracy per" in report.stdout
    rows = json.loads((tmp_path / "exported" / "results.json").read_text())
    assert len(rows) == 10
    assert (tmp_path / "exported" / "results.csv").read_text().count("\n") == 11
    assert is_png(tmp_path / "exported" / "heatmap.png")


def test_ctrl_c_during_search_keeps_the_store_and_the_search_resumes(tmp_path, env):
    grid = GRID.replace("epochs = 1", "epochs = 40").replace("[8], [16]", "[64], [128]")
    (tmp_path / "grid.toml").write_text(grid)
    args = ["search", "grid.toml", "--out", "out", "--jobs", "1"]
    code, _, stderr = _interrupt_after(args, tmp_path, env, marker="trial ")
    assert code == 130, stderr
    assert "Traceback" not in stderr
    last = stderr.splitlines()[-1]
    assert last.startswith("tinygrad-mnist: interrupted; ") and "run the same command" in last
    with ResultStore(tmp_path / "out" / "results.sqlite") as store:
        kept = len(store)
        assert store.integrity_check() == "ok"
    assert 1 <= kept < 10
    assert f"{kept} finished trial(s) kept" in last


def test_report_of_a_file_that_is_not_a_store_is_one_line(tmp_path, env):
    (tmp_path / "notes.sqlite").write_text("not a database at all, just text " * 40)
    assert_one_line_error(run(["report", "notes.sqlite"], tmp_path, env), "notes.sqlite")


def test_search_with_an_unknown_config_key_is_one_line(tmp_path, env):
    (tmp_path / "bad.toml").write_text(GRID.replace("epochs = 1", "epoch = 1"))
    assert_one_line_error(run(["search", "bad.toml"], tmp_path, env), "bad.toml", "epoch")


# --------------------------------------------------------------- other errors
@pytest.mark.parametrize("args, fragment", [
    (["train", "--lr", "-1"], "--lr"),
    (["train", "--hidden", "abc"], "--hidden"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["fetch", "--data-root", "nowhere"], "nowhere"),
    (["train", "--dataset", "missing.npz"], "missing.npz"),
])
def test_bad_values_and_missing_files_are_one_line(tmp_path, env, args, fragment):
    assert_one_line_error(run(args, tmp_path, env), fragment)


def test_a_failed_fetch_is_one_error_with_a_line_per_source_tried(tmp_path, env):
    # The one exception to one line: what was tried, each once on its own line (issue 22).
    result = run(["fetch", "--offline", "--data-root", "."], tmp_path, env)
    lines = result.stderr.splitlines()
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert lines[0].startswith("tinygrad-mnist: error: could not get")
    tried = [line for line in lines if line.startswith("  - ")]
    assert tried and len(tried) == len(set(tried))
