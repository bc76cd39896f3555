"""Command-line options: the training options generated from the fields of `RunConfig`, the
data options, and the option types of the other commands.

A field of `RunConfig` (train/config.py) becomes `--field-name` (or its `option`), with its
help text, its metavar and choices; argparse only parses. An option not given stays None,
and the schema fills and checks it: `config_from_args` makes the one `RunConfig`, and a
`ConfigError` comes back as "argument --option: ..." from the field it names.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from tinygrad_mnist.app.errors import UsageError
from tinygrad_mnist.data.by_name import DATASET_NAMES
from tinygrad_mnist.train.config import PRESETS, ConfigError, RunConfig


def int_at_least(low: int, also: str = ""):
    """For options outside the run's schema (--k, --jobs, --n): parsed and checked here."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < low:
            raise argparse.ArgumentTypeError(
                f"expected an integer >= {low}{' ' + also if also else ''}, got {text!r}"
            )
        return value

    parse.__name__ = f"int>={low}"
    return parse


def _text_parser(parse):
    """`parse` (text -> value, a ValueError naming what it expected) as an argparse type."""
    def argparse_type(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    argparse_type.__name__ = parse.__name__
    return argparse_type


def _shown(value) -> str:
    """A default as the help text shows it: 256,128; none; on/off; 0.1."""
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value)) or "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def option_name(spec: dataclasses.Field) -> str:
    """The option of a `RunConfig` field: its `option`, else --field-name."""
    return spec.metadata.get("option") or "--" + spec.name.replace("_", "-")


def run_options(config_class=None, holdout: bool = True) -> list[dataclasses.Field]:
    """The fields of `config_class` the command line sets (`holdout=False`: not
    `validation`, which k-fold has no use for)."""
    return [spec for spec in dataclasses.fields(config_class or RunConfig)
            if spec.metadata.get("command_line", False) and (holdout or spec.name != "validation")]


def add_run_options(parser: argparse.ArgumentParser, config_class=None,
                    holdout: bool = True) -> None:
    """One option per field of `config_class` (default: `RunConfig`), in field order, in the
    help groups the fields name ("model", "training")."""
    config_class = config_class or RunConfig
    defaults = config_class()
    cnn = config_class(**PRESETS["cnn"])
    cnn_preset = ", ".join(f"{key} {_shown(value)}" for key, value in PRESETS["cnn"].items()
                           if key != "model")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for spec in run_options(config_class, holdout):
        meta = spec.metadata
        name = meta.get("group", "training")
        group = groups.get(name) or groups.setdefault(name, parser.add_argument_group(name))
        choices = meta.get("choices")
        help_text = meta["help"].format(
            default=_shown(getattr(defaults, spec.name)), cnn=_shown(getattr(cnn, spec.name)),
            cnn_preset=cnn_preset, choices=", ".join(choices or ()))
        kwargs = {"dest": spec.name, "default": None, "help": help_text}
        if isinstance(spec.default, bool):
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            parse = meta.get("parse") or type(spec.default)
            kwargs.update(type=parse if parse in (int, float, str) else _text_parser(parse),
                          metavar=meta.get("metavar"), choices=choices)
        group.add_argument(option_name(spec), **kwargs)


def add_data_options(parser: argparse.ArgumentParser, default_dataset: str | None = "mnist",
                     applied_later: bool = False) -> None:
    """`--dataset` and `--data-root`. `applied_later`: the option stays None when not given
    (so a command can tell), and `default_dataset` is what it then means."""
    group = parser.add_argument_group("data")
    group.add_argument(
        "--dataset", default=None if applied_later else default_dataset, metavar="NAME|FILE",
        help=f"the data set: {' or '.join(DATASET_NAMES)}, or an .npz file holding the arrays "
             "train_images, train_labels, test_images, test_labels (images N x 28 x 28 uint8 "
             "or N x 784, labels 0..9)" + (f" (default: {default_dataset})"
                                           if default_dataset else ""),
    )
    group.add_argument(
        "--data-root", type=Path, metavar="DIR",
        help="a folder holding the data set's four IDX files (.gz or raw) or the older CSV "
             "files, used instead of the cache (files are verified against the known checksums)",
    )


def given_run_options(args, config_class=None) -> list[str]:
    """The run options given on the command line (their option names), --dataset included."""
    return [option_name(spec) for spec in dataclasses.fields(config_class or RunConfig)
            if getattr(args, spec.name, None) is not None]


def config_from_args(args, config_class=None) -> RunConfig:
    """The `config_class` (default: `RunConfig`) the options describe: a model kind's preset
    (the CNN's) fills what the options leave out, the schema the rest; a bad value names its
    option."""
    config_class = config_class or RunConfig
    given = {spec.name: getattr(args, spec.name) for spec in dataclasses.fields(config_class)
             if getattr(args, spec.name, None) is not None}
    preset = PRESETS.get(given.get("model"), {})
    try:
        return config_class(**{**preset, **given, "dataset": str(given.get("dataset", "mnist"))})
    except ConfigError as error:  # the schema's word for it, under the option's name
        fields = {spec.name: spec for spec in dataclasses.fields(config_class)}
        if error.field not in fields:
            raise
        raise UsageError(f"argument {option_name(fields[error.field])}: {error}") from None
