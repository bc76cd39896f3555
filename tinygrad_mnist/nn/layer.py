"""`Layer`, the base of every module: parameters found by attribute, saving and loading.

A layer keeps its parameters as `Tensor` attributes and its sub-layers as `Layer`
attributes (or lists of them); nothing needs registering by hand, because the layer
finds them by looking at its own attributes, in the order they were assigned.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tinygrad_mnist.atomic import atomic_write
from tinygrad_mnist.npz import read_npz
from tinygrad_mnist.tensor import Tensor


class Layer:
    """A piece of a network: `forward` computes, `__call__` runs it.

    Subclass it, assign parameters (`Tensor`s with `requires_grad=True`) and
    sub-layers as attributes, and write `forward`. Every `Tensor` attribute counts
    as a parameter, so keep other tensors (a cached input, say) out of attributes.
    Arrays that must be saved but are not trained (running statistics) go through
    `register_buffer`.
    """

    # Class-level defaults, so a subclass that never calls `super().__init__()` still works.
    training = True
    #: The shape of one example this layer takes, without the batch axis ((784,) for rows of
    #: pixels, (1, 28, 28) for grey images), or None when it does not say. The tools that
    #: feed a model images (predict, evaluate, export) lay them out by it.
    input_shape: tuple[int, ...] | None = None
    _buffer_names: tuple[str, ...] = ()

    def forward(self, *inputs):
        """Compute the output from the inputs (Tensors or arrays); subclasses define it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *inputs, **kwargs):
        return self.forward(*inputs, **kwargs)

    # ------------------------------------------------------------- the layer tree
    def named_children(self) -> Iterator[tuple[str, Layer]]:
        """The direct sub-layers with their attribute names (`name.i` inside a list)."""
        for name, value in vars(self).items():
            if isinstance(value, Layer):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Layer):
                        yield f"{name}.{i}", item

    def children(self) -> Iterator[Layer]:
        """The direct sub-layers."""
        for _, child in self.named_children():
            yield child

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every parameter of this layer and its sub-layers, with dotted names (`0.weight`).

        A tensor reached twice (tied weights, a layer used twice) is listed once, under
        the first name found, as in PyTorch.
        """
        yield from _first_of_each(self._every_named_parameter(prefix))

    def _every_named_parameter(self, prefix: str) -> Iterator[tuple[str, Tensor]]:
        for name, value in vars(self).items():
            if isinstance(value, Tensor):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child._every_named_parameter(f"{prefix}{name}.")

    def parameters(self) -> list[Tensor]:
        """Every parameter, in a fixed order (what an optimizer is given)."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many numbers the parameters hold."""
        return sum(p.size for p in self.parameters())

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Keep `array` as attribute `name`: saved and loaded with the parameters, not trained."""
        setattr(self, name, np.asarray(array))
        if name not in self._buffer_names:
            self._buffer_names = (*self._buffer_names, name)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Every buffer of this layer and its sub-layers, with dotted names; each array once."""
        yield from _first_of_each(self._every_named_buffer(prefix))

    def _every_named_buffer(self, prefix: str) -> Iterator[tuple[str, np.ndarray]]:
        for name in self._buffer_names:
            yield prefix + name, getattr(self, name)
        for name, child in self.named_children():
            yield from child._every_named_buffer(f"{prefix}{name}.")

    # ------------------------------------------------------------------- modes
    def train(self, mode: bool = True) -> Layer:
        """Switch this layer and all sub-layers to training mode (or evaluation, `mode=False`)."""
        self.training = bool(mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Layer:
        """Switch to evaluation mode: dropout off, running statistics used."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget the gradients of all parameters."""
        for p in self.parameters():
            p.grad = None

    def astype(self, dtype) -> Layer:
        """Convert every parameter and buffer to `dtype` in place; returns self.

        Gradient checks need float64: `layer.astype(np.float64)`.
        """
        dtype = np.dtype(dtype)
        for p in self.parameters():
            p.data = p.data.astype(dtype)
            p.grad = None
        for layer in self._all_layers():
            for name in layer._buffer_names:
                value = getattr(layer, name)
                if value.dtype.kind == "f":
                    setattr(layer, name, value.astype(dtype))
        return self

    def _all_layers(self) -> Iterator[Layer]:
        yield self
        for child in self.children():
            yield from child._all_layers()

    # ------------------------------------------------------------ state and files
    def _named_arrays(self) -> dict[str, np.ndarray]:
        """Parameters and buffers as name -> live array (not copied)."""
        arrays = {name: p.data for name, p in self.named_parameters()}
        arrays.update(self.named_buffers())
        return arrays

    def _named_targets(self) -> dict[str, Tensor | np.ndarray]:
        """Parameters (as tensors, whose in-place update bumps their version) and buffers."""
        return {**dict(self.named_parameters()), **dict(self.named_buffers())}

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter and buffer, by dotted name."""
        return {name: array.copy() for name, array in self._named_arrays().items()}

    def load_state_dict(self, state: dict, strict: bool = True) -> Layer:
        """Copy `state` (name -> array) into the parameters and buffers, in place.

        Everything is checked before anything is written, so a bad state leaves the
        layer as it was. A wrongly shaped entry, or one that is not real floating point
        where the layer holds floats (int, bool, complex, structured, object, string),
        is always an error; a missing or an unexpected one is an error unless
        `strict=False`.
        """
        state = {name: np.asarray(value) for name, value in state.items()}
        self._check_state({name: (array.shape, array.dtype) for name, array in state.items()},
                          strict)
        for name, target in self._named_targets().items():
            if name in state:
                if isinstance(target, Tensor):
                    target.copy_(state[name])  # bumps its version: a recorded graph notices
                else:
                    target[...] = state[name]
        return self

    def _check_state(self, declared: dict, strict: bool) -> list[str]:
        """Refuse a state described by `declared` (name -> (shape, dtype)); the names to load."""
        own = self._named_arrays()
        for name, array in own.items():
            if name not in declared:
                if strict:
                    raise ValueError(
                        f"load_state_dict: parameter {name!r} (shape {array.shape}) is missing "
                        f"from the state, which has {sorted(declared)}"
                    )
                continue
            shape, dtype = declared[name]
            if tuple(shape) != array.shape:
                raise ValueError(
                    f"load_state_dict: parameter {name!r} has shape {tuple(shape)} in the "
                    f"state, expected {array.shape}"
                )
            if not _same_kind(np.dtype(dtype), array.dtype):
                kind = "real floating point" if array.dtype.kind == "f" else str(array.dtype)
                raise ValueError(
                    f"load_state_dict: parameter {name!r} has dtype {np.dtype(dtype)} in the "
                    f"state, expected {kind} numbers"
                )
        unexpected = [name for name in declared if name not in own]
        if strict and unexpected:
            raise ValueError(
                f"load_state_dict: unexpected parameter {unexpected[0]!r} in the state; this "
                f"{type(self).__name__} has {list(own)}"
            )
        return [name for name in declared if name in own]

    def save(self, path) -> None:
        """Write the state to `path` as an `.npz` archive (no pickled objects).

        The file is written beside its destination and moved into place, so an
        existing file is never left half-written.
        """
        with atomic_write(path) as file:
            np.savez(file, **self._named_arrays())  # savez only reads: no copies

    def load(self, path, strict: bool = True) -> Layer:
        """Load a state written by `save`; refuses anything that is not a plain `.npz`."""
        # The headers are checked first, so a wrong file is refused before it is decompressed.
        state = read_npz(path, check=lambda declared: self._check_state(declared, strict))
        return self.load_state_dict(state, strict=strict)

    # ------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The arguments to show inside this layer's parentheses."""
        return ""

    def _repr_lines(self) -> list[str]:
        head = f"{type(self).__name__}({self.extra_repr()}"
        children = list(self.named_children())
        if not children:
            return [head + ")"]
        lines = [head + ("" if not self.extra_repr() else ",")]
        for name, child in children:
            child_lines = child._repr_lines()
            lines.append(f"  ({name}): {child_lines[0]}")
            lines.extend("  " + line for line in child_lines[1:])
        lines.append(")")
        return lines

    def __repr__(self) -> str:
        text = "\n".join(self._repr_lines())
        count = self.num_parameters()
        return f"{text}  [{count:,} parameters]" if count else text


def _same_kind(given: np.dtype, own: np.dtype) -> bool:
    """Whether values of dtype `given` may be written into an array of dtype `own`."""
    if own.kind == "f":  # floats take any float width, never complex, ints, strings...
        return given.kind == "f" and given.fields is None
    return given.kind == own.kind  # an integer counter takes integers, and so on


def _first_of_each(named: Iterator[tuple[str, object]]) -> Iterator[tuple[str, object]]:
    """The (name, object) pairs whose object was not seen before (compared by identity)."""
    seen = set()
    for name, value in named:
        if id(value) not in seen:
            seen.add(id(value))
            yield name, value
