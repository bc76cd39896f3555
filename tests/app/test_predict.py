"""Classifying image files, in process: what `tinygrad-mnist predict` and `evaluate` do."""

import numpy as np
import pytest
from PIL import Image
from support.synthetic import blobs

from tinygrad_mnist import nn, optim, predict_proba
from tinygrad_mnist.app.predict import (
    classify_files,
    evaluate_model,
    model_classes,
    model_inputs,
)
from tinygrad_mnist.data import prepare_images, read_digit_image
from tinygrad_mnist.train import Trainer


def digit_files(folder, count=3):
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        image = np.full((60, 40), 250, np.uint8)
        top, left = rng.integers(5, 20, size=2)
        image[top:top + 30, left:left + 6 + 3 * i] = 10  # dark strokes of growing width
        paths.append(folder / f"{i}.png")
        Image.fromarray(image).save(paths[-1])
    return paths


def test_classify_files_gives_the_top_classes_of_each_framed_image(tmp_path):
    model = nn.MLP(784, [16], 10, seed=0)
    paths = digit_files(tmp_path)
    results = classify_files(model, paths, top=3)
    expected = predict_proba(model, prepare_images(np.stack([read_digit_image(p)
                                                             for p in paths])))
    assert [r.path for r in results] == [str(p) for p in paths]
    for result, row in zip(results, expected):
        assert result.classes == list(np.argsort(-row, kind="stable")[:3])
        np.testing.assert_allclose(result.probabilities, np.sort(row)[::-1][:3], rtol=1e-6)


def test_a_bad_file_is_reported_and_the_others_are_still_classified(tmp_path):
    model = nn.MLP(784, [16], 10, seed=0)
    good = digit_files(tmp_path, count=2)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG but not really")
    errors = []
    results = classify_files(model, [good[0], tmp_path / "bad.png", tmp_path / "gone.png",
                                     good[1]], on_error=lambda p, e: errors.append((p, e)))
    assert [r.path for r in results] == [str(p) for p in good]
    assert [type(e) for _, e in errors] == [ValueError, FileNotFoundError]
    with pytest.raises(ValueError, match="bad.png"):
        classify_files(model, [tmp_path / "bad.png"])
    with pytest.raises(ValueError, match="top"):
        classify_files(model, good, top=0)


def test_a_model_for_other_images_is_refused_before_any_file_is_read(tmp_path):
    model = nn.MLP(196, [8], 10, seed=0)
    with pytest.raises(ValueError, match="takes 196 inputs, but images framed as MNIST's"):
        classify_files(model, [tmp_path / "never-read.png"])
    assert model_inputs(model, np.zeros((2, 14, 14), np.uint8)).shape == (2, 196)
    assert model_classes(model) == 10 and model_classes(nn.Sequential(nn.ReLU())) is None


def test_evaluate_model_gives_the_trainers_evaluation():
    x, y = blobs(n=90)
    model = nn.MLP(8, [8], 3, seed=0)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
    trainer.fit((x, y), epochs=2)
    result, by_trainer = evaluate_model(model, x, y), trainer.evaluate((x, y))
    assert type(result) is type(by_trainer)  # one evaluation, one shape
    assert result.loss == pytest.approx(by_trainer.loss, rel=1e-6)
    assert result.accuracy == by_trainer.accuracy
    np.testing.assert_allclose(result.probabilities, trainer.predict_proba(x), rtol=1e-6)
