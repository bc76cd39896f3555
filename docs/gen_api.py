"""Write docs/api.md, the API reference, from the docstrings of every public name.

    python docs/gen_api.py            # rewrite docs/api.md
    python docs/gen_api.py --check    # exit 1 if docs/api.md is out of date

The public names of a package are its `__all__` (or, without one, the names it defines
that do not start with an underscore). Classes list their public methods and
properties; constants show their value. `tests/docs/test_api_reference.py` checks that every
public name has a docstring and appears in docs/api.md.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

API_MD = Path(__file__).resolve().parent / "api.md"

# (module, what it is for), in the order a reader meets them: the layers bottom up
# (shared helpers, engine, nn and optim, data, viz, train, experiments), then the application's
# modules.
MODULES = (
    ("tinygrad_mnist", "the autograd engine: Tensor, Function, no_grad, gradcheck, graphs"),
    ("tinygrad_mnist.testing", "hypothesis strategies and gradient checks for extenders"),
    ("tinygrad_mnist.utils.checks", "argument checks whose errors name the argument"),
    ("tinygrad_mnist.utils.atomic", "writing a file whole or not at all"),
    ("tinygrad_mnist.utils.npz", "reading .npz archives without pickles"),
    ("tinygrad_mnist.utils.terminal", "whether stderr is a terminal"),
    ("tinygrad_mnist.utils.blas", "BLAS on one thread, as train and search run it"),
    ("tinygrad_mnist.nn", "layers, activations, losses, initialisers"),
    ("tinygrad_mnist.optim", "optimizers, learning-rate schedules, gradient clipping"),
    ("tinygrad_mnist.data", "MNIST: fetch, verify, cache, read, prepare, split, batch"),
    ("tinygrad_mnist.viz", "figures: predictions, curves, confusion, heat map, graph"),
    ("tinygrad_mnist.viz.figure_file", "saving a matplotlib figure through atomic_write"),
    ("tinygrad_mnist.train", "the training core: Trainer, callbacks, metrics, validation"),
    ("tinygrad_mnist.experiments", "grid search, result stores, rankings, exports, TOML files"),
    ("tinygrad_mnist.data.by_name", "data sets by name, as the command line takes them"),
    ("tinygrad_mnist.app.run_folder", "the run folder that `tinygrad-mnist train` writes"),
    ("tinygrad_mnist.app.predict", "classifying image files, as `tinygrad-mnist predict` does"),
    ("tinygrad_mnist.app.onnx_export", "ONNX export (the optional `onnx` extra)"),
)


def public_names(module) -> list[str]:
    """`module.__all__`, or the public names the module itself defines."""
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return [name for name, value in vars(module).items()
            if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__]


def is_documentable(value) -> bool:
    """True for what carries its own docstring: classes, functions, modules."""
    return inspect.isclass(value) or inspect.isroutine(value) or inspect.ismodule(value)


def _signature(value) -> str:
    try:
        return str(inspect.signature(value))
    except (TypeError, ValueError):
        return "(...)"


def _doc(value) -> str:
    return inspect.getdoc(value) or "_(no docstring)_"


def _members(cls) -> list[tuple[str, str, str]]:
    """(name, signature, docstring) of the public methods and properties `cls` defines."""
    members = []
    for name, raw in vars(cls).items():
        if name.startswith("_"):
            continue
        value = getattr(cls, name)
        if isinstance(raw, property):
            members.append((name, "", inspect.getdoc(raw) or ""))
        elif inspect.isroutine(value):
            doc = inspect.getdoc(value) or ""
            members.append((name, _signature(value), doc))
    return [member for member in members if member[2]]


def _constant(value) -> str:
    text = repr(value)
    return text if len(text) <= 300 else text[:300] + " ..."


def render_module(module_name: str, purpose: str) -> list[str]:
    """The Markdown section of one module."""
    module = importlib.import_module(module_name)
    lines = [f"## `{module_name}`", "", f"_{purpose}._", "", _doc(module), ""]
    for name in public_names(module):
        value = getattr(module, name)
        if inspect.ismodule(value):
            lines += [f"### `{module_name}.{name}` (module)", "", _doc(value), ""]
        elif inspect.isclass(value):
            lines += [f"### `class {name}{_signature(value)}`", "", _doc(value), ""]
            for member, signature, doc in _members(value):
                lines += [f"- **`{member}{signature}`**: " + doc.replace("\n", "\n  "), ""]
        elif inspect.isroutine(value):
            lines += [f"### `{name}{_signature(value)}`", "", _doc(value), ""]
        else:
            lines += [f"### `{name}` ({type(value).__name__})", "", "```",
                      _constant(value), "```", ""]
    return lines


def render() -> str:
    """The whole of docs/api.md."""
    lines = [
        "# API reference",
        "",
        "Generated from the docstrings by `python docs/gen_api.py`; do not edit by hand.",
        "`tests/docs/test_api_reference.py` checks that every public name has a docstring and is "
        "here.",
        "",
        "## Contents",
        "",
    ]
    for module_name, purpose in MODULES:
        anchor = module_name.replace(".", "")
        lines.append(f"- [`{module_name}`](#{anchor}): {purpose}")
    lines.append("")
    for module_name, purpose in MODULES:
        lines += render_module(module_name, purpose)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, compare) docs/api.md; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit with status 1 if docs/api.md differs from the docstrings")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = API_MD.read_text(encoding="utf-8") if API_MD.exists() else ""
        if current != text:
            print(f"{API_MD} is out of date; run: python docs/gen_api.py", file=sys.stderr)
            return 1
        return 0
    API_MD.write_text(text, encoding="utf-8")
    print(f"wrote {API_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
