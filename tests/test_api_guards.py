"""Impossible arguments refused through the API, and files named in their errors."""

import json

import numpy as np
import pytest

from tinygrad_mnist import Tensor, nn, optim
from tinygrad_mnist.app import cli
from tinygrad_mnist.data.by_name import save_npz_dataset, synthetic_digits
from tinygrad_mnist.experiments import load_experiment
from tinygrad_mnist.train.config import RunConfig


def params():
    return [Tensor(np.ones((2, 2)), requires_grad=True)]


@pytest.mark.parametrize("make", [optim.SGD, optim.Adam, optim.AdamW])
@pytest.mark.parametrize("lr", [0, 0.0, float("inf"), float("nan"), -0.1])
def test_optimizers_refuse_a_rate_that_is_not_finite_and_positive(make, lr):
    with pytest.raises(ValueError, match=rf"{make.__name__}: lr must be a number in \(0, inf\)"):
        make(params(), lr=lr)


@pytest.mark.parametrize("target, fragment", [
    ([[1.2, -0.2, 0.0], [0.0, 1.0, 0.0]], r"finite and >= 0, got -0.2 at \(0, 1\)"),
    ([[0.5, 0.5, 0.5], [0.0, 1.0, 0.0]], "row 0 sums to 1.5"),
    ([[0.0, 1.0, 0.0], [0.2, 0.2, 0.2]], "row 1 sums to 0.6"),
    ([[np.nan, 1.0, 0.0], [0.0, 1.0, 0.0]], "finite and >= 0, got nan"),
])
def test_cross_entropy_refuses_targets_that_are_not_probabilities(target, fragment):
    with pytest.raises(ValueError, match=fragment):
        nn.CrossEntropyLoss()(Tensor(np.zeros((2, 3))), np.array(target))


def test_cross_entropy_takes_soft_probability_rows():
    target = np.array([[0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]], dtype=np.float32)
    loss = nn.CrossEntropyLoss()(Tensor(np.zeros((2, 3))), target)
    assert loss.item() == pytest.approx(np.log(3), rel=1e-6)


def test_a_toml_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b'name = "caf\xe9"\n[grid]\nlearning_rate = [0.1]\n')
    with pytest.raises(ValueError, match=r"bad\.toml: not valid TOML: not UTF-8"):
        load_experiment(path)


def test_show_refuses_a_data_set_with_another_number_of_classes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "run").mkdir()
    nn.MLP(784, [4], 10).save(tmp_path / "run" / "model.npz")
    (tmp_path / "run" / "config.json").write_text(
        json.dumps(RunConfig(hidden_sizes=(4,)).to_dict()))
    save_npz_dataset(tmp_path / "three.npz", synthetic_digits(40, 20, num_classes=3))
    status = cli.main(["show", "run/model.npz", "--dataset", "three.npz"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "10 classes" in err and "three.npz has 3" in err
