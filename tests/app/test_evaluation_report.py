"""One writer of a model's evaluation on a test set (app/evaluation_report.py): `train`'s
run folder and `evaluate` write the same scores, the same figures and the same report
sections, under their own file names (issue 18: no second run-report writer)."""

from __future__ import annotations

import json

import pytest

from tinygrad_mnist.app.cli import main

pytestmark = pytest.mark.slow  # trains a run and draws its figures: seconds

FIGURES = ("mistakes", "predictions", "confusion_matrix", "true_vs_predicted")


def sections(report: str) -> list[str]:
    return [line for line in report.splitlines() if line.startswith("## ")]


def test_evaluate_writes_what_the_run_folder_holds_of_its_test_set(tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    assert main(["train", "--dataset", "synthetic", "--hidden", "8", "--epochs", "1",
                 "--out", "run"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "run", "--out", "scores"]) == 0
    out = capsys.readouterr().out
    run, scores = tmp_path / "run", tmp_path / "scores"
    for name in FIGURES:
        assert (run / f"{name}.png").is_file() and (scores / f"{name}-synthetic.png").is_file()
    metrics = json.loads((run / "metrics.json").read_text())
    evaluated = json.loads((scores / "evaluation-synthetic.json").read_text())
    assert metrics.keys() == evaluated.keys()
    loss = metrics.pop("loss")  # the same model on the same images, in other batches
    assert loss == pytest.approx(evaluated.pop("loss"), rel=1e-5)
    assert metrics == evaluated and metrics["top_k_accuracy"].keys() == {"2", "3", "5"}
    # The report's sections of the test set are the run's, and so is the per-class table.
    report = (scores / "evaluation-synthetic.md").read_text()
    run_report = (run / "report.md").read_text()
    assert sections(report) == [s for s in sections(run_report)
                                if s not in ("## Configuration", "## Learning curves",
                                             "## Files")]
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert table[0] == "| class | test images | accuracy | precision | recall | F1 |"
    assert all(line in run_report and line in report for line in table)
    assert "](mistakes-synthetic.png)" in report and "](mistakes.png)" in run_report
