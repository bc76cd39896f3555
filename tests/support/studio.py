"""Run folders for the studio's tests, made by the real `train` command on small data."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mnist import viz
from tinygrad_mnist.app import cli
from tinygrad_mnist.data.by_name import save_npz_dataset, synthetic_digits

# Chromium as the machine has it (Debian's package), started as the project's CI starts it:
# no sandbox (CI runs as root), and nothing that would reach for the network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def make_runs(root: Path) -> Path:
    """RUNS_DIR with two MLP runs and one small CNN run, trained on synthetic digits, and a
    search's result store (`search-small`, 4 trials).

    The CNN's data set is a small `.npz` (300 training images) named by its absolute
    path, so the studio can read its test images wherever the tests run.
    """
    runs = root / "runs"
    small = root / "small.npz"
    save_npz_dataset(small, synthetic_digits(n_train=300, n_test=60, seed=3))
    # The PNG figures take matplotlib most of a run's time and the studio never reads them.
    with pytest.MonkeyPatch.context() as patch:
        for name in ("plot_predictions", "plot_confusion_matrix", "plot_true_vs_predicted",
                     "plot_learning_curves"):
            patch.setattr(viz, name, lambda *args, **kwargs: None)
        _train_runs(runs, small)
    _search(runs)
    return runs


def _search(runs: Path) -> None:
    """A search's result store beside the runs, by a real (tiny) grid search: 4 trials."""
    from tinygrad_mnist.data import prepare_images
    from tinygrad_mnist.experiments import grid_search

    data = synthetic_digits(n_train=200, n_test=40, seed=5)
    grid_search({"hidden_sizes": [[8], [16]], "learning_rate": [0.1, 0.3], "epochs": [1]},
                (prepare_images(data.train_images), data.train_labels), top_n=0,
                store=runs / "search-small" / "results.sqlite")


def _train_runs(runs: Path, small: Path) -> None:
    for args in (["--dataset", "synthetic", "--hidden", "32", "--epochs", "3", "--out",
                  runs / "mlp-small"],
                 ["--dataset", "synthetic", "--hidden", "64,32", "--epochs", "2", "--out",
                  runs / "mlp-two"],
                 ["--model", "cnn", "--channels", "2,4", "--hidden", "8", "--epochs", "3",
                  "--batch-size", "16", "--dataset", small, "--validation", "30", "--out",
                  runs / "cnn-small"]):  # enough to learn something (train says when not)
        assert cli.main(["-q", "train", *map(str, args)]) == 0


def snapshot(folder: Path) -> dict:
    """Every file under `folder` (symlinks not followed) -> (size, mtime, SHA-256)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            files[str(path.relative_to(folder))] = (
                stat.st_size, stat.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
    return files


def stroke_image(side: int = 280) -> np.ndarray:
    """A drawing as the page makes one: a white vertical stroke on black, grey levels 0..1."""
    image = np.zeros((side, side))
    image[side // 6: side * 5 // 6, side * 9 // 20: side * 11 // 20] = 1.0
    return image


def png_bytes(grey01: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.round(grey01 * 255).astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def start_studio(runs_dir: Path, *extra: str):
    """`tinygrad-mnist studio` in a subprocess on a free port: (process, port, its line)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tinygrad_mnist", "studio", str(runs_dir), "--port", "0",
         "--no-browser", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline().strip()
    assert line.startswith("studio: http://"), (line, process.stderr.read())
    port = int(line.rsplit(":", 1)[1].strip("/"))
    return process, port, line


def stop_studio(process) -> tuple[int, str]:
    """Ctrl-C the studio: (exit status, what it wrote on stderr)."""
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, err
