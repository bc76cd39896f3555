"""What the Draw view shows of one image: the framed input, the probabilities, the saliency
map and every layer's activations, from one forward and one backward pass.

The image is framed exactly as `tinygrad-mnist predict` frames a file
(`data.images.read_digit`; JSON pixels by `frame_picture`), then goes through the
model's layers one at a time, so each layer's output can be shown; the input is a
`Tensor` that requires grad, and one `backward()` gives the saliency map: SmoothGrad, the
signed gradient of the predicted class's score averaged over noisy copies of the input,
exactly as `viz.saliency_maps` (and `show --saliency`) computes it. Uploads are capped
in bytes here and in pixels by `read_digit`.
"""

from __future__ import annotations

import os
import tempfile
import threading

import numpy as np

from tinygrad_mnist.app.predict import model_inputs
from tinygrad_mnist.app.studio.runs import StudioError
from tinygrad_mnist.data.images import frame_picture, read_digit
from tinygrad_mnist.nn.sequential import leaves
from tinygrad_mnist.tensor import Tensor
from tinygrad_mnist.viz.saliency import NOISE, SAMPLES

# A phone's photo as JPEG is a few MB. Pixels are capped by `read_digit` itself (50 MP,
# checked from the header, before anything is decompressed: a decompression bomb is refused).
MAX_UPLOAD_BYTES = 8 * 2**20
# The JSON form: a drawing's grey levels, at most this many pixels a side.
MAX_PIXELS_SIDE = 512
# Values sent back are rounded: the page draws them, and JSON of full floats is 3x larger.
DIGITS = 4
# SmoothGrad's settings: those of viz.saliency_maps, so the studio's map is `show`'s.
SALIENCY_SAMPLES, SALIENCY_NOISE, SALIENCY_SEED = SAMPLES, NOISE, 0
# Feature maps larger than this many values are left out of the answer (a wide first layer
# of a large model), so a prediction stays quick to send and draw.
MAX_ACTIVATION_VALUES = 32768


def frame_upload(data: bytes, suffix: str = ".png"):
    """The `Framing` of an uploaded PNG or JPEG file's bytes, exactly as `predict` frames a
    file (`data.images.read_digit`: its decoding, its pixel limit, its transparency rule).

    The bytes go to a temporary file of their own (never into a run folder) because
    `read_digit` reads files; a refusal names "the upload", not that file.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise StudioError(f"image: {len(data):,} bytes, at most {MAX_UPLOAD_BYTES:,}", 413)
    with tempfile.TemporaryDirectory(prefix="tinygrad-mnist-studio-") as folder:
        path = os.path.join(folder, "upload" + suffix)
        with open(path, "wb") as file:
            file.write(data)
        try:
            return read_digit(path)
        except ValueError as error:
            message = " ".join(str(error).replace(repr(path), "the upload").split())
            status = 413 if "too large" in message else 422 if "no digit" in message else \
                415 if "not a PNG or JPEG" in message else 400
            raise StudioError(message, status) from None


def frame_pixels(pixels):
    """The `Framing` of JSON `pixels` (rows of floats in [0, 1], light ink on dark)."""
    if not isinstance(pixels, list) or not pixels or len(pixels) > MAX_PIXELS_SIDE:
        raise StudioError(f"pixels: expected a list of 1 to {MAX_PIXELS_SIDE} rows of numbers")
    width = len(pixels[0]) if isinstance(pixels[0], list) else -1
    if not 1 <= width <= MAX_PIXELS_SIDE or any(
            not isinstance(row, list) or len(row) != width for row in pixels):
        raise StudioError(f"pixels: expected rows of equal length (1 to {MAX_PIXELS_SIDE} "
                          "numbers)")
    if not all(type(v) in (int, float) for row in pixels for v in row):
        raise StudioError("pixels: expected numbers only")
    grey = np.array(pixels, dtype=np.float64)
    if not np.isfinite(grey).all() or grey.min() < 0 or grey.max() > 1:
        raise StudioError("pixels: expected numbers in [0, 1]")
    try:
        return frame_picture(grey * 255)
    except ValueError as error:  # a blank drawing
        raise StudioError(str(error), 422) from None


def _round(array: np.ndarray) -> list:
    return np.round(np.asarray(array, dtype=np.float64), DIGITS).tolist()


class ModelView:
    """A loaded model and the lock that keeps two requests from sharing its state.

    `look(framed)` answers a prediction request. The lock is needed because a forward
    pass switches the model to evaluation mode and a backward pass writes the
    parameters' `.grad` (put back afterwards), both shared by every request.
    """

    def __init__(self, model):
        self.model = model
        self.layers = leaves(model)
        self.lock = threading.Lock()

    def look(self, framing) -> dict:
        """Class, probabilities, framed input, saliency and activations of a `Framing`."""
        framed = framing.digit
        try:
            x = model_inputs(self.model, framed[None], "a drawing framed as MNIST's (28x28)")
        except ValueError as error:  # a model made for other images
            raise StudioError(str(error), 422) from None
        # SmoothGrad, as `show --saliency` draws it (viz.saliency_maps, same noise, same
        # seed): the mean gradient of the predicted class's score over noisy copies of the
        # input. The copies ride in the same batch as the input itself (rows do not mix in
        # evaluation mode), so one forward and one backward pass give the activations,
        # the prediction and the map (measured on one BLAS thread, as the server runs:
        # 3.1 ms for the default MLP's whole answer against 15 ms for saliency_maps' pass
        # per copy alone; 29 ms against 59 ms for the 2-epoch default CNN).
        rng = np.random.default_rng(SALIENCY_SEED)
        spread = SALIENCY_NOISE * float(x.max() - x.min() or 1.0)
        noisy = x + rng.normal(0, spread, (SALIENCY_SAMPLES, *x.shape[1:]))
        with self.lock:
            parameters = self.model.parameters()
            kept = [p.grad for p in parameters]
            was_training = self.model.training
            self.model.eval()
            try:
                dtype = parameters[0].dtype if parameters else np.float32
                inputs = Tensor(np.concatenate([x, noisy]).astype(dtype), requires_grad=True)
                outputs, h = [], inputs
                for layer in self.layers:
                    h = layer(h)
                    outputs.append((layer, h.data[0]))
                logits = h
                predicted = int(logits.data[0].argmax())
                chosen = np.zeros(logits.shape, dtype=logits.dtype)
                chosen[1:, predicted] = 1  # the noisy copies' scores: the input's own is not
                (logits * chosen).sum().backward()
                saliency = inputs.grad[1:].astype(np.float64).mean(axis=0).reshape(framed.shape)
            finally:
                self.model.train(was_training)
                for p, grad in zip(parameters, kept):
                    p.grad = grad
        if not np.isfinite(logits.data[0]).all():
            raise StudioError("run: its model diverged: its outputs are not finite (NaN), so it "
                              "predicts nothing", 409)
        shifted = logits.data[0].astype(np.float64) - logits.data[0].max()
        probabilities = np.exp(shifted) / np.exp(shifted).sum()
        return {
            "class": predicted,
            "probabilities": _round(probabilities),
            "input": (framed / 255).round(DIGITS).tolist(),
            "saliency": _round(saliency),
            "saliency_max": float(np.abs(saliency).max()),
            "activations": _activations(outputs),
            "framing_warnings": list(framing.warnings),
        }


def _activations(outputs) -> dict:
    """Each stage's output, named "3 ReLU" by position and kind: feature maps (channels,
    height, width; integers of `scale / 127`) for convolution stages, vectors for dense ones.

    A layer whose output the next layer only rescales or reshapes (a Conv2d before its
    BatchNorm and ReLU, a Dense before its activation, a Flatten) is shown through the
    last of them, so each stage appears once, as the next stage receives it.
    """
    shown = {}
    for i, (layer, value) in enumerate(outputs):
        following = outputs[i + 1][1] if i + 1 < len(outputs) else None
        if following is not None and following.shape == value.shape:
            continue  # the next layer works element by element: show its output instead
        previous = outputs[i - 1][1] if i else None
        if previous is not None and previous.size == value.size \
                and previous.shape != value.shape:
            continue  # a reshape (Flatten) of what was shown just before
        if value.size > MAX_ACTIVATION_VALUES:
            continue
        name = f"{i} {layer.kind}"
        if value.ndim == 3:
            # Feature maps are many numbers that only become colours: sent as integers
            # -127..127 of the layer's largest magnitude `scale` (a third of the bytes, and
            # quicker to write and parse than rounded floats).
            scale = float(np.abs(value).max()) or 1.0
            shown[name] = {"kind": "maps", "shape": list(value.shape), "scale": scale,
                           "values": np.round(value * (127 / scale)).astype(int).tolist()}
        else:
            shown[name] = {"kind": "vector", "shape": list(value.shape),
                           "values": _round(value)}
    return shown


