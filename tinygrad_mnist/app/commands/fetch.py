"""`tinygrad-mnist fetch`: download and verify a data set into the cache."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinygrad_mnist import data
from tinygrad_mnist.data.by_name import DATASET_NAMES


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "fetch", help="download and verify a data set into the cache",
        description="Fill the data cache (download or copy, verify against the known "
                    "checksums) and print where it is. Set TINYGRAD_MNIST_HOME to choose "
                    "the cache folder.",
    )
    parser.add_argument("--dataset", choices=DATASET_NAMES[:2], default="mnist",
                        metavar="NAME", help=f"{' or '.join(DATASET_NAMES[:2])} (default: mnist)")
    parser.add_argument("--data-root", type=Path, metavar="DIR",
                        help="take the files from this folder (IDX, .gz or raw, or the CSV "
                             "layout) instead of downloading them; they are verified")
    parser.add_argument("--offline", action="store_true",
                        help="never use the network: only the cache and --data-root")
    return parser


def run(args) -> int:
    spec = data.MNIST if args.dataset == "mnist" else data.FASHION_MNIST
    folder = data.fetch_dataset(spec, root=args.data_root, download=not args.offline)
    print(folder)
    return 0
