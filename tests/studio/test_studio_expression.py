"""The Autograd view's expressions: parsed with `ast` against a whitelist, never eval'd;
values and gradients are the engine's own, and the steps follow backward()'s order."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist import Tensor
from tinygrad_mnist.app.studio.expression import trace
from tinygrad_mnist.app.studio.runs import StudioError

A = [[1.0, -2.0], [0.5, 3.0]]
B = [[0.25, 1.5], [-1.0, 2.0]]


def _grads(answer) -> dict:
    return {node["label"]: np.array(node["grad"]) for node in answer["nodes"] if node["leaf"]}


@pytest.mark.parametrize("text, build", [
    ("(a * b + a).sum()", lambda a, b: (a * b + a).sum()),
    ("relu(a @ b + b).mean()", lambda a, b: (a @ b + b).relu().mean()),
    ("(a.T @ b).tanh().sum(axis=0)", lambda a, b: (a.T @ b).tanh().sum(axis=0)),
    ("(a ** 2 / (b * b + 1)).max()", lambda a, b: (a ** 2 / (b * b + 1)).max()),
    ("log_softmax(a, axis=1)[0, 1] - sigmoid(b)[1, 0]",
     lambda a, b: a.log_softmax(axis=1)[0, 1] - b.sigmoid()[1, 0]),
    ("-a.exp().sum(1, keepdims=True).sum() + 2 * b.abs().sum()",
     lambda a, b: -a.exp().sum(axis=1, keepdims=True).sum() + 2 * b.abs().sum()),
])
def test_values_and_gradients_are_the_engines(text, build):
    answer = trace(text, {"a": A, "b": B})
    a = Tensor(np.array(A), requires_grad=True)
    b = Tensor(np.array(B), requires_grad=True)
    out = build(a, b)
    out.backward(None if out.data.size == 1 else np.ones(out.shape))
    assert np.allclose(answer["nodes"][0]["value"], out.data, atol=1e-4)
    grads = _grads(answer)
    assert np.allclose(grads["a"], a.grad, atol=1e-4)
    assert np.allclose(grads["b"], b.grad, atol=1e-4)
    assert answer["seeded_with_ones"] == (out.data.size != 1)


def test_steps_visit_every_op_once_outputs_before_their_inputs():
    answer = trace("relu(w @ x + b).sum() + (w * w).mean()", shapes={"x": [2, 3], "b": [1, 3]})
    ops = [node["id"] for node in answer["nodes"] if not node["leaf"]]
    order = [step["node"] for step in answer["steps"]]
    assert sorted(order) == sorted(ops)
    position = {node: i for i, node in enumerate(order)}
    for source, target in answer["edges"]:
        if source in position:  # an op feeding another: its gradient comes later
            assert position[target] < position[source]
    for step in answer["steps"]:
        assert set(step["sends_to"]) == {s for s, t in answer["edges"] if t == step["node"]}
    shapes = {node["label"]: node["shape"] for node in answer["nodes"] if node["leaf"]}
    assert shapes == {"w": [2, 2], "x": [2, 3], "b": [1, 3]}


def test_names_without_values_are_drawn_from_the_seed():
    assert trace("(a * b).sum()", seed=3) == trace("(a * b).sum()", seed=3)
    assert trace("(a * b).sum()", seed=3) != trace("(a * b).sum()", seed=4)


@pytest.mark.parametrize("text, fragment", [
    ("__import__('os').system('true')", "not allowed"),
    ("a.__class__.__bases__", "only .T"),
    ("(lambda: a)()", "not allowed"),
    ("[a for a in b]", "not allowed"),
    ("a if b else a", "not allowed"),
    ("open('/etc/passwd')", "not allowed"),
    ("a.numpy()", "not allowed"),
    ("a.sum(axis=b)", "axis="),
    ("a.relu(1)", "no arguments"),
    ("a ** b", "exponent"),
    ("a ** 100", "exponent"),
    ("a + 'text'", "number"),
    ("a + 1e400", "number"),
    ("2 + 3", "no tensor"),
    ("a +", "syntax"),
    ("", "non-empty"),
    ("a" * 301, "at most 300"),
    ("+".join(["a"] * 70), "too long"),
    ("a[b]", "integers"),
    ("a[0:1]", "integers"),
    ("a @ c", "MatMul"),
    ("relu = a", "syntax"),
    ("sum.sum()", "cannot name a tensor"),
])
def test_what_the_whitelist_leaves_out_is_refused_by_name(text, fragment):
    with pytest.raises(StudioError, match=None) as caught:
        trace(text, shapes={"c": [3, 3]})
    assert fragment in str(caught.value), str(caught.value)
    assert caught.value.status == 400


@pytest.mark.parametrize("values, shapes, fragment", [
    ({"a": [[1, 2], [3]]}, {}, "rectangular"),
    ({"a": "abc"}, {}, "not a number"),
    ({"a": [float("nan")]}, {}, "finite"),
    ({"a": list(range(65))}, {}, "at most 64"),
    ({}, {"a": [100, 100]}, "sizes"),
    ({}, {"a": [2, 2, 2, 2]}, "up to 3"),
    ({}, {"a": "2x2"}, "sizes"),
])
def test_values_and_shapes_are_checked(values, shapes, fragment):
    with pytest.raises(StudioError) as caught:
        trace("a.sum()", values, shapes)
    assert fragment in str(caught.value)


def test_a_large_intermediate_is_refused():
    with pytest.raises(StudioError, match="too large"):
        trace("(x.T @ x).sum()", shapes={"x": [1, 60]})


@given(st.text(max_size=60))
def test_any_text_is_a_graph_or_a_studio_error_never_anything_else(text):
    try:
        answer = trace(text)
    except StudioError as error:
        assert error.status == 400
    else:
        assert answer["nodes"]


_ATOMS = st.sampled_from(["a", "b", "2", "0.5", "a.T", "a[0]", "relu(b)", "a.exp()",
                          "b.sum(axis=0)", "log(a)", "sqrt(b)", "a.max()"])


@given(st.recursive(_ATOMS, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "@", "**"]), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"),
    inner.map(lambda e: f"tanh({e})"), inner.map(lambda e: f"-{e}"),
    inner.map(lambda e: f"{e}.sum()")), max_leaves=6))
def test_generated_expressions_build_or_are_refused_cleanly(text):
    try:
        answer = trace(text, {"a": A, "b": B})
    except StudioError:
        return
    assert answer["steps"] or all(node["leaf"] for node in answer["nodes"][1:])
