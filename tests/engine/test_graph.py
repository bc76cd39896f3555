"""Graph inspection for students: the text tree and the DOT string."""

import numpy as np
import pytest

from tinygrad_mnist import Tensor, graph_dot, graph_text
from tinygrad_mnist.graph import graph_nodes


def small_expression():
    a = Tensor(np.ones((2, 3)), requires_grad=True, name="a")
    b = Tensor(np.ones((2, 3)), requires_grad=True, name="b")
    return a, b, (a * b + a).sum()


def test_graph_nodes_lists_each_tensor_once_with_its_edges():
    a, b, loss = small_expression()
    nodes, edges = graph_nodes(loss)
    assert nodes[0] is loss
    assert len(nodes) == 5  # sum, add, mul, a, b
    assert sum(1 for n in nodes if n is a) == 1
    index = {id(n): i for i, n in enumerate(nodes)}
    assert (index[id(a)], index[id(loss.inputs[0])]) in edges  # a feeds the add directly
    assert len(edges) == 5


def test_graph_text_is_an_indented_tree_marking_shared_inputs():
    _, _, loss = small_expression()
    lines = graph_text(loss).splitlines()
    assert lines[0].startswith("Sum ()")
    assert lines[1].startswith("    Add (2, 3)")
    assert lines[2].startswith("        Mul (2, 3)")
    assert any(line.strip().startswith("a: leaf") and "seen above" in line for line in lines)
    assert sum("requires_grad" in line for line in lines) == 3


def test_graph_dot_is_a_digraph_with_every_node_and_edge():
    _, _, loss = small_expression()
    dot = graph_dot(loss)
    assert dot.startswith("digraph autograd {") and dot.rstrip().endswith("}")
    assert dot.count("->") == 5
    assert dot.count("[label=") == 5
    assert 'label="a: leaf (2, 3) float64 requires_grad"' in dot


def test_names_can_be_given_without_naming_tensors():
    x = Tensor([1.0], requires_grad=True)
    text = graph_text(x * 2, names={id(x): "x"})
    assert "x: leaf" in text


@pytest.mark.slow
def test_a_chain_of_100000_ops_prints_in_linear_space():
    # Indenting every level would take 4 * 100,000^2 / 2 characters (20 GB) for the text tree.
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    text = graph_text(y)
    lines = text.splitlines()
    assert len(lines) == 200_001  # each Mul, its constant, and x
    assert max(len(line) for line in lines) < 150
    assert sum(line.lstrip().startswith("[depth 100000] leaf (1,)") for line in lines) == 1
    dot = graph_dot(y)
    assert dot.count("->") == 200_000 and len(dot) < 200 * 200_001


def test_deep_lines_keep_their_depth_visible():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(20):
        y = y.tanh()
    lines = graph_text(y).splitlines()
    assert lines[16].startswith(" " * 64 + "Tanh")
    assert lines[17].startswith(" " * 64 + "[depth 17] Tanh")
