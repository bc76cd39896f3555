"""Comparing run folders: the table of what differs, and the overlaid curves."""

import json

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from tinygrad_mnist.app.compare import comparison_table, differing_fields, read_runs
from tinygrad_mnist.train.history import History
from tinygrad_mnist.viz import plot_runs_compared


def write_run(folder, config, accuracies, test=0.9):
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    history = History(train_loss=[1.0 / (i + 1) for i in range(len(accuracies))],
                      train_accuracy=list(accuracies), val_loss=[1.0] * len(accuracies),
                      val_accuracy=list(accuracies), seconds=[1.0] * len(accuracies),
                      lr=[0.1] * len(accuracies))
    (folder / "history.json").write_text(json.dumps(history.to_dict()))
    (folder / "metrics.json").write_text(json.dumps({"test_accuracy": test}))
    return folder


def test_the_table_shows_only_what_differs_with_validation_and_test(tmp_path):
    base = {"model": "mlp", "hidden_sizes": [256, 128], "activation": "relu", "epochs": 2}
    a = write_run(tmp_path / "relu", base, [0.8, 0.9], test=0.91)
    b = write_run(tmp_path / "tanh", {**base, "activation": "tanh", "epochs": 3},
                  [0.7, 0.8, 0.85], test=0.8675)
    runs = read_runs([a, b])
    table = comparison_table(runs)
    header, rule, first, second = table.splitlines()
    assert header.split() == ["run", "activation", "epochs", "epochs", "run", "best", "validation",
                              "test"]
    assert first.split() == ["relu", "relu", "2", "2", "90.00%", "91.00%"]
    assert second.split() == ["tanh", "tanh", "3", "3", "85.00%", "86.75%"]
    assert "hidden_sizes" not in table and "model" not in table
    assert differing_fields([base, {**base, "seed": 1}]) == ["seed"]


def test_the_figure_overlays_every_run(tmp_path):
    a = write_run(tmp_path / "a", {"lr": 0.1}, [0.5, 0.6, 0.7])
    b = write_run(tmp_path / "b", {"lr": 0.5}, [0.4, 0.8])
    runs = read_runs([a, b])
    figure = plot_runs_compared({run.name: run.history for run in runs},
                                path=tmp_path / "compare.png")
    assert isinstance(figure, Figure) and (tmp_path / "compare.png").stat().st_size > 0
    loss, accuracy = figure.axes
    assert len(accuracy.get_lines()) == 4  # validation and training for each run
    np.testing.assert_allclose(accuracy.get_lines()[2].get_ydata(), [0.4, 0.8])


def test_folders_that_hold_no_run_are_named(tmp_path):
    a = write_run(tmp_path / "a", {"lr": 0.1}, [0.5])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="'.*empty' has no config.json"):
        read_runs([a, tmp_path / "empty"])
    with pytest.raises(ValueError, match="at least two"):
        read_runs([a])
    with pytest.raises(ValueError, match="not a folder"):
        read_runs([a, tmp_path / "missing"])


def test_an_older_config_json_differs_only_in_what_differs(tmp_path):
    from tinygrad_mnist.train.config import RunConfig

    new = RunConfig(seed=1).to_dict()
    # An MLP's config.json of an older version: the CNN fields, no init_from.
    older = {**RunConfig().to_dict(), "channels": [16, 32], "kernel_size": 5,
             "batch_norm": False}
    del older["init_from"]
    runs = read_runs([write_run(tmp_path / "new", new, [0.8]),
                      write_run(tmp_path / "old", older, [0.7])])
    assert differing_fields([run.config for run in runs]) == ["seed"]


def test_a_run_given_twice_is_refused(tmp_path):
    run = write_run(tmp_path / "a", {"model": "mlp"}, [0.8])
    with pytest.raises(ValueError, match="given twice"):
        read_runs([run, tmp_path / "." / "a"])


def test_the_figure_replaces_only_an_earlier_comparison(tmp_path, monkeypatch, capsys):
    from tinygrad_mnist.app.cli import main

    base = {"model": "mlp", "epochs": 2}
    a = write_run(tmp_path / "a", base, [0.8, 0.9])
    write_run(tmp_path / "b", {**base, "epochs": 3}, [0.7, 0.8, 0.85])
    monkeypatch.chdir(tmp_path)
    # A stranger's PNG, and a run folder's own figure: refused before any work, untouched.
    a_figure = a / "learning_curves.png"
    Image.new("L", (4, 4)).save(a_figure)
    Image.new("L", (4, 4)).save(tmp_path / "photo.png")
    for taken in ("photo.png", str(a_figure)):
        before = (tmp_path / taken).read_bytes()
        assert main(["compare", "a", "b", "--out", taken]) == 2
        assert "argument --out" in capsys.readouterr().err
        assert (tmp_path / taken).read_bytes() == before
    # Its own earlier figure is replaced; a folder gets compare.png.
    assert main(["compare", "a", "b"]) == 0
    assert main(["compare", "a", "b", "--out", "compare.png"]) == 0
    assert main(["compare", "a", "b", "--out", "a"]) == 0
    assert (a / "compare.png").read_bytes()[:4] == b"\x89PNG"
