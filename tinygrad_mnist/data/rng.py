"""One way to turn a `seed` argument into a random generator; never NumPy's global state."""

from __future__ import annotations

import numpy as np


def as_generator(seed=None, name: str = "seed") -> np.random.Generator:
    """A `numpy.random.Generator` from `seed`: None (fresh entropy), an int, or a Generator.

    A Generator is returned as is, so a caller's stream of draws continues.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        if seed < 0:
            raise ValueError(f"{name}: expected a non-negative integer, got {seed}")
        return np.random.default_rng(seed)
    raise TypeError(f"{name}: expected None, an int or a numpy.random.Generator, "
                    f"got {type(seed).__name__}")
