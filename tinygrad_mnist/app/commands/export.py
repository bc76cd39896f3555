"""`tinygrad-mnist export`: a trained model as an ONNX file."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinygrad_mnist.app.errors import UsageError
from tinygrad_mnist.app.run_folder import load_run_model


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export", help="export a trained model to ONNX",
        description="Write a saved model as an ONNX file that other runtimes (onnxruntime, "
                    "browsers, phones) run. Its input 'images' is a float32 batch of "
                    "pixel / 255 (N x 784 for an MLP), its output 'logits'. Needs the onnx "
                    "extra: pip install 'tinygrad-mnist[onnx]'.",
    )
    parser.add_argument("model", type=Path, metavar="MODEL",
                        help="a run folder, or the model.npz in one")
    parser.add_argument("--onnx", type=Path, required=True, metavar="FILE",
                        help="the .onnx file to write")
    return parser


def run(args) -> int:
    from tinygrad_mnist.app.onnx_export import check_onnx_path, export_onnx  # the extra

    try:
        check_onnx_path(args.onnx)  # before the model is even read: never over a stranger's
        model, _ = load_run_model(args.model)
        export_onnx(model, args.onnx)
    except ModuleNotFoundError as error:  # the optional extra: say what to install
        raise UsageError(str(error)) from None
    print(f"wrote {args.onnx} (ONNX: input 'images', float32 pixel / 255, any batch size; "
          "output 'logits')")
    return 0
