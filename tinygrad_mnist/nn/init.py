"""Weight initialisers: each is `(shape, rng) -> ndarray` and addressable by name.

For a weight of shape `(fan_in, fan_out)` (the layout `Dense` uses: `x @ W`), the
last axis is the output and the rest the input. He/Kaiming keeps the variance of
activations steady through ReLU layers; Xavier/Glorot through tanh and sigmoid.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np


def _fans(shape) -> tuple[int, int]:
    shape = tuple(shape)
    if len(shape) < 2:
        n = int(np.prod(shape)) if shape else 1
        return n, n
    return int(np.prod(shape[:-1])), int(shape[-1])


def he_uniform(shape, rng: np.random.Generator) -> np.ndarray:
    """Uniform in [-b, b] with b = sqrt(6 / fan_in) (He et al., 2015)."""
    bound = np.sqrt(6.0 / _fans(shape)[0])
    return rng.uniform(-bound, bound, size=shape)


def he_normal(shape, rng: np.random.Generator) -> np.ndarray:
    """Normal with standard deviation sqrt(2 / fan_in) (He et al., 2015)."""
    return rng.normal(0.0, np.sqrt(2.0 / _fans(shape)[0]), size=shape)


def xavier_uniform(shape, rng: np.random.Generator) -> np.ndarray:
    """Uniform in [-b, b] with b = sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = _fans(shape)
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=shape)


def xavier_normal(shape, rng: np.random.Generator) -> np.ndarray:
    """Normal with standard deviation sqrt(2 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = _fans(shape)
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=shape)


def zeros(shape, rng: np.random.Generator | None = None) -> np.ndarray:
    """All zeros (biases; never for weights, which would then all learn the same thing)."""
    return np.zeros(shape)


def normal(shape, rng: np.random.Generator, sigma: float = 0.001) -> np.ndarray:
    """Normal with standard deviation `sigma`, 0.001 by default: the seed project's choice."""
    return rng.normal(0.0, sigma, size=shape)


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
