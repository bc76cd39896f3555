"""Experiment files (TOML): the example reproduces the seed's grid; mistakes name their key."""

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist.experiments import expand_grid, grid_search, load_experiment

EXAMPLE = (Path(__file__).resolve().parents[2] / "tinygrad_mnist" / "experiments" / "shipped"
           / "seed-grid.toml")


def write(tmp_path, text) -> Path:
    path = tmp_path / "experiment.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_example_describes_the_seeds_grid():
    experiment = load_experiment(EXAMPLE)
    configs = expand_grid(experiment.space)
    assert len(configs) == 2 * 3 * 3
    assert sorted({tuple(c["hidden_sizes"]) for c in configs}) == [(100,), (128, 64)]
    assert {c["activation"] for c in configs} == {"sigmoid", "tanh", "relu"}
    assert {c["learning_rate"] for c in configs} == {0.1, 0.5, 1.0}
    assert all(c["batch_size"] is None and c["optimizer"] == "sgd" for c in configs)
    assert experiment.train_fraction == 0.8 and experiment.k == 5 and experiment.top_n == 3
    assert experiment.outputs == {}  # the command line's default: runs/seed_grid-<data set>


def test_an_experiment_file_drives_a_search_and_writes_its_outputs(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # output paths are relative to the experiment file
    path = write(tmp_path, """
        name = "tiny"
        seed = 3
        train_fraction = 0.75
        k = 2
        top_n = 1

        [grid]
        learning_rate = [0.1, 0.5]
        hidden_sizes = [4, [8, 4]]

        [config]
        epochs = 2
        batch_size = 16

        [outputs]
        store = "out/results.sqlite"
        json = "out/results.json"
        csv = "out/results.csv"
        markdown = "out/report.md"
    """)
    experiment = load_experiment(path)
    assert experiment.name == "tiny" and experiment.jobs == 1
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    x = (y[:, None] + rng.normal(size=(80, 3))).astype(np.float32)
    result = grid_search(data=(x, y), **experiment.search_arguments())
    assert len(result.ranking) == 4 and len(result.kfold[0]["folds"]) == 2
    assert {r["split"] for r in result.ranking} == {"holdout 0.75"}
    written = experiment.write_outputs(result)
    assert [p.name for p in written] == ["results.json", "results.csv", "report.md"]
    assert len(json.loads((tmp_path / "out/results.json").read_text())) == 4 + 2
    report = (tmp_path / "out/report.md").read_text()
    assert report.startswith(f"<!-- tinygrad-mnist experiment {result.rows[0]['experiment']} -->"
                             "\n# tiny\n\nExperiment: data ")
    assert experiment.write_outputs(result) == written  # its own exports are replaced
    assert not list(elsewhere.iterdir())
    assert (tmp_path / "out/results.sqlite").exists()


@pytest.mark.parametrize("text, match", [
    ("colour = 1\n[grid]\nepochs = [1]", "unknown key 'colour'"),
    ("[grid]\ncolour = [1]", "unknown config key grid.colour"),
    ("[grid]\nepochs = [1]\n[config]\nlearning_rat = 0.1", "unknown config key config.learn"),
    ("[grid]\nepochs = 1", "grid.epochs must be a non-empty list"),
    ("[grid]\nepochs = []", "grid.epochs must be a non-empty list"),
    ("[config]\nepochs = 2", r"\[grid\] must name at least one"),
    ("[grid]\nepochs = [1]\n[config]\nepochs = 2", "config.epochs is also in"),
    ("[grid]\nlearning_rate = [0.1, -1]", r"grid.learning_rate: config: learning_rate must be"),
    ("[grid]\nepochs = [1]\n[config]\npatience = -1", r"config.patience: config: patience must be"),
    ("train_fraction = 1.5\n[grid]\nepochs = [1]", "'train_fraction' must lie strictly"),
    ("k = 1\n[grid]\nepochs = [1]", "'k' must be >= 2"),
    ("top_n = -1\n[grid]\nepochs = [1]", "'top_n' must be >= 0"),
    ("jobs = 0\n[grid]\nepochs = [1]", "'jobs' must be >= 1"),
    ("seed = 'zero'\n[grid]\nepochs = [1]", "'seed' must be an integer"),
    ("grid = 3", "'grid' must be a table"),
    ("[grid]\nepochs = [1]\n[outputs]\nhtml = 'x.html'", "unknown key outputs.html"),
    ("[grid]\nepochs = [1]\n[outputs]\nstore = 3", "outputs.store must be a path"),
    ("[grid\nepochs = [1]", "not valid TOML"),
])
def test_mistakes_are_value_errors_naming_the_file_and_key(tmp_path, text, match):
    path = write(tmp_path, text)
    with pytest.raises(ValueError, match=match) as raised:
        load_experiment(path)
    assert str(path) in str(raised.value)


def test_a_minimal_experiment_trains_like_the_train_command(tmp_path):
    from tinygrad_mnist.train import canonical_config
    from tinygrad_mnist.train.config import RunConfig

    experiment = load_experiment(write(tmp_path, """
        [grid]
        learning_rate = [0.1]
    """))
    (config,) = expand_grid(experiment.space)
    assert canonical_config(config) == canonical_config(RunConfig().trial_config())
    assert config["optimizer"] == "nesterov" and config["batch_size"] == 128


def test_a_preset_fills_what_the_file_leaves_out_and_the_file_wins(tmp_path):
    from tinygrad_mnist.train import PRESETS

    experiment = load_experiment(write(tmp_path, """
        preset = "seed"
        [grid]
        hidden_sizes = [[64]]
        [config]
        epochs = 3
    """))
    (config,) = expand_grid(experiment.space)
    assert config["hidden_sizes"] == [64] and config["epochs"] == 3  # the file's own values
    assert config["optimizer"] == PRESETS["seed"]["optimizer"] == "sgd"
    assert config["batch_size"] is None and config["schedule"] == "none"
    with pytest.raises(ValueError, match="'preset' must be one of seed, cnn, got 'fast'"):
        load_experiment(write(tmp_path, 'preset = "fast"\n[grid]\nepochs = [1]\n'))


def test_a_shipped_experiment_loads_by_name_as_the_cli_takes_it():
    from tinygrad_mnist.experiments import experiment_path, load_experiment, shipped_experiments

    assert "seed-grid" in shipped_experiments()
    experiment = load_experiment("seed-grid")
    assert experiment.path == experiment_path("seed-grid") and experiment.path.is_file()
    with pytest.raises(ValueError, match="no experiment of that name ships.*seed-grid"):
        load_experiment("no-such-grid")
