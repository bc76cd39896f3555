"""Models know their input: `input_shape` on every model, kept in the run folder, and what
predict, evaluate, show and export lay their images out by (never a class name)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tinygrad_mnist import Tensor, nn
from tinygrad_mnist.app import run_folder
from tinygrad_mnist.app.cli import main
from tinygrad_mnist.app.predict import classify_files, model_inputs
from tinygrad_mnist.app.run_folder import load_run_model, run_model_shapes, save_model_first
from tinygrad_mnist.data import prepare_images
from tinygrad_mnist.train.config import RunConfig
from tinygrad_mnist.train.history import History

IMAGES = np.random.default_rng(0).integers(0, 256, size=(3, 28, 28), dtype=np.uint8)


# ------------------------------------------------------------------------- the models
def test_every_model_knows_the_shape_of_one_example():
    assert nn.Dense(784, 10).input_shape == (784,)
    assert nn.MLP(784, [8], 10).input_shape == (784,)
    assert nn.CNN((1, 20, 20), [2], 10).input_shape == (1, 20, 20)
    # A Sequential infers it from a first Dense, or takes it when the first layer cannot say.
    assert nn.Sequential(nn.Dense(12, 3), nn.ReLU()).input_shape == (12,)
    assert nn.Sequential(nn.Flatten(), nn.Dense(12, 3)).input_shape is None
    assert nn.Sequential(nn.Flatten(), nn.Dense(12, 3), input_shape=[1, 3, 4]).input_shape \
        == (1, 3, 4)
    assert nn.Sequential(nn.Sequential(nn.Dense(5, 2))).input_shape == (5,)
    assert nn.ReLU().input_shape is None


def test_a_shape_that_does_not_fit_the_first_layer_or_is_no_shape_is_refused():
    with pytest.raises(ValueError, match=r"input_shape \(5,\) does not fit the first layer, "
                                         r"Dense, which takes \(4,\)"):
        nn.Sequential(nn.Dense(4, 2), input_shape=(5,))
    with pytest.raises(ValueError, match=r"input_shape\[1\]"):
        nn.Sequential(nn.Flatten(), input_shape=(1, 0))
    with pytest.raises(TypeError, match="input_shape"):
        nn.Sequential(nn.Flatten(), input_shape="784")
    assert nn.Sequential(nn.Flatten(), input_shape=784).input_shape == (784,)


class Grey(nn.Layer):
    """A custom model that declares its input: (height, width) images, no channel axis."""

    input_shape = (28, 28)

    def __init__(self):
        self.dense = nn.Dense(784, 10, seed=0)

    def forward(self, x):
        return self.dense(x.reshape(len(x.data), 784))


@pytest.mark.parametrize("model, shape", [
    (nn.MLP(784, [4], 10, seed=0), (3, 784)),
    (nn.CNN((1, 28, 28), [2], 10, kernel_size=3, seed=0), (3, 1, 28, 28)),
    # No Conv2d first, yet images: a class-name test laid these out as rows of 784.
    (nn.Sequential(nn.Flatten(), nn.Dense(784, 10, seed=0), input_shape=(1, 28, 28)),
     (3, 1, 28, 28)),
    (Grey(), (3, 28, 28)),
])
def test_the_inputs_are_laid_out_by_the_models_input_shape(model, shape):
    x = model_inputs(model, IMAGES)
    assert x.shape == shape and x.dtype == np.float32
    np.testing.assert_array_equal(x.reshape(3, -1), prepare_images(IMAGES))
    assert model(Tensor(x)).shape == (3, 10)


def test_a_model_that_does_not_say_what_it_takes_is_a_clear_error():
    with pytest.raises(ValueError, match="input_shape is None"):
        model_inputs(nn.Sequential(nn.Flatten(), nn.Dense(784, 10)), IMAGES)


@pytest.mark.parametrize("side", [20, 32])
def test_a_cnn_for_other_image_sizes_says_so_before_reading_a_file(side, tmp_path):
    model = nn.CNN((1, side, side), [2], 10, kernel_size=3, seed=0)
    with pytest.raises(ValueError, match=f"trained on {side}x{side} images, but the MNIST test "
                                         "images are 28x28"):
        model_inputs(model, IMAGES, "the MNIST test images")
    Image.fromarray(IMAGES[0]).save(tmp_path / "digit.png")
    with pytest.raises(ValueError, match=f"trained on {side}x{side} images, but images framed "
                                         "as MNIST's are 28x28"):
        classify_files(model, [tmp_path / "digit.png"])


def test_colour_models_are_refused_for_grey_images():
    with pytest.raises(ValueError, match=r"\(3, 28, 28\) \(3 channels\), but the images are "
                                         "grey"):
        model_inputs(nn.CNN((3, 28, 28), [2], 10, kernel_size=3), IMAGES)


# ------------------------------------------------------------------------ run folders
def cnn_run(folder, side=28, blocks=3) -> nn.Layer:
    """A run folder of a CNN for `side`-pixel images, as train leaves it (without training)."""
    config = RunConfig(model="cnn", channels=(2,) * blocks, kernel_size=3, hidden_sizes=(),
                         dataset="synthetic", validation=0)
    model = config.build_model((1, side, side), 10, seed=1)
    save_model_first(folder, model=model, config=config, history=History())
    return model


def test_a_run_folder_records_the_input_shape_and_loading_builds_the_model_only(tmp_path,
                                                                                 monkeypatch):
    saved = cnn_run(tmp_path, side=20, blocks=2)
    assert json.loads((tmp_path / "model.json").read_text()) == {
        "input_shape": [1, 20, 20], "num_classes": 10}

    def refuse(*args, **kwargs):
        raise AssertionError("loading a model built an optimizer, a schedule or a Trainer")

    for name in ("build_training", "_make_optimizer", "Trainer"):
        monkeypatch.setattr(f"tinygrad_mnist.train.config.{name}", refuse)
    monkeypatch.setattr("tinygrad_mnist.train.config.RunConfig.build", refuse)
    model, config = load_run_model(tmp_path)
    assert isinstance(model, nn.CNN) and model.input_shape == (1, 20, 20)
    for (name, array), (_, expected) in zip(model.state_dict().items(),
                                            saved.state_dict().items()):
        np.testing.assert_array_equal(array, expected, err_msg=name)


@pytest.mark.parametrize("recorded", [True, False], ids=["model.json", "older run"])
def test_three_pooling_blocks_on_28_pixels_load_as_28_pixels(tmp_path, recorded):
    # 28 -> 14 -> 7 -> 3: read back from the Dense weights alone, that was 24 pixels.
    cnn_run(tmp_path, side=28, blocks=3)
    if not recorded:
        (tmp_path / "model.json").unlink()
    config = run_folder.read_run_config(tmp_path)
    assert run_model_shapes(tmp_path / "model.npz", config) == ((1, 28, 28), 10)
    assert load_run_model(tmp_path)[0].input_shape == (1, 28, 28)


def test_an_older_mlp_run_without_model_json_still_loads(tmp_path):
    config = RunConfig(hidden_sizes=(8,), validation=0)
    save_model_first(tmp_path, model=config.build_model((196,), 4), config=config,
                     history=History())
    (tmp_path / "model.json").unlink()
    model, _ = load_run_model(tmp_path / "model.npz")
    assert model.input_shape == (196,) and model[-1].out_features == 4


def test_a_damaged_model_json_is_refused_naming_it(tmp_path):
    cnn_run(tmp_path, blocks=1)
    (tmp_path / "model.json").write_text('{"input_shape": [1, 0, 28], "num_classes": 10}')
    with pytest.raises(ValueError, match="model.json"):
        load_run_model(tmp_path)


def test_export_declares_the_runs_own_image_size(tmp_path, capsys):
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    model = cnn_run(tmp_path / "run", side=28, blocks=3)
    assert main(["export", str(tmp_path / "run"), "--onnx", str(tmp_path / "m.onnx")]) == 0
    dims = onnx.load(tmp_path / "m.onnx").graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 1, 28, 28]
    session = onnxruntime.InferenceSession(str(tmp_path / "m.onnx"),
                                           providers=["CPUExecutionProvider"])
    x = model_inputs(model, IMAGES)
    model.eval()
    np.testing.assert_allclose(session.run(["logits"], {"images": x})[0],
                               model(Tensor(x)).data, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("command", ["evaluate", "show"])
def test_evaluate_and_show_of_a_cnn_for_32_pixels_say_so_in_one_line(command, tmp_path,
                                                                     monkeypatch, capsys):
    monkeypatch.setenv("TINYGRAD_MNIST_HOME", str(tmp_path / "cache"))
    cnn_run(tmp_path / "run", side=32, blocks=2)
    assert main([command, str(tmp_path / "run"), "--dataset", "synthetic"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "Traceback" not in error
    assert "trained on 32x32 images, but the synthetic test images are 28x28" in error
