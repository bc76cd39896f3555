"""Helpers for the data tests: generated IDX data sets and a local HTTP server."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.server
import threading
from pathlib import Path

import numpy as np

from tinygrad_mnist.data.idx import encode_idx, write_idx
from tinygrad_mnist.data.mnist import MNIST, IdxSpec

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def make_arrays(seed: int = 0, n_train: int = 30, n_test: int = 10) -> dict[str, np.ndarray]:
    """Small MNIST-shaped arrays under the four standard names: random pixels, labels 0..9."""
    rng = np.random.default_rng(seed)
    return {
        NAMES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        NAMES[1]: rng.permutation(np.arange(n_train) % 10).astype(np.uint8),
        NAMES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        NAMES[3]: rng.permutation(np.arange(n_test) % 10).astype(np.uint8),
    }


def checksums_of(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """The SHA-256 of each array's raw IDX bytes: what a data set spec pins."""
    return {name: hashlib.sha256(encode_idx(array)).hexdigest() for name, array in arrays.items()}


def write_dir(directory: Path, arrays: dict[str, np.ndarray], compressed: bool = False) -> Path:
    """Write `arrays` as IDX files (`name` or `name.gz`) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        write_idx(directory / (f"{name}.gz" if compressed else name), array)
    return directory


def write_csv(path: Path, images: np.ndarray, labels: np.ndarray, header: bool = False) -> Path:
    """Write the MNIST CSV layout: a label then 784 pixels a row."""
    rows = np.column_stack([labels.astype(np.int64), images.reshape(len(images), -1)])
    lines = [",".join(map(str, row)) for row in rows]
    if header:
        lines.insert(0, "label," + ",".join(f"pixel{i}" for i in range(784)))
    path.write_text("\n".join(lines) + "\n")
    return path


def spec_for(arrays: dict[str, np.ndarray], **changes) -> IdxSpec:
    """MNIST's spec with the checksums of `arrays`, no web and no package index."""
    return dataclasses.replace(MNIST, checksums=checksums_of(arrays), mirrors=(),
                               package_index=False, **changes)


def cache_listing(cache_dir: Path) -> list[str]:
    """The names in a cache directory, the lock file aside."""
    return sorted(p.name for p in Path(cache_dir).iterdir() if p.name != ".lock")


@dataclasses.dataclass
class Reply:
    """What the test server answers for one path."""

    body: bytes = b""
    status: int = 200
    delay: float = 0.0          # seconds to wait before answering
    declared_length: int | None = None  # a Content-Length above len(body) fakes a cut download


def gzip_reply(array: np.ndarray, **options) -> Reply:
    """A reply serving `array` as a gzip-compressed IDX file."""
    return Reply(gzip.compress(encode_idx(array), mtime=0), **options)


class FileServer:
    """An HTTP server on 127.0.0.1 answering each path from `replies` (404 if absent).

    Use as a context manager; `url` is its base URL and `requests` the paths asked for.
    """

    def __init__(self, replies: dict[str, Reply]):
        self.replies = replies
        self.requests: list[str] = []
        self._stop = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                reply = server.replies.get(self.path.lstrip("/"), Reply(b"", 404))
                if reply.delay and server._stop.wait(reply.delay):
                    return
                try:
                    self.send_response(reply.status)
                    length = reply.declared_length or len(reply.body)
                    self.send_header("Content-Length", str(length))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as it should
                self.close_connection = True

            def log_message(self, *args):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    def __enter__(self) -> FileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
