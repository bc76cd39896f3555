"""The application asks a model what it takes (`input_shape`), never which one it is.

Every module of app/ is read with `ast`: no comparison with a model kind's name ("mlp",
"cnn": `config.model == "cnn"`, `config.get("model") == "cnn"`) and no `isinstance`
test against `MLP` or `CNN` (issue 18: models know their input; DESIGN.md: nothing
dispatches on a class name), and no layout by the config's model kind (`config.prepare`,
`RunConfig.input_layout`, a library convenience for scripts). Laying images out is
`app.predict.model_inputs`'s job, from the model's `input_shape`; which fields a kind of
model uses is the schema's.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tinygrad_mnist.app
from tinygrad_mnist.train.config import MODELS

APP = Path(tinygrad_mnist.app.__file__).parent


def _dispatches(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            names = [o.value for o in operands
                     if isinstance(o, ast.Constant) and isinstance(o.value, str)]
            if any(name in MODELS for name in names):
                lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr in ("prepare", "input_layout"):
            lines.append(node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "isinstance" and len(node.args) == 2):
            classes = ast.unparse(node.args[1])
            if any(word in classes.replace("(", " ").replace(",", " ").replace(".", " ").split()
                   for word in ("MLP", "CNN")):
                lines.append(node.lineno)
    return lines


def test_no_app_module_dispatches_on_a_model_kind_or_class():
    found = {str(path.relative_to(APP)): lines for path in sorted(APP.rglob("*.py"))
             if (lines := _dispatches(ast.parse(path.read_text(encoding="utf-8"))))}
    assert found == {}


def test_the_checker_sees_the_dispatches_it_forbids():
    tree = ast.parse('if config.model == "cnn": pass\n'
                     'x = "mlp" != config.get("model")\n'
                     'y = isinstance(model, nn.CNN)\n'
                     'z = config.optimizer == "adam"\n'
                     'x = config.prepare(images)\n')
    assert _dispatches(tree) == [1, 2, 3, 5]
