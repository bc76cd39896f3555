"""`tinygrad-mnist evaluate`: score a trained model on a test set, with figures."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np

from tinygrad_mnist.app.errors import UsageError
from tinygrad_mnist.app.options import add_data_options
from tinygrad_mnist.app.predict import evaluate_model, model_classes, model_inputs
from tinygrad_mnist.app.run_folder import load_run_model, model_file
from tinygrad_mnist.data.by_name import load_named_dataset
from tinygrad_mnist.experiments.tables import json_safe, markdown_table
from tinygrad_mnist.train import (
    confident_mistakes,
    macro_average,
    precision_recall_f1,
    top_k_accuracy,
)
from tinygrad_mnist.train.config import RunConfig
from tinygrad_mnist.utils.atomic import atomic_write_text


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="score a trained model on a test set",
        description="Score a saved model on a data set's test images: loss, accuracy and "
                    "the accuracy of each class; writes the confusion matrix and the most "
                    "confident mistakes as PNGs, and the figures as JSON, beside the model "
                    "(or into --out).",
    )
    parser.add_argument("model", type=Path, metavar="MODEL",
                        help="a run folder, or the model.npz in one")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="the folder for the figures (default: the model's)")
    add_data_options(parser, default_dataset=None)
    return parser


def test_set(model, config: RunConfig, args):
    """The data set (`--dataset`, else the run's own) and its test images as the model takes
    them; a data set of another image size is one line, not a traceback."""
    data = load_named_dataset(args.dataset or config.dataset, args.data_root)
    x = model_inputs(model, data.test_images, f"the {data.title} test images")
    classes = model_classes(model)
    if classes is not None and classes != data.num_classes:
        raise UsageError(f"dataset: the model scores {classes} classes but {data.title} has "
                         f"{data.num_classes}")
    return data, x


def run(args) -> int:
    from tinygrad_mnist.viz import plot_confusion_matrix, plot_predictions

    model, config = load_run_model(args.model)
    data, x = test_set(model, config, args)
    result = evaluate_model(model, x, data.test_labels)  # a train.evaluation.Evaluation
    loss, probabilities = result.loss, result.probabilities
    folder = args.out if args.out is not None else model_file(args.model).parent
    folder.mkdir(parents=True, exist_ok=True)
    tag = re.sub(r"[^a-z0-9]+", "-", data.title.lower()).strip("-") or "data"
    per_class = result.per_class_accuracy()
    scores = precision_recall_f1(data.test_labels, result.predictions, data.num_classes)
    top_k = {k: top_k_accuracy(data.test_labels, probabilities, k)
             for k in (2, 3, 5) if k < data.num_classes}
    rows = [{"class": name, "test images": int(count), "accuracy": value,
             "precision": precision, "recall": recall, "F1": f1}
            for name, count, value, precision, recall, f1 in zip(
                data.class_names, np.bincount(data.test_labels, minlength=data.num_classes),
                per_class, scores["precision"], scores["recall"], scores["f1"])]
    macro = {name: macro_average(values) for name, values in scores.items()}
    rows.append({"class": "macro average", "test images": len(x), "accuracy": result.accuracy,
                 "precision": macro["precision"], "recall": macro["recall"],
                 "F1": macro["f1"]})
    print(f"loss {loss:.4f}, accuracy {result.accuracy:.2%} on {len(x):,} {data.title} "
          "test images; " + ", ".join(f"top-{k} {value:.2%}" for k, value in top_k.items()))
    print(markdown_table(rows, percent_columns=("accuracy", "precision", "recall", "F1")),
          end="")
    written = [folder / f"confusion_matrix-{tag}.png", folder / f"evaluation-{tag}.json"]
    plot_confusion_matrix(result.confusion_matrix(), class_names=data.class_names,
                          path=written[0])
    every_mistake = confident_mistakes(data.test_labels, probabilities)
    mistakes = every_mistake[:36]
    if len(mistakes):
        written.insert(1, folder / f"mistakes-{tag}.png")
        plot_predictions(data.test_images[mistakes], data.test_labels[mistakes],
                         result.predictions[mistakes], n=len(mistakes),
                         probabilities=probabilities[mistakes], class_names=data.class_names,
                         title=f"The most confident mistakes on {data.title}",
                         indices=mistakes, mistakes_of=len(every_mistake), path=written[1])
    figures = {"dataset": data.title, "test_images": len(x), "loss": loss,
               "accuracy": result.accuracy, "class_names": list(data.class_names),
               "per_class_accuracy": per_class.tolist(),
               "per_class_precision": scores["precision"].tolist(),
               "per_class_recall": scores["recall"].tolist(),
               "per_class_f1": scores["f1"].tolist(),
               "macro_precision": macro["precision"], "macro_recall": macro["recall"],
               "macro_f1": macro["f1"],
               "top_k_accuracy": {str(k): value for k, value in top_k.items()},
               "confusion_matrix": result.confusion_matrix().tolist()}
    atomic_write_text(written[-1], json.dumps(json_safe(figures), indent=1) + "\n")
    print("wrote " + ", ".join(str(path) for path in written))
    return 0
