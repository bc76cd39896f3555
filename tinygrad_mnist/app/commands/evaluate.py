"""`tinygrad-mnist evaluate`: score a trained model on a test set, with figures."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from tinygrad_mnist.app import evaluation_report
from tinygrad_mnist.app.errors import UsageError
from tinygrad_mnist.app.options import add_data_options
from tinygrad_mnist.app.predict import evaluate_model, model_classes, model_inputs
from tinygrad_mnist.app.run_folder import load_run_model, model_file
from tinygrad_mnist.data.by_name import load_named_dataset
from tinygrad_mnist.train.config import RunConfig
from tinygrad_mnist.utils.atomic import atomic_write_text


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate", help="score a trained model on a test set",
        description="Score a saved model on a data set's test images: loss, accuracy and "
                    "the accuracy, precision, recall and F1 of each class; writes the figures "
                    "a run folder has of its test set (the most confident mistakes, the least "
                    "confident predictions, the confusion matrix, true vs predicted) as PNGs, "
                    "the scores as JSON and a report embedding them, beside the model (or "
                    "into --out).",
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
    if args.out is not None and os.path.lexists(args.out) and not args.out.is_dir():
        raise UsageError(f"argument --out: {str(args.out)!r} exists and is not a folder; "
                         "give the folder the figures go to")  # checked before any work
    model, config = load_run_model(args.model)
    data, x = test_set(model, config, args)
    result = evaluate_model(model, x, data.test_labels)  # a train.evaluation.Evaluation
    folder = args.out if args.out is not None else model_file(args.model).parent
    folder.mkdir(parents=True, exist_ok=True)
    tag = re.sub(r"[^a-z0-9]+", "-", data.title.lower()).strip("-") or "data"
    scores = evaluation_report.scores(result, data.class_names, data.title)
    print(f"loss {result.loss:.4f}, accuracy {result.accuracy:.2%} on {len(x):,} {data.title} "
          "test images; " + ", ".join(f"top-{k} {value:.2%}"
                                      for k, value in scores["top_k_accuracy"].items()))
    table = evaluation_report.per_class_table(result, data.class_names)
    print("\n".join(table))
    figures = evaluation_report.write_figures(folder, result, data.test_images,
                                              data.class_names, data.title, suffix=f"-{tag}")
    json_path = evaluation_report.write_scores(folder / f"evaluation-{tag}.json", scores)
    report = folder / f"evaluation-{tag}.md"
    atomic_write_text(report, "\n".join([
        f"# Evaluation of {model_file(args.model)} on the {data.title} test set", "",
        f"**Test accuracy: {result.accuracy:.2%}** on {len(x):,} {data.title} test images "
        f"(loss {result.loss:.4f}).",
        *evaluation_report.report_sections(result, figures, data.class_names,
                                            model=str(model_file(args.model))), ""]))
    print("wrote " + ", ".join(str(path) for path in [*figures.values(), json_path, report]))
    return 0
