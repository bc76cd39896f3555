"""`Sequential`: layers applied one after another."""

from __future__ import annotations

from collections.abc import Iterator

from tinygrad_mnist.nn.layer import Layer
from tinygrad_mnist.utils.checks import check_shape


class Sequential(Layer):
    """`Sequential(Dense(784, 128), ReLU(), Dense(128, 10))`: each output feeds the next layer.

    Indexing, `len`, iteration and `append` work as on a list; parameters are named
    by position (`0.weight`, `2.bias`). `input_shape` is one example's shape (no batch
    axis); by default the first layer's (`(784,)` for a first `Dense(784, ...)`), so it is
    needed only when the first layer does not know it (a `Conv2d`, a `Flatten`).
    """

    def __init__(self, *layers: Layer, input_shape=None):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers: list[Layer] = []
        for layer in layers:
            self.append(layer)
        self.input_shape = input_shape

    @property
    def input_shape(self) -> tuple[int, ...] | None:
        """The shape given, else the first layer's (None when neither says)."""
        given = vars(self).get("_input_shape")
        if given is not None or not self.layers:
            return given
        return self.layers[0].input_shape

    @input_shape.setter
    def input_shape(self, shape) -> None:
        owner = type(self).__name__
        if shape is not None:
            shape = check_shape("input_shape", shape, owner)
            first = self.layers[0].input_shape if self.layers else None
            if first is not None and first != shape:
                raise ValueError(f"{owner}: input_shape {shape} does not fit the first layer, "
                                 f"{type(self.layers[0]).__name__}, which takes {first}")
        self._input_shape = shape

    def append(self, layer: Layer) -> Sequential:
        """Add `layer` at the end; returns self."""
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential: layer {len(self.layers)} must be a Layer, got {type(layer).__name__}"
            )
        self.layers.append(layer)
        return self

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        """The layers named by position: "0", "1", ..."""
        for i, layer in enumerate(self.layers):
            yield str(i), layer

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)


def leaves(layer: Layer) -> list[Layer]:
    """The layers that compute, in the order they run: a `Sequential` (an `MLP`, a `CNN`,
    nested ones too) is opened up; any other layer is one leaf, whatever it holds."""
    if isinstance(layer, Sequential):
        return [leaf for child in layer for leaf in leaves(child)]
    return [layer]
