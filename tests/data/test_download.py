"""Downloads from a local HTTP server: good, missing, corrupt, cut short, too slow."""

from __future__ import annotations

import gzip
import io
import logging
import sys
import time

import numpy as np
import pytest
from support.mnist_files import (
    NAMES,
    FileServer,
    Reply,
    cache_listing,
    checksums_of,
    gzip_reply,
    make_arrays,
    spec_for,
)

from tinygrad_mnist.data import FetchError, Mirror
from tinygrad_mnist.data.checksums import sha256_file
from tinygrad_mnist.data.fetch import _fetch_files as fetch_files
from tinygrad_mnist.data.idx import encode_idx
from tinygrad_mnist.data.mnist import _load_dataset as load_dataset
from tinygrad_mnist.data.sources import SourceUnavailable

pytestmark = pytest.mark.slow


def _good_replies(arrays, prefix=""):
    return {f"{prefix}{name}.gz": gzip_reply(array) for name, array in arrays.items()}


def test_good_server_fills_the_cache_with_verified_files(tmp_path):
    arrays = make_arrays()
    with FileServer(_good_replies(arrays)) as server:
        (x_train, y_train), (x_test, y_test) = load_dataset(
            spec_for(arrays), cache_dir=tmp_path / "c", mirrors=[server.url], timeout=5)
    np.testing.assert_array_equal(x_train, arrays[NAMES[0]])
    np.testing.assert_array_equal(y_test, arrays[NAMES[3]])
    assert sorted(server.requests) == sorted(f"/{name}.gz" for name in NAMES)
    for name, digest in checksums_of(arrays).items():
        assert sha256_file(tmp_path / "c" / name) == digest


def test_mirrors_are_tried_in_order_after_a_404(tmp_path):
    arrays = make_arrays()
    replies = _good_replies(arrays, prefix="second/")
    replies["first/" + NAMES[0] + ".gz"] = gzip_reply(arrays[NAMES[0]])  # one file only
    with FileServer(replies) as server:
        load_dataset(spec_for(arrays), cache_dir=tmp_path / "c", timeout=5,
                     mirrors=[server.url + "first", server.url + "second/"])
    assert server.requests == [f"/first/{name}.gz" for name in NAMES] + [
        f"/second/{name}.gz" for name in NAMES[1:]]


def _fails_and_leaves_nothing(tmp_path, arrays, replies, message, timeout=5.0):
    with FileServer(replies) as server, pytest.raises(FetchError, match=message) as raised:
        fetch_files(checksums_of(arrays), tmp_path / "c", [Mirror(server.url, timeout)])
    assert cache_listing(tmp_path / "c") == []
    return str(raised.value), server


def test_404_is_reported_per_file(tmp_path):
    message, _ = _fails_and_leaves_nothing(tmp_path, make_arrays(), {}, "HTTP 404 Not Found")
    assert all(f"{name}.gz: HTTP 404" in message for name in NAMES)


def test_server_error_is_reported(tmp_path):
    replies = {f"{name}.gz": Reply(b"oops", status=500) for name in NAMES}
    _fails_and_leaves_nothing(tmp_path, make_arrays(), replies, "HTTP 500")


def test_corrupt_bytes_are_caught_by_the_checksum(tmp_path):
    arrays = make_arrays()
    damaged = {name: array.copy() for name, array in arrays.items()}
    damaged[NAMES[0]][0, 0, 0] ^= 1  # a well-formed file with one pixel off
    replies = _good_replies(damaged)
    with FileServer(replies) as server, pytest.raises(FetchError, match="SHA-256 is") as raised:
        fetch_files(checksums_of(arrays), tmp_path / "c", [Mirror(server.url, 5)])
    assert f"could not get {NAMES[0]} into" in str(raised.value)
    assert cache_listing(tmp_path / "c") == sorted(NAMES[1:])  # the good ones are kept


def test_garbage_instead_of_gzip_is_reported(tmp_path):
    arrays = make_arrays()
    replies = {f"{name}.gz": Reply(b"<html>not a file</html>") for name in NAMES}
    _fails_and_leaves_nothing(tmp_path, arrays, replies, "corrupt gzip data")


def test_truncated_download_is_reported(tmp_path):
    arrays = make_arrays()
    replies = {}
    for name, array in arrays.items():
        body = gzip.compress(encode_idx(array))
        replies[f"{name}.gz"] = Reply(body[: len(body) // 2], declared_length=len(body))
    _fails_and_leaves_nothing(tmp_path, arrays, replies, "truncated")


def test_truncated_but_complete_gzip_is_caught_by_length(tmp_path):
    # The body is a whole gzip stream, but the server promised more: still refused.
    arrays = make_arrays()
    replies = {f"{name}.gz": gzip_reply(array) for name, array in arrays.items()}
    for reply in replies.values():
        reply.declared_length = len(reply.body) + 10
    _fails_and_leaves_nothing(tmp_path, arrays, replies, "truncated download")


def test_too_slow_server_fails_fast_and_is_not_asked_again(tmp_path):
    arrays = make_arrays()
    replies = {f"{name}.gz": gzip_reply(array, delay=30) for name, array in arrays.items()}
    start = time.monotonic()
    message, server = _fails_and_leaves_nothing(tmp_path, arrays, replies, "no answer within",
                                                timeout=0.3)
    assert time.monotonic() - start < 10
    assert len(server.requests) == 1  # unreachable as a whole: the other files are not asked


def test_slow_mirror_then_good_mirror(tmp_path):
    arrays = make_arrays()
    replies = _good_replies(arrays, prefix="good/")
    replies.update({f"slow/{name}.gz": gzip_reply(array, delay=30)
                    for name, array in arrays.items()})
    with FileServer(replies) as server:
        load_dataset(spec_for(arrays), cache_dir=tmp_path / "c", timeout=0.3,
                     mirrors=[server.url + "slow/", server.url + "good/"])
    assert sorted(cache_listing(tmp_path / "c")) == sorted(NAMES)


def test_unresolvable_host_is_unavailable(tmp_path):
    mirror = Mirror("http://name.invalid/mnist/", timeout=2)
    with pytest.raises(SourceUnavailable, match="name.invalid"):
        mirror.provide(NAMES[0], io.BytesIO())


def test_download_false_never_touches_the_mirror(tmp_path):
    arrays = make_arrays()
    with FileServer(_good_replies(arrays)) as server, pytest.raises(FetchError):
        load_dataset(spec_for(arrays), cache_dir=tmp_path / "c", mirrors=[server.url],
                     download=False)
    assert server.requests == []


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_bar_only_on_a_terminal(monkeypatch, terminal):
    arrays = make_arrays(n_train=300)
    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    with FileServer(_good_replies(arrays)) as server:
        out = io.BytesIO()
        Mirror(server.url, timeout=5).provide(NAMES[0], out)
    assert out.getvalue() == encode_idx(arrays[NAMES[0]])
    if terminal:
        assert f"{NAMES[0]}:   0%" in stderr.getvalue() and "230k" in stderr.getvalue()
    else:
        assert stderr.getvalue() == ""


def test_a_failed_fetch_says_each_failure_once_in_its_error(tmp_path, caplog):
    # Not also as warnings: the user would read every failure twice.
    arrays = make_arrays()
    replies = {f"{name}.gz": Reply(b"junk") for name in NAMES}
    with caplog.at_level(logging.WARNING, logger="tinygrad_mnist.data"):
        message, _ = _fails_and_leaves_nothing(tmp_path, arrays, replies, "corrupt")
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert all(message.count(f"{name}.gz") == 1 for name in NAMES)
    assert len(message.splitlines()) == 1 + len(NAMES)  # the headline, then a line per failure


def test_failures_of_a_source_are_warnings_when_another_provides(tmp_path, caplog):
    arrays = make_arrays()
    replies = _good_replies(arrays, prefix="good/")
    replies.update({f"bad/{name}.gz": Reply(b"junk") for name in NAMES})
    with FileServer(replies) as server, \
            caplog.at_level(logging.WARNING, logger="tinygrad_mnist.data"):
        fetch_files(checksums_of(arrays), tmp_path / "c",
                    [Mirror(server.url + "bad/", 5), Mirror(server.url + "good/", 5)])
    assert sorted(cache_listing(tmp_path / "c")) == sorted(NAMES)
    assert len([r for r in caplog.records if "could not provide" in r.getMessage()]) == 4
