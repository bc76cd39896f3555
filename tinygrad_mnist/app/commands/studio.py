"""`tinygrad-mnist studio`: a local web app over the run folders (app/studio/)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tinygrad_mnist.app.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "studio", help="a local web app: draw digits, watch runs learn, step through backward",
        description="Serve a web app over the run folders under RUNS_DIR: draw a digit and "
                    "see what a run's model makes of it (probabilities, saliency, each "
                    "layer), compare runs' curves, watch a training run or a search live, and "
                    "step through the autograd graph of an expression. It only reads the run "
                    "folders. Needs the studio extra: pip install 'tinygrad-mnist[studio]'.",
    )
    parser.add_argument("runs_dir", type=Path, nargs="?", default=Path("runs"),
                        metavar="RUNS_DIR", help="the folder of run folders (default: runs)")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help=f"the address to listen on (default: {DEFAULT_HOST}, this machine "
                             "only; the studio has no authentication)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"the port, 0 for any free one (default: {DEFAULT_PORT})")
    parser.add_argument("--no-browser", action="store_true",
                        help="do not open the page in a web browser")
    return parser


def run(args) -> int:
    """Bind, print the address, open the browser, serve until Ctrl-C (status 0)."""
    try:
        from tinygrad_mnist.app.studio import server
    except ModuleNotFoundError as error:  # the optional extra: say what to install
        raise UsageError(f"studio: needs {error.name}: pip install 'tinygrad-mnist[studio]'") \
            from None
    if args.runs_dir.exists() and not args.runs_dir.is_dir():
        raise UsageError(f"runs_dir: {str(args.runs_dir)!r} is a file, expected the folder of "
                         "run folders")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"argument --port: expected 0 to 65535, got {args.port}")
    server.serve(args.runs_dir, args.host, args.port, open_browser=not args.no_browser,
                 on_listening=lambda url: print(f"studio: {url}", flush=True),
                 on_warning=lambda message: print(f"studio: warning: {message}",
                                                  file=sys.stderr))
    return 0
