"""Export a trained model to ONNX, so other runtimes (onnxruntime, browsers, phones) can run it.

    export_onnx(model, "model.onnx")    # an MLP(784, ...): input N x 784
    export_onnx(cnn, "cnn.onnx")        # a CNN((1, 28, 28), ...): input N x 1 x 28 x 28

The input's shape is the model's `input_shape` (or the `input_shape` given).

The graph takes images as `prepare_images` gives them (pixel / 255, float32), any
number at a time, and gives the logits (apply a softmax for probabilities). Each
layer type maps to ONNX nodes by one small function in `_CONVERTERS`; the weights
already follow ONNX's layouts except `Dense`'s, which `Gemm` reads as they are.
The `onnx` package is an optional extra: `pip install 'tinygrad-mnist[onnx]'`.
"""

from __future__ import annotations

import os

import numpy as np

from tinygrad_mnist.nn.dense import Dense
from tinygrad_mnist.nn.sequential import leaves
from tinygrad_mnist.utils.atomic import atomic_write
from tinygrad_mnist.utils.output_file import check_output_file

PRODUCER = "tinygrad_mnist"  # how an earlier export is recognised (and may be replaced)
OPSET = 17  # supported by every onnxruntime since 1.14
IR_VERSION = 8  # the IR of opset 17: older runtimes refuse files that claim a newer one
INSTALL_HINT = "pip install 'tinygrad-mnist[onnx]'"


def _require_onnx():
    try:
        import onnx
    except ImportError:
        raise ModuleNotFoundError(
            f"ONNX export needs the onnx package, which is not installed; {INSTALL_HINT}",
            name="onnx") from None
    return onnx


class _Graph:
    """The nodes and weights built so far, and the name of the latest output."""

    def __init__(self, onnx, output: str):
        self.onnx, self.output = onnx, output
        self.nodes, self.initializers = [], []
        self._count = 0

    def name(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def weight(self, hint: str, array) -> str:
        name = self.name(hint)
        self.initializers.append(
            self.onnx.numpy_helper.from_array(np.asarray(array, dtype=np.float32), name))
        return name

    def add(self, op: str, inputs, hint: str, **attributes) -> None:
        output = self.name(hint)
        self.nodes.append(self.onnx.helper.make_node(op, [self.output, *inputs], [output],
                                                     **attributes))
        self.output = output


def _pads(padding) -> list[int]:
    top, left = padding
    return [top, left, top, left]  # ONNX: all the begins, then all the ends


def _dense(graph, layer):
    inputs = [graph.weight("weight", layer.weight.data)]
    if layer.bias is not None:
        inputs.append(graph.weight("bias", layer.bias.data))
    graph.add("Gemm", inputs, "dense")  # X @ W + b; our W is (in, out), Gemm's default


def _conv2d(graph, layer):
    inputs = [graph.weight("weight", layer.weight.data)]
    if layer.bias is not None:
        inputs.append(graph.weight("bias", layer.bias.data))
    graph.add("Conv", inputs, "conv", kernel_shape=list(layer.kernel_size),
              strides=list(layer.stride), pads=_pads(layer.padding))


def _max_pool(graph, layer):
    graph.add("MaxPool", [], "max_pool", kernel_shape=list(layer.kernel_size),
              strides=list(layer.stride), pads=_pads(getattr(layer, "padding", (0, 0))))


def _avg_pool(graph, layer):
    graph.add("AveragePool", [], "avg_pool", kernel_shape=list(layer.kernel_size),
              strides=list(layer.stride), pads=_pads(getattr(layer, "padding", (0, 0))))


def _batch_norm(graph, layer):
    inputs = [graph.weight("scale", layer.weight.data), graph.weight("shift", layer.bias.data),
              graph.weight("mean", layer.running_mean), graph.weight("var", layer.running_var)]
    graph.add("BatchNormalization", inputs, "batch_norm", epsilon=float(layer.eps))


def _activation(op: str, **attributes):
    return lambda graph, layer: graph.add(op, [], op.lower(), **attributes)


_CONVERTERS = {
    "Dense": _dense,
    "Conv2d": _conv2d,
    "MaxPool2d": _max_pool,
    "AvgPool2d": _avg_pool,
    "BatchNorm1d": _batch_norm,
    "BatchNorm2d": _batch_norm,
    "Flatten": _activation("Flatten", axis=1),
    "ReLU": _activation("Relu"),
    "Sigmoid": _activation("Sigmoid"),
    "Tanh": _activation("Tanh"),
    "Identity": lambda graph, layer: None,
    "Dropout": lambda graph, layer: None,  # evaluation mode: the identity
    "LeakyReLU": lambda graph, layer: graph.add("LeakyRelu", [], "leaky_relu",
                                                alpha=float(layer.negative_slope)),
    "Softmax": lambda graph, layer: graph.add("Softmax", [], "softmax", axis=int(layer.axis)),
}


def _computing_layers(model) -> list:
    """`leaves(model)`, each `Dense(..., activation=...)` followed by its activation: Gemm,
    then the activation's node."""
    layers = []
    for layer in leaves(model):
        layers.append(layer)
        if isinstance(layer, Dense) and layer.activation is not None:
            layers.append(layer.activation)
    return layers


def _input_shape(model, input_shape) -> tuple[int, ...]:
    from tinygrad_mnist.utils.checks import check_shape

    shape = getattr(model, "input_shape", None) if input_shape is None else input_shape
    if shape is None:
        raise ValueError(f"input_shape: {type(model).__name__} does not say what it takes (its "
                         "input_shape is None), so give the shape of one example, e.g. "
                         "input_shape=(1, 28, 28)")
    try:
        return check_shape("input_shape", shape, "to_onnx")
    except TypeError as error:
        raise ValueError(str(error)) from None


def to_onnx(model, input_shape=None):
    """The ONNX `ModelProto` of `model` (a `Sequential` of supported layers).

    `input_shape` is one example's shape, without the batch axis: by default the
    model's own `input_shape` (an `MLP`'s `(784,)`, a `CNN`'s `(1, 28, 28)`). An
    unsupported layer is a TypeError naming it.
    """
    onnx = _require_onnx()
    helper = onnx.helper
    layers = _computing_layers(model)
    unsupported = [type(layer).__name__ for layer in layers
                   if type(layer).__name__ not in _CONVERTERS]
    if unsupported:
        raise TypeError(f"model: no ONNX export for layer {unsupported[0]}; supported layers "
                        f"are {', '.join(sorted(_CONVERTERS))}")
    shape = _input_shape(model, input_shape)
    graph = _Graph(onnx, "images")
    for layer in layers:
        _CONVERTERS[type(layer).__name__](graph, layer)
    if graph.output == "images":  # an empty model or only identities: still one node
        graph.add("Identity", [], "identity")
    graph.nodes[-1].output[0] = "logits"
    float32 = onnx.TensorProto.FLOAT
    proto = helper.make_graph(
        graph.nodes, "tinygrad_mnist",
        [helper.make_tensor_value_info("images", float32, ["batch", *shape])],
        [helper.make_tensor_value_info("logits", float32, ["batch", None])],
        initializer=graph.initializers,
    )
    exported = helper.make_model(proto, producer_name=PRODUCER,
                                 opset_imports=[helper.make_opsetid("", OPSET)])
    exported.ir_version = IR_VERSION
    onnx.checker.check_model(exported)
    return exported


def export_onnx(model, path, input_shape=None) -> None:
    """Write `to_onnx(model, input_shape)` to `path`, atomically.

    `path` is checked first (`check_onnx_path`): an existing file is replaced only when it
    is an earlier ONNX export of this package.
    """
    check_onnx_path(path)
    exported = to_onnx(model, input_shape)
    with atomic_write(path) as file:
        file.write(exported.SerializeToString())


def check_onnx_path(path):
    """Refuse (ValueError) an `--onnx` path that is a folder, not a regular file, missing its
    folder, or an existing file other than an earlier export (a stranger's file, a run's
    own `model.npz` or `config.json`); returns it as a `Path`."""
    return check_output_file(path, "onnx", is_onnx_export)


# An export of ours is a few megabytes; a larger file is no earlier export to replace.
_LARGEST_EXPORT = 1 << 30


def is_onnx_export(path) -> bool:
    """Whether `path` is an ONNX model this package wrote (its producer is ours)."""
    onnx = _require_onnx()
    try:
        if os.path.getsize(path) > _LARGEST_EXPORT:
            return False
        model = onnx.load_model(os.fspath(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - whatever the file is, it is not our export
        return False
    return model.producer_name == PRODUCER
