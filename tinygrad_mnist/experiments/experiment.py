"""Experiment files: a grid search described in TOML, read into an `Experiment`.

    name = "seed grid"
    seed = 0
    train_fraction = 0.8      # holdout screening: share of the training set trained on
    k = 5                     # folds for the top configs
    top_n = 3                 # how many configs go on to k-fold (0: none)
    jobs = 2                  # trials in parallel (-1: one per core)
    dataset = "mnist"         # read by the command line: "mnist", "fashion-mnist", a path
    preset = "seed"           # optional: a named set of config values (`config.PRESETS`)

    [grid]                    # config keys -> lists of values: their Cartesian product
    hidden_sizes = [[100], [128, 64]]
    activation = ["sigmoid", "tanh", "relu"]
    learning_rate = [0.1, 0.5, 1.0]

    [config]                  # config keys shared by every trial
    batch_size = "full"       # TOML has no null: "full" is full-batch gradient descent
    epochs = 30
    patience = 5

    [outputs]                 # paths, relative to this file's folder; all optional
    store = "runs/seed_grid/results.sqlite"
    json = "runs/seed_grid/results.json"
    csv = "runs/seed_grid/results.csv"
    markdown = "runs/seed_grid/report.md"

The config keys and their defaults are those of `config.CONFIG_DEFAULTS`, the same
schema as `tinygrad-mnist train`'s: a key given nowhere trains as `train` does. A
`preset` lays its values under `[config]` and `[grid]`. Every error names the file and
the offending key. Output paths are resolved relative to the experiment file (not the
current directory); no two may coincide or lie inside one another, and an existing file
is replaced only if it is an earlier export of the same experiment (`experiments.outputs`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from tinygrad_mnist.experiments.export import write_exports
from tinygrad_mnist.experiments.search import expand_grid
from tinygrad_mnist.train.config import CONFIG_DEFAULTS, PRESETS, canonical_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

_TOP_LEVEL = {"name": str, "seed": int, "train_fraction": float, "k": int, "top_n": int,
              "jobs": int, "dataset": str, "preset": str, "grid": dict, "config": dict,
              "outputs": dict}
_OUTPUTS = ("store", "json", "csv", "markdown")

#: The experiment files that ship with the package (`tinygrad-mnist search seed-grid`).
SHIPPED_EXPERIMENTS = Path(__file__).with_name("shipped")


@dataclass
class Experiment:
    """A grid search read from a TOML file (see the module docstring for the format).

    `space` is the search space for `grid_search`: the `[grid]` lists plus the
    `[config]` values as one-element lists. `outputs` maps "store", "json", "csv",
    "markdown" to paths (only those the file names), resolved against the file's folder.
    """

    path: Path
    name: str
    space: dict
    seed: int = 0
    train_fraction: float = 0.8
    k: int = 5
    top_n: int = 3
    jobs: int = 1
    dataset: str = "mnist"
    outputs: dict = field(default_factory=dict)

    def search_arguments(self) -> dict:
        """Keyword arguments for `grid_search(data=..., **these)` (store included, if set)."""
        arguments = {"space": self.space, "train_fraction": self.train_fraction, "k": self.k,
                     "top_n": self.top_n, "seed": self.seed, "n_jobs": self.jobs}
        if "store" in self.outputs:
            arguments["store"] = self.outputs["store"]
        return arguments

    def write_outputs(self, source) -> list[Path]:
        """Write the JSON, CSV and Markdown exports the file asks for; returns their paths.

        Checked first, before any file is written: the paths are distinct, and a file
        already at one is an earlier export of the same experiment (else ValueError).
        """
        return write_exports(source, self.outputs, title=self.name)


def shipped_experiments() -> list[str]:
    """The names of the experiment files that ship with the package ("seed-grid")."""
    return sorted(path.stem for path in SHIPPED_EXPERIMENTS.glob("*.toml"))


def experiment_path(path) -> Path:
    """`path` itself, or, for a bare name that is no file here ("seed-grid"), the shipped
    experiment file of that name: the CLI's `search seed-grid` and `load_experiment`
    read the same file."""
    path = Path(path)
    if path.exists() or path.suffix or len(path.parts) > 1:
        return path
    shipped = SHIPPED_EXPERIMENTS / f"{path.name}.toml"
    if not shipped.is_file():
        raise ValueError(f"config: no file {str(path)!r}, and no experiment of that name ships "
                         f"with the package (those that do: {', '.join(shipped_experiments())})")
    return shipped


def load_experiment(path) -> Experiment:
    """Read and check an experiment file (or a shipped one by name, `"seed-grid"`); any
    mistake is a ValueError naming the key."""
    path = experiment_path(path)
    try:
        with open(path, "rb") as file:
            document = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from None
    except UnicodeDecodeError as error:  # TOML is UTF-8 text; the decoder's message names no file
        raise ValueError(f"{path}: not valid TOML: not UTF-8 text ({error})") from None
    except RecursionError:
        raise ValueError(f"{path}: not valid TOML: nested too deeply") from None
    where = str(path)

    for key, value in document.items():
        if key not in _TOP_LEVEL:
            raise ValueError(f"{where}: unknown key {key!r}; known keys: {', '.join(_TOP_LEVEL)}")
        expected = _TOP_LEVEL[key]
        fits = isinstance(value, expected) and not isinstance(value, bool)
        if expected is float:
            fits = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not fits:
            kind = {str: "a string", int: "an integer", float: "a number", dict: "a table"}
            raise ValueError(f"{where}: {key!r} must be {kind[expected]}, got {value!r}")

    grid, fixed = document.get("grid", {}), document.get("config", {})
    for section, table in (("grid", grid), ("config", fixed)):
        for key in table:
            if key not in CONFIG_DEFAULTS:
                raise ValueError(f"{where}: unknown config key {section}.{key}; known keys: "
                                 f"{', '.join(CONFIG_DEFAULTS)}")
    if not grid:
        raise ValueError(f"{where}: [grid] must name at least one config key with a list of "
                         "values to try")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}: grid.{key} must be a non-empty list, got {values!r}")
        for value in values:
            _check_config_value(where, f"grid.{key}", key, value)
    for key, value in fixed.items():
        if key in grid:
            raise ValueError(f"{where}: config.{key} is also in [grid]; give it in one place")
        _check_config_value(where, f"config.{key}", key, value)

    preset = document.get("preset")
    if preset is not None and preset not in PRESETS:
        raise ValueError(f"{where}: 'preset' must be one of {', '.join(PRESETS)}, got {preset!r}")
    if preset is not None:
        fixed = {**{k: v for k, v in PRESETS[preset].items() if k not in grid}, **fixed}

    outputs = document.get("outputs", {})
    for key, value in outputs.items():
        if key not in _OUTPUTS:
            raise ValueError(f"{where}: unknown key outputs.{key}; known keys: "
                             f"{', '.join(_OUTPUTS)}")
        if not isinstance(value, str) or not value:
            raise ValueError(f"{where}: outputs.{key} must be a path (a string), got {value!r}")

    space = {**grid, **{key: [value] for key, value in fixed.items()}}
    try:
        expand_grid(space)  # every combination valid, before anything runs
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    train_fraction = float(document.get("train_fraction", 0.8))
    if not 0 < train_fraction < 1:
        raise ValueError(f"{where}: 'train_fraction' must lie strictly between 0 and 1, "
                         f"got {train_fraction}")
    for key, low in (("k", 2), ("top_n", 0), ("seed", 0)):
        if key in document and document[key] < low:
            raise ValueError(f"{where}: {key!r} must be >= {low}, got {document[key]}")
    if document.get("jobs", 1) == 0 or document.get("jobs", 1) < -1:
        raise ValueError(f"{where}: 'jobs' must be >= 1, or -1 for every core, "
                         f"got {document['jobs']}")
    return Experiment(
        path=path, name=document.get("name", path.stem), space=space,
        seed=document.get("seed", 0), train_fraction=train_fraction,
        k=document.get("k", 5), top_n=document.get("top_n", 3), jobs=document.get("jobs", 1),
        dataset=document.get("dataset", "mnist"),
        outputs={key: path.parent / value for key, value in outputs.items()},
    )


def _check_config_value(where: str, label: str, key: str, value) -> None:
    try:
        canonical_config({key: value})
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {label}: {error}") from None
