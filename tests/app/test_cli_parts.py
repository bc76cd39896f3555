"""The pieces behind the command line, in process: option parsing, `RunConfig`, data sets
by name, the run folder, and every error path that must end as one line and status 2."""

from __future__ import annotations

import datetime
import json

import numpy as np
import pytest

from tinygrad_mnist import optim
from tinygrad_mnist.app.cli import build_parser, main
from tinygrad_mnist.app.options import config_from_args
from tinygrad_mnist.app.run_folder import (
    load_run_model,
    new_run_folder,
    prepare_run_folder,
    write_run_folder,
)
from tinygrad_mnist.data import prepare_images
from tinygrad_mnist.data.by_name import (
    load_named_dataset,
    load_npz_dataset,
    save_npz_dataset,
    synthetic_digits,
)
from tinygrad_mnist.train import History
from tinygrad_mnist.train.config import RunConfig
from tinygrad_mnist.train.config import batch_size_from_text as batch_size
from tinygrad_mnist.train.config import sizes_from_text as hidden_sizes


# ------------------------------------------------------------------- options
def test_option_types_parse_what_users_type():
    assert hidden_sizes("512,256") == (512, 256)
    assert hidden_sizes("100") == (100,)
    assert hidden_sizes("none") == ()
    assert batch_size("full") == "full" and batch_size("64") == 64


def test_train_options_become_a_config_with_the_defaults_elsewhere():
    args = build_parser().parse_args(["train", "--hidden", "64", "--patience", "2",
                                      "--clip-grad-norm", "5"])
    config = config_from_args(args)
    assert config == RunConfig(hidden_sizes=(64,), patience=2, clip_grad_norm=5.0)
    assert config.validation == 5000  # a validation split by default
    assert config_from_args(build_parser().parse_args(["train"])) == RunConfig()
    off = config_from_args(build_parser().parse_args(["train", "--validation", "0"]))
    assert off.validation == 0 and off.validation_size(60_000) == 0


def test_the_validation_split_is_5000_images_and_at_most_half_the_training_set():
    config = RunConfig()
    assert config.validation_size(60_000) == 5000
    assert config.validation_size(2000) == 1000
    assert RunConfig(validation=300).validation_size(2000) == 300


# ---------------------------------------------------------------- RunConfig
def test_config_round_trips_through_json():
    config = RunConfig(hidden_sizes=[32, 16], optimizer="adamw", batch_size=None,
                         schedule="step", seed=7, dataset="synthetic")
    again = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.hidden_sizes == (32, 16)


@pytest.mark.parametrize("changes, fragment", [
    ({"learning_rate": -1.0}, "learning_rate"),
    ({"hidden_sizes": ["a"]}, "hidden_sizes"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"schedule": "linear"}, "schedule"),
    ({"patience": 3, "validation": 0}, "validation above 0"),
    ({"validation": -1}, "validation"),
    ({"validation": 0.5}, "validation"),
    ({"clip_grad_norm": 0.0}, "clip_grad_norm"),
    ({"seed": -1}, "seed"),
    ({"epochs": 0}, "epochs"),
])
def test_config_refuses_bad_values_naming_them(changes, fragment):
    with pytest.raises(ValueError, match=fragment):
        RunConfig(**changes)


def test_config_from_dict_refuses_unknown_keys():
    with pytest.raises(ValueError, match="unknown keys \\['epoch'\\]"):
        RunConfig.from_dict({"epoch": 3})


def test_config_builds_the_optimizer_and_schedule_it_names():
    nesterov = RunConfig(hidden_sizes=[8]).build()
    assert isinstance(nesterov.optimizer, optim.SGD) and nesterov.optimizer.nesterov
    assert nesterov.model.sizes == (784, 8, 10)
    adam = RunConfig(hidden_sizes=[8], optimizer="adam", learning_rate=1e-3).build()
    assert isinstance(adam.optimizer, optim.Adam)
    stepped = RunConfig(hidden_sizes=[8], schedule="step", epochs=6).build().trainer
    rates = [stepped.scheduler.step() for _ in range(6)]
    assert rates[1] == pytest.approx(0.05) and rates[3] == pytest.approx(0.025)
    assert RunConfig(hidden_sizes=[8], schedule="none").build().trainer.scheduler is None


# ----------------------------------------------------------------- data sets
def test_synthetic_digits_are_balanced_deterministic_and_mnist_shaped():
    first, second = synthetic_digits(seed=5), synthetic_digits(seed=5)
    assert first.train_images.shape == (2000, 28, 28) and first.train_images.dtype == np.uint8
    assert first.test_images.shape == (500, 28, 28)
    assert np.bincount(first.train_labels).tolist() == [200] * 10
    np.testing.assert_array_equal(first.train_images, second.train_images)
    assert not np.array_equal(first.train_images, synthetic_digits(seed=6).train_images)


def test_npz_data_set_round_trips_with_class_names(tmp_path):
    dataset = synthetic_digits(n_train=30, n_test=10, num_classes=3)
    dataset = type(dataset)(dataset.train_images.reshape(30, 784), dataset.train_labels,
                            dataset.test_images, dataset.test_labels, ("a", "b", "c"), "x")
    loaded = load_named_dataset(save_npz_dataset(tmp_path / "d.npz", dataset))
    assert loaded.train_images.shape == (30, 28, 28)  # flattened rows come back square
    assert loaded.class_names == ("a", "b", "c") and loaded.title == "d.npz"
    np.testing.assert_array_equal(loaded.test_labels, dataset.test_labels)


@pytest.mark.parametrize("arrays, fragment", [
    ({"train_images": np.zeros((2, 28, 28), np.uint8)}, "lacks the arrays"),
    ({"train_images": np.zeros((2, 28, 28)), "train_labels": np.zeros(2, int),
      "test_images": np.zeros((1, 28, 28), np.uint8), "test_labels": np.zeros(1, int)},
     "uint8"),
    ({"train_images": np.zeros((2, 28, 28), np.uint8), "train_labels": np.zeros(3, int),
      "test_images": np.zeros((1, 28, 28), np.uint8), "test_labels": np.zeros(1, int)},
     "one per image"),
])
def test_npz_data_set_problems_name_the_array(tmp_path, arrays, fragment):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=fragment):
        load_npz_dataset(tmp_path / "bad.npz")


def test_unknown_data_set_name_and_misplaced_root_are_refused(tmp_path):
    with pytest.raises(ValueError, match="expected mnist, fashion-mnist, synthetic"):
        load_named_dataset("cifar")
    with pytest.raises(ValueError, match="data_root"):
        load_named_dataset("synthetic", root=tmp_path)


# ---------------------------------------------------------------- run folder
def test_new_run_folders_never_collide(tmp_path):
    now = datetime.datetime(2025, 1, 2, 3, 4, 5)
    first, second = new_run_folder(tmp_path, now), new_run_folder(tmp_path, now)
    assert first.name == "20250102-030405" and second.name == "20250102-030405-2"


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A run folder written from a 2-epoch run on a little synthetic data."""
    folder = tmp_path_factory.mktemp("run")
    data = synthetic_digits(n_train=200, n_test=40)
    config = RunConfig(hidden_sizes=[8], epochs=2, dataset="synthetic")
    built = config.build()
    history = built.trainer.fit((prepare_images(data.train_images), data.train_labels),
                                epochs=2)
    evaluation = built.trainer.evaluate((prepare_images(data.test_images), data.test_labels))
    write_run_folder(folder, model=built.model, config=config, history=history,
                     evaluation=evaluation, images=data.test_images,
                     class_names=data.class_names)
    return folder, built, (evaluation, data.test_images)


@pytest.mark.slow  # trains and writes a whole run folder, figures included
def test_saved_model_comes_back_with_its_config(small_run):
    folder, built, _ = small_run
    model, config = load_run_model(folder / "model.npz")
    assert config.hidden_sizes == (8,) and model.sizes == built.model.sizes
    for name, array in built.model.state_dict().items():
        np.testing.assert_array_equal(model.state_dict()[name], array)
    with pytest.raises(ValueError, match="already holds a run"):
        prepare_run_folder(folder)


@pytest.mark.slow  # trains and writes a whole run folder, figures included
def test_an_interrupted_run_before_its_first_epoch_still_gets_a_report(small_run, tmp_path):
    _, built, (evaluation, images) = small_run
    empty = History(stopped_reason="interrupted")
    written = write_run_folder(tmp_path, model=built.model, config=RunConfig(), history=empty,
                               evaluation=evaluation, images=images)
    assert "learning_curves.png" not in written and (tmp_path / "predictions.png").is_file()
    report = (tmp_path / "report.md").read_text()
    assert f"interrupted (Ctrl-C) after 0 of {RunConfig().epochs} epochs" in report


@pytest.mark.slow  # trains and writes a whole run folder, figures included
def test_the_reports_settings_are_words_not_python_values(small_run):
    folder, _, _ = small_run  # patience, clip_grad_norm and init_from unset; augment off
    settings = (folder / "report.md").read_text().split("## Configuration")[1].split("##")[0]
    assert "None" not in settings and "False" not in settings and "True" not in settings
    assert "| patience | off |" in settings and "| augment | off |" in settings


@pytest.mark.slow  # trains and writes a whole run folder, figures included
def test_model_that_does_not_fit_its_config_is_refused(small_run, tmp_path):
    folder, built, _ = small_run
    (tmp_path / "model.npz").write_bytes((folder / "model.npz").read_bytes())
    (tmp_path / "config.json").write_text(json.dumps(RunConfig(hidden_sizes=[9]).to_dict()))
    with pytest.raises(ValueError, match="does not match its config.json"):
        load_run_model(tmp_path / "model.npz")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        load_run_model(tmp_path / "model.npz")


# ------------------------------------------------------- errors, in process
@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 this is no zip archive")
    (tmp_path / "bad.toml").write_text("[grid\n")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "model.npz").write_bytes(b"")
    return tmp_path


@pytest.mark.parametrize("args, fragment", [
    (["-q"], "COMMAND"),  # options but no command (bare: the help, test_cli_help_and_suggestions)
    (["train", "--lr", "nan"], "--lr"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--activation", "swish"], "--activation"),
    (["train", "--optimizer", "rmsprop"], "--optimizer"),
    (["train", "--validation", "-5"], "--validation"),
    (["train", "--clip-grad-norm", "-1"], "--clip-grad-norm"),
    (["train", "--resume", "nowhere"], "nowhere"),
    (["train", "--dataset", "synthetic", "--init-from", "nowhere"], "argument --init-from: "),
    (["train", "--resume", "used", "--lr", "0.1"], "--lr cannot change it"),
    (["train", "--resume", "used"], "config.json"),
    (["train", "--momentum", "1"], "--momentum"),
    (["train", "--hidden", "64,-1"], "--hidden"),
    (["train", "--seed", "x"], "--seed"),
    (["train", "--dataset", "cifar"], "cifar"),
    (["train", "--dataset", "corrupt.npz"], "corrupt.npz"),
    (["train", "--dataset", "synthetic", "--out", "used"], "already holds a run"),
    (["train", "--dataset", "synthetic", "--data-root", "."], "data_root"),
    (["show", "missing.npz"], "missing.npz"),
    (["show", "corrupt.npz"], "config.json"),
    (["search", "missing.toml"], "missing.toml"),
    (["search", "bad.toml"], "not valid TOML"),
    (["search", "bad.toml", "--jobs", "0"], "--jobs"),
    (["report", "missing.sqlite"], "missing.sqlite"),
    (["kfold", "--k", "1"], "--k"),
    (["fetch", "--dataset", "synthetic"], "--dataset"),
])
def test_every_bad_input_is_one_line_and_status_2(in_tmp, capsys, args, fragment):
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinygrad-mnist: error: "), captured.err
    assert fragment in lines[0]
    assert captured.out == ""


def test_traceback_option_shows_the_real_exception(in_tmp):
    with pytest.raises(ValueError, match="cifar"):
        main(["--traceback", "train", "--dataset", "cifar"])


def test_command_line_doc_describes_every_subcommand_and_option():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "command-line.md").read_text()
    parser = build_parser()
    for action in parser._actions:
        for option in action.option_strings:
            if option not in ("-h", "--help"):
                assert f"`{option}" in doc, option
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for name, subparser in subparsers.items():
        assert f"\n## {name}\n" in doc, name
        for action in subparser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in doc, f"{name} {option}"
