"""How well `predict` reads photos: accuracy on photo-like pictures of MNIST test digits
against the same digits raw (28x28), for trained run folders.

    python benchmarks/photo_framing.py runs/mlp runs/cnn [--n 1000] [--seed 0]

The pictures come from tests/support/photo_like.py (dark ink on grey paper, an illumination
gradient, a vignette, noise, slight blur, off-centre, every other one a JPEG): the set
the tests keep a small piece of. Prints one line per run: raw and photo accuracy, the
gap in points, and how many photos were framed with a warning.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.photo_like import write_photo_like  # noqa: E402

from tinygrad_mnist import predict  # noqa: E402
from tinygrad_mnist.app.predict import classify_files, model_inputs  # noqa: E402
from tinygrad_mnist.app.run_folder import load_run_model  # noqa: E402
from tinygrad_mnist.data import load_mnist  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--n", type=int, default=1000, help="how many test digits")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    _, (images, labels) = load_mnist()
    chosen = np.random.default_rng(args.seed).choice(len(images), args.n, replace=False)
    images, labels = images[chosen], labels[chosen]
    with tempfile.TemporaryDirectory() as folder:
        paths = write_photo_like(images, folder, seed=args.seed)
        for run in args.runs:
            model, _ = load_run_model(run)
            raw = predict(model, model_inputs(model, images))
            results = classify_files(model, paths)
            photo = np.array([r.classes[0] for r in results])
            warned = sum(bool(r.warnings) for r in results)
            print(f"{run}: raw {np.mean(raw == labels):.2%}, photo-like "
                  f"{np.mean(photo == labels):.2%} (gap "
                  f"{100 * (np.mean(raw == labels) - np.mean(photo == labels)):.1f} points), "
                  f"{warned} of {len(paths)} framed with a warning")


if __name__ == "__main__":
    main()
