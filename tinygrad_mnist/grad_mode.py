"""Grad mode: whether operations record the graph that `backward()` walks.

On by default. `no_grad()` switches it off for a block or a decorated function
(evaluation: no graph, no memory held); `enable_grad()` switches it back on inside
such a block; `set_grad_enabled(mode)` does either. The mode belongs to the thread,
as in PyTorch, so an evaluation under `no_grad()` in one thread never switches
gradients off for another.
"""

from __future__ import annotations

import functools
import inspect
import threading


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    """True unless inside a `no_grad()` block (in this thread)."""
    return _grad_mode.enabled


class set_grad_enabled:
    """Record the graph (`mode=True`) or not inside a `with` block or a decorated function.

    One instance may be entered again before it is left (nested blocks, recursion):
    each exit restores what its own entry found.
    """

    def __init__(self, mode: bool):
        self.mode = bool(mode)
        self._previous = []  # one saved mode per entry not yet left

    def __enter__(self):
        self._previous.append(_grad_mode.enabled)
        _grad_mode.enabled = self.mode
        return self

    def __exit__(self, *exc_info):
        _grad_mode.enabled = self._previous.pop()

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn):
            # The body of a generator runs after the call has returned, outside the block.
            raise TypeError(
                f"{type(self).__name__}() cannot decorate the generator function "
                f"{fn.__name__!r}: its body runs after the call returns; use a `with "
                f"{type(self).__name__}():` block inside it instead"
            )

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)(*self._arguments()):
                return fn(*args, **kwargs)

        return wrapper

    def _arguments(self) -> tuple:
        return (self.mode,)


class no_grad(set_grad_enabled):
    """Record no graph inside a `with no_grad():` block or a function decorated `@no_grad()`.

    Results made inside need no gradient and keep no reference to their inputs, so
    evaluation holds no memory beyond its own arrays.
    """

    def __init__(self):
        super().__init__(False)

    def _arguments(self) -> tuple:
        return ()


class enable_grad(set_grad_enabled):
    """Record the graph again inside a `no_grad()` block (`with enable_grad():`)."""

    def __init__(self):
        super().__init__(True)

    def _arguments(self) -> tuple:
        return ()
