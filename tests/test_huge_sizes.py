"""Sizes too large for the machine are refused in one line, before anything is allocated."""

import json
import tracemalloc

import numpy as np
import pytest

from tinygrad_mnist import nn
from tinygrad_mnist.app import cli
from tinygrad_mnist.app.run_folder import load_run_model
from tinygrad_mnist.nn import init
from tinygrad_mnist.train.config import RunConfig


def test_an_mlp_too_large_for_the_machine_is_a_value_error():
    with pytest.raises(ValueError, match=r"MLP\(784 -> 2000000000 -> 10\).*needs "
                                         r"6,3\d\d,\d{3},\d{3},\d{3} bytes.*memory"):
        nn.MLP(784, [2_000_000_000], 10)


def test_a_dense_layer_too_large_for_the_machine_is_a_value_error():
    with pytest.raises(ValueError, match=r"Dense\(1000000, 1000000\) needs 4,000,004,000,000 "
                                         "bytes"):
        nn.Dense(10**6, 10**6)


def test_the_command_line_refuses_a_huge_hidden_layer_in_one_line(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.chdir(tmp_path)
    status = cli.main(["train", "--dataset", "synthetic", "--hidden", "2000000000",
                       "--epochs", "1", "--out", "run"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1 and "2000000000" in err
    assert not (tmp_path / "run").exists()


def config_beside(tmp_path, config_text):
    nn.MLP(784, [3], 10).save(tmp_path / "model.npz")
    (tmp_path / "config.json").write_text(config_text)
    return tmp_path / "model.npz"


def test_a_huge_layer_in_a_config_json_is_refused_naming_the_file(tmp_path):
    config = RunConfig(hidden_sizes=(3,)).to_dict() | {"hidden_sizes": [2_000_000_000]}
    path = config_beside(tmp_path, json.dumps(config))
    with pytest.raises(ValueError, match=r"config\.json.*2000000000.*bytes"):
        load_run_model(path)


def test_a_deeply_nested_config_json_is_a_clean_error(tmp_path):
    path = config_beside(tmp_path, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(ValueError, match=r"config\.json.*nested too deeply"):
        load_run_model(path)


@pytest.mark.parametrize("error, fragment", [
    (MemoryError("Unable to allocate 8 TiB"), "out of memory"),
    (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
])
def test_the_command_line_turns_memory_and_recursion_errors_into_one_line(
        monkeypatch, capsys, error, fragment):
    def fail(*args, **kwargs):
        raise error

    from tinygrad_mnist.app.commands import train

    monkeypatch.setattr(train, "load_named_dataset", fail)
    status = cli.main(["train", "--dataset", "synthetic"])
    err = capsys.readouterr().err
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert fragment in err and str(error) in err


@pytest.mark.parametrize("name", ["he_uniform", "he_normal", "xavier_uniform",
                                  "xavier_normal", "normal", "zeros"])
def test_initialisers_draw_in_the_target_dtype(name):
    initializer = init.get_initializer(name)
    shape = (500, 400)
    tracemalloc.start()
    try:
        values = initializer(shape, np.random.default_rng(0), dtype=np.float32)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert values.dtype == np.float32 and values.shape == shape
    assert peak < 1.2 * values.nbytes  # no float64 copy on the way


def test_float64_draws_are_those_of_numpys_own_distributions():
    bound = np.sqrt(6.0 / 500)
    np.testing.assert_array_equal(init.he_uniform((500, 400), np.random.default_rng(4)),
                                  np.random.default_rng(4).uniform(-bound, bound, (500, 400)))
    np.testing.assert_array_equal(init.normal((50,), np.random.default_rng(4), sigma=0.5),
                                  np.random.default_rng(4).normal(0.0, 0.5, 50))


def test_a_dense_layer_draws_its_float32_weight_without_a_float64_copy():
    tracemalloc.start()
    try:
        layer = nn.Dense(1000, 1000)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert layer.weight.dtype == np.float32
    assert peak < 1.2 * layer.weight.data.nbytes + 100_000
