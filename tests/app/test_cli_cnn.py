"""`--model cnn` and `--augment`: the schema, the builder, the run folder and `show`, in process."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tinygrad_mnist import nn
from tinygrad_mnist.app.cli import main
from tinygrad_mnist.app.run_folder import load_run_model
from tinygrad_mnist.data import RandomShift
from tinygrad_mnist.data.by_name import save_npz_dataset, synthetic_digits
from tinygrad_mnist.train import PRESETS, build_training, canonical_config, config_key
from tinygrad_mnist.train.config import RunConfig

# A small CNN, quick enough for the fast tests.
SMALL_CNN = ["--model", "cnn", "--channels", "2,3", "--kernel-size", "3", "--epochs", "1"]


@pytest.fixture
def small_data(tmp_path, monkeypatch):
    """A folder to run in, holding `small.npz`: 200 training and 50 test images of 28 x 28."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    data = synthetic_digits(n_train=200, n_test=50, seed=1)
    save_npz_dataset(tmp_path / "small.npz", data)
    return tmp_path


@pytest.mark.slow  # trains and writes a whole run folder, figures included
def test_train_cnn_writes_its_architecture_and_show_loads_it_back(small_data, capsys):
    assert main(["train", *SMALL_CNN, "--dataset", "small.npz", "--out", "run"]) == 0
    config = json.loads((small_data / "run" / "config.json").read_text())
    # The options given, and the CNN preset for what they leave out.
    assert config["model"] == "cnn" and config["channels"] == [2, 3]
    assert config["kernel_size"] == 3 and config["epochs"] == 1
    for key in ("batch_norm", "hidden_sizes", "optimizer", "learning_rate", "schedule"):
        assert config[key] == canonical_config(PRESETS["cnn"])[key], key
    model, loaded = load_run_model(small_data / "run" / "model.npz")
    assert isinstance(model, nn.CNN) and loaded.model == "cnn"
    assert model.input_shape == (1, 28, 28) and model.channels == (2, 3)
    assert model[0].kernel_size == (3, 3)
    report = (small_data / "run" / "report.md").read_text()
    assert "| model | cnn |" in report and "| channels | 2, 3 |" in report
    capsys.readouterr()
    assert main(["show", "run/model.npz", "--dataset", "small.npz", "--n", "4"]) == 0
    shown = capsys.readouterr().out
    test_accuracy = json.loads((small_data / "run" / "metrics.json").read_text())
    assert "wrote run/predictions-4.png" in shown
    # show (in chunks, evaluation mode) scores the test images as train did.
    accuracy = next(value for key, value in test_accuracy.items() if "accuracy" in key)
    assert f"test accuracy: {accuracy:.2%}" in shown


@pytest.mark.slow  # trains and writes a whole run folder, figures included
def test_an_mlp_run_records_augment_and_leaves_the_cnn_settings_out(small_data):
    assert main(["train", "--hidden", "8", "--epochs", "1", "--augment", "--dataset",
                 "small.npz", "--out", "run"]) == 0
    assert json.loads((small_data / "run" / "config.json").read_text())["augment"] is True
    report = (small_data / "run" / "report.md").read_text()
    assert "| model | mlp |" in report and "| augment | on |" in report
    assert "channels" not in report and "kernel_size" not in report


@pytest.mark.parametrize("args, fragment", [
    (["--model", "rnn"], "argument --model: invalid choice: 'rnn'"),
    (["--model", "cnn", "--kernel-size", "4"],
     "argument --kernel-size: config['kernel_size']: expected an odd int >= 1, got 4"),
    (["--model", "cnn", "--channels", "8,0"], "argument --channels"),
    (["--model", "cnn", "--channels", "8,8,8,8,8"], "CNN: 5 pooling blocks need an image of at "
                                                    "least 32 pixels a side, got (1, 28, 28)"),
])
def test_bad_cnn_options_are_one_line(small_data, capsys, args, fragment):
    assert main(["train", *args, "--dataset", "small.npz", "--out", "run"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinygrad-mnist: error: ")
    assert fragment in lines[0]


def test_the_cnn_preset_builds_a_batch_normalised_cnn_with_small_evaluation_chunks():
    built = build_training(PRESETS["cnn"], seed=0, input_size=784, num_classes=10)
    assert isinstance(built.model, nn.CNN) and built.model.input_shape == (1, 28, 28)
    assert any(isinstance(layer, nn.BatchNorm2d) for layer in built.model)
    assert built.trainer.eval_batch_size <= 1000  # bounded memory: a chunk's windows
    assert isinstance(built.trainer.transform, RandomShift)  # the preset trains with shifts
    plain = build_training({"model": "cnn"}, seed=0, input_size=784, num_classes=10)
    assert plain.trainer.transform is None


def test_a_cnn_takes_the_shape_it_is_given_and_refuses_what_is_not_square():
    built = build_training({"model": "cnn", "channels": [2]}, seed=0, input_size=3 * 8 * 6,
                              num_classes=4, input_shape=(3, 8, 6))
    assert built.model(np.zeros((2, 3, 8, 6), np.float32)).shape == (2, 4)
    assert built.model(np.zeros((2, 3 * 8 * 6), np.float32)).shape == (2, 4)  # flat rows too
    with pytest.raises(ValueError, match=r"config\['model'\]: a CNN needs images, but inputs "
                                         r"of 30 values are not square"):
        build_training({"model": "cnn"}, seed=0, input_size=30, num_classes=2)


def test_augment_gives_the_trainer_a_seeded_shift_of_up_to_two_pixels():
    one = build_training({"augment": True}, seed=3, input_size=784, num_classes=10)
    other = build_training({"augment": True}, seed=3, input_size=784, num_classes=10)
    assert isinstance(one.trainer.transform, RandomShift)
    assert one.trainer.transform.max_shift == 2
    rows = np.random.default_rng(0).random((5, 784)).astype(np.float32)
    np.testing.assert_array_equal(one.trainer.transform(rows), other.trainer.transform(rows))
    with pytest.raises(ValueError, match=r"config\['augment'\]: shifts need square images"):
        build_training({"augment": True}, seed=0, input_size=30, num_classes=2)
    with pytest.raises(ValueError, match=r"config\['augment'\]: expected true or false"):
        canonical_config({"augment": "yes"})


def test_cnn_settings_do_not_change_an_mlp_trial_or_its_key():
    # Unused by an MLP, so they must not tell two identical MLP trials apart; and the keys
    # of existing MLP trials stay what they were before the CNN keys existed.
    assert config_key({"channels": [8], "kernel_size": 3, "batch_norm": True}) == config_key({})
    assert canonical_config({"channels": [8]})["channels"] == [16, 32]
    assert config_key({"model": "cnn"}) != config_key({})
    assert config_key({"hidden_sizes": [100]}) == config_key({"hidden_sizes": [100],
                                                              "model": "mlp"})


def test_train_config_round_trips_a_cnn_through_json():
    config = RunConfig(**{**PRESETS["cnn"], "batch_norm": False, "augment": False})
    assert config.channels == tuple(PRESETS["cnn"]["channels"]) and not config.augment
    assert RunConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
