"""The studio's JSON API, called in-process through Starlette's TestClient (no socket).

Run folders are made by the real `train` command on synthetic digits. Every answer is
checked against what the library computes on its own (framing, probabilities, saliency,
gradients), every refusal is a 4xx JSON error, and nothing under RUNS_DIR changes.
"""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
import pytest

pytest.importorskip("starlette")  # the [studio] extra; the test extra always has it

from starlette.testclient import TestClient  # noqa: E402
from support.studio import make_runs, png_bytes, snapshot, stroke_image  # noqa: E402

from tinygrad_mnist import predict_proba  # noqa: E402
from tinygrad_mnist.app.predict import model_inputs  # noqa: E402
from tinygrad_mnist.app.run_folder import load_run_model  # noqa: E402
from tinygrad_mnist.app.studio import api as studio_api  # noqa: E402
from tinygrad_mnist.app.studio.api import create_app  # noqa: E402
from tinygrad_mnist.data.images import frame_digit  # noqa: E402
from tinygrad_mnist.viz.saliency import saliency_maps  # noqa: E402

LOCAL = "http://127.0.0.1:8765"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("studio"))


@pytest.fixture()
def client(runs):
    with TestClient(create_app(runs), base_url=LOCAL) as client:
        yield client


def assert_error(response, status, *fragments):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert "Traceback" not in response.text
    for fragment in fragments:
        assert fragment in message, message


# ------------------------------------------------------------------------ runs
def test_runs_lists_every_run_folder_with_its_figures_and_status(client, runs):
    listed = {run["id"]: run for run in client.get("/api/runs").json()}
    assert set(listed) == {"mlp-small", "mlp-two", "cnn-small"}  # not the search folder
    metrics = json.loads((runs / "mlp-small" / "metrics.json").read_text())
    run = listed["mlp-small"]
    assert run["test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert (run["model"], run["kind"], run["dataset"]) == ("mlp 32", "mlp", "synthetic")
    assert (run["epochs"], run["max_epochs"], run["status"]) == (3, 3, "completed")
    assert listed["cnn-small"]["model"] == "cnn conv 2-4, dense 8"


def test_a_run_in_detail_has_its_history_config_and_confusion_matrix(client, runs):
    detail = client.get("/api/runs/mlp-two").json()
    history = json.loads((runs / "mlp-two" / "history.json").read_text())
    assert detail["history"]["val_accuracy"] == history["val_accuracy"]
    assert detail["config"]["hidden_sizes"] == [64, 32]
    matrix = np.array(detail["metrics"]["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == detail["metrics"]["test_images"]


def test_the_train_command_writes_the_event_log_the_live_view_reads(client, runs):
    lines = (runs / "mlp-small" / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert events[0]["event"] == "start" and events[-1] == {**events[-1], "event": "end",
                                                           "stopped_reason": "completed"}
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2, 3]
    stream = client.get("/api/runs/mlp-small/events?follow=0")
    assert stream.headers["content-type"].startswith("text/event-stream")
    sent = [line[len("data: "):] for line in stream.text.splitlines()
            if line.startswith("data: ")]
    assert sent == lines


# --------------------------------------------------------------------- predict
@pytest.mark.parametrize("run_id", ["mlp-small", "cnn-small"])
def test_predict_answers_what_the_library_computes(client, runs, run_id):
    drawing = stroke_image(112)
    answer = client.post(f"/api/runs/{run_id}/predict",
                         json={"pixels": drawing.tolist()}).json()
    framed = frame_digit(drawing * 255)
    assert np.array_equal(np.round(np.array(answer["input"]) * 255), framed)
    model, _ = load_run_model(runs / run_id)
    x = model_inputs(model, framed[None])
    expected = predict_proba(model, x)[0]
    assert np.allclose(answer["probabilities"], expected, atol=1e-4)
    assert answer["class"] == int(expected.argmax())
    gradients, _ = saliency_maps(model, x)  # SmoothGrad, as `show --saliency` draws it
    assert np.allclose(answer["saliency"], gradients.reshape(28, 28), atol=1e-4)
    assert answer["saliency_max"] == pytest.approx(np.abs(gradients).max(), rel=1e-3)
    stages = list(answer["activations"].values())
    assert stages[-1]["shape"] == [10] and stages[-1]["kind"] == "vector"
    if run_id == "cnn-small":
        assert [s["shape"] for s in stages if s["kind"] == "maps"][:2] == [[2, 28, 28],
                                                                           [2, 14, 14]]
    else:
        assert [s["shape"] for s in stages] == [[32], [10]]


def test_a_png_body_and_json_pixels_of_the_same_drawing_agree(client):
    drawing = stroke_image(140)
    from_png = client.post("/api/runs/mlp-small/predict", content=png_bytes(drawing),
                           headers={"content-type": "image/png"}).json()
    from_json = client.post("/api/runs/mlp-small/predict",
                            json={"pixels": (np.round(drawing * 255) / 255).tolist()}).json()
    assert from_png["input"] == from_json["input"]
    assert from_png["probabilities"] == from_json["probabilities"]


def _png_declaring(width: int, height: int) -> bytes:
    """A 1x1 PNG whose header claims `width` x `height` pixels (a decompression bomb's)."""
    data = bytearray(png_bytes(np.zeros((1, 1))))
    header = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = header
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + header))
    return bytes(data)


@pytest.mark.parametrize("body, kind, status, fragment", [
    (b"not an image", "image/png", 415, "PNG or JPEG"),
    (_png_declaring(30000, 30000), "image/png", 413, "too large: 900 MP"),
    (_png_declaring(8000, 8000), "image/png", 413, "too large: 64 MP"),
    (_png_declaring(2000, 2000), "image/png", 400, "damaged or truncated"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "image/png", 415, "PNG or JPEG"),
    (b"x" * (8 * 2**20 + 1), "image/png", 413, "at most"),
    (b"{}", "application/json", 400, "pixels"),
    (b"{not json", "application/json", 400, "not valid JSON"),
    (b'{"pixels": [[2, 0], [0, 0]]}', "application/json", 400, "[0, 1]"),
    (b'{"pixels": [[0.5, 0], [0]]}', "application/json", 400, "equal length"),
    (b'{"pixels": "abc"}', "application/json", 400, "rows"),
    (b'{"pixels": [[0, 0], [0, 0]]}', "application/json", 422, "blank"),
    (b"[" * 100000, "application/json", 400, "JSON"),
    (b"", "text/plain", 415, "Content-Type"),
])
def test_predict_refuses_what_it_cannot_serve_with_a_json_error(client, body, kind, status,
                                                                fragment):
    response = client.post("/api/runs/mlp-small/predict", content=body,
                           headers={"content-type": kind})
    assert_error(response, status, fragment)
    assert "tinygrad-mnist-studio-" not in response.text  # the upload's temporary file


# --------------------------------------------------------- confusion, mistakes
def test_a_confusion_cell_lists_exactly_its_test_images(client, runs):
    matrix = client.get("/api/runs/mlp-small").json()["metrics"]["confusion_matrix"]
    true_class, predicted = next((t, p) for t in range(10) for p in range(10)
                                 if t != p and matrix[t][p])
    cell = client.get(f"/api/runs/mlp-small/confusion/{true_class}/{predicted}").json()
    assert cell["count"] == matrix[true_class][predicted]
    assert {(i["label"], i["prediction"]) for i in cell["images"]} == {(true_class, predicted)}
    assert np.array(cell["images"][0]["pixels"]).shape == (28, 28)
    mistakes = client.get("/api/runs/mlp-small/mistakes?n=5").json()["images"]
    assert len(mistakes) == 5 and all(m["label"] != m["prediction"] for m in mistakes)
    confidences = [m["confidence"] for m in mistakes]
    assert confidences == sorted(confidences, reverse=True)
    assert_error(client.get("/api/runs/mlp-small/confusion/10/0"), 404, "class")
    assert_error(client.get("/api/runs/mlp-small/mistakes?n=0"), 400, "n:")


# ------------------------------------------------------------------- searches
def test_a_searchs_trials_are_listed_and_streamed(client):
    assert client.get("/api/searches").json() == [
        {"id": "search-small", "trials": 4, "best_val_accuracy": pytest.approx(
            max(t["val_accuracy"] for t in client.get("/api/searches/search-small")
                .json()["trials"]))}]
    trials = client.get("/api/searches/search-small").json()["trials"]
    assert sorted((t["hidden_sizes"], t["learning_rate"]) for t in trials) == [
        ([8], 0.1), ([8], 0.3), ([16], 0.1), ([16], 0.3)]
    stream = client.get("/api/searches/search-small/events?follow=0").text
    sent = [json.loads(line[6:]) for line in stream.splitlines() if line.startswith("data: ")]
    assert [len(message["trials"]) for message in sent] == [4]
    assert_error(client.get("/api/searches/mlp-small"), 404, "results.sqlite")


# ------------------------------------------------------------------- autograd
def test_autograd_gives_the_engines_values_and_gradients():
    with TestClient(create_app("."), base_url=LOCAL) as client:
        answer = client.post("/api/autograd", json={
            "expression": "(a * b + a).sum()",
            "values": {"a": [[1, 2], [3, 4]], "b": [[0.5, -1], [2, 0]]}}).json()
    nodes = {node["label"]: node for node in answer["nodes"]}
    assert nodes["Sum"]["value"] == 14.5
    assert nodes["a"]["grad"] == [[1.5, 0.0], [3.0, 1.0]]  # b + 1
    assert nodes["b"]["grad"] == [[1.0, 2.0], [3.0, 4.0]]  # a
    assert nodes["Add"]["grad"] == [[1.0, 1.0], [1.0, 1.0]]
    assert [answer["nodes"][s["node"]]["label"] for s in answer["steps"]] == ["Sum", "Add", "Mul"]


def test_the_studio_refuses_foreign_hosts_and_origins_and_unknown_routes(runs):
    with TestClient(create_app(runs), base_url="http://evil.example") as client:
        assert_error(client.get("/api/runs"), 403, "Host")
    with TestClient(create_app(runs), base_url=LOCAL) as client:
        assert_error(client.post("/api/autograd", json={"expression": "a.sum()"},
                                 headers={"origin": "https://evil.example"}), 403, "Origin")
        assert client.post("/api/autograd", json={"expression": "a.sum()"},
                           headers={"origin": LOCAL}).status_code == 200
        assert_error(client.get("/api/nothing"), 404, "not found")
        assert_error(client.delete("/api/runs"), 405, "method")
        page = client.get("/")
        assert "data-testid=\"draw-canvas\"" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
    with TestClient(create_app(runs, allow_any_host=True), base_url="http://evil.example") \
            as client:
        assert client.get("/api/runs").status_code == 200  # --host chosen on purpose


@pytest.mark.parametrize("path, status", [
    ("/api/runs/..", 404), ("/api/runs/%2e%2e", 400), ("/api/runs/.hidden", 400),
    ("/api/runs/%2Fetc%2Fpasswd", 404), ("/api/runs/a%00b", 400), ("/api/runs/nope", 404),
    ("/api/runs/search-small", 404), ("/static/../api.py", 404), ("/static/%2e%2e/api.py", 404),
    ("/api/runs/" + "a" * 300, 400), ("/api/runs/mlp-small/events/x", 404),
])
def test_ids_and_paths_never_leave_the_runs_folder(client, path, status):
    response = client.get(path)
    assert_error(response, status)
    assert "def create_app" not in response.text


def test_a_symlink_out_of_the_runs_folder_is_neither_listed_nor_read(runs, tmp_path):
    outside = tmp_path / "outside-run"
    outside.mkdir()
    for name in ("config.json", "model.npz", "history.json"):
        (outside / name).write_bytes((runs / "mlp-small" / name).read_bytes())
    (runs / "escape").symlink_to(outside, target_is_directory=True)
    linked = runs / "linked-model"
    linked.mkdir()
    (linked / "config.json").write_bytes((runs / "mlp-small" / "config.json").read_bytes())
    (linked / "model.npz").symlink_to(outside / "model.npz")
    try:
        with TestClient(create_app(runs), base_url=LOCAL) as client:
            ids = {run["id"] for run in client.get("/api/runs").json()}
            assert "escape" not in ids and "linked-model" in ids
            assert_error(client.get("/api/runs/escape"), 404)
            assert_error(client.post("/api/runs/escape/predict",
                                     json={"pixels": stroke_image(28).tolist()}), 404)
            # A model file that links out of RUNS_DIR is not read: as if it were missing.
            assert not client.get("/api/runs/linked-model").json()["has_model"]
            assert_error(client.post("/api/runs/linked-model/predict",
                                     json={"pixels": stroke_image(28).tolist()}), 409,
                         "no model")
    finally:
        (runs / "escape").unlink()
        (linked / "model.npz").unlink()
        (linked / "config.json").unlink()
        linked.rmdir()


def test_an_unexpected_failure_is_a_json_500_without_a_traceback(runs, monkeypatch):
    def broken(self):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(studio_api.RunsDirectory, "runs", broken)
    with TestClient(create_app(runs), base_url=LOCAL, raise_server_exceptions=False) as client:
        response = client.get("/api/runs")
    assert_error(response, 500, "internal error")
    assert "secret detail" not in response.text


def test_the_studio_never_writes_into_the_runs_folder(runs):
    before = snapshot(runs)
    with TestClient(create_app(runs), base_url=LOCAL) as client:
        for run_id in ("mlp-small", "cnn-small", "mlp-two"):
            client.get(f"/api/runs/{run_id}")
            client.post(f"/api/runs/{run_id}/predict", json={"pixels": stroke_image(28).tolist()})
            client.get(f"/api/runs/{run_id}/mistakes")
            client.get(f"/api/runs/{run_id}/events?follow=0")
        client.get("/api/searches")
        client.get("/api/searches/search-small/events?follow=0")
    assert snapshot(runs) == before
    assert not [p for p in runs.rglob("*") if p.name.endswith(("-journal", "-wal"))]


def test_an_empty_or_missing_runs_folder_lists_nothing(tmp_path):
    with TestClient(create_app(tmp_path / "not-yet"), base_url=LOCAL) as client:
        assert client.get("/api/runs").json() == []
        assert client.get("/api/searches").json() == []
    assert not (tmp_path / "not-yet").exists()


def test_a_run_still_training_is_running_and_its_model_not_yet_servable(runs, tmp_path):
    folder = runs / "in-progress"
    folder.mkdir()
    try:
        (folder / "config.json").write_text((runs / "mlp-small" / "config.json").read_text())
        (folder / "events.jsonl").write_text(
            '{"event": "start", "epochs": 3, "batches_per_epoch": 8}\n'
            '{"event": "batch", "epoch": 2, "batch": 0, "loss": 1.0}\n')
        with TestClient(create_app(runs), base_url=LOCAL) as client:
            run = client.get("/api/runs/in-progress").json()
            assert (run["status"], run["epochs"], run["has_model"]) == ("running", 1, False)
            assert_error(client.post("/api/runs/in-progress/predict",
                                     json={"pixels": stroke_image(28).tolist()}), 409,
                         "no model yet")
        old = 1_000_000_000
        os.utime(folder / "events.jsonl", (old, old))
        with TestClient(create_app(runs), base_url=LOCAL) as client:
            assert client.get("/api/runs/in-progress").json()["status"] == "stopped"
    finally:
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
