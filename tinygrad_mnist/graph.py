"""Look at a graph before `backward()` walks it: a text tree and a Graphviz DOT string.

`viz.draw_graph` draws the same graph with matplotlib alone (no Graphviz needed).
"""

from __future__ import annotations

from tinygrad_mnist.tensor import Tensor


def node_name(tensor: Tensor, names: dict) -> str | None:
    """The name shown for `tensor`: its own `name`, else the one `names` gives its id."""
    return tensor.name or names.get(id(tensor))


def node_label(tensor: Tensor, names: dict) -> str:
    """One line: name, op (or "leaf"), shape, dtype, and whether a leaf requires grad."""
    name = node_name(tensor, names)
    kind = tensor.op.__name__ if tensor.op is not None else "leaf"
    grad = " requires_grad" if tensor.requires_grad and tensor.op is None else ""
    prefix = f"{name}: " if name else ""
    return f"{prefix}{kind} {tensor.shape} {tensor.dtype}{grad}"


def graph_nodes(root: Tensor) -> tuple[list[Tensor], list[tuple[int, int]]]:
    """Every tensor in `root`'s graph (root first) and the edges (input index, output index)."""
    nodes, index, edges, stack = [], {}, [], [root]
    index[id(root)] = 0
    nodes.append(root)
    while stack:
        node = stack.pop()
        for parent in node.inputs:
            if id(parent) not in index:
                index[id(parent)] = len(nodes)
                nodes.append(parent)
                stack.append(parent)
            edges.append((index[id(parent)], index[id(node)]))
    return nodes, edges


# Deeper lines are indented no further but show their depth, so that a chain of n ops
# prints in O(n) characters rather than O(n^2).
MAX_INDENT = 16


def graph_text(root: Tensor, names: dict | None = None) -> str:
    """An indented tree of `root`'s graph, one tensor a line, its inputs below it.

    `names` maps tensors (by identity: `{id(t): "t"}`) to labels; a tensor's own
    `.name` wins. A tensor reached a second time is marked "(seen above)". Lines
    deeper than `MAX_INDENT` levels stay at that indent, prefixed with `[depth d]`.
    """
    names = names or {}
    lines, seen, stack = [], set(), [(root, 0)]
    while stack:
        node, depth = stack.pop()
        again = id(node) in seen
        indent = "    " * min(depth, MAX_INDENT)
        if depth > MAX_INDENT:
            indent += f"[depth {depth}] "
        lines.append(indent + node_label(node, names) + ("  (seen above)" if again else ""))
        if again:
            continue
        seen.add(id(node))
        stack.extend((parent, depth + 1) for parent in reversed(node.inputs))
    return "\n".join(lines)


def graph_dot(root: Tensor, names: dict | None = None) -> str:
    """The graph in Graphviz DOT: `dot -Tpng` draws it, data flowing left to right."""
    names = names or {}
    nodes, edges = graph_nodes(root)
    lines = ["digraph autograd {", "  rankdir=LR;", '  node [shape=box, fontname="monospace"];']
    for i, node in enumerate(nodes):
        shape = "ellipse" if node.op is None else "box"
        label = node_label(node, names).replace('"', r"\"")
        lines.append(f'  n{i} [label="{label}", shape={shape}];')
    lines += [f"  n{a} -> n{b};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines)
