"""Hypothesis strategies and gradient assertions, public so that extenders test like we do.

    from hypothesis import given
    from tinygrad_mnist.testing import tensors, assert_gradients_match

    @given(tensors())
    def test_my_op(x):
        assert_gradients_match(lambda t: MyOp.apply(t), x)
        assert_second_derivatives_match(lambda t: MyOp.apply(t), x)  # with a backward_graph

`tensors()` draws every value through hypothesis, so a failing gradient shrinks to
a small array of simple values. The values are well conditioned (no two equal, none
near zero, none on a round number where a kink might sit), so that central
differences are meaningful even for ops with kinks (relu, abs, max, clip).
"""

from __future__ import annotations

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ModuleNotFoundError as error:  # an extender without the test extra
    raise ModuleNotFoundError(
        "tinygrad_mnist.testing needs hypothesis: pip install hypothesis (or "
        "pip install 'tinygrad-mnist[test]')", name=error.name) from None

from tinygrad_mnist.gradcheck import gradcheck, gradgradcheck
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


# Values sit on a grid of at least this many points, shifted off round numbers by an
# irrational fraction of a step: far apart (no ties, even after an eps perturbation)
# and never exactly on 0, 1 or 0.3, where relu, abs or clip have their kinks.
_GRID_POINTS = 1000
_GRID_OFFSET = 0.3819660112501051  # (3 - sqrt(5)) / 2


@st.composite
def tensors(draw, shape=None, low: float = -2.0, high: float = 2.0, dtype=np.float64,
            requires_grad: bool = True, min_magnitude: float = 0.05):
    """A `Tensor` of distinct values in [low, high], each drawn by hypothesis.

    `shape` is a tuple or a strategy. Values closer to zero than `min_magnitude`
    are pushed out to it (away from the poles of 1/x and log, and the kink of relu).
    Hypothesis shrinks a failing example to fewer elements and values near `low`.
    """
    if shape is None:
        shape = shapes()
    if not isinstance(shape, tuple):
        shape = draw(shape)
    points = max(_GRID_POINTS, 8 * int(np.prod(shape)))
    steps = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, points - 1), unique=True))
    values = np.asarray(low + (high - low) * (steps + _GRID_OFFSET) / points)
    if low < 0 < high:
        small = np.abs(values) < min_magnitude
        values[small] += np.copysign(min_magnitude, values[small])
    return Tensor(values.astype(dtype), requires_grad=requires_grad)


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


def assert_second_derivatives_match(fn, *inputs, wrt=(), eps: float = 1e-6, atol: float = 1e-5,
                                    rtol: float = 1e-4) -> None:
    """Assert that differentiating `fn`'s gradient matches central differences of it (float64).

    The second-order twin of `assert_gradients_match` (see `gradgradcheck`): it runs
    the `backward_graph` of every op on the way.
    """
    gradgradcheck(fn, *inputs, wrt=wrt, eps=eps, atol=atol, rtol=rtol)
