"""`MLP`: the multi-layer perceptron of the seed project, as a `Sequential`."""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_mnist.nn.activations import LeakyReLU, ReLU, get_activation
from tinygrad_mnist.nn.dense import Dense, parameter_bytes
from tinygrad_mnist.nn.sequential import Sequential
from tinygrad_mnist.utils.checks import check_positive_int
from tinygrad_mnist.utils.memory import check_fits


class MLP(Sequential):
    """`MLP(784, [128, 64], 10, activation="relu")`: Dense layers with an activation between.

    Each hidden layer is `Dense(..., activation=activation)` (with ReLU, the fused op);
    the output layer is linear: the loss (`CrossEntropyLoss`) applies the softmax.
    `init=None` picks He initialisation for ReLU-like activations and Xavier for the
    others. One `seed` (int or Generator) draws every layer's weights in turn.
    """

    def __init__(self, input_size: int, hidden_sizes, output_size: int, activation="relu",
                 init=None, seed=None, dtype=np.float32):
        if isinstance(hidden_sizes, numbers.Integral):
            hidden_sizes = [hidden_sizes]
        try:
            hidden_sizes = list(hidden_sizes)
        except TypeError:
            raise TypeError(
                f"MLP: hidden_sizes must be a list of positive ints, got {hidden_sizes!r}"
            ) from None
        input_size = check_positive_int("input_size", input_size, "MLP")
        output_size = check_positive_int("output_size", output_size, "MLP")
        for i, size in enumerate(hidden_sizes):
            check_positive_int(f"hidden_sizes[{i}]", size, "MLP")
        probe = get_activation(activation)  # fail on a bad name before building anything
        if init is None:
            relu_like = isinstance(probe, (ReLU, LeakyReLU))
            init = "he_uniform" if relu_like else "xavier_uniform"
        rng = np.random.default_rng(seed)
        sizes = [input_size, *hidden_sizes, output_size]
        # All layers at once: refuse before the first one is drawn.
        check_fits(parameter_bytes(sizes, dtype=dtype),
                   f"MLP({' -> '.join(map(str, sizes))}): its parameters")
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            hidden = i < len(sizes) - 2
            layers.append(Dense(fan_in, fan_out, init=init, seed=rng, dtype=dtype,
                                activation=get_activation(activation) if hidden else None))
        super().__init__(*layers)
        self.sizes = tuple(sizes)

    def named_children(self):
        """The layers named by position, a Dense layer with an activation counting as two.

        These are the names an MLP's layers had when each activation was a layer of its
        own ("0", "2", "4" for two hidden layers), so models saved then load now.
        """
        position = 0
        for layer in self.layers:
            yield str(position), layer
            position += 2 if getattr(layer, "activation", None) is not None else 1

    def extra_repr(self) -> str:
        return " -> ".join(str(n) for n in self.sizes)
