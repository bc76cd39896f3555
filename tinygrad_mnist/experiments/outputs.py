"""Where a search writes: paths that never overlap, and never over a file that is not ours.

Every export names the experiment it came from (the `experiment` field of its rows, or
the line `tinygrad-mnist experiment <id>` in a report or a figure), so a file already
at an output path is replaced only when it is an earlier export of the same experiment.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

MARKER = "tinygrad-mnist experiment"


def marker(experiment: str) -> str:
    """The line a Markdown report or a PNG's metadata carries to name its experiment."""
    return f"{MARKER} {experiment}"


def check_distinct(paths: dict) -> None:
    """Refuse (ValueError) two outputs at one path, or one inside another.

    `paths` maps a name ("store", "json", "csv", "markdown", "heat map") to a path.
    An export written over the store would destroy every trial in it.
    """
    resolved = {name: Path(path).resolve() for name, path in paths.items()}
    names = list(resolved)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            a, b = resolved[first], resolved[second]
            if a == b:
                raise ValueError(f"outputs: the {first} and the {second} are the same file "
                                 f"{paths[first]}; give each output its own path")
            for outer, inner in ((first, second), (second, first)):
                if resolved[outer] in resolved[inner].parents:
                    raise ValueError(f"outputs: the {inner} {paths[inner]} lies inside the "
                                     f"{outer} {paths[outer]}; give each output its own path")


def check_replaceable(name: str, path, experiment: str) -> None:
    """Refuse (ValueError) to replace `path` unless it is an export of `experiment`.

    `name` is "json", "csv", "markdown" or "heat map" (what `path` is for). A missing
    file is fine; a folder, another experiment's export or a stranger's file is not.
    """
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if not path.is_file():
        raise ValueError(f"outputs: the {name} path {path} is not a file; choose another")
    why = _not_an_export(name, path, experiment)
    if why:
        raise ValueError(f"outputs: {path} already exists and is not an earlier {name} export "
                         f"of this experiment ({why}); move it away or choose another path")


def _not_an_export(name: str, path: Path, experiment: str) -> str | None:
    """Why `path` is not an export of `experiment`, or None if it is."""
    try:
        if name == "json":
            rows = json.loads(path.read_text(encoding="utf-8"))
            found = {row.get("experiment") for row in rows} if isinstance(rows, list) and all(
                isinstance(row, dict) for row in rows) else None
        elif name == "csv":
            with open(path, newline="", encoding="utf-8") as file:
                table = list(csv.DictReader(file))
            found = {row.get("experiment") for row in table} if table else None
        else:  # a Markdown report or a PNG names its experiment in a marker line
            head = path.read_bytes()[:1 << 20]
            return None if marker(experiment).encode() in head else (
                f"it does not carry the line '{marker(experiment)}'")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as error:
        return f"it cannot be read as one: {error}"
    if found is None:
        return "it does not hold result rows"
    if found != {experiment}:
        others = ", ".join(sorted(map(str, found - {experiment})))
        return f"it holds rows of experiment {others}, this one is {experiment}"
    return None
