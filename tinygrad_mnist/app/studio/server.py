"""The studio's server: uvicorn running the app on a socket bound here.

The socket is bound before uvicorn starts, so that a port in use is one line on stderr,
port 0 picks a free port, and the line printed (`studio: http://...`) names the real
address. The command itself (its options) is app/commands/studio.py.
"""

from __future__ import annotations

import ipaddress
import socket
import threading

import uvicorn

from tinygrad_mnist.app.errors import UsageError
from tinygrad_mnist.app.studio.api import create_app
from tinygrad_mnist.utils.blas import blas_on_one_thread

# Streams (the live views) hold connections open: on Ctrl-C they get this long to close.
SHUTDOWN_SECONDS = 1


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on `host:port`; a UsageError (one line) when it cannot be had."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise UsageError(f"argument --host: cannot resolve {host!r} ({error.strerror})") \
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
        raise UsageError(f"argument --port: cannot listen on {host}:{port} "
                         f"({error.strerror})") from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(runs_dir, host: str, port: int, open_browser: bool = True,
          on_listening=lambda url: None, on_warning=lambda message: None) -> None:
    """Serve the studio over `runs_dir` until Ctrl-C; `on_listening(url)` once it listens.

    An address other than loopback is reported to `on_warning` (no authentication) and
    lets requests name any host (see `safety.LocalOnly`).
    """
    local = is_loopback(host)
    sock = bind(host, port)
    if not local:
        on_warning(f"listening on {host}, which other machines may reach; the studio has no "
                   "authentication, so anyone who reaches it can read your runs")
    url = url_of(sock)
    on_listening(url)
    if open_browser:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, (url,)).start()
    app = create_app(runs_dir, allow_any_host=not local)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=SHUTDOWN_SECONDS,
                            access_log=False)
    try:
        # One BLAS thread, as `train`: a drawing's products are tiny, and on shared cores a
        # second OpenBLAS thread only waits.
        with blas_on_one_thread(unless_environment_says=True):
            uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn stops cleanly, then raises Ctrl-C again: the way out
        pass
