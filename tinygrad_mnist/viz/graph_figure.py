"""The autograd graph of a tensor, drawn with matplotlib alone (no Graphviz to install).

Data flows left to right: each result sits one column right of its deepest input,
and each leaf just left of the first op that uses it. `backward()` walks the arrows
from right to left.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from tinygrad_mnist.graph import graph_nodes, node_name
from tinygrad_mnist.tensor import Tensor
from tinygrad_mnist.viz._common import finish, text_width

MAX_NODES = 150  # beyond this the boxes are too many to read; graph_text still works
ROW = 0.8  # inches from one box to the next in a column
LANE = 0.22  # rows between two lanes that carry edges over columns
STYLES = {  # kind of node: (legend text, face colour, box style)
    "parameter": ("leaf that requires grad", "#fdd9a0", "round,pad=0.45"),
    "constant": ("leaf without grad (constant)", "#e8e8e8", "round,pad=0.45"),
    "result": ("result of an op", "#cfe2f3", "square,pad=0.45"),
}


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


def _kind(tensor: Tensor) -> str:
    if tensor.op is not None:
        return "result"
    return "parameter" if tensor.requires_grad else "constant"


def _box_text(tensor: Tensor, names: dict) -> str:
    """Two lines: what the tensor is (name, op, or a small leaf's value), then shape and dtype."""
    name = node_name(tensor, names)
    if tensor.op is not None:
        what = f"{name} = {tensor.op.__name__}" if name else tensor.op.__name__
    else:
        what = name or ("leaf" if tensor.requires_grad else "constant")
        if tensor.size == 1:
            what += f" = {tensor.data.item():.4g}"
    shape = "scalar" if tensor.ndim == 0 else str(tensor.shape)
    return f"{what}\n{shape} {tensor.dtype}"


def _columns(count: int, inputs_of: list[list[int]], users_of: list[list[int]]) -> list[int]:
    """Each node's column: results by their longest path from a leaf, leaves before first use."""
    waiting = [len(inputs) for inputs in inputs_of]
    order = [node for node in range(count) if waiting[node] == 0]
    for node in order:  # Kahn's algorithm: `order` grows into a topological order
        for user in users_of[node]:
            waiting[user] -= 1
            if waiting[user] == 0:
                order.append(user)
    column = [0] * count
    for node in order:
        if inputs_of[node]:
            column[node] = 1 + max(column[i] for i in inputs_of[node])
    for node in order:
        if not inputs_of[node] and users_of[node]:
            column[node] = min(column[user] for user in users_of[node]) - 1
    return column


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default


def _rows(column: list[int], inputs_of, users_of) -> list[float]:
    """Each node's height in its column, ordered so that edges cross little.

    A few sweeps of the barycentre heuristic: sort each column by the mean height of
    the neighbours in the column before it, left to right, then right to left.
    """
    stacks: list[list[int]] = [[] for _ in range(max(column) + 1)]
    for node, c in enumerate(column):
        stacks[c].append(node)
    height = [0.0] * len(column)

    def stack_up(stack):
        for position, node in enumerate(stack):
            height[node] = (len(stack) - 1) / 2 - position

    for stack in stacks:
        stack_up(stack)
    for _ in range(2):
        for neighbours, sweep in ((inputs_of, stacks[1:]), (users_of, stacks[-2::-1])):
            for stack in sweep:
                stack.sort(key=lambda n: -_mean([height[m] for m in neighbours[n]], height[n]))
                stack_up(stack)
    return height


def _lanes(column: list[int], height: list[float], edges) -> dict[int, float]:
    """A lane (a height clear of every box) for each node with an edge that skips a column.

    Its edges run along the lane, above the boxes for a node in the upper half and
    below them otherwise, one lane per node, so that they never cross a box.
    """
    lanes: dict[int, float] = {}
    above, below = max(height) + 0.5, min(height) - 0.5
    for source, target in edges:
        if column[target] - column[source] > 1 and source not in lanes:
            if height[source] >= 0:
                lanes[source] = above = above + LANE
            else:
                lanes[source] = below = below - LANE
    return lanes


def draw_graph(tensor: Tensor, *, names: dict | None = None, path=None):
    """Draw the graph that made `tensor`: a box per tensor, an arrow from each input to its op.

    Boxes show the op (or, for a leaf, its name), the shape and the dtype; leaves
    are rounded, orange when they require grad. `names` maps tensors by identity
    (`{id(w): "w"}`) to labels; a tensor's own `.name` wins. Draw before
    `backward()` (or pass `retain_graph=True` to it): backward releases the graph.
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tensor: expected a Tensor, got {type(tensor).__name__}")
    if names is not None and not isinstance(names, dict):
        raise TypeError(f"names: expected a dict {{id(tensor): name}}, got {type(names).__name__}")
    nodes, edges = graph_nodes(tensor)
    if len(nodes) > MAX_NODES:
        raise ValueError(
            f"tensor: its graph has {len(nodes)} tensors, more than the {MAX_NODES} a drawing "
            "can show legibly; use tinygrad_mnist.graph_text for large graphs"
        )
    edges = sorted(set(edges))  # x * x uses x twice: one arrow is enough
    inputs_of: list[list[int]] = [[] for _ in nodes]
    users_of: list[list[int]] = [[] for _ in nodes]
    for source, target in edges:
        inputs_of[target].append(source)
        users_of[source].append(target)
    column = _columns(len(nodes), inputs_of, users_of)
    height = _rows(column, inputs_of, users_of)
    labels = [_box_text(node, names or {}) for node in nodes]

    lanes = _lanes(column, height, edges)
    widest_line = max(len(line) for label in labels for line in label.splitlines())
    column_width = max(1.5, 0.07 * widest_line + 0.65)  # inches: the box and room for arrows
    columns = max(column) + 1
    low = min([min(height) - 0.5, *lanes.values()]) - 0.25
    high = max([max(height) + 0.5, *lanes.values()]) + 0.25
    leaves = sum(1 for inputs in inputs_of if not inputs)
    heading = (f"Autograd graph: {_count(len(nodes), 'tensor', 'tensors')}, "
               f"{_count(leaves, 'leaf', 'leaves')} "
               "(backward() follows the arrows from right to left)")
    legend_width = text_width("".join(text for text, _, _ in STYLES.values()), 8) + 1.5
    width = max(columns * column_width, text_width(heading, 10), legend_width) + 0.3
    fig = Figure(figsize=(width, (high - low) * ROW + 0.9), layout="constrained")
    ax = fig.add_subplot()
    ax.set_xlim(-0.5, columns - 0.5)
    ax.set_ylim(low, high)
    ax.axis("off")

    boxes = []
    for i, node in enumerate(nodes):
        _, color, style = STYLES[_kind(node)]
        boxes.append(ax.text(
            column[i], height[i], labels[i], ha="center", va="center", fontsize=8,
            family="monospace", zorder=2,
            bbox={"boxstyle": style, "facecolor": color, "edgecolor": "0.2",
                  "linewidth": 2.0 if i == 0 else 0.8},  # the root's frame is heavier
        ))
    arrow = {"arrowstyle": "-|>", "color": "0.3", "linewidth": 1.0, "shrinkA": 0}
    for source, target in edges:
        start, end = (column[source], height[source]), (column[target], height[target])
        leaves_box = boxes[source].get_bbox_patch()
        if column[target] - column[source] > 1:
            # Out to the gap right of the source, along the lane, down the gap left of
            # the target: gaps and lanes hold no boxes. The line starts behind its box.
            # It arrives a little off the target's centre, apart from the straight arrows.
            out, into, lane = column[source] + 0.5, column[target] - 0.5, lanes[source]
            arrive = height[target] + (0.12 if lane > height[target] else -0.12)
            ax.plot([start[0], out, out, into, into], [start[1], start[1], lane, lane, arrive],
                    color="0.3", linewidth=1.0, zorder=1)
            start, end, leaves_box = (into, arrive), (end[0], arrive), None
        ax.annotate("", xy=end, xytext=start, zorder=3,
                    arrowprops={**arrow, "patchA": leaves_box,
                                "patchB": boxes[target].get_bbox_patch()})
    handles = [Patch(facecolor=color, edgecolor="0.2", label=text)
               for text, color, _ in STYLES.values()]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=3,
              frameon=False, fontsize=8)
    ax.set_title(heading, fontsize=10)
    return finish(fig, path)
