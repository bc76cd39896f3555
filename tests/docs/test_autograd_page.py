"""docs/autograd.md stays true: its code runs and its printed tree is what graph_text gives."""

import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[2] / "docs" / "autograd.md"


def test_the_walkthrough_code_runs_and_the_gradients_are_as_written():
    text = DOC.read_text()
    namespace = {}
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        exec(block, namespace)  # noqa: S102 - our own documentation
    a, b = namespace["a"], namespace["b"]
    np.testing.assert_allclose(a.grad, b.data + 1)
    np.testing.assert_allclose(b.grad, a.data)


def test_the_printed_graph_is_what_graph_text_prints():
    text = DOC.read_text()
    namespace = {}
    exec(re.findall(r"```python\n(.*?)```", text, re.S)[0], namespace)
    shown = re.search(r"prints what was recorded.*?```\n(.*?)```", text, re.S).group(1)
    assert namespace["graph_text"](namespace["loss"]) == shown.rstrip("\n")


def test_the_composed_mean_matches_mean_and_passes_gradcheck():
    text = DOC.read_text()
    namespace = {}
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        exec(block, namespace)  # noqa: S102 - our own documentation
    composed_mean, x = namespace["composed_mean"], namespace["x"]
    for axis in (None, 0, 1):
        np.testing.assert_allclose(composed_mean(x, axis).data, x.mean(axis=axis).data)
        assert namespace["gradcheck"](lambda t, axis=axis: composed_mean(t, axis), x)


def test_the_version_example_raises_as_shown():
    text = DOC.read_text()
    block = re.search(r"```python\n(from tinygrad_mnist import no_grad.*?)```", text, re.S)
    namespace = {}
    exec(re.findall(r"```python\n(.*?)```", text, re.S)[0], namespace)  # noqa: S102
    printed = []
    namespace["print"] = printed.append
    exec(block.group(1), namespace)  # noqa: S102
    assert len(printed) == 1 and "Mul's input 0 ('w', shape (2,)) was modified in place" in str(
        printed[0])


def test_the_second_derivative_example_gives_exp_twice():
    namespace = {}
    for block in re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S):
        exec(block, namespace)  # noqa: S102 - our own documentation
    s = namespace["s"].data
    np.testing.assert_allclose(namespace["dy"].data, np.exp(s))
    np.testing.assert_allclose(namespace["d2y"].data, np.exp(s))
    assert "Gradients of gradients" in DOC.read_text()
