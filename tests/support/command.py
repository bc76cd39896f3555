"""Running `tinygrad-mnist` as users run it, in a subprocess, and checking what it says."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(args, cwd, env, timeout=120, launcher=None, extra_env=None):
    """Run `python -m tinygrad_mnist ARGS` (or the launcher) and wait for it."""
    command = [sys.executable, "-m", "tinygrad_mnist"] if launcher is None else \
        [sys.executable, "-c", launcher]
    return subprocess.run([*command, *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**env, **(extra_env or {})})


def assert_one_line_error(result, *fragments):
    """Exit status 2, exactly one line on stderr, no traceback, naming what is wrong."""
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("tinygrad-mnist: error: ")
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_SIGNATURE
