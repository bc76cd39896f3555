"""A grid-search heat map: one metric over two settings, one panel per value of a third."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from tinygrad_mnist.viz._common import finish, text_color_on, text_width


def _hashable(value):
    """`value` usable as a dict key: lists such as hidden sizes [128, 64] become tuples."""
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_hashable(item) for item in value)
    return value.item() if isinstance(value, np.generic) else value


def _display(value) -> str:
    """How a setting reads on an axis: 0.001, relu, and hidden sizes as 128-64."""
    if isinstance(value, tuple):
        return "-".join(_display(item) for item in value) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


#: How a field name reads on an axis, in a title or on the colour bar.
LABELS = {
    "val_accuracy": "validation accuracy", "val_loss": "validation loss",
    "test_accuracy": "test accuracy", "test_loss": "test loss",
    "train_accuracy": "training accuracy", "train_loss": "training loss",
    "learning_rate": "learning rate", "hidden_sizes": "hidden layers",
    "batch_size": "batch size", "weight_decay": "weight decay",
    "clip_grad_norm": "gradient clipping", "kernel_size": "kernel size",
    "batch_norm": "batch norm", "epochs_run": "epochs run",
}


def _label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


def _in_order(values: list) -> list:
    """The distinct `values`: numbers sorted, anything else in order of first appearance."""
    distinct = list(dict.fromkeys(values))
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in distinct)
    return sorted(distinct) if numbers else distinct


def _mean_per_cell(rows, x: str, y: str, facet: str | None, value: str) -> dict:
    """{(facet value, y value, x value): mean metric} over the rows that have all four."""
    if isinstance(rows, Mapping) or not hasattr(rows, "__iter__"):
        raise TypeError(f"rows: expected a list of dicts, got {type(rows).__name__}")
    rows = list(rows)
    if not rows:
        raise ValueError("rows: expected at least one result row, got none")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(f"rows: expected dicts, got {type(row).__name__} at index {i}")
    experiments = sorted({str(row["experiment"]) for row in rows if "experiment" in row})
    if len(experiments) > 1:  # averaging them would mix data sets, splits or seeds
        raise ValueError(f"rows: trials of more than one experiment ({', '.join(experiments)});"
                         " draw one experiment at a time")
    keys = {"x": x, "y": y, "value": value} | ({"facet": facet} if facet is not None else {})
    for argument, key in keys.items():
        if not any(key in row for row in rows):
            seen = sorted({k for row in rows for k in row})
            raise ValueError(f"{argument}: no row has the key {key!r}; the rows have {seen}")
    cells: dict = {}
    for row in rows:
        if any(key not in row for key in keys.values()) or row[value] is None:
            continue
        try:
            metric = float(row[value])
        except (TypeError, ValueError):
            got = row[value]
            raise ValueError(f"value: expected numbers under {value!r}, got {got!r}") from None
        if not math.isfinite(metric):
            continue
        cell = (_hashable(row.get(facet)), _hashable(row[y]), _hashable(row[x]))
        cells.setdefault(cell, []).append(metric)
    if not cells:
        raise ValueError(f"value: no row has a finite {value!r} together with {x!r} and {y!r}")
    return {cell: float(np.mean(metrics)) for cell, metrics in cells.items()}


def plot_search_heatmap(
    rows,
    *,
    x: str = "learning_rate",
    y: str = "activation",
    facet: str | None = "hidden_sizes",
    value: str = "val_accuracy",
    fmt: str | None = None,
    title: str | None = None,
    averaged=(),
    path=None,
) -> Figure:
    """One annotated heat map of `value` over `x` and `y` per value of `facet`, one colour bar.

    `rows` are flat dicts, settings and metrics side by side, such as a result store's
    export; rows of more than one experiment (their `experiment` field) are refused.
    Rows that share a cell (repeats, folds) are averaged; a cell with no finite result
    is left blank. `facet=None` draws a single panel. `fmt` formats the cell
    text (default: a percentage for accuracies, else three significant digits). `title`
    (say, the experiment and its data set) goes above the heading. `averaged` names the
    settings a cell's rows differ in (say `["batch_size"]`): the figure says so.
    """
    cells = _mean_per_cell(rows, x, y, facet, value)
    facets = _in_order([cell[0] for cell in cells])
    ys = _in_order([cell[1] for cell in cells])
    xs = _in_order([cell[2] for cell in cells])
    values = np.array(list(cells.values()))
    if fmt is None:
        is_fraction = "accuracy" in value and values.min() >= 0 and values.max() <= 1
        fmt = "{:.1%}" if is_fraction else "{:.3g}"

    panel_rows = math.ceil(len(facets) / 3)
    columns = math.ceil(len(facets) / panel_rows)  # 4 panels as 2 x 2, not 3 + 1
    heading = f"{_label(value)} by {_label(x)} and {_label(y)}" + (
        f", per {_label(facet)}" if facet is not None else "")
    averaged = [averaged] if isinstance(averaged, str) else list(averaged)
    if averaged:
        heading += f"\neach cell: the mean over {', '.join(map(_label, averaged))}"
    if title:
        heading = f"{title}\n{heading}"
    panel_width = 0.85 * len(xs) + 0.6
    panel_height = 0.5 * len(ys) + 0.9
    width = max(columns * panel_width + 1.8,
                max(text_width(line, 11) for line in heading.splitlines()) + 0.3)
    fig = Figure(figsize=(width, panel_rows * panel_height + 0.5 + 0.2 * len(heading.splitlines())),
                 layout="constrained")
    axes = fig.subplots(panel_rows, columns, squeeze=False)
    cmap = colormaps["viridis"].with_extremes(bad="0.93")
    norm = Normalize(values.min(), values.max())
    for ax in axes.flat[len(facets):]:
        fig.delaxes(ax)
    panels = axes.flat[: len(facets)]
    for i, ax in enumerate(panels):
        grid = np.full((len(ys), len(xs)), np.nan)
        for (cell_facet, cell_y, cell_x), mean in cells.items():
            if cell_facet == facets[i]:
                grid[ys.index(cell_y), xs.index(cell_x)] = mean
        image = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm, aspect="auto")
        for (row, column), mean in np.ndenumerate(grid):
            if np.isfinite(mean):
                ax.text(column, row, fmt.format(mean), ha="center", va="center", fontsize=9,
                        color=text_color_on(cmap(norm(mean))))
        ax.set_xticks(range(len(xs)), [_display(v) for v in xs])
        ax.set_yticks(range(len(ys)), [_display(v) for v in ys])
        ax.set_xlabel(_label(x))
        if i % columns == 0:
            ax.set_ylabel(_label(y))
        else:  # the panels of a row share the y axis: label it once
            ax.tick_params(labelleft=False)
        if facet is not None:
            ax.set_title(f"{_label(facet)} {_display(facets[i])}", fontsize=10)
    fig.colorbar(image, ax=list(panels), label=_label(value), shrink=0.9,
                 format=FuncFormatter(lambda tick, _: fmt.format(tick)))
    fig.suptitle(heading, fontsize=11)
    return finish(fig, path)
