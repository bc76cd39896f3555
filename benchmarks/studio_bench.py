"""How fast the studio answers a drawing: the predict round trip, request to JSON.

    python benchmarks/studio_bench.py [--requests 100] [--runs-dir DIR --mlp ID --cnn ID]

By default it trains the default MLP (784-256-128-10) and the default CNN (the `cnn`
preset) for one epoch on a small synthetic data set (their weights do not change the
time of a forward and backward pass), starts `tinygrad-mnist studio` on a free port as a
user would, and sends each model the same PNG drawing that the page sends (112x112), over
one kept-alive HTTP connection, one request at a time. It prints the median and the 90th
percentile of the round trip, the server's own part (the answer's `milliseconds`), the
same for JSON pixels (28x28), the time to the first usable page (the page, its scripts and
the run list), and the load average before and after (`os.getloadavg`).
Targets (issue 21): median <= 30 ms for the default MLP, <= 100 ms for the default CNN.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def drawing_png() -> bytes:
    """A "7" as the page sends one: white strokes, 20 px wide, on a black 280x280 canvas,
    scaled to 112x112 (draw.js, SENT_SIDE)."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (280, 280), 0)
    pen = ImageDraw.Draw(image)
    pen.line([(70, 60), (214, 60), (124, 240)], fill=255, width=20, joint="curve")
    image = image.resize((112, 112), Image.Resampling.BOX)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_runs(folder: Path) -> Path:
    from tinygrad_mnist.data.by_name import save_npz_dataset, synthetic_digits

    data = folder / "small.npz"
    save_npz_dataset(data, synthetic_digits(n_train=256, n_test=64))
    runs = folder / "runs"
    for name, extra in (("mlp-default", []), ("cnn-default", ["--model", "cnn"])):
        subprocess.run([sys.executable, "-m", "tinygrad_mnist", "-q", "train", *extra,
                        "--dataset", str(data), "--epochs", "1", "--validation", "0",
                        "--out", str(runs / name)], check=True, stdout=subprocess.DEVNULL)
    return runs


def connect(port: int) -> http.client.HTTPConnection:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()
    # As browsers do: http.client sends headers and body in two writes, and with Nagle's
    # algorithm against delayed ACKs every POST would wait 40 ms for nothing.
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def round_trips(port: int, path: str, body: bytes, kind: str, count: int):
    connection = connect(port)
    wall, server = [], []
    for i in range(count + 5):  # 5 to warm up: the model is loaded on the first
        started = time.perf_counter()
        connection.request("POST", path, body=body, headers={"Content-Type": kind})
        response = connection.getresponse()
        answer = json.loads(response.read())
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {answer}")
        if i >= 5:
            wall.append(elapsed)
            server.append(answer["milliseconds"])
    connection.close()
    return wall, server


def first_page(port: int) -> float:
    started = time.perf_counter()
    connection = connect(port)
    for path in ("/", "/static/studio.css", "/static/studio.js", "/static/common.js",
                 "/static/charts.js", "/static/draw.js", "/static/runs.js", "/static/live.js",
                 "/static/autograd.js", "/api/runs"):
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        assert response.status == 200, path
    connection.close()
    return (time.perf_counter() - started) * 1000


def summary(values) -> str:
    values = sorted(values)
    return (f"median {statistics.median(values):6.1f} ms, "
            f"p90 {values[int(0.9 * (len(values) - 1))]:6.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--runs-dir", type=Path)
    parser.add_argument("--mlp", default="mlp-default")
    parser.add_argument("--cnn", default="cnn-default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        runs = args.runs_dir or make_runs(Path(folder))
        load_before = os.getloadavg()
        server = subprocess.Popen(
            [sys.executable, "-m", "tinygrad_mnist", "studio", str(runs), "--port", "0",
             "--no-browser"], stdout=subprocess.PIPE, text=True)
        try:
            from PIL import Image

            port = int(server.stdout.readline().strip().rsplit(":", 1)[1].strip("/"))
            print(f"first page (page, scripts, run list): {first_page(port):.1f} ms")
            png = drawing_png()
            pixels = json.dumps({"pixels": (np.asarray(
                Image.open(io.BytesIO(png)).resize((28, 28))) / 255).round(3).tolist()}).encode()
            for label, run_id in (("MLP", args.mlp), ("CNN", args.cnn)):
                path = f"/api/runs/{run_id}/predict"
                wall, inside = round_trips(port, path, png, "image/png", args.requests)
                print(f"{label} {run_id}, PNG 112x112:   round trip {summary(wall)}; "
                      f"server {summary(inside)}")
                wall, inside = round_trips(port, path, pixels, "application/json", args.requests)
                print(f"{label} {run_id}, JSON 28x28:    round trip {summary(wall)}; "
                      f"server {summary(inside)}")
        finally:
            server.send_signal(signal.SIGINT)
            server.communicate(timeout=30)
        load_after = os.getloadavg()
    print(f"load average (1, 5, 15 min) before {load_before[0]:.2f} {load_before[1]:.2f} "
          f"{load_before[2]:.2f}, after {load_after[0]:.2f} {load_after[1]:.2f} "
          f"{load_after[2]:.2f}; {os.cpu_count()} cores")
    return 0


if __name__ == "__main__":
    sys.exit(main())
