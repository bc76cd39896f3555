"""The Autograd view's expressions: `(a * b + a).sum()` or `relu(w @ x + b)` over named
tensors, parsed with `ast` and built from Tensor operations, never `eval`'d.

Only what the whitelist names is accepted: names (each becomes a leaf `Tensor` that
requires grad), numbers, the operators `+ - * / ** @` and unary `-`, indexing by
integers, the attribute `.T`, and the calls in `FUNCTIONS` (as `relu(x)` or
`x.relu()`) with integer or boolean `axis`/`keepdims`. Anything else (attributes,
strings, lambdas, comprehensions, keywords other than those) is refused with the
offending piece named. Sizes are capped so a request cannot build a huge graph.

`trace(text, values, shapes, seed)` builds the graph, runs the engine's `backward()`
with every intermediate tensor retaining its gradient, and returns the nodes (value
and gradient each), the edges, and the order in which `backward()` visits the op
nodes: the steps the page walks through.
"""

from __future__ import annotations

import ast
import math

import numpy as np

from tinygrad_mnist.app.studio.runs import StudioError
from tinygrad_mnist.graph import graph_nodes
from tinygrad_mnist.tensor import Tensor

MAX_TEXT = 300
MAX_SYNTAX_NODES = 120  # ast nodes in the expression
MAX_ELEMENTS = 64  # per tensor: what the page can show
MAX_GRAPH_NODES = 80
MAX_POWER = 8  # |exponent| of a constant power
DEFAULT_SHAPE = (2, 2)
# Unary methods of Tensor a user may call, as `f(x)` or `x.f()`; the reductions also take
# `axis` and `keepdims`.
ELEMENTWISE = ("relu", "sigmoid", "tanh", "exp", "log", "sqrt", "abs")
REDUCTIONS = ("sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax")
FUNCTIONS = ELEMENTWISE + REDUCTIONS
_OPERATORS = {ast.Add: "__add__", ast.Sub: "__sub__", ast.Mult: "__mul__",
              ast.Div: "__truediv__", ast.Pow: "__pow__", ast.MatMult: "__matmul__"}
_NAME_LENGTH = 16


def parse(text: str) -> ast.Expression:
    """The checked syntax tree of `text`; a StudioError names what is not allowed."""
    if not isinstance(text, str) or not text.strip():
        raise StudioError("expression: expected a non-empty string")
    if len(text) > MAX_TEXT:
        raise StudioError(f"expression: {len(text)} characters, at most {MAX_TEXT}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise StudioError(f"expression: not valid syntax ({error.msg})") from None
    except (RecursionError, MemoryError, ValueError):
        raise StudioError("expression: nested too deeply") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_SYNTAX_NODES:
        raise StudioError(f"expression: too long ({len(nodes)} syntax nodes, at most "
                          f"{MAX_SYNTAX_NODES})")
    for node in nodes:  # a call of anything else is named before any tensor is made
        if isinstance(node, ast.Call) and not (
                isinstance(node.func, (ast.Name, ast.Attribute))
                and getattr(node.func, "id", getattr(node.func, "attr", None)) in FUNCTIONS):
            raise StudioError(f"expression: {_shown(node)} is not allowed; the functions are "
                              f"{', '.join(FUNCTIONS)}")
    return tree


class _Builder:
    """Walks a checked tree and builds Tensors: the whitelist is the set of methods here."""

    def __init__(self, leaves: dict):
        self.leaves = leaves

    def build(self, node):
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise StudioError(f"expression: {_shown(node)} is not allowed (names, numbers, "
                              f"+ - * / ** @, .T, indexing and {', '.join(FUNCTIONS)} only)")
        return method(node)

    def _Expression(self, node):
        return self.build(node.body)

    def _Name(self, node):
        return self.leaves[node.id]

    def _Constant(self, node):
        if type(node.value) not in (int, float) or not math.isfinite(node.value) \
                or abs(node.value) > 1e6:
            raise StudioError(f"expression: {_shown(node)}: expected a number up to 1e6")
        return float(node.value)

    def _BinOp(self, node):
        name = _OPERATORS.get(type(node.op))
        if name is None:
            raise StudioError(f"expression: the operator in {_shown(node)} is not allowed")
        left, right = self.build(node.left), self.build(node.right)
        if isinstance(node.op, ast.Pow):
            if not isinstance(right, float) or abs(right) > MAX_POWER:
                raise StudioError(f"expression: {_shown(node)}: the exponent must be a number "
                                  f"between -{MAX_POWER} and {MAX_POWER}")
        if not isinstance(left, Tensor):
            if not isinstance(right, Tensor):
                raise StudioError(f"expression: {_shown(node)} has no tensor in it")
            return getattr(right, "__r" + name[2:])(left)
        return getattr(left, name)(right)

    def _UnaryOp(self, node):
        operand = self.build(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        if isinstance(node.op, ast.UAdd):
            return operand
        raise StudioError(f"expression: the operator in {_shown(node)} is not allowed")

    def _Attribute(self, node):
        if node.attr != "T":
            raise StudioError(f"expression: {_shown(node)}: only .T, or a call of "
                              f"{', '.join(FUNCTIONS)}")
        return self._tensor(self.build(node.value), node).T

    def _Subscript(self, node):
        tensor = self._tensor(self.build(node.value), node)
        index = node.slice
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        key = []
        for part in parts:
            if isinstance(part, ast.UnaryOp) and isinstance(part.op, ast.USub) \
                    and isinstance(part.operand, ast.Constant):
                part_value = -part.operand.value
            elif isinstance(part, ast.Constant):
                part_value = part.value
            else:
                raise StudioError(f"expression: {_shown(node)}: index by integers only")
            if type(part_value) is not int:
                raise StudioError(f"expression: {_shown(node)}: index by integers only")
            key.append(part_value)
        try:
            return tensor[tuple(key)]
        except IndexError as error:
            raise StudioError(f"expression: {_shown(node)}: {error}") from None

    def _Call(self, node):
        if isinstance(node.func, ast.Name):  # relu(x)
            name, arguments = node.func.id, list(node.args)
            if not arguments:
                raise StudioError(f"expression: {_shown(node)}: {name}() needs a tensor")
            target, arguments = arguments[0], arguments[1:]
        elif isinstance(node.func, ast.Attribute):  # x.relu()
            name, target, arguments = node.func.attr, node.func.value, list(node.args)
        else:
            raise StudioError(f"expression: {_shown(node)} is not allowed")
        if name not in FUNCTIONS:
            raise StudioError(f"expression: {name!r} is not allowed; the functions are "
                              f"{', '.join(FUNCTIONS)}")
        options = {}
        if name in REDUCTIONS:
            for keyword in node.keywords:
                if keyword.arg not in ("axis", "keepdims"):
                    raise StudioError(f"expression: {name}() takes axis= and keepdims= only")
                options[keyword.arg] = _literal(keyword.value, keyword.arg)
            if arguments:
                if len(arguments) > 1 or "axis" in options:
                    raise StudioError(f"expression: {_shown(node)}: too many arguments")
                options["axis"] = _literal(arguments[0], "axis")
        elif arguments or node.keywords:
            raise StudioError(f"expression: {name}() takes no arguments")
        tensor = self._tensor(self.build(target), node)
        try:
            return getattr(tensor, name)(**options)
        except (ValueError, TypeError, IndexError, np.exceptions.AxisError) as error:
            raise StudioError(f"expression: {_shown(node)}: {error}") from None

    @staticmethod
    def _tensor(value, node) -> Tensor:
        if not isinstance(value, Tensor):
            raise StudioError(f"expression: {_shown(node)}: expected a tensor, got a number")
        return value


def _literal(node, what: str):
    value = node.value if isinstance(node, ast.Constant) else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
            and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int:
        value = -node.operand.value
    if what == "axis" and type(value) is int or what == "keepdims" and type(value) is bool:
        return value
    expected = "an integer" if what == "axis" else "True or False"
    raise StudioError(f"expression: {what}= expects {expected}, got {_shown(node)}")


def _shown(node) -> str:
    text = ast.unparse(node)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _names(tree) -> list[str]:
    """The tensor names used (not the called functions), in order of first use."""
    called = {id(node.func) for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in called and node.id not in names:
            names.append(node.id)
    return names


def _leaf(name: str, values: dict, shapes: dict, rng) -> Tensor:
    if len(name) > _NAME_LENGTH or name in FUNCTIONS:
        raise StudioError(f"expression: {name!r} cannot name a tensor")
    if name in values:
        try:
            data = np.array(values[name], dtype=np.float64)
        except (ValueError, TypeError):
            raise StudioError(f"values: {name!r} is not a number or a rectangular list of "
                              "numbers") from None
        if data.dtype.kind != "f" or not np.isfinite(data).all():
            raise StudioError(f"values: {name!r}: expected finite numbers")
    else:
        shape = shapes.get(name, DEFAULT_SHAPE)
        if not isinstance(shape, (list, tuple)) or len(shape) > 3 or not all(
                type(n) is int and 1 <= n <= MAX_ELEMENTS for n in shape):
            raise StudioError(f"shapes: {name!r}: expected a list of up to 3 sizes >= 1")
        data = np.round(rng.normal(size=tuple(shape)), 2)
    if data.size > MAX_ELEMENTS or data.ndim > 3:
        raise StudioError(f"values: {name!r} has {data.size} numbers in {data.ndim} "
                          f"dimensions, at most {MAX_ELEMENTS} in 3")
    return Tensor(data, requires_grad=True, name=name)


def backward_order(root: Tensor) -> list[Tensor]:
    """The op nodes in the order `backward()` gives them their gradient: outputs before
    inputs (a reversed depth-first topological order of what requires grad, as the
    engine's own). Leaves receive theirs from the node that feeds them."""
    order, visited = [], {id(root)}
    path, unvisited = [root], [iter(root.inputs)]
    while path:
        for parent in unvisited[-1]:
            if parent.op is not None and parent.requires_grad and id(parent) not in visited:
                visited.add(id(parent))
                path.append(parent)
                unvisited.append(iter(parent.inputs))
                break
        else:
            unvisited.pop()
            order.append(path.pop())
    return order[::-1]


def trace(text: str, values=None, shapes=None, seed: int = 0) -> dict:
    """Build `text`'s graph, run `backward()`, and describe every node and step."""
    values, shapes = values or {}, shapes or {}
    for what, given in (("values", values), ("shapes", shapes)):
        if not isinstance(given, dict):
            raise StudioError(f"{what}: expected an object of name -> {what[:-1]}")
    if type(seed) is not int or not 0 <= seed < 2**32:
        raise StudioError("seed: expected an integer from 0 to 2**32 - 1")
    tree = parse(text)
    rng = np.random.default_rng(seed)
    leaves = {name: _leaf(name, values, shapes, rng) for name in _names(tree)}
    if not leaves:
        raise StudioError("expression: uses no tensor; name one, say (a * b).sum()")
    with np.errstate(all="ignore"):
        try:
            root = _Builder(leaves).build(tree)
        except StudioError:
            raise
        except (ValueError, TypeError, IndexError) as error:
            raise StudioError(f"expression: {' '.join(str(error).split())}") from None
        if not isinstance(root, Tensor):
            raise StudioError("expression: its value is a number, not a tensor")
        nodes, edges = graph_nodes(root)
        if len(nodes) > MAX_GRAPH_NODES:
            raise StudioError(f"expression: its graph has {len(nodes)} nodes, at most "
                              f"{MAX_GRAPH_NODES}")
        if any(node.data.size > MAX_ELEMENTS * 4 for node in nodes):
            raise StudioError("expression: an intermediate tensor is too large to show "
                              f"(more than {MAX_ELEMENTS * 4} numbers)")
        for node in nodes:
            if node.op is not None and node.requires_grad:
                node.retain_grad()
        order = backward_order(root)
        # backward() of a tensor with more than one element needs the gradient of some
        # scalar: ones, as if the expression were summed.
        root.backward(None if root.data.size == 1 else np.ones(root.shape))
    index = {id(node): i for i, node in enumerate(nodes)}
    return {
        "expression": ast.unparse(tree),
        "seeded_with_ones": bool(root.data.size != 1),
        "root": 0,
        "nodes": [_describe(node, i) for i, node in enumerate(nodes)],
        "edges": [list(edge) for edge in edges],
        "steps": [{"node": index[id(node)],
                   "sends_to": [a for a, b in edges
                                if b == index[id(node)] and nodes[a].requires_grad]}
                  for node in order],
    }


def _json_numbers(array):
    if array is None:
        return None
    # JSON has no NaN or infinity: those are sent as text ("nan", "inf"), which the page shows.
    return _nonfinite_as_text(np.round(np.asarray(array, dtype=np.float64), 4).tolist())


def _nonfinite_as_text(value):
    if isinstance(value, list):
        return [_nonfinite_as_text(v) for v in value]
    return value if math.isfinite(value) else str(value)


def _describe(node: Tensor, i: int) -> dict:
    kind = node.op.__name__ if node.op is not None else None
    if node.op is None and node.name is None:
        label = f"{float(node.data.ravel()[0]):g}" if node.data.size == 1 else "constant"
    else:
        label = node.name or kind
    return {"id": i, "label": label, "op": kind, "leaf": node.op is None,
            "requires_grad": bool(node.requires_grad), "shape": list(node.shape),
            "value": _json_numbers(node.data),
            "grad": _json_numbers(node.grad) if node.requires_grad else None}
