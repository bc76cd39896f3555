"""docs/extending.md and the examples stay correct: their code is run and gradient-checked."""

import importlib.util
import inspect
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist import nn, optim
from tinygrad_mnist.testing import assert_gradients_match, tensors, well_conditioned

ROOT = Path(__file__).resolve().parents[2]


def load_example(name):
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


custom_op = load_example("custom_op")
custom_layer = load_example("custom_layer")


@given(tensors())
def test_example_softplus_gradient(x):
    assert_gradients_match(custom_op.softplus, x)


@given(tensors(low=-1e4, high=1e4))
def test_example_softplus_is_finite_and_correct_at_any_size(x):
    values = custom_op.softplus(x).data
    assert np.all(np.isfinite(values))
    np.testing.assert_allclose(values, np.logaddexp(0, x.data), rtol=1e-12)


@given(st.integers(2, 5), st.integers(1, 4), st.booleans(), st.integers(0, 2**32 - 1), st.data())
def test_example_batch_norm_gradients(batch, features, training, seed, data):
    layer = custom_layer.BatchNorm1d(features).astype(np.float64)
    layer.weight.data[:] = well_conditioned(features, seed=seed)
    layer.bias.data[:] = well_conditioned(features, seed=seed + 1)
    layer.running_mean[:] = well_conditioned(features, seed=seed + 2)
    layer.running_var[:] = np.abs(well_conditioned(features, seed=seed + 3)) + 0.5
    layer.train(training)
    x = data.draw(tensors(shape=(batch, features)))
    assert_gradients_match(layer, x, wrt=layer.parameters())


def test_example_batch_norm_is_a_proper_layer(tmp_path):
    model = nn.Sequential(nn.Dense(4, 3, seed=0), custom_layer.BatchNorm1d(3))
    assert [name for name, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias"]
    model(np.random.default_rng(0).normal(3.0, 2.0, size=(32, 4)).astype(np.float32))
    model.save(tmp_path / "model.npz")
    fresh = nn.Sequential(nn.Dense(4, 3, seed=1), custom_layer.BatchNorm1d(3))
    fresh.load(tmp_path / "model.npz")
    x = np.ones((2, 4), dtype=np.float32)
    np.testing.assert_array_equal(fresh.eval()(x).data, model.eval()(x).data)
    with pytest.raises(ValueError, match="num_features must be a positive int"):
        custom_layer.BatchNorm1d(0)


@pytest.mark.parametrize("example, expected", [
    (custom_op, "gradcheck: softplus matches central differences"),
    (custom_layer, "gradcheck: BatchNorm1d matches central differences"),
])
def test_examples_run_and_report(example, expected, capsys):
    example.main()
    assert expected in capsys.readouterr().out


def test_the_layer_example_trains():
    x, y = custom_layer.make_data(256)
    model = nn.Sequential(nn.Dense(20, 16, seed=0), custom_layer.BatchNorm1d(16), nn.ReLU(),
                          nn.Dense(16, 3, seed=1))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def doc_code_blocks():
    text = (ROOT / "docs" / "extending.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_doc_has_the_three_sections():
    text = (ROOT / "docs" / "extending.md").read_text()
    for heading in ("A new op", "A new layer", "A new loss", "How Conv2d was built"):
        assert heading in text
    assert len(doc_code_blocks()) == 9


def test_every_code_block_in_the_doc_runs_and_its_tests_pass(tmp_path):
    namespace = {"__name__": "extending_md"}
    for block in doc_code_blocks():
        exec(compile(block, "docs/extending.md", "exec"), namespace)
    tests = {name: f for name, f in namespace.items() if name.startswith("test_") and callable(f)}
    assert len(tests) >= 8
    for name, test in tests.items():
        # Hypothesis supplies its own arguments; a plain test may ask for a directory.
        if "tmp_path" in inspect.signature(test).parameters:
            directory = tmp_path / name
            directory.mkdir()
            test(directory)
        else:
            test()
