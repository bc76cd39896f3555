"""`Layer`, the base of every module: parameters found by attribute, saving and loading.

A layer keeps its parameters as `Tensor` attributes and its sub-layers as `Layer`
attributes, or inside lists, tuples and dicts of them; nothing needs registering by
hand, because the layer finds them by looking at its own attributes, in the order they
were assigned.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from tinygrad_mnist.grad_mode import no_grad
from tinygrad_mnist.tensor import Tensor
from tinygrad_mnist.utils.atomic import atomic_write
from tinygrad_mnist.utils.npz import read_npz, write_npz


class Layer:
    """A piece of a network: `forward` computes, `__call__` runs it.

    Subclass it, assign parameters (`Tensor`s with `requires_grad=True`) and
    sub-layers as attributes, and write `forward`. Every `Tensor` attribute counts
    as a parameter, so keep other tensors (a cached input, say) out of attributes.
    Lists, tuples and dicts (string keys) of tensors and layers are opened up: their
    items are named `attribute.index` or `attribute.key`. Arrays that must be saved
    but are not trained (running statistics) go through `register_buffer`.
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
    def _named_members(self) -> Iterator[tuple[str, Tensor | Layer]]:
        """Every Tensor and Layer held by an attribute, containers opened, with its name."""
        buffers = self._buffer_names
        for name, value in vars(self).items():
            if name not in buffers:
                yield from _held(name, value)

    def named_children(self) -> Iterator[tuple[str, Layer]]:
        """The direct sub-layers with their names (`name.i` in a list, `name.key` in a dict)."""
        for name, value in self._named_members():
            if isinstance(value, Layer):
                yield name, value

    def children(self) -> Iterator[Layer]:
        """The direct sub-layers."""
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Layer]]:
        """This layer (named `prefix`, "" by default) and every layer below it, each once."""
        yield from _first_of_each(self._every_named_module(prefix))

    def _every_named_module(self, prefix: str) -> Iterator[tuple[str, Layer]]:
        yield prefix, self
        for name, child in self.named_children():
            yield from child._every_named_module(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Layer]:
        """This layer and every layer below it, each once, parents before their children."""
        for _, module in self.named_modules():
            yield module

    def apply(self, fn) -> Layer:
        """Call `fn(layer)` on every layer below this one, then on this one; returns self.

        Each layer is visited once, after all the layers below it, as in PyTorch
        (`model.apply(init_weights)`).
        """
        if not callable(fn):
            raise TypeError(f"apply: fn must be callable, got {fn!r}")
        for module in reversed(list(self.modules())):
            fn(module)
        return self

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every parameter of this layer and its sub-layers, with dotted names (`0.weight`).

        A tensor reached twice (tied weights, a layer used twice) is listed once, under
        the first name found, as in PyTorch.
        """
        yield from _first_of_each(self._every_named_parameter(prefix))

    def _every_named_parameter(self, prefix: str) -> Iterator[tuple[str, Tensor]]:
        for name, value in self._named_members():
            if isinstance(value, Tensor):
                yield prefix + name, value
        for name, child in self.named_children():
            yield from child._every_named_parameter(f"{prefix}{name}.")

    def parameters(self) -> list[Tensor]:
        """Every parameter, in a fixed order (what an optimizer is given)."""
        return [p for _, p in self.named_parameters()]

    @property
    def kind(self) -> str:
        """What the layer is, in a word or two (`summary()` and the studio show it): its
        class name, unless the layer says more (`Dense+ReLU` for a fused activation)."""
        return type(self).__name__

    def num_parameters(self) -> int:
        """How many numbers the parameters hold."""
        return sum(p.size for p in self.parameters())

    def requires_grad_(self, requires_grad: bool = True) -> Layer:
        """Set `requires_grad` on every parameter; `requires_grad_(False)` freezes the layer.

        A frozen parameter gets no gradient from `backward()` (its `.grad` stays None
        once zeroed), so the optimizers, which skip a parameter without a gradient,
        leave it as it is, weight decay included. Returns self.
        """
        if not isinstance(requires_grad, (bool, np.bool_)):
            raise TypeError(f"requires_grad_: expected True or False, got {requires_grad!r}")
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def register_buffer(self, name: str, array) -> None:
        """Keep `array` as attribute `name`: saved and loaded with the parameters, not trained.

        A `Tensor` is stored as its array. The attribute may later be rebound to a new
        value of the same shape (`self.steps = self.steps + 1`): the name stays a buffer.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise TypeError(f"register_buffer: name must be an identifier string, got {name!r}")
        if isinstance(vars(self).get(name), (Tensor, Layer)) and name not in self._buffer_names:
            raise ValueError(f"register_buffer: {name!r} is already a parameter or a sub-layer "
                             f"of this {type(self).__name__}")
        array = np.asarray(array.data if isinstance(array, Tensor) else array)
        _check_savable("register_buffer", name, array)
        setattr(self, name, array)
        if name not in self._buffer_names:
            self._buffer_names = (*self._buffer_names, name)

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Every buffer of this layer and its sub-layers, with dotted names; each array once."""
        yield from _first_of_each((name, _buffer_array(layer, attribute))
                                  for name, layer, attribute in self._buffer_slots(prefix))

    def _buffer_slots(self, prefix: str) -> Iterator[tuple[str, Layer, str]]:
        """(dotted name, layer, attribute name) of every buffer, so it can be read or rebound."""
        for name in self._buffer_names:
            yield prefix + name, self, name
        for name, child in self.named_children():
            yield from child._buffer_slots(f"{prefix}{name}.")

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
        for layer in self.modules():
            for name in layer._buffer_names:
                value = _buffer_array(layer, name)
                if value.dtype.kind == "f":
                    setattr(layer, name, value.astype(dtype))
        return self

    # ------------------------------------------------------------ state and files
    def _named_arrays(self) -> dict[str, np.ndarray]:
        """Parameters and buffers as name -> live array (not copied)."""
        arrays = {name: p.data for name, p in self.named_parameters()}
        arrays.update(self.named_buffers())
        return arrays

    def state_dict(self) -> dict[str, np.ndarray]:
        """A copy of every parameter and buffer, by dotted name."""
        return {name: array.copy() for name, array in self._named_arrays().items()}

    @no_grad()  # copies into parameters in place, outside any graph (as PyTorch does)
    def load_state_dict(self, state: dict, strict: bool = True) -> Layer:
        """Copy `state` (name -> array or Tensor) into the parameters and buffers, in place.

        Everything is checked before anything is written, so a bad state leaves the
        layer as it was. A wrongly shaped entry, or one that is not real floating point
        where the layer holds floats (int, bool, complex, structured, object, string),
        is always an error; a missing or an unexpected one is an error unless
        `strict=False`. A buffer that was rebound to a scalar gets an array again.
        """
        state = {name: value.data if isinstance(value, Tensor) else np.asarray(value)
                 for name, value in state.items()}
        self._check_state({name: (array.shape, array.dtype) for name, array in state.items()},
                          strict)
        for name, parameter in self.named_parameters():
            if name in state:
                parameter.copy_(state[name])  # bumps its version: a recorded graph notices
        done = set()
        for name, layer, attribute in self._buffer_slots(""):
            if name in state and (id(layer), attribute) not in done:
                done.add((id(layer), attribute))
                _load_buffer(layer, attribute, state[name])
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
        existing file is never left half-written. A buffer holding Python objects,
        which `load` would refuse, is refused here first.
        """
        arrays = self._named_arrays()
        for name, array in arrays.items():  # what `load` would refuse is not written
            _check_savable("save", name, array)
        with atomic_write(path) as file:
            write_npz(file, arrays)

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

    def summary(self, input_shape=None) -> str:
        """A Keras-style table: each layer's name, type, output shape and parameter count.

        `input_shape` is one example's shape without the batch axis (`(784,)`,
        `(1, 28, 28)`); by default the model's own `input_shape` attribute, if it has
        one. The output shapes come from one forward pass on a zero example, in
        evaluation mode and without gradients (the modes are restored); without an input
        shape the table lists the parameters only. Returns the text: print it, or log it.
        """
        from tinygrad_mnist.nn.summary import summary  # it runs layers: imported when used

        return summary(self, input_shape)

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


def _held(name: str, value) -> Iterator[tuple[str, Tensor | Layer]]:
    """The Tensors and Layers in an attribute's value, named `name`, `name.i` or `name.key`.

    Lists, tuples and dicts are opened (nested ones too). A set, which has no order to
    name its items by, or a dict key that cannot be part of a dotted name, holding a
    tensor or a layer is an error: never a parameter silently left out.
    """
    if isinstance(value, (Tensor, Layer)):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _held(f"{name}.{i}", item)
    elif isinstance(value, dict):
        for key, item in value.items():
            found = list(_held(f"{name}.{key}", item))
            if found and (not isinstance(key, str) or not key or "." in key):
                raise ValueError(f"{name}: a dict holding tensors or layers needs non-empty "
                                 f"string keys without '.', got key {key!r}")
            yield from found
    elif isinstance(value, (set, frozenset)) and any(isinstance(v, (Tensor, Layer))
                                                     for v in value):
        raise TypeError(f"{name}: a set of tensors or layers has no order to name them by; "
                        "use a list or a dict")


def _buffer_array(layer: Layer, name: str) -> np.ndarray:
    """A buffer's value as an array, also after it was rebound to a scalar or a Tensor."""
    value = getattr(layer, name)
    if type(value) is np.ndarray:
        return value
    return np.asarray(value.data if isinstance(value, Tensor) else value)


def _load_buffer(layer: Layer, name: str, values: np.ndarray) -> None:
    """Write `values` into a buffer: in place when it is an array, else as a new array."""
    current = getattr(layer, name)
    if isinstance(current, Tensor):
        current.copy_(values)
    elif isinstance(current, np.ndarray) and current.flags.writeable:
        current[...] = values
    else:  # rebound to a NumPy or Python scalar (`self.steps = self.steps + 1`)
        setattr(layer, name, np.array(values, dtype=np.asarray(current).dtype))


def _check_savable(owner: str, name: str, array: np.ndarray) -> None:
    """Refuse an array that `.npz` could hold only as pickled objects (which `load` refuses)."""
    if array.dtype.hasobject:
        raise ValueError(f"{owner}: {name!r} holds Python objects (dtype {array.dtype}); a "
                         "buffer must be an array of numbers, which load can read back")
