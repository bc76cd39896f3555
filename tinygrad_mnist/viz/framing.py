"""What the model saw: per input picture, the picture, the 28x28 it was framed to, and the
model's three best answers as bars. The figure that shows at once when framing went wrong.

    figure = plot_framed_inputs([picture], [digit], [probabilities], titles=["seven.png"])
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from tinygrad_mnist.viz._common import as_array, class_names_for, finish

TOP = 3


def plot_framed_inputs(pictures, digits, probabilities, *, titles=None, class_names=None,
                       crop_boxes=None, warnings=None, path=None) -> Figure:
    """One row per input: the picture (grey levels, any size; its crop box drawn when
    given), the framed digit (28x28, light on dark, as the model takes it) and the
    probabilities of the `TOP` most probable classes.

    `titles` names each row (a file name); `warnings` (a list of sentences per input)
    are written under the picture in red.
    """
    digits = as_array(digits, "digits")
    probabilities = as_array(probabilities, "probabilities")
    if digits.ndim != 3 or probabilities.ndim != 2 or len(digits) != len(probabilities) \
            or len(pictures) != len(digits) or not len(digits):
        raise ValueError(f"pictures, digits, probabilities: expected one of each per input, "
                         f"got {len(pictures)}, {digits.shape}, {probabilities.shape}")
    names = class_names_for(class_names, probabilities.shape[1])
    rows = len(digits)
    fig = Figure(figsize=(9, 2.6 * rows), layout="constrained")
    grid = fig.subplots(rows, 3, squeeze=False, gridspec_kw={"width_ratios": [1.2, 1, 1.3]})
    for row, (picture, digit, row_probabilities) in enumerate(zip(pictures, digits,
                                                                  probabilities)):
        source, framed, bars = grid[row]
        source.imshow(np.asarray(picture), cmap="gray", vmin=0, vmax=255)
        if crop_boxes is not None and crop_boxes[row] is not None:
            top, left, bottom, right = crop_boxes[row]
            source.add_patch(_rectangle(left - 0.5, top - 0.5, right - left, bottom - top))
        source.set_title(titles[row] if titles is not None else f"input {row + 1}",
                         fontsize="medium")
        if warnings is not None and warnings[row]:
            source.set_xlabel("\n".join(warnings[row]), color="#c0392b", fontsize="x-small",
                              wrap=True)
        framed.imshow(digit, cmap="gray", vmin=0, vmax=255)
        framed.set_title("what the model saw (28x28)", fontsize="medium")
        for axes in (source, framed):
            axes.set_xticks([])
            axes.set_yticks([])
        best = np.argsort(-row_probabilities, kind="stable")[:TOP]
        labels = [names[c] for c in best][::-1]
        values = row_probabilities[best][::-1]
        drawn = bars.barh(labels, values, color=["#95a5a6"] * (len(best) - 1) + ["#2e86c1"])
        bars.bar_label(drawn, labels=[f"{v:.1%}" for v in values], padding=3,
                       fontsize="small")
        bars.set_xlim(0, 1.25)
        bars.set_xticks([0, 0.5, 1], ["0%", "50%", "100%"])
        bars.set_title(f"top {len(best)}", fontsize="medium")
        bars.spines[["top", "right"]].set_visible(False)
    return finish(fig, path)


def _rectangle(x, y, width, height):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), width, height, fill=False, edgecolor="#e67e22", linewidth=1.5)
