"""The command's error policy: which errors are the user's (one line, exit status 2) and
which are bugs (a traceback), and the exit statuses.

The user's: what they typed (`UsageError`, argparse's mistakes); OS errors (a missing file,
a full disk, a failed download: `FetchError`); sizes too large for the machine (MemoryError,
RecursionError); and the ValueErrors and TypeErrors the library raises on purpose about
what it was given, each naming the argument: `ConfigError` (the run's schema), the data's
errors (`ChecksumError`, a bad IDX or .npz file), `StoreError`, a damaged checkpoint...
"On purpose" is exact: the innermost frame of the error is a `raise` statement in the
package. A ValueError from inside NumPy, a TypeError from a wrong call, a KeyError or an
AttributeError is a bug in this program, and is shown as one, never as a mistake of the user's.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import tinygrad_mnist

PROG = "tinygrad-mnist"
EXIT_FAILED = 1  # the work itself failed (say, a worker process of a search died)
EXIT_USAGE = 2
EXIT_DIVERGED = 3  # training diverged: the model's outputs are not finite, no accuracy
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Something the user typed or pointed at is wrong: one line on stderr, exit status 2."""


_PACKAGE = str(Path(tinygrad_mnist.__file__).parent)


def is_users_error(error: BaseException) -> bool:
    """Whether `error` is a mistake in what the user gave, not a bug (see the module)."""
    if isinstance(error, (UsageError, OSError, MemoryError, RecursionError)):
        return True
    return isinstance(error, (ValueError, TypeError)) and _raised_on_purpose(error)


def _raised_on_purpose(error: BaseException) -> bool:
    """Whether the innermost frame of `error` is a `raise` statement of the package."""
    trace = error.__traceback__
    if trace is None:
        return False
    while trace.tb_next is not None:
        trace = trace.tb_next
    path = trace.tb_frame.f_code.co_filename
    return path.startswith(_PACKAGE) and trace.tb_lineno in _raise_lines(path)


@functools.cache
def _raise_lines(path: str) -> frozenset[int]:
    """The line numbers of every `raise` statement in the file at `path`."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    return frozenset(line for node in ast.walk(tree) if isinstance(node, ast.Raise)
                     for line in range(node.lineno, node.end_lineno + 1))

# What a bare MemoryError or RecursionError means here: something given was too large.
_RESOURCE_ERRORS = {
    MemoryError: "out of memory (try smaller layers, batches or data): ",
    RecursionError: "input nested too deeply: ",
}


def one_line(error: BaseException) -> str:
    """The error as one line: its message (the file and the reason for an OSError)."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{error.filename}: {error.strerror}"
    return _RESOURCE_ERRORS.get(type(error), "") + text
