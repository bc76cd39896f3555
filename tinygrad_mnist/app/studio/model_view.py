"""What the Draw view shows of one image: the framed input, the probabilities, the saliency
map and every layer's activations, from one forward and one backward pass.

The image is framed exactly as `tinygrad-mnist predict` frames a file
(`data.images.frame_digit`), then goes through the model's layers one at a time, so
each layer's output can be shown; the input is a `Tensor` that requires grad, and one
`backward()` from the predicted class's logit gives the saliency map (the same
gradient `viz.saliency_maps` computes). Uploaded files are decoded here with caps on
their bytes and on their pixels before Pillow decompresses anything.
"""

from __future__ import annotations

import io
import threading
import warnings

import numpy as np

from tinygrad_mnist.app.predict import model_inputs
from tinygrad_mnist.app.studio.runs import StudioError
from tinygrad_mnist.data.images import frame_digit
from tinygrad_mnist.nn.sequential import leaves
from tinygrad_mnist.tensor import Tensor

MAX_UPLOAD_BYTES = 4 * 2**20
# A 4000x4000 photo is 16 M pixels; anything larger is refused before it is decompressed
# (a small PNG can declare 100000x100000 pixels: a decompression bomb).
MAX_UPLOAD_PIXELS = 4000 * 4000
# The JSON form: a drawing's grey levels, at most this many pixels a side.
MAX_PIXELS_SIDE = 512
# Values sent back are rounded: the page draws them, and JSON of full floats is 3x larger.
DIGITS = 4
# Feature maps larger than this many values are left out of the answer (a wide first layer
# of a large model), so a prediction stays quick to send and draw.
MAX_ACTIVATION_VALUES = 32768


def decode_upload(data: bytes) -> np.ndarray:
    """Grey levels 0..255 (H, W) of a PNG or JPEG file's bytes; StudioError when refused."""
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_UPLOAD_BYTES:
        raise StudioError(f"image: {len(data):,} bytes, at most {MAX_UPLOAD_BYTES:,}", 413)
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own limit: here any bomb is refused.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise StudioError(f"image: declares too many pixels (at most {MAX_UPLOAD_PIXELS:,})",
                          413) from None
    except UnidentifiedImageError:
        raise StudioError("image: expected a PNG or JPEG file (or JSON with \"pixels\")",
                          415) from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise StudioError(f"image: the file is damaged or truncated ({error})", 400) from None
    try:
        with image:
            width, height = image.size
            if width * height > MAX_UPLOAD_PIXELS:
                raise StudioError(f"image: {width}x{height} pixels, at most "
                                  f"{MAX_UPLOAD_PIXELS:,} in all", 413)
            if image.format not in ("PNG", "JPEG"):
                raise StudioError(f"image: expected a PNG or JPEG file, got {image.format}", 415)
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                # A transparent background is white paper, as `predict` reads it.
                image = image.convert("RGBA")
                image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
            return np.asarray(image.convert("L"), dtype=np.float64)
    except StudioError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError):
        raise StudioError("image: expected a PNG or JPEG file (or JSON with \"pixels\")",
                          415) from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise StudioError(f"image: the file is damaged or truncated ({error})", 400) from None


def pixels_to_grey(pixels) -> np.ndarray:
    """JSON `pixels` (rows of floats in [0, 1], light ink on dark) as grey levels 0..255."""
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
    return grey * 255


def frame(grey: np.ndarray) -> np.ndarray:
    """The 28x28 uint8 digit the model sees, framed as `predict` frames files."""
    try:
        return frame_digit(grey)
    except ValueError as error:  # a blank drawing, say
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

    def look(self, framed: np.ndarray) -> dict:
        """Class, probabilities, framed input, saliency and activations of one framed digit."""
        try:
            x = model_inputs(self.model, framed[None], "a drawing framed as MNIST's (28x28)")
        except ValueError as error:  # a model made for other images
            raise StudioError(str(error), 422) from None
        with self.lock:
            parameters = self.model.parameters()
            kept = [p.grad for p in parameters]
            was_training = self.model.training
            self.model.eval()
            try:
                dtype = parameters[0].dtype if parameters else np.float32
                inputs = Tensor(x.astype(dtype), requires_grad=True)
                outputs, h = [], inputs
                for layer in self.layers:
                    h = layer(h)
                    outputs.append((layer, h.data[0]))
                logits = h
                predicted = int(logits.data[0].argmax())
                logits[0, predicted].backward()
                saliency = np.abs(inputs.grad).reshape(framed.shape)
            finally:
                self.model.train(was_training)
                for p, grad in zip(parameters, kept):
                    p.grad = grad
        if not np.isfinite(logits.data).all():
            raise StudioError("run: its model diverged: its outputs are not finite (NaN), so it "
                              "predicts nothing", 409)
        shifted = logits.data[0].astype(np.float64) - logits.data[0].max()
        probabilities = np.exp(shifted) / np.exp(shifted).sum()
        return {
            "class": predicted,
            "probabilities": _round(probabilities),
            "input": (framed / 255).round(DIGITS).tolist(),
            "saliency": _round(saliency),
            "saliency_max": float(saliency.max()),
            "activations": _activations(outputs),
        }


def _activations(outputs) -> dict:
    """Each stage's output, named "3 ReLU" by position and kind: feature maps (channels,
    height, width) for convolution stages, vectors for dense ones.

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
        kind = "maps" if value.ndim == 3 else "vector"
        shown[f"{i} {type(layer).__name__}"] = {
            "kind": kind, "shape": list(value.shape), "values": _round(value)}
    return shown
