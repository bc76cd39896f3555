"""Optimizers, learning-rate schedules and gradient clipping.

    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt.zero_grad(); loss.backward(); opt.step()
"""

from tinygrad_mnist.optim.adam import Adam, AdamW
from tinygrad_mnist.optim.optimizer import Optimizer
from tinygrad_mnist.optim.sgd import SGD

__all__ = ["Adam", "AdamW", "Optimizer", "SGD"]
