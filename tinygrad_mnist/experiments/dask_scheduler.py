"""Connecting to a Dask scheduler for `grid_search(backend="dask")`, in bounded time.

`dask.distributed`'s own timeout covers opening the TCP connection, not the handshake
after it: at a service that accepts and never answers (the Dask dashboard's port 8787,
any HTTP server) `Client` waits forever, and at one that answers something else it
reads the answer as a frame length and tries to allocate exabytes. So the scheduler is
asked first, with a plain socket and one deadline: a Dask scheduler speaks first on a
new connection (its handshake: a frame-length header, then a small msgpack message),
anything else is "not a Dask scheduler".
"""

from __future__ import annotations

import socket
import struct
import time

#: Seconds to reach the scheduler and hear its handshake, all together.
TIMEOUT = 10.0
# A Dask handshake is a few hundred bytes; a header declaring more is some other service.
_MAX_HANDSHAKE = 1 << 16


class SchedulerError(ValueError):
    """The scheduler cannot be reached or is not one: the message names the address."""


def connect_scheduler(address: str, timeout: float | None = None):
    """A `dask.distributed.Client` of the scheduler at `address` ("tcp://HOST:PORT"), or
    `SchedulerError` within about `timeout` seconds (default `TIMEOUT`) saying why not
    (unreachable, or not a Dask scheduler). Without dask installed, a
    `ModuleNotFoundError` that says what to install."""
    timeout = TIMEOUT if timeout is None else timeout
    try:
        from dask.distributed import Client
    except ImportError:
        raise ModuleNotFoundError("scheduler: needs dask.distributed "
                                  "(pip install 'dask[distributed]')", name="distributed"
                                  ) from None
    check_scheduler(address, timeout)
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as error:
        raise SchedulerError(f"scheduler: cannot reach {address} ({_one_line(error)})") \
            from None


def check_scheduler(address: str, timeout: float | None = None) -> None:
    """Refuse (`SchedulerError`) a TCP `address` where no Dask scheduler answers within
    `timeout` seconds (default `TIMEOUT`). Other transports (tls://, ucx://) are left to
    Dask."""
    timeout = TIMEOUT if timeout is None else timeout
    scheme, _, location = address.rpartition("://")
    if scheme not in ("", "tcp"):
        return
    host, _, port = location.rpartition(":")
    try:
        port = int(port)
    except ValueError:
        raise SchedulerError(f"scheduler: expected tcp://HOST:PORT, got {address!r}") from None
    deadline = time.monotonic() + timeout
    try:
        connection = socket.create_connection((host.strip("[]") or "127.0.0.1", port),
                                              timeout=timeout)
    except OSError as error:  # refused, no route, unknown host, or no answer in time
        raise SchedulerError(f"scheduler: cannot reach {address} ({_one_line(error)})") \
            from None
    try:
        with connection:
            header = _read(connection, 8, deadline)
            (size,) = struct.unpack("<Q", header)
            if not 8 <= size <= _MAX_HANDSHAKE:
                raise SchedulerError(
                    f"scheduler: {address} is not a Dask scheduler (it answered "
                    f"{_shown(header)}, not a Dask handshake); check the port (the "
                    "scheduler's is 8786 by default, its dashboard's 8787)")
            _read(connection, size, deadline)
    except TimeoutError:
        raise SchedulerError(
            f"scheduler: {address} is not a Dask scheduler (no Dask handshake within "
            f"{timeout:g} s); check the port (the scheduler's is 8786 by default, its "
            "dashboard's 8787)") from None
    except ConnectionError as error:
        raise SchedulerError(f"scheduler: {address} is not a Dask scheduler (the "
                             f"connection closed during the handshake: "
                             f"{_one_line(error)})") from None
    except OSError as error:
        raise SchedulerError(f"scheduler: cannot reach {address} ({_one_line(error)})") \
            from None


def _read(connection: socket.socket, size: int, deadline: float) -> bytes:
    """Exactly `size` bytes, or `socket.timeout` at `deadline`, or ConnectionError."""
    data = b""
    while len(data) < size:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError()
        connection.settimeout(left)
        chunk = connection.recv(size - len(data))
        if not chunk:
            raise ConnectionResetError("closed by the other end")
        data += chunk
    return data


def _shown(data: bytes) -> str:
    """The first bytes of an answer, printable: what a person would recognise ("HTTP/1.")."""
    return repr(data.decode("ascii", "backslashreplace"))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
