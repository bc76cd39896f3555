"""Hypothesis strategies and gradient assertions, public so that extenders test like we do.

    from hypothesis import given
    from tinygrad_mnist.testing import tensors, assert_gradients_match

    @given(tensors())
    def test_my_op(x):
        assert_gradients_match(lambda t: MyOp.apply(t), x)

Values are drawn from a continuous distribution through a seed that hypothesis
chooses: they are well conditioned (no two equal, none within a hair of zero), so
that central differences are meaningful even for ops with kinks (relu, max, clip).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tinygrad_mnist.gradcheck import gradcheck
from tinygrad_mnist.tensor import Tensor


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4):
    """Array shapes, scalars included by default."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         max_side: int = 4):
    """Tuples of `num_shapes` shapes that broadcast together (size-1 and missing axes included)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda result: result.input_shapes)


def well_conditioned(shape, low: float = -2.0, high: float = 2.0, seed: int = 0,
                     min_magnitude: float = 0.05, dtype=np.float64) -> np.ndarray:
    """Uniform values in [low, high] whose magnitude is at least `min_magnitude`.

    Keeping away from zero keeps finite differences off the kinks of relu, abs and
    friends, and away from the poles of 1/x and log.
    """
    rng = np.random.default_rng(seed)
    values = rng.uniform(low, high, size=shape)
    if low < 0 < high:
        small = np.abs(values) < min_magnitude
        values[small] += np.copysign(min_magnitude, values[small])
    return values.astype(dtype)


@st.composite
def tensors(draw, shape=None, low: float = -2.0, high: float = 2.0, dtype=np.float64,
            requires_grad: bool = True, min_magnitude: float = 0.05):
    """A `Tensor` of float64 values in [low, high]; `shape` is a tuple or a strategy."""
    if shape is None:
        shape = shapes()
    if not isinstance(shape, tuple):
        shape = draw(shape)
    seed = draw(st.integers(0, 2**32 - 1))
    data = well_conditioned(shape, low, high, seed, min_magnitude, dtype)
    return Tensor(data, requires_grad=requires_grad)


@st.composite
def axes(draw, ndim: int):
    """An `axis` argument for a reduction over an `ndim` array: None, an int, or a tuple."""
    if ndim == 0:
        return None
    choice = draw(st.sampled_from(["none", "int", "tuple"]))
    if choice == "none":
        return None
    if choice == "int":
        return draw(st.integers(-ndim, ndim - 1))
    picked = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(picked)


def assert_gradients_match(fn, *inputs, wrt=(), eps: float = 1e-6, atol: float = 1e-5,
                           rtol: float = 1e-4) -> None:
    """Assert that `fn`'s analytic gradients match central differences (float64).

    Checks every float Tensor in `inputs` and every tensor in `wrt` (parameters `fn`
    uses internally; make them float64 first). Fails with the input, the worst
    element, and the analytic and numerical values.
    """
    gradcheck(fn, *inputs, wrt=wrt, eps=eps, atol=atol, rtol=rtol)
