"""Whole graphs, not single ops: hypothesis draws a small random DAG of built-in ops and its
gradients must match central differences (float64). Shared sub-expressions, broadcasting,
reductions and a reused leaf are what make the engine's bookkeeping (ordering, accumulation,
unbroadcasting) matter; a single-op test exercises none of them."""

import numpy as np
from hypothesis import find, given, settings
from hypothesis import strategies as st

from tinygrad_mnist import GradcheckError, ops
from tinygrad_mnist.testing import assert_gradients_match, broadcastable_shapes, tensors

# name -> (number of operands, fn(*operands, axis)). Smooth ops only: a kink (relu, max)
# inside a random graph could land on an intermediate value that sits exactly on it.
OPS = {
    "add": (2, lambda a, b, axis: a + b),
    "sub": (2, lambda a, b, axis: a - b),
    "mul": (2, lambda a, b, axis: a * b),
    "div": (2, lambda a, b, axis: a / (1 + b * b)),  # a denominator that is never near 0
    "square": (1, lambda a, axis: a * a),  # one tensor on both sides of an op
    "neg": (1, lambda a, axis: -a),
    "tanh": (1, lambda a, axis: a.tanh()),
    "sigmoid": (1, lambda a, axis: a.sigmoid()),
    "sum": (1, lambda a, axis: a.sum(axis=axis, keepdims=True)),
    "mean": (1, lambda a, axis: a.mean(axis=axis, keepdims=True)),
    "logsumexp": (1, lambda a, axis: a.logsumexp(axis=axis, keepdims=True)),
}


@st.composite
def graphs(draw, max_steps: int = 5):
    """Three broadcastable leaves and a list of steps `(op, operand indices, axis)`.

    Operands are drawn from everything made so far, so a result or a leaf is often used
    by several later steps. Reductions keep their axes, so every value still broadcasts
    against every other.
    """
    leaf_shapes = draw(broadcastable_shapes(3, min_dims=1, max_dims=2, max_side=3))
    leaves = [draw(tensors(shape, low=-1.5, high=1.5)) for shape in leaf_shapes]
    steps = []
    for made in range(len(leaves), len(leaves) + draw(st.integers(1, max_steps))):
        name = draw(st.sampled_from(sorted(OPS)))
        arity = OPS[name][0]
        operands = tuple(draw(st.integers(0, made - 1)) for _ in range(arity))
        steps.append((name, operands, draw(st.sampled_from([0, -1]))))
    return leaves, steps


def evaluate(steps, *leaves):
    """Run the steps; the result sums every value made and uses the first leaf once more."""
    values = list(leaves)
    for name, operands, axis in steps:
        values.append(OPS[name][1](*(values[i] for i in operands), axis))
    total = (values[0] * values[-1]).sum()
    for value in values[len(leaves) :]:
        total = total + value.sum()
    return total


@given(graphs())
def test_random_graphs_match_central_differences(graph):
    leaves, steps = graph
    assert_gradients_match(lambda *ts: evaluate(steps, *ts), *leaves)


def test_the_graph_check_finds_a_broken_backward(monkeypatch):
    def wrong_tanh_backward(ctx, grad):
        return grad * (1 - ctx.out)  # should be 1 - out**2

    monkeypatch.setattr(ops.Tanh, "backward", staticmethod(wrong_tanh_backward))

    def gradients_wrong(graph):
        leaves, steps = graph
        try:
            assert_gradients_match(lambda *ts: evaluate(steps, *ts), *leaves)
        except GradcheckError:
            return True
        return False

    leaves, steps = find(graphs(max_steps=3), gradients_wrong,
                         settings=settings(max_examples=500, database=None))
    # Hypothesis shrinks the failure to the one step that matters.
    assert [name for name, _, _ in steps] == ["tanh"]
    assert all(isinstance(leaf.data, np.ndarray) for leaf in leaves)
