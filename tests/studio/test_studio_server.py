"""`tinygrad-mnist studio` as users start it: the command, a real uvicorn server on a socket.

The server tests run the command in a subprocess and talk HTTP to it: the line it
prints, 1,000 hostile requests it must survive, a live stream that follows a growing
event log, Ctrl-C. The option errors run in this process.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import sys
import threading
import time

import pytest

pytest.importorskip("uvicorn")  # the [studio] extra; the test extra always has it

from support.studio import (
    make_runs,
    png_bytes,
    snapshot,
    start_studio,
    stroke_image,
)
from support.studio import stop_studio as stop  # noqa: E402

from tinygrad_mnist.app import cli  # noqa: E402

PYTHON = sys.executable


def request(port, method, path, body=None, headers=None, timeout=30):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("content-type") or "", response.read()
    finally:
        connection.close()


# -------------------------------------------------------------- option errors
def test_a_port_in_use_is_one_line_and_status_2(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        status = cli.main(["studio", str(tmp_path), "--port", str(port), "--no-browser"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert err[0].startswith("tinygrad-mnist: error: argument --port: cannot listen on")


@pytest.mark.parametrize("args, fragment", [
    (["--port", "70000"], "expected 0 to 65535"),
    (["--host", "no.such.host.invalid"], "cannot resolve"),
])
def test_bad_options_are_one_line(tmp_path, capsys, args, fragment):
    assert cli.main(["studio", str(tmp_path), "--no-browser", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


def test_a_file_for_runs_dir_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert cli.main(["studio", str(tmp_path / "file"), "--no-browser"]) == 2
    assert "is a file" in capsys.readouterr().err


# ------------------------------------------------------------- a real server
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("studio-server"))


@pytest.mark.slow
def test_it_prints_its_address_serves_the_page_and_stops_on_ctrl_c(runs):
    process, port, line = start_studio(runs)
    try:
        assert line == f"studio: http://127.0.0.1:{port}/"
        status, kind, body = request(port, "GET", "/")
        assert status == 200 and b'data-testid="run-list"' in body
        status, kind, body = request(port, "GET", "/static/studio.js")
        assert status == 200 and "javascript" in kind
        status, _, body = request(port, "GET", "/api/runs")
        assert {run["id"] for run in json.loads(body)} == {"mlp-small", "mlp-two", "cnn-small"}
    finally:
        code, err = stop(process)
    assert code == 0 and "Traceback" not in err


@pytest.mark.slow
def test_another_host_prints_a_warning(runs):
    process, port, _ = start_studio(runs, "--host", "0.0.0.0")
    try:
        assert request(port, "GET", "/api/runs")[0] == 200  # chosen on purpose: any Host
    finally:
        _, err = stop(process)
    assert "warning: listening on 0.0.0.0" in err and "no authentication" in err


def _hostile(rng: random.Random, good_png: bytes):
    """One request a careless or malicious client might send: (method, path, body, headers)."""
    choice = rng.randrange(12)
    junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    if choice == 0:
        return "GET", "/api/runs/" + rng.choice(
            ["..", "%2e%2e", "..%2f..%2fetc", "%2Fetc%2Fpasswd", "a%00b", "~root", "x" * 500,
             "mlp-small%2f..%2f..", ".", "%5c..%5c"]), None, {}
    if choice == 1:
        return "GET", "/static/" + rng.choice(["../api.py", "%2e%2e/runs.py", "..%2f..%2f",
                                               "nothing.js", "/etc/passwd"]), None, {}
    if choice == 2:
        return "POST", "/api/runs/mlp-small/predict", junk, {"Content-Type": "image/png"}
    if choice == 3:
        return "POST", "/api/runs/mlp-small/predict", junk, {"Content-Type": "application/json"}
    if choice == 4:  # a truncated upload
        return "POST", "/api/runs/cnn-small/predict", good_png[:rng.randrange(8, 60)], \
            {"Content-Type": "image/png"}
    if choice == 5:
        return "POST", "/api/runs/mlp-small/predict", b"x" * 10, \
            {"Content-Type": "image/png", "Content-Length": str(10**9)}
    if choice == 6:
        return "POST", "/api/autograd", json.dumps({"expression": rng.choice(
            ["__import__('os')", "a." * 100 + "sum()", "(" * 500, "a ** 1e9", "x.T" * 100,
             "open('x').read()", "[1] * 10**9"])}).encode(), {"Content-Type": "application/json"}
    if choice == 7:
        return "POST", "/api/autograd", json.dumps({"expression": "a.sum()", "shapes": {
            "a": [10**9, 10**9]}}).encode(), {"Content-Type": "application/json"}
    if choice == 8:
        return rng.choice(["DELETE", "PUT", "PATCH"]), "/api/runs", junk, {}
    if choice == 9:
        return "GET", "/api/runs/mlp-small/confusion/" + rng.choice(
            ["99/1", "-1/0", "a/b", "1/1/1"]), None, {}
    if choice == 10:
        return "GET", "/api/runs/mlp-small/mistakes?n=" + rng.choice(["-5", "x", "10000000"]), \
            None, {}
    return "GET", "/api/runs", None, {"Host": rng.choice(["evil.example", "127.0.0.1.evil"])}


@pytest.mark.slow
def test_the_server_keeps_serving_after_1000_hostile_requests(runs):
    before = snapshot(runs)
    process, port, _ = start_studio(runs)
    rng = random.Random(0)
    good_png = png_bytes(stroke_image(56))
    statuses = {}
    try:
        for _ in range(1000):
            method, path, body, headers = _hostile(rng, good_png)
            try:
                status, kind, answer = request(port, method, path, body, headers)
            except (ConnectionError, http.client.HTTPException):
                # The server may close a connection whose declared body never comes; it must
                # still be there for the next request.
                assert process.poll() is None
                continue
            statuses[status] = statuses.get(status, 0) + 1
            assert 400 <= status < 500, (method, path, status, answer[:200])
            assert kind.startswith("application/json"), (path, kind)
            assert "error" in json.loads(answer) and b"Traceback" not in answer
        assert process.poll() is None
        status, _, answer = request(port, "POST", "/api/runs/mlp-small/predict", good_png,
                                    {"Content-Type": "image/png"})
        assert status == 200 and json.loads(answer)["class"] in range(10)
    finally:
        code, err = stop(process)
    assert sum(statuses.values()) >= 990 and len(statuses) >= 5, statuses
    assert "Traceback" not in err and code == 0
    assert snapshot(runs) == before


@pytest.mark.slow
def test_the_live_stream_follows_a_growing_event_log_within_a_second(runs):
    folder = runs / "growing"
    folder.mkdir()
    (folder / "config.json").write_text((runs / "mlp-small" / "config.json").read_text())
    log = folder / "events.jsonl"
    log.write_text('{"event": "start", "epochs": 2, "batches_per_epoch": 3}\n')
    process, port, _ = start_studio(runs)
    received, lags = [], []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/api/runs/growing/events")
        response = connection.getresponse()
        assert response.getheader("content-type").startswith("text/event-stream")

        def read():
            for raw in response:
                line = raw.decode().rstrip("\n")
                if line.startswith("data: "):
                    received.append((time.monotonic(), json.loads(line[6:])))
                    if received[-1][1]["event"] == "end":
                        return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(0.5)
        for batch in range(3):
            written = time.monotonic()
            with open(log, "a") as file:  # half a line first: never sent half
                file.write('{"event": "batch", "epoch": 1, ')
                file.flush()
                time.sleep(0.3)
                file.write(f'"batch": {batch}, "loss": 1.0}}\n')
            while not any(e["event"] == "batch" and e["batch"] == batch for _, e in received):
                assert time.monotonic() - written < 5, received
                time.sleep(0.02)
            lags.append(next(t for t, e in received if e.get("batch") == batch) - written - 0.3)
        with open(log, "a") as file:
            file.write('{"event": "end", "stopped_reason": "completed", "epochs_run": 1}\n')
        reader.join(timeout=5)
    finally:
        connection.close()
        stop(process)
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
    assert [e["event"] for _, e in received] == ["start", "batch", "batch", "batch", "end"]
    assert max(lags) < 1.0, lags


@pytest.mark.slow
def test_a_searchs_trials_stream_as_they_are_committed(runs):
    from tinygrad_mnist.data import prepare_images
    from tinygrad_mnist.data.by_name import synthetic_digits
    from tinygrad_mnist.experiments import grid_search

    data = synthetic_digits(n_train=200, n_test=40, seed=6)
    store = runs / "search-growing" / "results.sqlite"

    def slowly(row):  # one trial at a time, a moment apart, as a real search commits them
        time.sleep(0.6)

    search = threading.Thread(target=grid_search, kwargs=dict(
        space={"hidden_sizes": [[4], [8], [12]], "epochs": [1]},
        data=(prepare_images(data.train_images), data.train_labels), top_n=0, store=store,
        on_trial=slowly))
    process, port, _ = start_studio(runs)
    received = []
    try:
        search.start()
        deadline = time.monotonic() + 60
        while not store.exists():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/api/searches/search-growing/events")
        response = connection.getresponse()
        for raw in response:
            line = raw.decode().rstrip("\n")
            if line.startswith("data: "):
                received.append(len(json.loads(line[6:])["trials"]))
                if sum(received) == 3:
                    break
        connection.close()
    finally:
        search.join(timeout=60)
        stop(process)
    # The trials came in more than one message: the stream followed the store as it grew.
    assert sum(received) == 3 and len(received) >= 2, received
