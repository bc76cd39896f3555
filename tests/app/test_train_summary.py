"""`train` opens with the model's summary (issue 22): per layer the output shape and the
parameter count, and the total, as Keras users expect; `-q` shows none of it."""

from __future__ import annotations

import pytest

from tinygrad_mnist.app.cli import main

pytestmark = pytest.mark.slow  # each trains and writes a run folder: seconds apiece


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_train_logs_the_summary_before_the_first_epoch(here, capsys):
    assert main(["train", "--dataset", "synthetic", "--hidden", "16", "--epochs", "1",
                 "--out", "run"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("training 784 -> 16 -> 10 on ")
    assert lines[1] == "Model: MLP"
    table = lines[:lines.index("Non-trainable parameters: 0") + 1]
    assert any("(Dense+ReLU)" in line and "(None, 16)" in line and line.endswith(" 12,560")
               for line in table), table
    assert any("(None, 10)" in line and line.endswith(" 170") for line in table), table
    assert "Total parameters: 12,730" in table  # 784*16 + 16 + 16*10 + 10
    assert lines[len(table)].startswith("epoch 1/1: ")  # the epochs come after it


def test_the_summary_of_a_cnn_has_its_image_shapes(here, capsys):
    assert main(["train", "--dataset", "synthetic", "--model", "cnn", "--channels", "4",
                 "--hidden", "8", "--epochs", "1", "--out", "run"]) == 0
    err = capsys.readouterr().err
    assert "Model: CNN" in err
    assert "(None, 4, 28, 28)" in err and "(None, 4, 14, 14)" in err and "(None, 784)" in err


def test_quiet_shows_no_summary(here, capsys):
    assert main(["-q", "train", "--dataset", "synthetic", "--hidden", "16", "--epochs", "1",
                 "--out", "run"]) == 0
    captured = capsys.readouterr()
    assert "test accuracy" in captured.out  # the result, as ever
    assert "Model:" not in captured.err + captured.out
    assert "parameters" not in captured.err + captured.out
