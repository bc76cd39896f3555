"""The house's layers (docs: DESIGN.md): imports point down, and no circle but tensor <-> ops.

Every `import` in the package is read with `ast`, those inside functions too, so a
lazy import cannot hide an upward step.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_mnist

PACKAGE = Path(tinygrad_mnist.__file__).parent

# The lowest layer first. A module may import from its own layer or any below it:
# app -> experiments -> train -> {nn, optim, data, viz} -> engine -> utils.
LAYERS = [
    {"utils"},  # small helpers every layer shares
    {"tensor", "ops", "grad_mode"},
    {"gradcheck", "graph", "testing", "inference", "__init__"},
    {"nn", "optim", "data", "viz"},
    {"train"},
    {"experiments"},
    {"app", "__main__"},
]
# Same layer (or a layer above), but they must not know each other: the four rooms above the
# engine are independent, and the training core knows nothing of matplotlib (DESIGN.md).
_SIDE_BY_SIDE = ("nn", "optim", "data", "viz")
FORBIDDEN = {(a, b) for a in _SIDE_BY_SIDE for b in _SIDE_BY_SIDE if a != b} | {("train", "viz")}
ALLOWED_CYCLE = {"tinygrad_mnist.tensor", "tinygrad_mnist.ops"}  # see the end of tensor.py


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(external: bool = False) -> dict[str, set[str]]:
    """Module -> the package modules it imports (a `from pkg import name` counts as pkg.name
    when that is a module, else as pkg); with `external`, the other top-level modules too."""
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}"
                           in modules else node.module for alias in node.names]
            graph[name].update(t for t in targets
                               if external or t.split(".")[0] == "tinygrad_mnist")
    return graph


def _loaded_by(module: str) -> set[str]:
    """Every module, ours or not, that importing `module` may load (its packages' __init__
    too): the closure over the package's own imports, lazy ones included."""
    graph = _imports(external=True)
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            prefix = ".".join(parts[:i])
            if prefix not in seen:
                seen.add(prefix)
                todo.extend(graph.get(prefix, ()))
    return seen


def _room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _layer(module: str) -> int:
    room = _room(module)
    return next(i for i, rooms in enumerate(LAYERS) if room in rooms)


def test_every_module_belongs_to_a_layer():
    for module in _imports():
        assert any(_room(module) in rooms for rooms in LAYERS), module


def _upward(graph) -> list[tuple[str, str]]:
    return [(module, target) for module, targets in graph.items() for target in targets
            if _layer(target) > _layer(module) or (_room(module), _room(target)) in FORBIDDEN]


def _circles(graph) -> list[list[str]]:
    circles = []
    done: set[str] = set()

    def visit(module, path):
        for target in sorted(graph.get(module, ())):
            if target in path:
                circle = path[path.index(target):]
                if set(circle) != ALLOWED_CYCLE:
                    circles.append(circle + [target])
            elif target not in done:
                visit(target, path + [target])
        done.add(module)

    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    return circles


def test_no_module_imports_from_a_layer_above_it():
    assert _upward(_imports()) == []


def test_data_does_not_import_nn_and_train_not_the_download_progress_bar():
    graph = _imports()
    assert not [t for m, ts in graph.items() if _room(m) == "data" for t in ts
                if _room(t) in ("nn", "optim", "train")]
    assert not [t for m, ts in graph.items() if _room(m) == "train" for t in ts
                if t == "tinygrad_mnist.data.progress"]


def test_the_only_import_circle_is_tensor_and_ops():
    assert _circles(_imports()) == []


def test_the_checker_sees_an_upward_import_and_a_circle():
    graph = {name: set(targets) for name, targets in _imports().items()}
    graph["tinygrad_mnist.nn.layer"].add("tinygrad_mnist.train.trainer")
    graph["tinygrad_mnist.optim.sgd"].add("tinygrad_mnist.nn.layer")
    assert set(_upward(graph)) == {("tinygrad_mnist.nn.layer", "tinygrad_mnist.train.trainer"),
                                   ("tinygrad_mnist.optim.sgd", "tinygrad_mnist.nn.layer")}
    graph["tinygrad_mnist.train.history"].add("tinygrad_mnist.experiments.store")
    graph["tinygrad_mnist.train.metrics"].add("tinygrad_mnist.viz.confusion")
    assert ("tinygrad_mnist.train.history", "tinygrad_mnist.experiments.store") in _upward(graph)
    assert ("tinygrad_mnist.train.metrics", "tinygrad_mnist.viz.confusion") in _upward(graph)
    graph["tinygrad_mnist.ops"].add("tinygrad_mnist.gradcheck")
    assert _circles(graph)  # gradcheck -> tensor -> ops -> gradcheck


def test_the_training_core_never_loads_the_experiment_toolkit_or_sqlite3():
    loaded = _loaded_by("tinygrad_mnist.train.trainer") | _loaded_by("tinygrad_mnist.train")
    assert "tinygrad_mnist.train.trainer" in loaded and "numpy" in loaded  # the walk walks
    assert not {m for m in loaded if m.startswith("tinygrad_mnist.experiments")}
    assert not {m for m in loaded if m.split(".")[0] in ("sqlite3", "joblib", "matplotlib")}
    assert "sqlite3" in _loaded_by("tinygrad_mnist.experiments.store")  # it would see one


@pytest.mark.slow
def test_importing_the_trainer_does_not_import_sqlite3():
    code = "import sys, tinygrad_mnist.train.trainer; print('sqlite3' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.strip() == "False"



TESTS = Path(__file__).resolve().parent


def _imports_of_test_modules(source: str) -> list[str]:
    """The modules of tests/ (test modules, conftest files, bare helper files) that `source`
    imports: everything of tests/ but the `support` package."""
    own = {path.stem for path in TESTS.rglob("*.py")} - {"support", "__init__"}
    found = []
    for node in ast.walk(ast.parse(source)):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                 [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
        found += [name for name in names if name.split(".")[0] in own]
    return found


def test_no_test_imports_another_test_module():
    """What tests share lives in tests/support/ (helpers) and conftest.py files (fixtures)."""
    assert _imports_of_test_modules("from test_cli import run\nimport conftest") == [
        "test_cli", "conftest"]
    assert _imports_of_test_modules("from support.command import run") == []
    offenders = {str(path.relative_to(TESTS)): _imports_of_test_modules(path.read_text())
                 for path in TESTS.rglob("*.py")}
    assert {path: names for path, names in offenders.items() if names} == {}
