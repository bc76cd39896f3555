"""`Sequential`: layers applied one after another."""

from __future__ import annotations

from collections.abc import Iterator

from tinygrad_mnist.nn.layer import Layer


class Sequential(Layer):
    """`Sequential(Dense(784, 128), ReLU(), Dense(128, 10))`: each output feeds the next layer.

    Indexing, `len`, iteration and `append` work as on a list; parameters are named
    by position (`0.weight`, `2.bias`).
    """

    def __init__(self, *layers: Layer):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        self.layers: list[Layer] = []
        for layer in layers:
            self.append(layer)

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
