"""Running a command on a pseudo-terminal, as a user at a terminal sees it."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import time


def on_terminal(argv, environment=None, cwd=None, size=None, timeout=120) -> tuple[str, int]:
    """`(what argv wrote, its exit status)`: stdout and stderr both go to one pseudo-terminal.

    `size` (rows, columns) sets the terminal's size; without it the terminal reports
    none (0 x 0), as a bare pseudo-terminal does.
    """
    main_end, child = pty.openpty()
    if size is not None:
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    process = subprocess.Popen(argv, cwd=cwd, stdin=child, stdout=child, stderr=child,
                               close_fds=True, env=environment)
    os.close(child)
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(main_end, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    status = process.wait(timeout=10)
    os.close(main_end)
    return b"".join(chunks).decode(errors="replace"), status
