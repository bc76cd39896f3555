"""Every example runs, in its quick mode, as a user would run it: so none of them rots.

Quick mode (`TINYGRAD_MNIST_QUICK=1`) uses a subset of MNIST only when MNIST is already
cached, and otherwise the synthetic digits; it never downloads. The examples here run
with an empty cache of their own, so they always take the synthetic path, offline;
both branches of that decision are tested below.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist import data
from tinygrad_mnist.data import Mirror, PackageIndex, mnist, write_idx
from tinygrad_mnist.data.by_name import synthetic_digits
from tinygrad_mnist.data.idx import encode_idx

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# Small matrices gain nothing from BLAS threads, and on a busy machine their spinning
# makes a quick example several times slower.
ONE_BLAS_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
SCRIPTS = sorted(path for path in EXAMPLES.glob("*.py") if not path.name.startswith("_"))


def test_the_seed_projects_seven_examples_and_the_extensions_are_there():
    names = [path.stem for path in SCRIPTS]
    assert names[:7] == ["01_train_direct", "02_holdout", "03_kfold", "04_custom_experiment",
                         "05_visualize_predictions", "06_compare_activations",
                         "07_compare_architectures"]
    assert {"custom_op", "custom_layer"} <= set(names)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_example_runs_in_quick_mode(script, tmp_path):
    docstring = ast.get_docstring(ast.parse(script.read_text()))
    assert docstring and f"examples/{script.name}" in docstring, "a header saying how to run it"
    env = {**os.environ, "TINYGRAD_MNIST_QUICK": "1", "MPLBACKEND": "Agg",
           "TINYGRAD_MNIST_HOME": str(tmp_path / "empty-cache"), **ONE_BLAS_THREAD}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    if script.name[:2].isdigit():
        assert "quick mode: synthetic, 2,000 training and 500 test images" in result.stdout
    for written in (tmp_path / "example-output").glob("*.png"):
        assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", written


@pytest.fixture
def quick(monkeypatch, tmp_path):
    """The examples' `_quick` module, imported fresh in quick mode with an empty cache."""
    monkeypatch.setenv("TINYGRAD_MNIST_QUICK", "1")
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(EXAMPLES))

    def offline(*args, **kwargs):
        raise AssertionError("quick mode must never download")

    monkeypatch.setattr(PackageIndex, "provide", offline)
    monkeypatch.setattr(Mirror, "provide", offline)
    sys.modules.pop("_quick", None)
    yield importlib.import_module("_quick")
    sys.modules.pop("_quick", None)


def test_quick_mode_without_cached_mnist_uses_synthetic_digits(quick):
    loaded = quick.load_data()
    assert loaded.title == "synthetic"
    assert len(loaded.train_labels) == quick.QUICK_TRAIN and len(loaded.test_labels) == 500
    assert quick.epochs(20) == 2 and quick.epochs(20, quick=4) == 4


def test_quick_mode_with_cached_mnist_uses_a_subset_of_it(quick, monkeypatch, tmp_path):
    # Stand-in MNIST files, and MNIST's checksums swapped for theirs, put in the cache.
    fake = synthetic_digits(n_train=2500, n_test=600, seed=4)
    arrays = {"train-images-idx3-ubyte": fake.train_images,
              "train-labels-idx1-ubyte": fake.train_labels.astype(np.uint8),
              "t10k-images-idx3-ubyte": fake.test_images,
              "t10k-labels-idx1-ubyte": fake.test_labels.astype(np.uint8)}
    cache = Path(os.environ["TINYGRAD_MNIST_HOME"])
    cache.mkdir()
    for name, array in arrays.items():
        write_idx(cache / name, array)
    checksums = {name: hashlib.sha256(encode_idx(a)).hexdigest() for name, a in arrays.items()}
    spec = dataclasses.replace(mnist.MNIST, checksums=checksums)
    monkeypatch.setattr(mnist, "MNIST", spec)
    monkeypatch.setattr(data, "MNIST", spec)

    loaded = quick.load_data()
    assert loaded.title == "MNIST"
    np.testing.assert_array_equal(loaded.train_images, fake.train_images[:quick.QUICK_TRAIN])
    np.testing.assert_array_equal(loaded.test_labels, fake.test_labels[:quick.QUICK_TEST])
