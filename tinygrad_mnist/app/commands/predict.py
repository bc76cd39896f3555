"""`tinygrad-mnist predict`: classify image files with a trained model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tinygrad_mnist.app.errors import EXIT_USAGE, PROG, UsageError, one_line
from tinygrad_mnist.app.options import int_at_least
from tinygrad_mnist.app.predict import classify_files, model_classes, write_framed_figures
from tinygrad_mnist.app.run_folder import load_run_model, run_class_names
from tinygrad_mnist.utils.terminal import printable


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="classify image files (PNG, JPEG) with a trained model",
        description="Classify the digit in each image file: any size, grey or colour, light "
                    "on dark or dark on light. Each image is framed as MNIST's are (cropped "
                    "to the digit, scaled into 20x20, centred by mass in 28x28). Prints one "
                    "line per image: the file, the class and its probability. A file that "
                    "cannot be read is one line on stderr; the others are still classified, "
                    "and the exit status is 2.",
    )
    parser.add_argument("model", type=Path, metavar="MODEL",
                        help="a run folder, or the model.npz in one")
    parser.add_argument("images", type=Path, nargs="+", metavar="IMAGE",
                        help="PNG or JPEG files")
    parser.add_argument("--top", type=int_at_least(1), default=1, metavar="K",
                        help="show the K most probable classes (default: 1)")
    parser.add_argument("--json", action="store_true",
                        help="print the results as one JSON document, for programs")
    parser.add_argument("--show", type=Path, metavar="DIR",
                        help="also write, per image, DIR/<name>.png: the picture (the crop "
                             "marked), the 28x28 the model saw and its top-3 classes")
    return parser


def classify_reporting(model, images, top: int):
    """`classify_files` for a command: a file that cannot be read is one error line on
    stderr and the others are still classified. Returns the results, and whether any
    file failed (the command's exit status is then 2)."""
    failed = []

    def report(path: str, error: Exception) -> None:
        failed.append(path)
        print(f"{PROG}: error: {printable(one_line(error))}", file=sys.stderr)

    return classify_files(model, images, top=top, on_error=report), bool(failed)


def run(args) -> int:
    model, _ = load_run_model(args.model)
    names = run_class_names(args.model)
    if args.show is not None and args.show.exists() and not args.show.is_dir():
        raise UsageError(f"argument --show: {str(args.show)!r} is a file, expected a folder")
    classes = model_classes(model) or args.top
    results, failed = classify_reporting(model, args.images, top=max(args.top, classes))
    named = (lambda c: str(c)) if names is None else (lambda c: names[c])
    if args.json:
        print(json.dumps([{"file": result.path, "predictions": [
            {"class": c, "name": named(c), "probability": p}
            for c, p in zip(result.classes[:args.top], result.probabilities[:args.top])],
            "warnings": list(result.warnings)} for result in results], indent=1))
    for result in [] if args.json else results:
        print(f"{printable(result.path)}: " + ", ".join(
            f"{named(c)} ({p:.1%})" for c, p in zip(result.classes[:args.top],
                                                    result.probabilities[:args.top])))
    for result in results:
        for warning in result.warnings:  # the framing looked wrong: the answer may be too
            print(f"{PROG}: warning: {printable(result.path)}: {warning}", file=sys.stderr)
    if args.show is not None and results:
        for written in write_framed_figures(results, args.show, names):
            print(f"wrote {printable(written)}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_USAGE if failed else 0

