"""Several runs' learning curves in one figure: which configuration learns faster, and better.

    figure = plot_runs_compared({"relu": history_a, "tanh": history_b}, path="compare.png")

Left, the loss; right, the accuracy; one colour per run, validation solid and training
dashed (a run without validation shows its training curves solid).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from tinygrad_mnist.viz._common import finish
from tinygrad_mnist.viz.curves import _series


def plot_runs_compared(histories: Mapping, path=None, title: str | None = None) -> Figure:
    """The learning curves of each run of `histories` (label -> `History` or its dict)."""
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError(f"histories: expected a non-empty mapping of label -> history, got "
                         f"{histories!r:.60}")
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    loss_axes, accuracy_axes = fig.subplots(1, 2)
    colours = [f"C{i % 10}" for i in range(len(histories))]
    for (label, history), colour in zip(histories.items(), colours):
        train_loss = _series(history, "train_loss", None, fractions=False)
        epochs = np.arange(1, train_loss.size + 1)
        for axes, key, fractions in ((loss_axes, "loss", False), (accuracy_axes, "accuracy", True)):
            train = _series(history, f"train_{key}", train_loss.size, fractions)
            valid = _series(history, f"val_{key}", train_loss.size, fractions)
            has_validation = valid.size and np.isfinite(valid).any()
            if has_validation:
                axes.plot(epochs, valid, color=colour, label=f"{label} (validation)")
            axes.plot(epochs, train, color=colour, linestyle="--" if has_validation else "-",
                      alpha=0.6 if has_validation else 1.0,
                      label=f"{label} (training)")
    loss_axes.set_title("loss")
    accuracy_axes.set_title("accuracy")
    accuracy_axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    losses = [line.get_ydata() for line in loss_axes.get_lines()]
    finite = np.concatenate([np.asarray(y, dtype=float) for y in losses])
    finite = finite[np.isfinite(finite) & (finite > 0)]
    if finite.size and finite.max() / finite.min() > 100:
        loss_axes.set_yscale("log")
    for axes in (loss_axes, accuracy_axes):
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
    accuracy_axes.legend(fontsize="small", loc="lower right")
    if title:
        fig.suptitle(title)
    return finish(fig, path)
