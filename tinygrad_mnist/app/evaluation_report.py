"""A model's evaluation on a test set, as files: its scores (JSON), its figures (PNGs) and
the report's sections about them (Markdown).

One writer for both places that show a test set's evaluation: `train`'s run folder
(`metrics.json`, `confusion_matrix.png`... and the sections of `report.md`) and
`evaluate`, which names them after the data set beside the model it scored
(`evaluation-mnist.json`, `confusion_matrix-mnist.png`..., `evaluation-mnist.md`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tinygrad_mnist.experiments.tables import json_safe, percent
from tinygrad_mnist.train.evaluation import Evaluation
from tinygrad_mnist.train.metrics import (
    confident_mistakes,
    macro_average,
    precision_recall_f1,
    top_k_accuracy,
)
from tinygrad_mnist.utils.atomic import atomic_write_text

# Each figure's name (the file is NAME + suffix + ".png") and its section's title.
FIGURES = {
    "mistakes": "The most confident mistakes",
    "predictions": "The least confident predictions",
    "confusion_matrix": "Confusion matrix",
    "true_vs_predicted": "True vs predicted labels",
}
SHOWN = 36  # the images on the mistakes and predictions figures
TOP_K = (2, 3, 5)


def class_names_of(evaluation: Evaluation, class_names=None) -> list[str]:
    """`class_names` as strings, or the class numbers when there are none."""
    if class_names is None:
        return [str(c) for c in range(evaluation.num_classes)]
    return [str(name) for name in class_names]


def scores(evaluation: Evaluation, class_names=None, dataset_label: str | None = None) -> dict:
    """Every figure of the evaluation, JSON-ready (NaN as None): what `metrics.json` and
    `evaluate`'s JSON hold. A diverged model has no test accuracy and no top-k."""
    per_class = precision_recall_f1(evaluation.labels, evaluation.predictions,
                                    evaluation.num_classes)
    top_k = {} if evaluation.diverged else {
        str(k): top_k_accuracy(evaluation.labels, evaluation.probabilities, k)
        for k in TOP_K if k < evaluation.num_classes}
    return json_safe({
        "dataset": dataset_label,
        "test_images": int(len(evaluation.labels)),
        "test_accuracy": None if evaluation.diverged else evaluation.accuracy,
        "diverged": evaluation.diverged,
        "loss": float(evaluation.loss),
        "class_names": class_names_of(evaluation, class_names),
        "per_class_accuracy": evaluation.per_class_accuracy().tolist(),
        **{f"per_class_{name}": values.tolist() for name, values in per_class.items()},
        **{f"macro_{name}": macro_average(values) for name, values in per_class.items()},
        "top_k_accuracy": top_k,
        "confusion_matrix": evaluation.confusion_matrix().tolist(),
    })


def write_scores(path, figures: dict) -> Path:
    """Write `figures` (what `scores(...)` gives) to `path` as JSON, atomically."""
    atomic_write_text(path, json.dumps(figures, indent=1) + "\n")
    return Path(path)


def write_figures(folder, evaluation: Evaluation, images, class_names=None,
                  dataset_label: str | None = None, suffix: str = "") -> dict[str, Path]:
    """Draw the `FIGURES` of the evaluation of `images` (uint8, for the pictures) into
    `folder` as NAME + `suffix` + ".png"; returns figure name -> path. With every test
    image right there are no mistakes to draw."""
    from tinygrad_mnist import viz

    names = class_names_of(evaluation, class_names)
    on = f" on {dataset_label}" if dataset_label else ""
    every_mistake = confident_mistakes(evaluation.labels, evaluation.probabilities)
    mistakes = every_mistake[:SHOWN]
    # The first test images are nearly all right and sure, and tell nothing: the least
    # confident predictions show where the model hesitates.
    hesitant = np.argsort(evaluation.probabilities.max(axis=1), kind="stable")[:SHOWN]

    def grid(chosen, title, **more):
        return lambda path: viz.plot_predictions(
            images[chosen], evaluation.labels[chosen], evaluation.predictions[chosen],
            n=len(chosen), probabilities=evaluation.probabilities[chosen], class_names=names,
            title=title + on, indices=chosen, path=path, **more)

    draw = {
        "mistakes": grid(mistakes, FIGURES["mistakes"], mistakes_of=len(every_mistake)),
        "predictions": grid(hesitant, FIGURES["predictions"]),
        "confusion_matrix": lambda path: viz.plot_confusion_matrix(
            evaluation.confusion_matrix(), class_names=names, path=path),
        "true_vs_predicted": lambda path: viz.plot_true_vs_predicted(
            evaluation.labels, evaluation.predictions, num_classes=evaluation.num_classes,
            class_names=names, path=path),
    }
    if not len(mistakes):
        del draw["mistakes"]
    written = {}
    for name, figure in draw.items():
        written[name] = Path(folder) / f"{name}{suffix}.png"
        figure(written[name])
    return written


def per_class_table(evaluation: Evaluation, class_names=None) -> list[str]:
    """Per class, and their macro average: test images, accuracy, precision, recall, F1."""
    per_class = precision_recall_f1(evaluation.labels, evaluation.predictions,
                                    evaluation.num_classes)
    counts = np.bincount(evaluation.labels, minlength=evaluation.num_classes)
    lines = ["| class | test images | accuracy | precision | recall | F1 |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    columns = [evaluation.per_class_accuracy(), *per_class.values()]
    for name, count, *values in zip(class_names_of(evaluation, class_names), counts, *columns):
        lines.append(f"| {name} | {int(count):,} | " + " | ".join(map(percent, values)) + " |")
    macro = [macro_average(values) for values in per_class.values()]
    lines.append(f"| macro average | {len(evaluation.labels):,} | "
                 + " | ".join(map(percent, [evaluation.accuracy, *macro])) + " |")
    return lines


def report_sections(evaluation: Evaluation, figures: dict[str, Path], class_names=None,
                    model: str = "MODEL") -> list[str]:
    """The report's Markdown sections of the `figures` written (`write_figures`), in
    `FIGURES`' order, each with its table or note; `model` names the model for the
    command that shows its mistakes."""
    lines = []
    for name in FIGURES:
        if name not in figures:
            continue
        file = Path(figures[name]).name
        lines += ["", f"## {FIGURES[name]}", "", f"![{FIGURES[name]}]({file})", ""]
        if name == "mistakes":
            lines += ["The test images the model gets wrong with the highest confidence, "
                      "most confident first, each with its index in the test set."]
        elif name == "predictions":
            lines += [f"The {min(SHOWN, len(evaluation.labels))} test images the model is "
                      "least sure of, least sure first, each with its index in the test set; "
                      "mistakes are framed in red. Only the mistakes: "
                      f"`tinygrad-mnist show {model} --mistakes`."]
        elif name == "confusion_matrix":
            lines += ["Rows are the true classes, columns the predicted ones.", "",
                      *_confusion_table(evaluation.confusion_matrix(),
                                        class_names_of(evaluation, class_names))]
        elif name == "true_vs_predicted":
            lines += per_class_table(evaluation, class_names)
    return lines


def _confusion_table(matrix: np.ndarray, names: list[str]) -> list[str]:
    lines = ["| true \\ predicted | " + " | ".join(names) + " |",
             "| --- |" + " ---: |" * len(names)]
    for name, row in zip(names, matrix):
        lines.append(f"| **{name}** | " + " | ".join(str(int(v)) for v in row) + " |")
    return lines
