"""Images for a CNN (layout "nchw"), random shifts, and the Trainer applying them per batch."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mnist import nn, optim
from tinygrad_mnist.data import RandomShift, prepare_images
from tinygrad_mnist.train import Trainer


def shifted_by_hand(image, dy, dx):
    """`image` (h, w) moved down `dy` and right `dx`, zeros coming in."""
    h, w = image.shape
    out = np.zeros_like(image)
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def test_prepare_images_nchw_adds_the_channel_axis():
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28).astype(np.uint8)
    nchw = prepare_images(images, layout="nchw")
    assert nchw.shape == (2, 1, 28, 28) and nchw.dtype == np.float32
    np.testing.assert_array_equal(nchw.reshape(2, -1), prepare_images(images))
    assert prepare_images(np.zeros((2, 3, 4, 4), np.uint8), layout="nchw").shape == (2, 3, 4, 4)
    assert prepare_images(images, layout="keep").shape == (2, 28, 28)
    assert prepare_images(images, layout="flat").shape == (2, 784)


def test_prepare_images_layout_errors_are_named():
    with pytest.raises(ValueError, match=r"layout: expected one of flat, nchw, keep, got 'NHWC'"):
        prepare_images(np.zeros((2, 4, 4), np.uint8), layout="NHWC")
    with pytest.raises(ValueError, match=r"layout 'nchw' needs grey images .*got shape \(2, 16\)"):
        prepare_images(np.zeros((2, 16), np.uint8), layout="nchw")


@given(st.integers(0, 3), st.integers(1, 5), st.sampled_from([(5, 6), (1, 5, 6), (2, 4, 4)]),
       st.integers(0, 2**32 - 1))
def test_each_image_moves_by_its_own_draw(max_shift, n, image_shape, seed):
    images = np.random.default_rng(seed).random((n, *image_shape)).astype(np.float32)
    before = images.copy()
    out = RandomShift(max_shift, seed=seed)(images)
    np.testing.assert_array_equal(images, before)  # the input is never changed
    assert out.shape == images.shape and out.dtype == images.dtype
    # The same draws, replayed: each image must equal itself moved by its (dy, dx).
    dy, dx = np.random.default_rng(seed).integers(-max_shift, max_shift + 1, size=(2, n))
    for i in range(n):
        channels = images[i].reshape(-1, *image_shape[-2:])
        expected = [shifted_by_hand(c, dy[i], dx[i]) for c in channels]
        np.testing.assert_array_equal(out[i].reshape(-1, *image_shape[-2:]), expected)


def test_shifts_cover_every_offset_up_to_two_pixels_and_no_more():
    image = np.zeros((1, 9, 9), np.float32)
    image[0, 4, 4] = 1  # a dot in the middle: where it lands is the shift
    shift = RandomShift(2, seed=0)
    landed = {tuple(np.argwhere(shift(image)[0])[0] - 4) for _ in range(400)}
    assert landed == {(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)}


def test_seeded_shifts_repeat_and_differ_between_seeds():
    images = np.random.default_rng(0).random((16, 1, 8, 8))
    assert np.array_equal(RandomShift(2, seed=3)(images), RandomShift(2, seed=3)(images))
    assert not np.array_equal(RandomShift(2, seed=3)(images), RandomShift(2, seed=4)(images))


def test_flat_rows_are_shifted_as_images():
    images = np.random.default_rng(0).random((3, 6, 6)).astype(np.float32)
    flat = RandomShift(1, seed=5, image_shape=(6, 6))(images.reshape(3, 36))
    assert flat.shape == (3, 36)
    np.testing.assert_array_equal(flat.reshape(3, 6, 6), RandomShift(1, seed=5)(images))


@pytest.mark.parametrize("arguments, batch, message", [
    (dict(max_shift=-1), None, r"RandomShift: max_shift must be an int >= 0, got -1"),
    (dict(max_shift=1.5), None, r"max_shift must be an int >= 0, got 1.5"),
    (dict(image_shape=(28,)), None, r"RandomShift: image_shape must be \(height, width\)"),
    (dict(), np.zeros((4, 784)), r"RandomShift: expected images .*got a batch of shape "
                                 r"\(4, 784\)"),
    (dict(image_shape=(28, 28)), np.zeros((4, 100)), r"rows of 100 values are not images of "
                                                    r"shape \(28, 28\)"),
])
def test_bad_arguments_and_batches_are_named(arguments, batch, message):
    with pytest.raises(ValueError, match=message):
        RandomShift(**arguments)(batch)


class Recorder:
    """A transform that remembers what it was given and marks what it returns."""

    def __init__(self):
        self.sizes = []

    def __call__(self, batch):
        self.sizes.append(len(batch))
        return batch + 1000  # far off the data: shows the model was fed the result


class ModeProbe(nn.Layer):
    """Passes its input through, noting the mode and the largest input it saw in each."""

    def __init__(self):
        self.seen = []

    def forward(self, x):
        self.seen.append((self.training, float(x.data.max())))
        return x


def test_the_trainer_transforms_each_training_batch_and_never_the_evaluation_data():
    rng = np.random.default_rng(0)
    x, y = rng.random((100, 4)).astype(np.float32), rng.integers(0, 2, 100)
    x_before = x.copy()
    probe, recorder = ModeProbe(), Recorder()
    model = nn.Sequential(probe, nn.Dense(4, 2, seed=0))
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=1e-9),
                      batch_size=32, seed=0, transform=recorder)
    trainer.fit((x, y), (x[:10], y[:10]), epochs=2)
    assert recorder.sizes == [32, 32, 32, 4] * 2
    np.testing.assert_array_equal(x, x_before)  # the training set was not touched
    # Training batches arrive transformed and in training mode; evaluation in neither.
    assert all(value > 1000 for training, value in probe.seen if training)
    assert [value < 1000 for training, value in probe.seen if not training] == [True, True]
    assert model.training  # back in training mode after each evaluation


def test_the_trainer_refuses_a_transform_that_is_not_callable():
    model = nn.Dense(2, 2)
    with pytest.raises(TypeError, match="transform: expected a callable"):
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                transform="shift")
