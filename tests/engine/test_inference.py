"""Inference without a Trainer: predict and predict_proba on a bare model."""

import numpy as np
import pytest
from support.synthetic import blobs

import tinygrad_mnist
from tinygrad_mnist import nn, optim, predict, predict_proba
from tinygrad_mnist.data import prepare_images
from tinygrad_mnist.train import Trainer


def trained_model():
    x, y = blobs(n=120)
    model = nn.Sequential(nn.Dense(8, 16, seed=0), nn.ReLU(), nn.Dropout(0.5, seed=0),
                          nn.Dense(16, 3, seed=1))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                      seed=0)
    trainer.fit((x, y), epochs=3)
    return model, trainer, x, y


def test_predict_agrees_with_the_trainer_in_any_chunk_size_and_leaves_no_graph():
    model, trainer, x, y = trained_model()
    model.zero_grad()
    probabilities = predict_proba(model, x, batch_size=7)
    np.testing.assert_allclose(probabilities, trainer.predict_proba(x), rtol=1e-6)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    classes = predict(model, x)
    np.testing.assert_array_equal(classes, probabilities.argmax(axis=1))
    np.testing.assert_array_equal(predict(model, x, batch_size=1), classes)
    assert (classes == y).mean() > 0.8
    assert model.training  # evaluation mode (dropout off) was switched back
    assert all(p.grad is None for p in model.parameters())  # no backward was possible
    # Dropout is off: the same input gives the same answer every time.
    np.testing.assert_array_equal(predict_proba(model, x), predict_proba(model, x))


def test_predict_is_exported_at_the_top_level():
    assert tinygrad_mnist.predict is predict and "predict_proba" in tinygrad_mnist.__all__


def test_raw_pixels_and_bad_inputs_are_refused():
    model = nn.MLP(784, [8], 10, seed=0)
    images = np.zeros((2, 28, 28), np.uint8)
    with pytest.raises(TypeError, match="prepare_images"):
        predict(model, images.reshape(2, -1))
    assert predict(model, prepare_images(images)).shape == (2,)
    with pytest.raises(ValueError, match="at least one example"):
        predict(model, np.zeros((0, 784), np.float32))
    with pytest.raises(ValueError, match="batch_size"):
        predict(model, prepare_images(images), batch_size=0)
    with pytest.raises(ValueError, match="one row per example"):
        predict(model, np.zeros(784, np.float32))


def test_prepare_images_takes_one_28x28_image_as_a_batch_of_one():
    image = np.arange(784, dtype=np.int64).reshape(28, 28).astype(np.uint8)
    one = prepare_images(image)
    assert one.shape == (1, 784)
    np.testing.assert_array_equal(one, prepare_images(image[np.newaxis]))
    assert prepare_images(image, flatten=False).shape == (1, 28, 28)
    assert prepare_images(np.zeros((5, 784), np.uint8)).shape == (5, 784)  # rows stay rows
