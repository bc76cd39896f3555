"""Packaging: one version, a licence, type information and package data in the wheel."""

import importlib.metadata
import sys
from pathlib import Path

import tinygrad_mnist

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_version_is_written_once_and_installed_metadata_agrees():
    assert "version" not in PYPROJECT["project"]
    assert "version" in PYPROJECT["project"]["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "tinygrad_mnist.__version__"
    assert importlib.metadata.version("tinygrad-mnist") == tinygrad_mnist.__version__


def test_the_licence_file_matches_the_metadata():
    assert PYPROJECT["project"]["license"] == {"text": "MIT"}
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "authors" in text


def test_type_information_is_shipped():
    package = Path(tinygrad_mnist.__file__).parent
    assert (package / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["tinygrad_mnist"]


def test_the_example_experiments_are_package_data_that_load():
    from tinygrad_mnist.experiments import load_experiment
    from tinygrad_mnist.experiments.experiment import SHIPPED_EXPERIMENTS, experiment_path

    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["tinygrad_mnist"]
    shipped = sorted(SHIPPED_EXPERIMENTS.glob("*.toml"))
    assert shipped and "experiments/shipped/*.toml" in patterns
    path = experiment_path(Path("seed-grid"))
    assert path == SHIPPED_EXPERIMENTS / "seed-grid.toml"
    assert load_experiment(path).top_n == 3
