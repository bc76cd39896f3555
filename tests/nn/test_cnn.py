"""The CNN model: its layers, gradients end to end, saving and loading, training, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_mnist import nn, optim
from tinygrad_mnist.testing import assert_gradients_match, tensors, well_conditioned
from tinygrad_mnist.train import Trainer


def test_the_default_cnn_is_the_classic_two_block_net():
    model = nn.CNN(seed=0)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Conv2d", "MaxPool2d", "ReLU", "Conv2d", "MaxPool2d", "ReLU", "Flatten",
                     "Dense"]
    assert model[0].weight.shape == (16, 1, 5, 5) and model[0].padding == (2, 2)
    assert model[-1].weight.shape == (32 * 7 * 7, 10)
    assert model(np.zeros((3, 1, 28, 28), np.float32)).shape == (3, 10)


def test_batch_norm_blocks_and_hidden_layers():
    model = nn.CNN((3, 12, 10), [4, 6], 5, kernel_size=3, hidden_sizes=[7], batch_norm=True,
                   seed=0)
    kinds = [type(layer).__name__ for layer in model]
    assert kinds == ["Conv2d", "BatchNorm2d", "MaxPool2d", "ReLU", "Conv2d", "BatchNorm2d",
                     "MaxPool2d", "ReLU", "Flatten", "Dense", "BatchNorm1d", "ReLU", "Dense"]
    assert model[0].bias is None  # the batch norm's bias does its job
    assert model[9].weight.shape == (6 * 3 * 2, 7)
    assert model(np.zeros((2, 3, 12, 10), np.float32)).shape == (2, 5)


def test_the_pool_before_the_relu_gives_the_same_outputs_and_gradients():
    # The CNN pools before its ReLU (a quarter of the work): the textbook order must agree
    # exactly, ties included (whole windows of zeros and of equal values).
    model = nn.CNN((2, 8, 8), [3, 4], 5, kernel_size=3, seed=0)
    layers = list(model)
    for i in (1, 4):
        layers[i], layers[i + 1] = layers[i + 1], layers[i]
    textbook = nn.Sequential(*layers)
    assert [type(layer).__name__ for layer in textbook][:3] == ["Conv2d", "ReLU", "MaxPool2d"]
    x = np.random.default_rng(0).normal(size=(4, 2, 8, 8)).astype(np.float32)
    x[0, :, :4] = 0  # windows of zeros and (below) of equal values: ties in every pool
    x[1] = 1.0
    results = []
    for net in (model, textbook):
        for p in model.parameters():
            p.grad = None
        out = net(x)
        (out * np.arange(1.0, 6.0, dtype=np.float32)).sum().backward()
        results.append([out.data] + [p.grad.copy() for p in model.parameters()])
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


@settings(max_examples=10)
@given(st.booleans(), st.booleans(), st.integers(0, 2**32 - 1), st.data())
def test_cnn_gradients_end_to_end(batch_norm, training, seed, data):
    model = nn.CNN((2, 4, 5), [3], 3, kernel_size=3, hidden_sizes=[4], batch_norm=batch_norm,
                   activation="tanh", seed=seed).astype(np.float64)
    for i, p in enumerate(model.parameters()):  # away from the ones and zeros of the init
        p.data[...] = well_conditioned(p.shape, seed=seed + i)
    model.train(training)
    x = data.draw(tensors(shape=(3, 2, 4, 5)))
    assert_gradients_match(model, x, wrt=model.parameters())


def test_save_and_load_round_trip_with_running_statistics(tmp_path):
    rng = np.random.default_rng(0)
    model = nn.CNN((1, 8, 8), [4, 8], 3, kernel_size=3, hidden_sizes=[6], batch_norm=True,
                   seed=0)
    model(rng.normal(size=(16, 1, 8, 8)).astype(np.float32))  # moves the running statistics
    state = model.state_dict()
    assert {"1.running_mean", "1.running_var", "5.running_mean", "10.running_var"} <= set(state)
    assert np.any(state["1.running_mean"] != 0)
    model.save(tmp_path / "cnn.npz")
    fresh = nn.CNN((1, 8, 8), [4, 8], 3, kernel_size=3, hidden_sizes=[6], batch_norm=True,
                   seed=1).load(tmp_path / "cnn.npz")
    for name, array in fresh.state_dict().items():
        np.testing.assert_array_equal(array, state[name], err_msg=name)
    x = rng.normal(size=(4, 1, 8, 8)).astype(np.float32)
    np.testing.assert_array_equal(fresh.eval()(x).data, model.eval()(x).data)
    with pytest.raises(ValueError, match="load_state_dict: parameter '0.weight' has shape"):
        nn.CNN((1, 8, 8), [5, 8], 3, kernel_size=3, hidden_sizes=[6],
               batch_norm=True).load(tmp_path / "cnn.npz")


def test_a_small_cnn_learns_to_tell_stripes_apart():
    # Horizontal versus vertical bars at random places: a job for a convolution.
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 256)
    images = rng.normal(0, 0.3, size=(256, 1, 8, 8)).astype(np.float32)
    where = rng.integers(0, 8, 256)
    for i, (label, k) in enumerate(zip(labels, where)):
        if label:
            images[i, 0, :, k] += 2
        else:
            images[i, 0, k, :] += 2
    model = nn.CNN((1, 8, 8), [4], 2, kernel_size=3, batch_norm=True, seed=0)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.02),
                      batch_size=32, seed=0)
    history = trainer.fit((images[:192], labels[:192]), (images[192:], labels[192:]), epochs=5)
    assert history.val_accuracy[-1] >= 0.95


@pytest.mark.parametrize("arguments, error, message", [
    (dict(input_shape=(28, 28)), TypeError, r"CNN: input_shape must be \(channels, height, "
                                            r"width\), got \(28, 28\)"),
    (dict(input_shape=(1, 0, 28)), ValueError, r"CNN: input_shape\[1\] must be a positive int"),
    (dict(channels=[16, 0]), ValueError, r"CNN: channels\[1\] must be a positive int, got 0"),
    (dict(channels="16"), TypeError, r"CNN: channels\[0\] must be a positive int, got '1'"),
    (dict(kernel_size=4), ValueError, r"CNN: kernel_size must be odd .*got 4"),
    (dict(hidden_sizes=[-1]), ValueError, r"CNN: hidden_sizes\[0\] must be a positive int"),
    (dict(num_classes=0), ValueError, r"CNN: num_classes must be a positive int"),
    (dict(activation="nope"), ValueError, r"activation: unknown name 'nope'"),
    (dict(input_shape=(1, 6, 6), channels=[2, 2, 2]), ValueError,
     r"CNN: 3 pooling blocks need an image of at least 8 pixels a side, got \(1, 6, 6\)"),
])
def test_cnn_bad_arguments_are_named(arguments, error, message):
    with pytest.raises(error, match=message):
        nn.CNN(**arguments)


def test_cnn_takes_nchw_images_or_flat_rows_of_them():
    model = nn.CNN(seed=0)
    images = np.random.default_rng(0).random((3, 1, 28, 28)).astype(np.float32)
    np.testing.assert_array_equal(model(images.reshape(3, 784)).data, model(images).data)
    with pytest.raises(ValueError, match=r"Conv2d: expected a 4-D input .*got shape \(2, 100\)"):
        model(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError, match=r"Conv2d: expected a 4-D input .*got shape "
                                         r"\(2, 28, 28\)"):
        model(np.zeros((2, 28, 28), np.float32))
