"""`Optimizer`, the base of every update rule: parameters, state, zero_grad."""

from __future__ import annotations

import math
import numbers

import numpy as np

from tinygrad_mnist.grad_mode import no_grad
from tinygrad_mnist.tensor import Tensor
from tinygrad_mnist.utils.checks import check_number


def check_parameters(params, owner: str) -> list[Tensor]:
    """`params` as a list of distinct Tensors; an empty or mixed list is refused."""
    if isinstance(params, Tensor):
        params = [params]
    try:
        params = list(params)
    except TypeError:
        raise TypeError(
            f"{owner}: params must be a list of Tensors (e.g. model.parameters()), got {params!r}"
        ) from None
    if not params:
        raise ValueError(
            f"{owner}: params is an empty list; expected at least one Tensor to optimise"
        )
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{owner}: params[{i}] must be a Tensor, got {type(p).__name__}")
    if len({id(p) for p in params}) != len(params):
        raise ValueError(f"{owner}: params lists the same Tensor more than once")
    return params


class Optimizer:
    """Updates parameters in place from their `.grad`; subclasses write `step()`.

    `lr` is a plain attribute, so a schedule (or you) may change it between steps.
    Per-parameter state (momentum, moment estimates) lives in `self.state`, a dict
    of name -> one array per parameter, which `state_dict()` flattens for saving.
    State is allocated with the parameters' dtype: convert a model (`astype`) before
    building its optimizer.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "step" in cls.__dict__:
            # A step changes leaves that require grad in place: allowed only outside the
            # graph, so every optimizer's step runs under no_grad (as PyTorch's do).
            cls.step = no_grad()(cls.step)

    def __init__(self, params, lr: float):
        owner = type(self).__name__
        self.params = check_parameters(params, owner)
        if isinstance(lr, numbers.Real) and not isinstance(lr, bool) and not 0 < lr < math.inf:
            # Zero never moves a parameter; inf or NaN turns every one into NaN at once.
            raise ValueError(f"{owner}: lr must be a number in (0, inf), got {lr}")
        self.lr = check_number("lr", lr, owner)
        self.step_count = 0
        self.state: dict[str, list[np.ndarray]] = {}

    def _new_state(self, name: str) -> list[np.ndarray]:
        self.state[name] = [np.zeros_like(p.data) for p in self.params]
        return self.state[name]

    def step(self) -> None:
        """Update every parameter that has a gradient."""
        raise NotImplementedError(f"{type(self).__name__} must define step()")

    def zero_grad(self) -> None:
        """Forget the gradients of all parameters (before the next backward)."""
        for p in self.params:
            p.grad = None

    def state_dict(self) -> dict[str, np.ndarray]:
        """`lr`, `step_count` and every state array (as `name.i`), copied; savable with np.savez."""
        state = {"lr": np.asarray(self.lr), "step_count": np.asarray(self.step_count)}
        for name, arrays in self.state.items():
            for i, array in enumerate(arrays):
                state[f"{name}.{i}"] = array.copy()
        return state

    def load_state_dict(self, state: dict) -> Optimizer:
        """Restore what `state_dict()` returned; checks every entry before changing anything."""
        owner = type(self).__name__
        expected = {"lr": (), "step_count": ()}
        for name, arrays in self.state.items():
            expected.update({f"{name}.{i}": a.shape for i, a in enumerate(arrays)})
        for name, shape in expected.items():
            if name not in state:
                raise ValueError(f"{owner}.load_state_dict: entry {name!r} is missing")
            if np.shape(state[name]) != shape:
                raise ValueError(
                    f"{owner}.load_state_dict: entry {name!r} has shape {np.shape(state[name])}, "
                    f"expected {shape}"
                )
        unexpected = [name for name in state if name not in expected]
        if unexpected:
            raise ValueError(f"{owner}.load_state_dict: unexpected entry {unexpected[0]!r}")
        self.lr = float(state["lr"])
        self.step_count = int(state["step_count"])
        for name, arrays in self.state.items():
            for i, array in enumerate(arrays):
                array[...] = state[f"{name}.{i}"]
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr}, {len(self.params)} parameters)"
