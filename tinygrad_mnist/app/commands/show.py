"""`tinygrad-mnist show`: a PNG of a saved model's predictions (or saliency) on test images;
or, given image files, per image what the model saw and its top classes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from tinygrad_mnist import predict_proba
from tinygrad_mnist.app.commands.evaluate import test_set
from tinygrad_mnist.app.commands.predict import classify_reporting
from tinygrad_mnist.app.errors import EXIT_DIVERGED, EXIT_USAGE, PROG, UsageError
from tinygrad_mnist.app.options import add_data_options, int_at_least
from tinygrad_mnist.app.predict import model_classes, write_framed_figures
from tinygrad_mnist.app.run_folder import load_run_model, model_file, run_class_names
from tinygrad_mnist.train import confident_mistakes, metrics
from tinygrad_mnist.utils.terminal import printable
from tinygrad_mnist.viz.figure_file import save_figure


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "show", help="a PNG of a saved model's predictions on test images",
        description="Load a model saved by 'train' (its config.json must lie beside it) and "
                    "draw its predictions on test images, mistakes marked in red; or, with "
                    "--saliency, which pixels each prediction depends on. Given image files "
                    "(PNG, JPEG), it writes per image what 'predict --show' writes: the "
                    "picture with the crop marked, the 28x28 the model saw and its top-3 "
                    "classes.",
    )
    parser.add_argument("model", type=Path, metavar="MODEL",
                        help="a run folder, or the model.npz in one")
    parser.add_argument("images", type=Path, nargs="*", metavar="IMAGE",
                        help="PNG or JPEG files to frame and classify, instead of test images")
    parser.add_argument("--out", type=Path, metavar="PNG|DIR",
                        help="the image to write, or a folder to write it into (default: "
                             "predictions-<n>.png, mistakes-<n>.png or saliency-<n>.png beside "
                             "the model); with IMAGE files, the folder for their <name>.png "
                             "(default: framed/ beside the model)")
    parser.add_argument("--n", type=int_at_least(1), default=None, metavar="N",
                        help="how many test images to show (default: 25; at most 64 with "
                             "--saliency)")
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--mistakes", action="store_true",
                       help="show only images the model gets wrong, the most confident first")
    shown.add_argument("--saliency", action="store_true",
                       help="beside each image, the gradient of the predicted class's score "
                            "with respect to its pixels, computed by backward()")
    add_data_options(parser, default_dataset=None)
    return parser


def _figure_path(args, name: str) -> Path:
    """`--out` as given, `name` inside it when it is a folder, else `name` beside the model."""
    if args.out is None:
        return model_file(args.model).with_name(name)
    return args.out / name if args.out.is_dir() else args.out


def run(args) -> int:
    from tinygrad_mnist.viz import plot_predictions, plot_saliency

    if args.images:
        return _show_images(args)
    args.n = 25 if args.n is None else args.n
    model, config = load_run_model(args.model)
    data, x = test_set(model, config, args)
    if args.saliency:
        if args.n > 64:
            raise UsageError(f"argument --n: at most 64 images with --saliency, got {args.n}")
        count = min(args.n, len(x))
        figure = plot_saliency(model, data.test_images[:count], x[:count],
                               data.test_labels[:count], n=count, class_names=data.class_names,
                               title=f"Saliency on {data.title} test images: "
                                     "|d score / d pixel|")
        out = save_figure(figure, _figure_path(args, f"saliency-{count}.png"))
        print(f"wrote {out} ({count} images and their saliency maps)")
        return 0
    probabilities = predict_proba(model, x)
    if not np.isfinite(probabilities).all():
        print(f"{PROG}: diverged: the model {args.model} gives outputs that are not finite "
              "(NaN), so it has no accuracy and nothing to show", file=sys.stderr)
        return EXIT_DIVERGED
    predictions = probabilities.argmax(axis=1)
    chosen = confident_mistakes(data.test_labels, probabilities) if args.mistakes else \
        np.arange(len(predictions))
    if len(chosen) == 0:
        raise UsageError("--mistakes: the model gets every test image right; nothing to show")
    mistakes_of = len(chosen) if args.mistakes else None
    chosen = chosen[:args.n]
    kind = "mistakes" if args.mistakes else "predictions"
    out = _figure_path(args, f"{kind}-{len(chosen)}.png")
    accuracy = metrics.accuracy(data.test_labels, predictions)
    figure = plot_predictions(data.test_images[chosen], data.test_labels[chosen],
                              predictions[chosen], n=len(chosen),
                              probabilities=probabilities[chosen], class_names=data.class_names,
                              title=f"{kind.capitalize()} on {data.title} test images",
                              indices=chosen, mistakes_of=mistakes_of)
    out = save_figure(figure, out)  # the path it wrote (".png" added to a name without one)
    print(f"test accuracy: {accuracy:.2%} on {len(predictions):,} {data.title} test images")
    print(f"wrote {out} ({len(chosen)} {kind})")
    return 0


def _show_images(args) -> int:
    """Per image file, `<name>.png` in the `--out` folder: what `predict --show` writes."""
    options = [name for name, given in (("--mistakes", args.mistakes),
                                        ("--saliency", args.saliency), ("--n", args.n),
                                        ("--dataset", args.dataset),
                                        ("--data-root", args.data_root)) if given]
    if options:  # they choose test images; the files given are the images
        raise UsageError(f"argument {options[0]}: not with IMAGE files (it chooses test images)")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UsageError(f"argument --out: {str(args.out)!r} is a file; with IMAGE files it is "
                         "the folder their figures go to")
    model, _ = load_run_model(args.model)
    names = run_class_names(args.model)
    # Every class's probability, so that the bars are the true top 3.
    results, failed = classify_reporting(model, args.images, top=model_classes(model) or 3)
    for result in results:
        for warning in result.warnings:  # the framing looked wrong: the answer may be too
            print(f"{PROG}: warning: {printable(result.path)}: {warning}", file=sys.stderr)
    folder = args.out if args.out is not None else model_file(args.model).with_name("framed")
    written = write_framed_figures(results, folder, names) if results else []
    for result, path in zip(results, written):
        best = result.classes[0] if names is None else names[result.classes[0]]
        print(f"wrote {printable(path)} ({printable(Path(result.path).name)}: {best}, "
              f"{result.probabilities[0]:.1%})")
    return EXIT_USAGE if failed else 0
