"""draw_graph: the autograd graph of an expression drawn with matplotlib alone."""

from __future__ import annotations

import pytest
from matplotlib.colors import to_rgba
from matplotlib.text import Annotation
from support.figures import assert_png, render

from tinygrad_mnist import Tensor
from tinygrad_mnist.viz import draw_graph
from tinygrad_mnist.viz.graph_figure import MAX_NODES, STYLES


def boxes(fig) -> dict:
    """The node boxes of the drawing, by the first line of their label."""
    texts = [t for t in fig.axes[0].texts if not isinstance(t, Annotation)]
    return {t.get_text().splitlines()[0]: t for t in texts}


def arrows(fig) -> list:
    return [t for t in fig.axes[0].texts if isinstance(t, Annotation)]


def test_a_small_expression_is_drawn_in_layers_from_inputs_to_output(tmp_path):
    a = Tensor([1.0, 2.0], requires_grad=True, dtype="float32")
    b = Tensor([3.0, 4.0], requires_grad=True, dtype="float32", name="b")
    loss = (a * b + a).sum()
    fig = draw_graph(loss, names={id(a): "a"}, path=tmp_path / "graph.png")
    assert_png(tmp_path / "graph.png", fig)
    assert len(fig.axes) == 1
    nodes = boxes(fig)
    assert set(nodes) == {"a", "b", "Mul", "Add", "Sum"}
    assert nodes["Mul"].get_text() == "Mul\n(2,) float32"
    assert nodes["Sum"].get_text() == "Sum\nscalar float32"
    column = {name: text.get_position()[0] for name, text in nodes.items()}
    assert column["a"] == column["b"] < column["Mul"] < column["Add"] < column["Sum"]
    assert len(arrows(fig)) == 5  # a->Mul, b->Mul, Mul->Add, a->Add, Add->Sum
    assert len(fig.axes[0].get_lines()) == 1  # a->Add skips a column: routed along a lane
    assert fig.axes[0].get_title().startswith("Autograd graph: 5 tensors, 2 leaves")
    leaf_colour = to_rgba(STYLES["parameter"][1])
    assert to_rgba(nodes["a"].get_bbox_patch().get_facecolor()) == leaf_colour
    assert to_rgba(nodes["Sum"].get_bbox_patch().get_facecolor()) != leaf_colour


def test_constants_show_their_value_and_leaves_sit_just_before_their_first_use():
    x = Tensor([[1.0, 2.0]], requires_grad=True, dtype="float64", name="x")
    w = Tensor([[0.5], [0.25]], requires_grad=True, dtype="float64", name="w")
    out = ((x * 2) @ w).relu()
    nodes = boxes(draw_graph(out))
    assert nodes["constant = 2"].get_text() == "constant = 2\nscalar float64"
    assert nodes["w"].get_position()[0] == nodes["Mul"].get_position()[0]
    assert nodes["x"].get_position()[0] < nodes["Mul"].get_position()[0]


def test_a_tensor_used_twice_by_one_op_gets_one_arrow_and_a_lone_leaf_draws():
    x = Tensor([1.0], requires_grad=True, name="x")
    assert len(arrows(draw_graph(x * x))) == 1
    alone = render(draw_graph(Tensor([1.0, 2.0])))
    assert set(boxes(alone)) == {"constant"} and not arrows(alone)
    assert alone.axes[0].get_title().startswith("Autograd graph: 1 tensor, 1 leaf ")


def test_a_graph_too_large_to_read_is_refused_pointing_at_graph_text():
    x = Tensor([1.0], requires_grad=True)
    y = x
    for _ in range(MAX_NODES):
        y = y * 1.0001
    with pytest.raises(ValueError, match="^tensor: .*graph_text"):
        draw_graph(y)


def test_bad_arguments_are_type_errors_naming_them():
    with pytest.raises(TypeError, match="^tensor: "):
        draw_graph([1.0, 2.0])
    with pytest.raises(TypeError, match="^names: "):
        draw_graph(Tensor([1.0]), names=["x"])
