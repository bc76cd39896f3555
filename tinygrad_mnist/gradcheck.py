"""Numerical gradient checking: compare `backward()` with central differences.

`gradcheck` checks first derivatives; `gradgradcheck` second derivatives, as the
central differences of the first derivative (computed by `grad(..., create_graph=True)`)
against what differentiating that first derivative gives.
"""

from __future__ import annotations

import warnings

import numpy as np

from tinygrad_mnist.tensor import Tensor, grad


class GradcheckError(AssertionError):
    """The analytic gradient of some input disagrees with the numerical one."""


def gradcheck(fn, *inputs, wrt=(), eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4,
              seed: int = 0) -> bool:
    """Check the gradients of `fn(*inputs)` against central differences, in float64.

    Every float `Tensor` among `inputs` is copied to float64 and passed to `fn`;
    those that require grad are checked, the others (a mask, say) are constants.
    Other arguments (integer labels, say) are passed through. `wrt` names extra
    tensors that `fn` uses without taking them as arguments (a layer's parameters):
    they must already be float64, and are perturbed in place and restored, with
    their `requires_grad` and `.grad` as they were.

    A non-scalar output is reduced to a scalar by a fixed random weighting, so one
    backward pass checks the whole Jacobian. Returns True, or raises
    `GradcheckError` naming the input, its worst element, and both values.
    """
    return _check(fn, inputs, wrt, eps, atol, rtol, seed, order=1)


def gradgradcheck(fn, *inputs, wrt=(), eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-4, seed: int = 0) -> bool:
    """Check the second derivatives of `fn(*inputs)` against central differences, in float64.

    The first derivative is computed with `grad(..., create_graph=True)` and
    reduced to a scalar by fixed random weights (of the output and of each
    gradient); its own gradient, which runs every op's `backward_graph`, is then
    compared with central differences of it, element by element, exactly as
    `gradcheck` does (same arguments, same report, "second derivative" in it).
    """
    return _check(fn, inputs, wrt, eps, atol, rtol, seed, order=2)


def _check(fn, inputs, wrt, eps, atol, rtol, seed, order: int) -> bool:
    name = "gradcheck" if order == 1 else "gradgradcheck"
    if eps <= 0:
        raise ValueError(f"{name}: eps must be positive, got {eps}")
    args = [Tensor(x.data.astype(np.float64), requires_grad=x.requires_grad)
            if isinstance(x, Tensor) and x.dtype.kind == "f" else x for x in inputs]
    checked = [(f"input {i}", a) for i, a in enumerate(args)
               if isinstance(a, Tensor) and a.requires_grad]
    wrt = list(wrt)
    for j, tensor in enumerate(wrt):
        if not isinstance(tensor, Tensor) or tensor.dtype != np.float64:
            what = tensor.dtype if isinstance(tensor, Tensor) else type(tensor).__name__
            raise TypeError(
                f"{name}: wrt[{j}] must be a float64 Tensor, got {what} (for a layer: "
                "layer.astype(np.float64))"
            )
        checked.append((tensor.name or f"wrt[{j}]", tensor))
    if not checked:
        raise ValueError(f"{name}: no Tensor to check: give an input requires_grad=True, or "
                         "name parameters with wrt=")
    saved = [(t, t.requires_grad, t.grad) for t in wrt]
    try:
        for tensor in wrt:
            tensor.requires_grad, tensor.grad = True, None
        if order == 2:
            _compare_first_derivatives(fn, args, checked, atol, rtol, seed)
        target = fn if order == 1 else _projected_first_derivative(fn, wrt, seed)
        _compare(target, args, checked, eps, atol, rtol, seed,
                 "gradient" if order == 1 else "second derivative", name)
    finally:
        for tensor, requires_grad, old_grad in saved:
            tensor.requires_grad, tensor.grad = requires_grad, old_grad
    return True


def _compare_first_derivatives(fn, args, checked, atol, rtol, seed: int) -> None:
    """The gradient `backward_graph` gives must be the one `backward` gives."""
    tensors = [tensor for _, tensor in checked]
    values = []
    for create_graph in (False, True):
        out = _output(fn, args, "gradgradcheck")
        weights = np.random.default_rng(seed + 1).uniform(0.5, 1.5, out.shape)
        scalar = (out.astype(np.float64) * weights).sum()
        if not scalar.requires_grad:
            return
        values.append(grad(scalar, tensors, create_graph=create_graph, allow_unused=True))
    for (label, tensor), plain, graph in zip(checked, *values):
        plain = np.zeros(tensor.shape) if plain is None else plain.data
        graph = np.zeros(tensor.shape) if graph is None else graph.data
        error = np.abs(graph - plain) - (atol + rtol * np.abs(plain))
        if error.size and error.max() > 0:
            worst = np.unravel_index(np.argmax(error), tensor.shape)
            raise GradcheckError(
                f"gradgradcheck: the gradient of {label} (shape {tensor.shape}) from "
                f"backward_graph disagrees with backward's at element "
                f"{tuple(int(w) for w in worst)}: {graph[worst]:.8g} against "
                f"{plain[worst]:.8g} (atol {atol}, rtol {rtol})"
            )


def _projected_first_derivative(fn, wrt, seed: int):
    """`fn`'s first derivative as one scalar: sum over inputs of <gradient, fixed weights>."""
    state = {}

    def first_derivative(*args):
        out = _output(fn, args, "gradgradcheck")
        if "weights" not in state:
            state["weights"] = np.random.default_rng(seed + 1).uniform(0.5, 1.5, out.shape)
        scalar = (out.astype(np.float64) * state["weights"]).sum()
        tensors = [a for a in args if isinstance(a, Tensor) and a.requires_grad] + wrt
        if not scalar.requires_grad:
            return Tensor(0.0, dtype=np.float64)  # constant in every input: all zero
        grads = grad(scalar, tensors, create_graph=True, allow_unused=True)
        if "directions" not in state:
            rng = np.random.default_rng(seed + 2)
            state["directions"] = [rng.uniform(0.5, 1.5, t.shape) for t in tensors]
        total = Tensor(0.0, dtype=np.float64)
        for g, direction in zip(grads, state["directions"]):
            if g is not None:
                total = total + (g * direction).sum()
        return total

    return first_derivative


def _output(fn, args, name: str) -> Tensor:
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: fn must return a Tensor, got {type(out).__name__}")
    if out.dtype == np.float32:
        warnings.warn(f"{name}: fn returned float32; its rounding (about 1e-7 of each value) "
                      "swamps central differences: compute in float64", stacklevel=4)
    return out


def _compare(fn, args, checked, eps, atol, rtol, seed, what: str, name: str) -> None:
    weights = None
    float32_output = False

    def scalar_output() -> Tensor:
        nonlocal weights, float32_output
        out = _output(fn, args, name)
        float32_output = out.dtype == np.float32
        if weights is None:
            weights = np.random.default_rng(seed).uniform(0.5, 1.5, out.shape)
        return (out.astype(np.float64) * weights).sum()

    for _, tensor in checked:
        tensor.grad = None
    scalar = scalar_output()
    if scalar.requires_grad:
        scalar.backward()
    for label, tensor in checked:
        analytic = np.zeros(tensor.shape) if tensor.grad is None else np.asarray(tensor.grad)
        numeric = np.zeros(tensor.shape)
        data = tensor.data
        # Element by element through a multi-index: a flat view would be a copy for a
        # non-contiguous array (a transposed weight), and perturb nothing.
        for index in np.ndindex(tensor.shape):
            original = data[index]
            data[index] = original + eps
            plus = scalar_output().item()
            data[index] = original - eps
            minus = scalar_output().item()
            data[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
        error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if error.size and error.max() > 0:
            worst = np.unravel_index(np.argmax(error), tensor.shape)
            note = (" fn returned float32, whose rounding swamps central differences: "
                    "compute in float64." if float32_output else "")
            raise GradcheckError(
                f"{name}: {what} of {label} (shape {tensor.shape}) is wrong at element "
                f"{tuple(int(w) for w in worst)}: analytic {analytic[worst]:.8g}, numeric "
                f"{numeric[worst]:.8g} (atol {atol}, rtol {rtol}).{note}"
            )
    for _, tensor in checked:
        tensor.grad = None
