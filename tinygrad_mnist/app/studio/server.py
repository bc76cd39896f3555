"""`tinygrad-mnist studio`: the command's options, and the server that runs the app.

The socket is bound here, before uvicorn starts, so that a port in use is one line on
stderr, `--port 0` picks a free port, and the line printed (`studio: http://...`) names
the real address.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
import threading
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# Streams (the live views) hold connections open: on Ctrl-C they get this long to close.
SHUTDOWN_SECONDS = 1


def add_parser(commands) -> argparse.ArgumentParser:
    """Add the `studio` subcommand to the `tinygrad-mnist` subparsers `commands`."""
    studio = commands.add_parser(
        "studio", help="a local web app: draw digits, watch runs learn, step through backward",
        description="Serve a web app over the run folders under RUNS_DIR: draw a digit and "
                    "see what a run's model makes of it (probabilities, saliency, each "
                    "layer), compare runs' curves, watch a training run or a search live, and "
                    "step through the autograd graph of an expression. It only reads the run "
                    "folders. Needs the studio extra: pip install 'tinygrad-mnist[studio]'.",
    )
    studio.add_argument("runs_dir", type=Path, nargs="?", default=Path("runs"),
                        metavar="RUNS_DIR", help="the folder of run folders (default: runs)")
    studio.add_argument("--host", default=DEFAULT_HOST,
                        help=f"the address to listen on (default: {DEFAULT_HOST}, this machine "
                             "only; the studio has no authentication)")
    studio.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"the port, 0 for any free one (default: {DEFAULT_PORT})")
    studio.add_argument("--no-browser", action="store_true",
                        help="do not open the page in a web browser")
    studio.set_defaults(handler=run)
    return studio


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> socket.socket:
    if not 0 <= port <= 65535:
        raise ValueError(f"argument --port: expected 0 to 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise ValueError(f"argument --host: cannot resolve {host!r} ({error.strerror})") \
            from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Inherited by every accepted connection: an answer's headers and body go out at once
    # instead of the body waiting ~40 ms for the client's delayed ACK (Nagle's algorithm).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(address)
    except OSError as error:
        sock.close()
        raise ValueError(f"argument --port: cannot listen on {host}:{port} "
                         f"({error.strerror})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def run(args) -> int:
    """The `studio` command: bind, print the address, open the browser, serve until Ctrl-C."""
    try:
        import uvicorn

        from tinygrad_mnist.app.studio.api import create_app
    except ModuleNotFoundError as error:
        raise ValueError(f"studio: needs {error.name}: pip install 'tinygrad-mnist[studio]'") \
            from None
    if args.runs_dir.exists() and not args.runs_dir.is_dir():
        raise ValueError(f"runs_dir: {str(args.runs_dir)!r} is a file, expected the folder of "
                         "run folders")
    local = is_loopback(args.host)
    sock = _bind(args.host, args.port)
    if not local:
        print(f"studio: warning: listening on {args.host}, which other machines may reach; "
              "the studio has no authentication, so anyone who reaches it can read your runs",
              file=sys.stderr)
    url = url_of(sock)
    print(f"studio: {url}", flush=True)
    if not args.no_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, (url,)).start()
    app = create_app(args.runs_dir, allow_any_host=not local)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_SECONDS,
                            access_log=False)
    try:
        with _one_blas_thread():
            uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn stops cleanly, then raises Ctrl-C again: the way out
        pass
    return 0


def _one_blas_thread():
    """One BLAS thread, as `train` uses, unless the environment chose a number: a drawing's
    products are tiny, and on shared cores a second OpenBLAS thread only waits."""
    import contextlib
    import os

    if any(os.environ.get(name) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                             "MKL_NUM_THREADS")):
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")
