"""The studio's web app: the page, and the JSON API under /api/ that the page itself uses.

    GET  /api/runs                          one object per run: id, model, dataset,
                                            test_accuracy, epochs, status, ...
    GET  /api/runs/{id}                     the same, with config, history and test metrics
    POST /api/runs/{id}/predict             a PNG/JPEG body, or JSON {"pixels": rows in [0, 1]}
    GET  /api/runs/{id}/mistakes?n=24       the most confident mistakes on the test set
    GET  /api/runs/{id}/confusion/{t}/{p}   the test images of class t predicted as p
    GET  /api/runs/{id}/events              the run's event log as Server-Sent Events
    GET  /api/searches                      the result stores under RUNS_DIR
    GET  /api/searches/{id}                 a store's trials
    GET  /api/searches/{id}/events          its trials as Server-Sent Events, as they finish
    POST /api/autograd                      {"expression": ..., "values": ..., "shapes": ...}

docs/studio.md describes each answer. A request the studio cannot serve is a 4xx with
`{"error": "..."}`; an unexpected failure a 500 with `{"error": "internal error"}`, never
a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tinygrad_mnist.app.studio import expression
from tinygrad_mnist.app.studio.model_view import MAX_UPLOAD_BYTES, frame_pixels, frame_upload
from tinygrad_mnist.app.studio.models import RunModels
from tinygrad_mnist.app.studio.runs import RunsDirectory, StudioError
from tinygrad_mnist.app.studio.safety import LocalOnly

STATIC = Path(__file__).parent / "static"
# How often a live stream looks for new lines or trials: the page lags by at most this.
POLL_SECONDS = 0.2
# A comment line now and then keeps proxies and the browser from closing a quiet stream.
KEEPALIVE_SECONDS = 15.0
# The most bytes of an event log sent in one read (a long log arrives in pieces).
READ_CHUNK = 1 << 20
MAX_JSON_BODY = 8 * 2**20  # a 512x512 drawing as JSON numbers is about 4 MB
MAX_LISTED = 100  # test images in one answer

logger = logging.getLogger("tinygrad_mnist.app.studio")


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_body(request: Request, limit: int) -> bytes:
    """The request's body, refused (413) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise StudioError("Content-Length: expected a number of bytes")
        if int(declared) > limit:
            raise StudioError(f"body: {int(declared):,} bytes, at most {limit:,}", 413)
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise StudioError(f"body: more than {limit:,} bytes", 413)
            chunks.append(chunk)
    except ClientDisconnect:
        raise StudioError("body: the client went away", 400) from None
    return b"".join(chunks)


async def _json_body(request: Request, limit: int = MAX_JSON_BODY) -> dict:
    body = await _read_body(request, limit)
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise StudioError("body: not valid JSON") from None
    if not isinstance(data, dict):
        raise StudioError("body: expected a JSON object")
    return data


def _int_query(request: Request, name: str, default: int, low: int, high: int) -> int:
    text = request.query_params.get(name)
    if text is None:
        return default
    if not text.isdigit() or not low <= int(text) <= high:
        raise StudioError(f"{name}: expected an integer from {low} to {high}, got {text[:20]!r}")
    return int(text)


def create_app(runs_dir, *, allow_any_host: bool = False) -> Starlette:
    """The studio over the run folders under `runs_dir`.

    Requests whose Host (or, for a POST, Origin) is not this machine's loopback name are
    refused unless `allow_any_host` (the server was bound to another address on purpose).
    """
    runs = RunsDirectory(runs_dir)
    models = RunModels(runs)

    async def index(request):
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def list_runs(request):
        return JSONResponse(await run_in_threadpool(runs.runs))

    async def run_detail(request):
        return JSONResponse(await run_in_threadpool(runs.detail, request.path_params["run_id"]))

    async def predict(request):
        started = time.perf_counter()
        run_id = request.path_params["run_id"]
        runs.folder(run_id)  # an unknown run before the body is read
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/json":
            data = await _json_body(request)
            if "pixels" not in data:
                raise StudioError('body: expected {"pixels": rows of numbers in [0, 1]}')
            make_framing = lambda: frame_pixels(data["pixels"])  # noqa: E731
        elif kind in ("image/png", "image/jpeg", "application/octet-stream"):
            body = await _read_body(request, MAX_UPLOAD_BYTES)
            suffix = ".jpg" if kind == "image/jpeg" else ".png"
            make_framing = lambda: frame_upload(body, suffix)  # noqa: E731
        else:
            raise StudioError(f"Content-Type: expected image/png, image/jpeg or "
                              f"application/json, got {kind[:60]!r}", 415)

        def work():
            view = models.view(run_id)
            return view.look(make_framing())

        answer = await run_in_threadpool(work)
        answer["milliseconds"] = round((time.perf_counter() - started) * 1000, 2)
        return JSONResponse(answer)

    def _images(evaluation, chosen) -> dict:
        predictions = evaluation["probabilities"].argmax(axis=1)
        return {"class_names": evaluation["class_names"], "images": [{
            "index": int(i), "label": int(evaluation["labels"][i]),
            "prediction": int(predictions[i]),
            "confidence": round(float(evaluation["probabilities"][i].max()), 4),
            "pixels": evaluation["images"][i].tolist()} for i in chosen]}

    async def mistakes(request):
        from tinygrad_mnist.train.metrics import confident_mistakes

        run_id = request.path_params["run_id"]
        n = _int_query(request, "n", 24, 1, MAX_LISTED)

        def work():
            evaluation = models.evaluation(run_id)
            chosen = confident_mistakes(evaluation["labels"], evaluation["probabilities"])[:n]
            return _images(evaluation, chosen)

        return JSONResponse(await run_in_threadpool(work))

    async def confusion_cell(request):
        run_id = request.path_params["run_id"]
        n = _int_query(request, "n", 48, 1, MAX_LISTED)
        true_class, predicted = (request.path_params[name] for name in ("true", "predicted"))

        def work():
            evaluation = models.evaluation(run_id)
            classes = evaluation["probabilities"].shape[1]
            if not (0 <= true_class < classes and 0 <= predicted < classes):
                raise StudioError(f"class: expected 0 to {classes - 1}", 404)
            hits = np.flatnonzero((evaluation["labels"] == true_class)
                                  & (evaluation["probabilities"].argmax(axis=1) == predicted))
            return {**_images(evaluation, hits[:n]), "count": int(len(hits))}

        return JSONResponse(await run_in_threadpool(work))

    async def run_events(request):
        path = await run_in_threadpool(runs.events_file, request.path_params["run_id"])
        follow = request.query_params.get("follow", "1") != "0"
        return StreamingResponse(_follow_log(request, path, follow),
                                 media_type="text/event-stream", headers=_STREAM_HEADERS)

    async def list_searches(request):
        return JSONResponse(await run_in_threadpool(runs.searches))

    async def search_detail(request):
        search_id = request.path_params["search_id"]
        rows, last = await run_in_threadpool(runs.search_rows, search_id)
        return JSONResponse({"id": search_id, "trials": rows, "last": last})

    async def search_events(request):
        search_id = request.path_params["search_id"]
        await run_in_threadpool(runs.store, search_id)
        follow = request.query_params.get("follow", "1") != "0"
        return StreamingResponse(_follow_store(request, runs, search_id, follow),
                                 media_type="text/event-stream", headers=_STREAM_HEADERS)

    async def autograd(request):
        data = await _json_body(request, 64 * 1024)
        unknown = set(data) - {"expression", "values", "shapes", "seed"}
        if unknown:
            raise StudioError(f"body: unknown field {sorted(unknown)[0]!r} (expected "
                              "expression, values, shapes, seed)")
        answer = await run_in_threadpool(
            expression.trace, data.get("expression"), data.get("values"), data.get("shapes"),
            data.get("seed", 0))
        return JSONResponse(answer)

    async def studio_error(request, error: StudioError):
        return _error(error.status, str(error))

    async def http_error(request, error: HTTPException):
        message = {404: "not found", 405: "method not allowed"}.get(error.status_code,
                                                                     str(error.detail))
        return _error(error.status_code, f"{message}: {request.method} {request.url.path}"[:200])

    async def internal_error(request, error: Exception):
        logger.exception("studio: %s %s failed", request.method, request.url.path)
        return _error(500, "internal error (the server's log has the details)")

    routes = [
        Route("/", index),
        Route("/api/runs", list_runs),
        Route("/api/runs/{run_id}", run_detail),
        Route("/api/runs/{run_id}/predict", predict, methods=["POST"]),
        Route("/api/runs/{run_id}/mistakes", mistakes),
        Route("/api/runs/{run_id}/confusion/{true:int}/{predicted:int}", confusion_cell),
        Route("/api/runs/{run_id}/events", run_events),
        Route("/api/searches", list_searches),
        Route("/api/searches/{search_id}", search_detail),
        Route("/api/searches/{search_id}/events", search_events),
        Route("/api/autograd", autograd, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC, follow_symlink=False), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={
        StudioError: studio_error, HTTPException: http_error, Exception: internal_error})
    app.add_middleware(LocalOnly, allow_any_host=allow_any_host)
    return app


_STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _sse(data: str) -> str:
    return f"data: {data}\n\n"


async def _follow_log(request: Request, path: Path, follow: bool):
    """Each complete line of the event log at `path` as an SSE message, then (if `follow`)
    each line appended later, until the client goes away."""
    position, pending, quiet_since = 0, b"", time.monotonic()
    yield "retry: 1000\n\n"
    while True:
        try:
            size = path.stat().st_size
        except OSError:
            size = 0
        if size < position:  # the log was replaced: start again
            position, pending = 0, b""
            yield "event: reset\ndata: {}\n\n"
        if size > position:
            with open(path, "rb") as file:
                file.seek(position)
                chunk = file.read(READ_CHUNK)
            position += len(chunk)
            *lines, pending = (pending + chunk).split(b"\n")
            sent = [line.decode("utf-8", "replace") for line in lines if line.strip()]
            for line in sent:
                yield _sse(line)
            if sent:
                quiet_since = time.monotonic()
            if position < size:
                continue  # more to read now
        if not follow:
            return
        if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS)


async def _follow_store(request: Request, runs: RunsDirectory, search_id: str, follow: bool):
    """The trials of a store as SSE messages `{"trials": [...]}`, new ones as they commit."""
    last, quiet_since = 0, time.monotonic()
    yield "retry: 1000\n\n"
    while True:
        try:
            rows, last = await run_in_threadpool(runs.search_rows, search_id, last)
        except StudioError as error:  # busy or replaced: say so and try again
            rows = []
            yield f"event: problem\ndata: {json.dumps({'error': str(error)})}\n\n"
        if rows:
            quiet_since = time.monotonic()
            yield _sse(json.dumps({"trials": rows}))
        if not follow:
            return
        if time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        if await request.is_disconnected():
            return
        await asyncio.sleep(POLL_SECONDS * 2.5)
