"""Image files framed as MNIST frames its digits."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tinygrad_mnist.data import frame_digit, read_digit_image
from tinygrad_mnist.data.images import read_greyscale


def stroke_digit(height=120, width=80, canvas=(200, 160), top=30, left=40, value=230):
    """A thick "L"-like stroke of light ink on a dark canvas."""
    image = np.zeros(canvas)
    image[top:top + height, left:left + width // 4] = value
    image[top + height - height // 5:top + height, left:left + width] = value
    return image


def centre_of_mass(image):
    image = image.astype(float)
    rows, columns = np.indices(image.shape)
    return (rows * image).sum() / image.sum(), (columns * image).sum() / image.sum()


def bounding_box(image, level=1):
    rows, columns = np.nonzero(image >= level)
    return rows.max() - rows.min() + 1, columns.max() - columns.min() + 1


def test_a_digit_is_scaled_into_20x20_and_centred_by_mass():
    framed = frame_digit(stroke_digit())
    assert framed.dtype == np.uint8 and framed.shape == (28, 28)
    height, width = bounding_box(framed, level=64)
    assert height == 20 and 12 <= width <= 14  # 120 x 80 keeps its 3:2 aspect
    row, column = centre_of_mass(framed)
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5
    assert framed.max() >= 250  # the strongest ink is full white


def test_dark_ink_on_light_paper_and_colour_give_the_same_frame(tmp_path):
    light_on_dark = stroke_digit()
    expected = frame_digit(light_on_dark)
    np.testing.assert_array_equal(frame_digit(255 - light_on_dark), expected)
    red_ink = np.full((*light_on_dark.shape, 3), 255, np.uint8)
    red_ink[light_on_dark > 0] = (200, 20, 20)
    Image.fromarray(red_ink).save(tmp_path / "red.png")
    framed = read_digit_image(tmp_path / "red.png")
    assert np.abs(framed.astype(int) - expected).mean() < 3


def test_an_mnist_style_image_is_left_as_it_was():
    digit = np.zeros((28, 28))
    digit[4:24, 11:17] = 255  # 20 high, centred by mass at (13.5, 13.5)
    digit[4:24, 17] = 128  # shifts the centre of mass right by a bit
    framed = frame_digit(digit)
    assert bounding_box(framed) == (20, 7)
    row, column = centre_of_mass(framed)
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5


def test_transparent_png_and_jpeg_are_read(tmp_path):
    rgba = np.zeros((60, 60, 4), np.uint8)
    rgba[10:50, 25:35] = (0, 0, 0, 255)  # black ink, transparent paper
    Image.fromarray(rgba).save(tmp_path / "ink.png")
    grey = read_greyscale(tmp_path / "ink.png")
    assert grey[0, 0] == 255 and grey[30, 30] == 0
    Image.fromarray((255 - stroke_digit()).astype(np.uint8)).save(tmp_path / "d.jpg", quality=70)
    framed = read_digit_image(tmp_path / "d.jpg")
    assert np.abs(framed.astype(int) - frame_digit(stroke_digit())).mean() < 8


@given(height=st.integers(3, 150), width=st.integers(3, 150), top=st.integers(0, 40),
       left=st.integers(0, 40), value=st.integers(60, 255), light=st.booleans())
def test_any_box_of_ink_is_framed_within_the_field(height, width, top, left, value, light):
    canvas = np.zeros((top + height + 10, left + width + 10))
    canvas[top:top + height, left:left + width] = value
    if light:
        canvas = 255 - canvas
    framed = frame_digit(canvas)
    assert framed.shape == (28, 28) and framed.dtype == np.uint8
    box = bounding_box(framed, level=128)
    assert max(box) in (19, 20, 21)  # 20 after antialiasing at the edges
    row, column = centre_of_mass(framed)
    assert abs(row - 14) <= 1 and abs(column - 14) <= 1


def test_blank_and_broken_images_are_errors_that_name_the_file(tmp_path):
    with pytest.raises(ValueError, match="blank"):
        frame_digit(np.full((30, 30), 200.0))
    Image.fromarray(np.full((30, 30), 9, np.uint8)).save(tmp_path / "blank.png")
    with pytest.raises(ValueError, match="blank.png': no digit found"):
        read_digit_image(tmp_path / "blank.png")
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match="notes.png' is not a PNG or JPEG image"):
        read_digit_image(tmp_path / "notes.png")
    Image.fromarray(stroke_digit().astype(np.uint8)).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match="cut.png"):
        read_digit_image(tmp_path / "cut.png")
    with pytest.raises(FileNotFoundError):
        read_digit_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="2-D"):
        frame_digit(np.zeros((3, 3, 3)))
    with pytest.raises(ValueError, match="finite"):
        frame_digit(np.full((3, 3), np.nan))
