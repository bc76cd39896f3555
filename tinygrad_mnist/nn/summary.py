"""`model.summary()`: a Keras-style table of the layers, their output shapes and parameters.

The output shapes are found the only way that works for every layer, including one
whose `forward` is arbitrary code: by running the model once, on a batch of one zero
example, and noting what each layer returns. That run is in evaluation mode and without
gradients, so it moves no running statistics and records no graph; the modes are put
back afterwards.
"""

from __future__ import annotations

import numbers

import numpy as np

from tinygrad_mnist.tensor import Tensor, no_grad


def summary(model, input_shape=None) -> str:
    """The table of `model.summary(input_shape)`; see `Layer.summary`."""
    if input_shape is None:
        input_shape = getattr(model, "input_shape", None)
    shapes = None if input_shape is None else _output_shapes(model, _example_shape(input_shape))
    rows, names = [], {name for name, _ in model.named_modules()}
    for name, module in model.named_modules():
        if module is model:
            continue
        # Indented under each layer it sits in (a list's or dict's name is no level).
        parts = name.split(".")
        depth = sum(".".join(parts[:i]) in names for i in range(1, len(parts)))
        label = f"{'  ' * depth}{name} ({module.kind})"
        count = module.num_parameters()
        rows.append((label, _shape_text(shapes, module), f"{count:,}"))
    header = ("Layer (type)", "Output shape", "Parameters")
    if shapes is None:
        header, rows = header[::2], [(label, count) for label, _, count in rows]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells):
        # Text columns to the left, the parameter count (the last column) to the right.
        parts = [cell.ljust(width) for cell, width in zip(cells[:-1], widths)]
        return "   ".join([*parts, cells[-1].rjust(widths[-1])]).rstrip()

    rule = "=" * len(line(header))
    parameters = model.parameters()
    total = sum(p.size for p in parameters)
    trainable = sum(p.size for p in parameters if p.requires_grad)
    shape_note = [] if shapes is not None else [
        "(output shapes: give summary(input_shape=...), one example's shape without the batch)"]
    return "\n".join([
        f"Model: {type(model).__name__}", line(header), rule, *(line(row) for row in rows),
        rule, f"Total parameters: {total:,}", f"Trainable parameters: {trainable:,}",
        f"Non-trainable parameters: {total - trainable:,}", *shape_note])


def _example_shape(input_shape) -> tuple[int, ...]:
    """`input_shape` as a tuple of positive ints, or a ValueError naming it."""
    shape = (input_shape,) if isinstance(input_shape, numbers.Integral) else input_shape
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if not shape or not all(isinstance(n, numbers.Integral) and not isinstance(n, bool)
                            and n > 0 for n in shape):
        raise ValueError(f"summary: input_shape must be one example's shape, positive ints "
                         f"without the batch axis, e.g. (784,) or (1, 28, 28); got "
                         f"{input_shape!r}")
    return tuple(int(n) for n in shape)


def _output_shapes(model, example_shape) -> dict[int, list[tuple]]:
    """`id(layer)` -> the shapes (batch axis first) of what each call of `layer` returned."""
    modules = list(model.modules())
    shapes: dict[int, list[tuple]] = {}
    modes = [(module, module.training) for module in modules]
    own_forward = [(module, vars(module).get("forward")) for module in modules]
    parameters = model.parameters()
    dtype = parameters[0].dtype if parameters else np.float32
    try:
        for module in modules:
            module.forward = _recording(module, module.forward, shapes)
        model.eval()
        with no_grad():
            model(Tensor(np.zeros((1, *example_shape), dtype=dtype)))
    except (ValueError, TypeError) as error:
        raise ValueError(f"summary: the model cannot take examples of shape {example_shape} "
                         f"(input_shape): {error}") from None
    finally:
        for module, forward in own_forward:
            if forward is None:
                del module.forward
            else:
                module.forward = forward
        for module, training in modes:
            module.training = training
    return shapes


def _recording(module, forward, shapes):
    def recorded(*inputs, **kwargs):
        out = forward(*inputs, **kwargs)
        shapes.setdefault(id(module), []).append(np.shape(out.data if isinstance(out, Tensor)
                                                          else out))
        return out

    return recorded


def _shape_text(shapes, module) -> str:
    if shapes is None:
        return ""
    seen = []
    for shape in shapes.get(id(module), []):
        if shape not in seen:
            seen.append(shape)
    if not seen:
        return "(not called)"
    return ", ".join("(None" + "".join(f", {n}" for n in shape[1:]) + ")" if shape
                     else "()" for shape in seen)
