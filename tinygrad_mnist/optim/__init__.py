"""Optimizers, learning-rate schedules and gradient clipping.

    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = optim.CosineLR(optimizer, total_epochs=20)
    for epoch in range(20):
        for x, y in batches:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optim.clip_grad_norm(model.parameters(), max_norm=5.0)
            optimizer.step()
        schedule.step()
"""

from tinygrad_mnist.optim.adam import Adam, AdamW
from tinygrad_mnist.optim.clip import clip_grad_norm
from tinygrad_mnist.optim.optimizer import Optimizer
from tinygrad_mnist.optim.schedules import CosineLR, LRSchedule, StepLR
from tinygrad_mnist.optim.sgd import SGD

__all__ = ["Adam", "AdamW", "CosineLR", "LRSchedule", "Optimizer", "SGD", "StepLR",
           "clip_grad_norm"]
