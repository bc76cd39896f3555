"""Learning-rate schedules: set `optimizer.lr` from the epoch; call `step()` once per epoch."""

from __future__ import annotations

import math

from tinygrad_mnist.optim.optimizer import Optimizer
from tinygrad_mnist.utils.checks import check_number, check_positive_int


class LRSchedule:
    """Base of the schedules: remembers the starting rate and counts epochs.

    Subclasses give `lr_at(epoch)`; `step()` advances one epoch and writes the new
    rate into the optimizer.
    """

    def __init__(self, optimizer: Optimizer):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"{type(self).__name__}: optimizer must be an Optimizer, got "
                f"{type(optimizer).__name__}"
            )
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.epoch = 0

    def lr_at(self, epoch: int) -> float:
        """The learning rate for `epoch` (0 is the first)."""
        raise NotImplementedError

    def step(self) -> float:
        """Move to the next epoch; returns the learning rate now in the optimizer."""
        self.epoch += 1
        self.optimizer.lr = self.lr_at(self.epoch)
        return self.optimizer.lr

    def state_dict(self) -> dict:
        """`epoch` and `base_lr`, enough to resume the schedule."""
        return {"epoch": self.epoch, "base_lr": self.base_lr}

    def load_state_dict(self, state: dict) -> LRSchedule:
        """Resume from `state_dict()`; the optimizer's rate is set for the restored epoch."""
        self.epoch, self.base_lr = int(state["epoch"]), float(state["base_lr"])
        self.optimizer.lr = self.lr_at(self.epoch)
        return self


class StepLR(LRSchedule):
    """Multiply the rate by `gamma` every `step_size` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size = check_positive_int("step_size", step_size, "StepLR")
        self.gamma = check_number("gamma", gamma, "StepLR")

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(LRSchedule):
    """Follow half a cosine from the starting rate down to `min_lr` over `total_epochs`.

    After `total_epochs` the rate stays at `min_lr`.
    """

    def __init__(self, optimizer: Optimizer, total_epochs: int, min_lr: float = 0.0):
        super().__init__(optimizer)
        self.total_epochs = check_positive_int("total_epochs", total_epochs, "CosineLR")
        self.min_lr = check_number("min_lr", min_lr, "CosineLR", high=self.base_lr)

    def lr_at(self, epoch: int) -> float:
        progress = min(epoch, self.total_epochs) / self.total_epochs
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2
