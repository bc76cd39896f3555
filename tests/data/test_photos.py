"""Photos of digits: uneven light, noise, blur, JPEG, transparency, huge or odd files.

The photo-like set is real MNIST test digits (tests/support/mnist-test-digits.npz, the
first 100 of the test set) rendered by support/photo_like.py as dark ink on grey paper with an
illumination gradient, a vignette, noise, slight blur, off-centre, every other one as a
JPEG. benchmarks/photo_framing.py measures trained models on a larger such set.
"""

import os
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.photo_like import write_photo_like

from tinygrad_mnist.app.predict import classify_files
from tinygrad_mnist.data import frame_digit, frame_picture, read_digit, read_digit_image
from tinygrad_mnist.data.images import MAX_PIXELS, WORKING_SIDE, read_picture

DIGITS = np.load(Path(__file__).parent.parent / "support" / "mnist-test-digits.npz")


def correlation(a, b):
    a, b = a.reshape(len(a), -1).astype(float), b.reshape(len(b), -1).astype(float)
    a, b = a - a.mean(1, keepdims=True), b - b.mean(1, keepdims=True)
    return (a / np.linalg.norm(a, axis=1, keepdims=True)) @ \
        (b / np.linalg.norm(b, axis=1, keepdims=True)).T


def test_raw_mnist_digits_are_framed_bit_for_bit_as_before():
    # `framed` was written by the framing of the previous version, before lighting removal.
    framed = np.stack([frame_digit(image) for image in DIGITS["images"]])
    np.testing.assert_array_equal(framed, DIGITS["framed"])
    assert not any(frame_picture(image).warnings for image in DIGITS["images"][:20])


def test_photos_of_digits_are_framed_like_the_raw_digits(tmp_path):
    images = DIGITS["images"]
    paths = write_photo_like(images, tmp_path, seed=0)
    assert {p.suffix for p in paths} == {".png", ".jpg"}
    photos = np.stack([read_digit_image(path) for path in paths])
    similar = correlation(photos, DIGITS["framed"])
    # Read each framed photo as the label of the raw digit it looks most like (a
    # nearest-neighbour classifier): before lighting removal, 16 of the 100 were read right.
    labels = DIGITS["labels"]
    assert np.mean(labels[similar.argmax(axis=1)] == labels) >= 0.97
    assert np.median(np.diag(similar)) > 0.9  # and each looks like its own digit


def test_a_printed_digit_on_shaded_paper_is_framed_as_on_even_paper():
    even = np.full((120, 160), 200.0)
    even[30:90, 70:78] = 40  # a "1"
    even[30:36, 62:78] = 40
    shaded = even + np.linspace(-20, 20, 160)[None, :]  # +-20 grey levels across the sheet
    shaded += np.random.default_rng(0).normal(0, 2, shaded.shape)
    expected, framing = frame_picture(even), frame_picture(shaded)
    assert np.abs(np.subtract(framing.box, expected.box)).max() <= 1
    assert correlation(framing.digit[None], expected.digit[None])[0, 0] > 0.9


def test_light_ink_on_dark_paper_with_uneven_light_is_framed_too(tmp_path):
    path = write_photo_like(DIGITS["images"][:1], tmp_path, seed=3)[0]
    grey = np.asarray(Image.open(path).convert("L"), dtype=float)
    dark = frame_digit(255 - grey)  # the mirror image: light chalk on a dark board
    similar = correlation(dark[None], DIGITS["framed"])[0]
    assert DIGITS["labels"][similar.argmax()] == DIGITS["labels"][0] and similar[0] > 0.75


def test_a_digit_on_a_transparent_background_is_framed_by_its_alpha(tmp_path):
    expected = DIGITS["framed"][0]
    for colour in ((255, 255, 255), (128, 128, 128), (0, 0, 0)):
        rgba = np.zeros((84, 84, 4), np.uint8)
        rgba[..., :3] = colour
        rgba[..., 3] = np.kron(DIGITS["images"][0], np.ones((3, 3), np.uint8))
        Image.fromarray(rgba).save(tmp_path / "clear.png")
        framed = read_digit_image(tmp_path / "clear.png")
        assert correlation(framed[None], expected[None])[0, 0] > 0.95, colour


def test_doubtful_framings_say_so(tmp_path):
    rng = np.random.default_rng(0)
    busy = rng.uniform(0, 255, (200, 200))  # no paper anywhere: everything looks like ink
    assert any("covers" in w for w in frame_picture(busy).warnings)
    two = np.zeros((60, 120))
    two[10:50, 20:30] = 255
    two[10:50, 80:95] = 255  # two strokes far apart: two digits?
    assert any("2 separate marks" in w for w in frame_picture(two).warnings)
    speck = np.zeros((400, 400))
    speck[200:204, 200:204] = 255
    assert any("almost no ink" in w for w in frame_picture(speck).warnings)
    Image.fromarray(two.astype(np.uint8)).save(tmp_path / "two.png")
    assert classify_files(_model(), [tmp_path / "two.png"])[0].warnings == \
        read_digit(tmp_path / "two.png").warnings != ()


def _model():
    from tinygrad_mnist import nn
    return nn.MLP(784, [8], 10, seed=0)


def test_a_huge_picture_is_refused_by_its_size_without_pillows_warning(tmp_path):
    Image.new("L", (12000, 12000), 255).save(tmp_path / "bomb.png")  # a few KB on disk
    assert (tmp_path / "bomb.png").stat().st_size < 200_000
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning reaching the user fails the test
        with pytest.raises(ValueError, match=r"bomb.png'.*image too large: 144 MP "
                                             rf"\(limit {MAX_PIXELS // 10**6} MP\)"):
            read_digit_image(tmp_path / "bomb.png")
        Image.new("L", (9000, 8000), 255).save(tmp_path / "big.png")  # over the limit
        with pytest.raises(ValueError, match="image too large: 72 MP"):
            read_digit_image(tmp_path / "big.png")


def test_big_pictures_are_decoded_reduced(tmp_path):
    picture = np.full((3000, 2400), 230, np.uint8)
    picture[600:2400, 1000:1400] = 20
    Image.fromarray(picture).save(tmp_path / "big.jpg", quality=90)
    Image.fromarray(picture).save(tmp_path / "big.png")
    for name in ("big.jpg", "big.png"):
        grey = read_picture(tmp_path / name).grey
        assert max(grey.shape) <= WORKING_SIDE, name
        framing = read_digit(tmp_path / name)
        assert framing.digit.max() == 255 and framing.warnings == ()


def test_a_fifo_is_refused_before_it_is_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("opening the FIFO hung"))
    signal.alarm(5)
    try:
        with pytest.raises(ValueError, match="pipe.png' is not a regular file"):
            read_digit_image(tmp_path / "pipe.png")
        errors = []
        assert classify_files(_model(), [tmp_path / "pipe.png"],
                              on_error=lambda p, e: errors.append(str(e))) == []
        assert "not a regular file" in errors[0]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    with pytest.raises(IsADirectoryError):
        read_digit_image(tmp_path)
