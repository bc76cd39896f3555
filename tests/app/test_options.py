"""The training options are generated from RunConfig's fields; the error policy tells the
user's mistakes (one line, exit 2) from bugs (a traceback)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest

from tinygrad_mnist.app import options
from tinygrad_mnist.app.cli import build_parser, main
from tinygrad_mnist.app.commands import fetch
from tinygrad_mnist.app.errors import UsageError, is_users_error
from tinygrad_mnist.train.config import TRIAL_FIELDS, ConfigError, RunConfig, setting
from tinygrad_mnist.utils.checks import check_number


@dataclass(frozen=True)
class WithLabelSmoothing(RunConfig):
    label_smoothing: float = setting(
        0.0, "how much of each target goes to the other classes, in [0, 1) "
             "(default: {default})",
        lambda name, value: check_number(name, value, "config", 0.0, 1.0,
                                         high_inclusive=False), metavar="EPS")


def _train_parser():
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    return commands["train"], commands["kfold"]


def test_a_new_field_is_a_new_option_with_its_help_default_and_check(monkeypatch, capsys):
    monkeypatch.setattr(options, "RunConfig", WithLabelSmoothing)
    parser = build_parser()
    train, _ = _train_parser()
    assert "--label-smoothing EPS" in train.format_help()
    assert "(default: 0)" in train.format_help().split("--label-smoothing")[1]
    config = options.config_from_args(parser.parse_args(["train", "--label-smoothing", "0.1",
                                                         "--lr", "0.2"]))
    assert isinstance(config, WithLabelSmoothing)
    assert config.label_smoothing == 0.1 and config.learning_rate == 0.2
    assert options.config_from_args(parser.parse_args(["train"])).label_smoothing == 0.0
    with pytest.raises(UsageError, match="^argument --label-smoothing: config: label_smoothing"):
        options.config_from_args(parser.parse_args(["train", "--label-smoothing", "1.5"]))
    # Through main: the same one line and exit status 2 as every option's.
    assert main(["train", "--dataset", "synthetic", "--label-smoothing", "-1"]) == 2
    assert "argument --label-smoothing" in capsys.readouterr().err


def test_every_field_of_the_schema_is_an_option_of_train():
    train, kfold = _train_parser()
    dests = {action.dest for action in train._actions}
    assert set(TRIAL_FIELDS) | {"validation", "seed", "dataset"} <= dests
    assert {"init", "min_delta"} <= {action.dest for action in kfold._actions}
    assert "validation" not in {action.dest for action in kfold._actions}  # folds validate


def test_init_and_min_delta_reach_the_config_and_the_training():
    args = build_parser().parse_args(["train", "--init", "xavier_normal", "--patience", "2",
                                      "--min-delta", "0.01", "--hidden", "8"])
    config = options.config_from_args(args)
    assert config.init == "xavier_normal" and config.min_delta == 0.01
    built = config.build(input_size=16, num_classes=3)
    from tinygrad_mnist.train import EarlyStopping

    stopping = [c for c in built.trainer.callbacks if isinstance(c, EarlyStopping)]
    assert len(stopping) == 1
    assert stopping[0].min_delta == 0.01 and stopping[0].patience == 2
    # He for ReLU by default; Xavier's normal draws have a smaller spread for 16 inputs.
    default = RunConfig(hidden_sizes=(8,)).build_model((16,), num_classes=3)
    he, xavier = default.parameters()[0].data, built.model.parameters()[0].data
    assert xavier.std() < he.std()


@pytest.mark.parametrize("argv, option, fields", [
    (["--lr", "-1"], "--lr", {"learning_rate": -1.0}),
    (["--model", "cnn", "--channels", "none"], "--channels",  # a check across fields
     {"model": "cnn", "channels": ()}),
    (["--patience", "3", "--validation", "0"], "--patience", {"patience": 3, "validation": 0}),
    (["--min-delta", "-0.5"], "--min-delta", {"min_delta": -0.5}),
])
def test_a_schema_error_carries_its_field_and_the_cli_names_that_fields_option(argv, option,
                                                                                 fields):
    with pytest.raises(ConfigError) as caught:
        RunConfig(**fields)
    field = {spec.name: spec for spec in dataclasses.fields(RunConfig)}[caught.value.field]
    assert options.option_name(field) == option
    with pytest.raises(UsageError) as usage:
        options.config_from_args(build_parser().parse_args(["train", *argv]))
    assert str(usage.value) == f"argument {option}: {caught.value}"


# ------------------------------------------------------------- error policy
def test_a_bug_in_a_command_is_not_reported_as_a_usage_error(monkeypatch, capsys):
    def buggy(args):
        return len(None)  # a TypeError of this program, not of the user's input

    monkeypatch.setattr(fetch, "run", buggy)
    with pytest.raises(TypeError):
        main(["fetch", "--offline"])
    err = capsys.readouterr().err
    assert "internal error: this is a bug" in err and "error: object of type" not in err


def test_an_error_from_inside_numpy_is_a_bug_too(monkeypatch, capsys):
    monkeypatch.setattr(fetch, "run", lambda args: np.zeros(3) + np.zeros(4))
    with pytest.raises(ValueError, match="broadcast"):
        main(["fetch"])
    assert "internal error" in capsys.readouterr().err


def test_the_librarys_own_errors_are_the_users():
    with pytest.raises(ConfigError) as config_error:
        RunConfig(epochs=0)
    assert config_error.value.field == "epochs" and is_users_error(config_error.value)
    try:
        np.zeros(3) + np.zeros(4)
    except ValueError as error:
        assert not is_users_error(error)
    try:
        {}["missing"]
    except KeyError as error:
        assert not is_users_error(error)
    assert is_users_error(FileNotFoundError(2, "no such file", "x.npz"))
    assert is_users_error(UsageError("argument --k: ..."))


def test_a_users_mistake_is_still_one_line_and_exit_2(capsys):
    assert main(["train", "--dataset", "no-such-data-set"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tinygrad-mnist: error: ")
