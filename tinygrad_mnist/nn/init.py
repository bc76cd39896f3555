"""Weight initialisers: each is `(shape, rng, dtype=float64) -> ndarray` and addressable by name.

Any callable `(shape, rng) -> array` works as an initialiser too (`draw` converts it).

For a weight of shape `(fan_in, fan_out)` (the layout `Dense` uses: `x @ W`), the
last axis is the output and the rest the input. He/Kaiming keeps the variance of
activations steady through ReLU layers; Xavier/Glorot through tanh and sigmoid.
"""

from __future__ import annotations

import inspect
from types import MappingProxyType

import numpy as np


def _fans(shape) -> tuple[int, int]:
    shape = tuple(shape)
    if len(shape) < 2:
        n = int(np.prod(shape)) if shape else 1
        return n, n
    return int(np.prod(shape[:-1])), int(shape[-1])


def he_uniform(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Uniform in [-b, b] with b = sqrt(6 / fan_in) (He et al., 2015)."""
    return _uniform(shape, rng, np.sqrt(6.0 / _fans(shape)[0]), dtype)


def he_normal(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Normal with standard deviation sqrt(2 / fan_in) (He et al., 2015)."""
    return _normal(shape, rng, np.sqrt(2.0 / _fans(shape)[0]), dtype)


def xavier_uniform(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Uniform in [-b, b] with b = sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    return _uniform(shape, rng, np.sqrt(6.0 / sum(_fans(shape))), dtype)


def xavier_normal(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """Normal with standard deviation sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    return _normal(shape, rng, np.sqrt(2.0 / sum(_fans(shape))), dtype)


def zeros(shape, rng: np.random.Generator | None = None, dtype=np.float64) -> np.ndarray:
    """All zeros (biases; never for weights, which would then all learn the same thing)."""
    return np.zeros(shape, dtype)


def normal(shape, rng: np.random.Generator, sigma: float = 0.001, dtype=np.float64) -> np.ndarray:
    """Normal with standard deviation `sigma`, 0.001 by default: the seed project's choice."""
    return _normal(shape, rng, sigma, dtype)


# Drawn in the target dtype and scaled in place: a float32 weight never exists as float64
# first (twice the memory). In float64 the numbers are exactly those of rng.uniform/normal.
def _uniform(shape, rng, bound, dtype) -> np.ndarray:
    values = rng.random(shape, dtype=_drawable(dtype))
    values *= 2 * bound
    values -= bound
    return values.astype(dtype, copy=False)


def _normal(shape, rng, sigma, dtype) -> np.ndarray:
    values = rng.standard_normal(shape, dtype=_drawable(dtype))
    values *= sigma
    return values.astype(dtype, copy=False)


def _drawable(dtype) -> np.dtype:
    """The dtype to draw in: NumPy's generators draw float32 and float64 only."""
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


INITIALIZERS = MappingProxyType({
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "zeros": zeros,
    "normal": normal,
})


def get_initializer(init):
    """The initialiser called `init` (a name in `INITIALIZERS`), or `init` itself if callable."""
    if callable(init):
        return init
    if isinstance(init, str):
        try:
            return INITIALIZERS[init.lower()]
        except KeyError:
            raise ValueError(
                f"init: unknown initialiser {init!r}; known names: {', '.join(INITIALIZERS)}"
            ) from None
    raise TypeError(f"init: expected a name or a callable (shape, rng) -> array, got {init!r}")


def draw(init, shape, rng: np.random.Generator, dtype) -> np.ndarray:
    """The array `init` (a name or a callable) draws for `shape`, as `dtype`.

    An initialiser that takes `dtype` (every built-in one) draws in it; any other
    callable `(shape, rng) -> array` has its result converted.
    """
    initializer = get_initializer(init)
    try:
        takes_dtype = "dtype" in inspect.signature(initializer).parameters
    except (TypeError, ValueError):  # a callable without an inspectable signature
        takes_dtype = False
    values = initializer(shape, rng, dtype=dtype) if takes_dtype else initializer(shape, rng)
    return np.asarray(values, dtype=dtype)
