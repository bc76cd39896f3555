"""Numerical gradient checking: compare `backward()` with central differences."""

from __future__ import annotations

import numpy as np

from tinygrad_mnist.tensor import Tensor


class GradcheckError(AssertionError):
    """The analytic gradient of some input disagrees with the numerical one."""


def gradcheck(fn, *inputs, wrt=(), eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
              seed: int = 0) -> bool:
    """Check the gradients of `fn(*inputs)` against central differences, in float64.

    Every float `Tensor` among `inputs` is copied to float64 and checked; other
    arguments (integer labels, say) are passed through. `wrt` names extra tensors
    that `fn` uses without taking them as arguments (a layer's parameters): they must
    already be float64 and are perturbed in place, then restored.

    A non-scalar output is reduced to a scalar by a fixed random weighting, so one
    backward pass checks the whole Jacobian. Returns True, or raises
    `GradcheckError` naming the input, its worst element, and both values.
    """
    if eps <= 0:
        raise ValueError(f"gradcheck: eps must be positive, got {eps}")
    args = [Tensor(x.data.astype(np.float64), requires_grad=True)
            if isinstance(x, Tensor) and x.dtype.kind == "f" else x for x in inputs]
    checked = [(f"input {i}", a) for i, a in enumerate(args) if isinstance(a, Tensor)]
    for j, tensor in enumerate(wrt):
        if tensor.dtype != np.float64:
            raise TypeError(
                f"gradcheck: wrt[{j}] has dtype {tensor.dtype}; make it float64 first "
                "(for a layer: layer.astype(np.float64))"
            )
        tensor.requires_grad = True
        checked.append((tensor.name or f"wrt[{j}]", tensor))
    if not checked:
        raise ValueError("gradcheck: no float Tensor among inputs or wrt to check")

    weights = None

    def scalar_output() -> Tensor:
        nonlocal weights
        out = fn(*args)
        if not isinstance(out, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
        if weights is None:
            weights = np.random.default_rng(seed).uniform(0.5, 1.5, out.shape)
        return (out.astype(np.float64) * weights).sum()

    for _, tensor in checked:
        tensor.grad = None
    scalar_output().backward()
    for name, tensor in checked:
        analytic = np.zeros(tensor.shape) if tensor.grad is None else tensor.grad
        numeric = np.zeros(tensor.shape)
        flat, numeric_flat = tensor.data.reshape(-1), numeric.reshape(-1)  # views
        for k in range(flat.size):
            original = flat[k]
            flat[k] = original + eps  # writing the view perturbs the tensor
            plus = scalar_output().item()
            flat[k] = original - eps
            minus = scalar_output().item()
            flat[k] = original
            numeric_flat[k] = (plus - minus) / (2 * eps)
        error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if error.size and error.max() > 0:
            worst = np.unravel_index(np.argmax(error), tensor.shape)
            raise GradcheckError(
                f"gradcheck: gradient of {name} (shape {tensor.shape}) is wrong at element "
                f"{tuple(int(w) for w in worst)}: analytic {analytic[worst]:.8g}, numeric "
                f"{numeric[worst]:.8g} (atol {atol}, rtol {rtol})"
            )
    return True
