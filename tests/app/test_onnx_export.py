"""ONNX export: the exported graph gives the same logits in onnxruntime."""

import sys

import numpy as np
import pytest

from tinygrad_mnist import Tensor, nn, no_grad
from tinygrad_mnist.app.onnx_export import export_onnx, to_onnx


def logits(model, x):
    model.eval()
    with no_grad():
        return model(Tensor(x)).data


def run_onnx(path, x):
    onnxruntime = pytest.importorskip(
        "onnxruntime", reason="the ONNX round trip needs onnxruntime (pip install -e '.[test]')")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["images"]
    return session.run(["logits"], {"images": x})[0]


@pytest.fixture
def onnx_installed():
    return pytest.importorskip("onnx", reason="ONNX export needs the onnx extra "
                                              "(pip install 'tinygrad-mnist[onnx]')")


needs_onnx = pytest.mark.usefixtures("onnx_installed")


@needs_onnx
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu", "identity"])
def test_an_mlp_round_trips_through_onnxruntime_for_any_batch_size(tmp_path, activation):
    model = nn.MLP(784, [32, 16], 10, activation=activation, seed=0)
    rng = np.random.default_rng(0)
    for p in model.parameters():  # nonzero biases, so a dropped bias would show
        p.data[...] = rng.normal(scale=0.3, size=p.shape)
    export_onnx(model, tmp_path / "model.onnx")
    for batch in (1, 5, 64):
        x = rng.random((batch, 784), dtype=np.float32)
        np.testing.assert_allclose(run_onnx(tmp_path / "model.onnx", x), logits(model, x),
                                   atol=1e-5, rtol=1e-5)


@needs_onnx
def test_dropout_softmax_and_a_layer_without_bias_are_exported(tmp_path):
    model = nn.Sequential(nn.Dense(20, 12, bias=False, seed=0), nn.ReLU(), nn.Dropout(0.5),
                          nn.Dense(12, 4, seed=1), nn.Softmax())
    export_onnx(model, tmp_path / "m.onnx")
    x = np.random.default_rng(1).random((3, 20), dtype=np.float32)
    np.testing.assert_allclose(run_onnx(tmp_path / "m.onnx", x), logits(model, x), atol=1e-6)


@needs_onnx
def test_a_cnn_round_trips_through_onnxruntime(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, seed=0), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Conv2d(4, 6, 3, seed=1), nn.AvgPool2d(2),
                          nn.Flatten(), nn.Dense(6 * 6 * 6, 10, seed=2))
    rng = np.random.default_rng(2)
    for p in model.parameters():
        p.data[...] = rng.normal(scale=0.3, size=p.shape)
    for _, buffer in model.named_buffers():
        buffer[...] = rng.random(buffer.shape) + 0.5
    export_onnx(model, tmp_path / "cnn.onnx", input_shape=(1, 28, 28))
    x = rng.random((3, 1, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(run_onnx(tmp_path / "cnn.onnx", x), logits(model, x),
                               atol=1e-5, rtol=1e-5)


@needs_onnx
def test_the_graph_declares_a_dynamic_batch_and_float32_images():
    graph = to_onnx(nn.MLP(784, [8], 10, seed=0)).graph
    dims = graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 784
    assert graph.output[0].name == "logits"


@needs_onnx
def test_unsupported_layers_and_a_missing_input_shape_are_errors():
    class Square(nn.Layer):
        def forward(self, x):
            return x * x

    with pytest.raises(TypeError, match="no ONNX export for layer Square"):
        to_onnx(nn.Sequential(nn.Dense(4, 4), Square()))
    with pytest.raises(ValueError, match="input_shape"):
        to_onnx(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="input_shape"):
        to_onnx(nn.Sequential(nn.ReLU()), input_shape=(0,))


def test_a_missing_onnx_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now fails
    with pytest.raises(ModuleNotFoundError, match=r"pip install 'tinygrad-mnist\[onnx\]'"):
        export_onnx(nn.MLP(4, [], 2), tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


@needs_onnx
def test_a_model_that_knows_its_input_shape_is_exported_with_it():
    model = nn.Sequential(nn.Flatten(), nn.Dense(12, 3, seed=0))
    model.input_shape = (1, 3, 4)
    dims = to_onnx(model).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 1, 3, 4]
