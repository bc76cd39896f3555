"""The studio's page in a real headless Chromium (Debian's), driven by Playwright.

The studio runs as users start it (`tinygrad-mnist studio`, a subprocess on a free
port); the page is used as a user would: draw a digit with mouse strokes, switch runs,
open a run's page, watch a `train` started here appear and finish in the Live view,
step through backward in the Autograd view. Any error in the browser's console (a
failed request, an exception in the page) fails the test.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")

from support.studio import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    make_runs,
    png_bytes,
    start_studio,
    stop_studio,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"needs Debian's chromium at {CHROMIUM} (.ci/run installs it)"),
]
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("studio-browser"))


@pytest.fixture(scope="module")
def studio(runs):
    process, port, _ = start_studio(runs)
    yield f"http://127.0.0.1:{port}"
    code, err = stop_studio(process)
    assert code == 0 and "Traceback" not in err, err


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser, studio):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = []
    page.on("console", lambda message: problems.append(f"console: {message.text}")
            if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.set_default_timeout(WAIT_MS)
    page.studio = studio
    yield page
    context.close()  # closes the live streams before the server goes
    assert problems == []


def api(studio: str, path: str, body: bytes | None = None, kind: str = "image/png"):
    request = urllib.request.Request(studio + path, data=body,
                                     headers={"Content-Type": kind} if body else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def draw_seven(page):
    """Mouse strokes on the canvas: a bar across the top, then down to the left."""
    box = page.get_by_test_id("draw-canvas").bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 70, y + 60)
    page.mouse.down()
    for step in range(1, 13):
        page.mouse.move(x + 70 + step * 12, y + 60)
    for step in range(1, 16):
        page.mouse.move(x + 214 - step * 6, y + 60 + step * 12)
    page.mouse.up()


def canvas_png(page) -> bytes:
    """The drawing as the page sends it: scaled to 112x112 (draw.js), as a PNG."""
    url = page.eval_on_selector("[data-testid=draw-canvas]", """c => {
        const small = document.createElement('canvas'); small.width = small.height = 112;
        const context = small.getContext('2d'); context.imageSmoothingQuality = 'high';
        context.drawImage(c, 0, 0, 112, 112); return small.toDataURL('image/png'); }""")
    return base64.b64decode(url.split(",", 1)[1])


def wait_for_answer_of(page, run_id: str, timeout: float = 20):
    """The API's answer for what is drawn now, once the page shows the same prediction.

    The page sends a request per stroke, and the last one answers the finished drawing."""
    deadline = time.monotonic() + timeout
    while True:
        expected = api(page.studio, f"/api/runs/{run_id}/predict", canvas_png(page))
        shown = page.get_by_test_id("prediction").text_content()
        bars = page.locator("[data-testid=probabilities] .num").all_text_contents()
        wanted = [100 * p for p in expected["probabilities"]]
        close = len(bars) == 10 and all(  # shown to 0.1 (JavaScript rounds half up)
            abs(float(bar.rstrip("%")) - value) <= 0.05 + 1e-9 for bar, value in zip(bars, wanted))
        if shown == str(expected["class"]) and close:
            return expected
        assert time.monotonic() < deadline, f"{shown} {expected['class']} {bars} {wanted}"
        page.wait_for_timeout(200)


def test_drawing_a_digit_shows_the_models_answer_and_switching_runs_rescores_it(page):
    page.goto(page.studio + "/#draw")
    select = page.get_by_test_id("run-select")
    select.select_option("mlp-small")
    draw_seven(page)
    expected = wait_for_answer_of(page, "mlp-small")
    assert page.locator("[data-testid=probabilities] .bar").count() == 10
    # The model's input (white ink on black) and the saliency map (red and blue on white)
    # are drawn: 28x28 canvases, partly inked.
    for testid, inked in (("model-input", "d[i] > 40"),
                          ("saliency", "Math.min(d[i], d[i + 1], d[i + 2]) < 160")):
        lit = page.eval_on_selector(f"[data-testid={testid}]", """c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let lit = 0; for (let i = 0; i < d.length; i += 4) lit += (INKED) ? 1 : 0;
            return [c.width, c.height, lit]; }""".replace("INKED", inked))
        assert lit[:2] == [28, 28] and 10 < lit[2] < 700, (testid, lit)
    layers = page.locator("#activations .layer h3").all_text_contents()
    assert len(layers) == len(expected["activations"]) == 2
    # Another run's model scores the same drawing.
    select.select_option("cnn-small")
    wait_for_answer_of(page, "cnn-small")
    assert page.locator("#activations .maps canvas").count() >= 2 + 2
    page.get_by_test_id("clear").click()
    assert page.get_by_test_id("prediction").text_content() == "–"


def test_an_uploaded_image_is_framed_and_scored_as_predict_does(page, tmp_path):
    # A scan-like picture: a dark "1" on light paper, larger than MNIST, as a user's file.
    picture = np.full((90, 60), 0.9)
    picture[15:75, 27:35] = 0.1
    path = tmp_path / "one.png"
    path.write_bytes(png_bytes(picture))
    page.goto(page.studio + "/#draw")
    page.get_by_test_id("run-select").select_option("mlp-two")
    page.locator("#upload").set_input_files(str(path))
    expected = api(page.studio, "/api/runs/mlp-two/predict", path.read_bytes())
    page.get_by_test_id("prediction").filter(has_text=str(expected["class"])).wait_for()
    shown = page.locator("[data-testid=probabilities] .num").all_text_contents()
    assert [float(p.rstrip("%")) for p in shown] == pytest.approx(
        [100 * p for p in expected["probabilities"]], abs=0.051)


def test_the_run_list_opens_a_runs_page_and_compares_runs(page, runs):
    page.goto(page.studio + "/#runs")
    rows = page.locator("[data-testid=run-list] [data-run-id]")
    rows.first.wait_for()
    assert sorted(rows.evaluate_all("rows => rows.map(r => r.dataset.runId)")) == [
        "cnn-small", "mlp-small", "mlp-two"]
    page.locator("[data-run-id=mlp-small]").click()
    page.wait_for_url("**#runs/mlp-small")
    curves = page.get_by_test_id("learning-curves")
    curves.locator("path[data-series=validation]").first.wait_for()
    assert curves.locator("svg").count() == 2
    # The accuracy chart's axis reads in percent, as every accuracy in the studio does.
    ticks = curves.locator("svg").nth(1).locator("text").all_text_contents()
    assert any(tick.endswith("%") for tick in ticks)
    # A confusion cell off the diagonal lists exactly its test images.
    metrics = json.loads((runs / "mlp-small" / "metrics.json").read_text())
    matrix = metrics["confusion_matrix"]
    t, p = next((t, p) for t in range(10) for p in range(10) if t != p and matrix[t][p])
    page.locator(f"#confusion td[data-true='{t}'][data-predicted='{p}']").click()
    gallery = page.get_by_test_id("gallery")
    page.wait_for_function(
        f"document.querySelector('#cell-title').textContent.includes('predicted as {p}')")
    gallery.locator("figure").first.wait_for()
    assert gallery.locator("figure").count() == min(matrix[t][p], 48)
    # Two runs ticked: both on one chart.
    for run_id in ("mlp-small", "mlp-two"):
        page.locator(f"[data-run-id={run_id}] input[type=checkbox]").check()
    chart = page.get_by_test_id("compare-chart")
    chart.locator("path[data-series='mlp-two validation accuracy']").wait_for()
    assert chart.locator("path[data-series='mlp-small validation accuracy']").count() == 1


def test_the_live_view_follows_a_train_started_while_it_watches(page, runs):
    page.goto(page.studio + "/#live")
    status = page.get_by_test_id("live-status")
    status.wait_for()
    train = subprocess.Popen(
        [sys.executable, "-m", "tinygrad_mnist", "-q", "train", "--dataset", "synthetic",
         "--hidden", "1024,1024", "--batch-size", "32", "--epochs", "6", "--out",
         str(runs / "live-run")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        seen_running = set()
        deadline = time.monotonic() + 120
        while True:
            text = status.text_content()
            state = status.get_attribute("data-state")
            if text.startswith("run live-run") and state == "running":
                seen_running.add(status.get_attribute("data-batches"))
            if text.startswith("run live-run") and state == "ended":
                break
            assert time.monotonic() < deadline, (text, state)
            page.wait_for_timeout(100)
        _, err = train.communicate(timeout=120)
        assert train.returncode == 0, err
    finally:
        if train.poll() is None:
            train.kill()
            train.communicate()
    # It watched the run grow (more than one batch count while running), then its end.
    assert len(seen_running) >= 2, seen_running
    assert "completed after 6 epochs" in status.text_content()
    assert status.get_attribute("data-epochs") == "6"
    events = (runs / "live-run" / "events.jsonl").read_text().splitlines()
    batches = sum(json.loads(line)["event"] == "batch" for line in events)
    assert status.get_attribute("data-batches") == str(batches)
    chart = page.get_by_test_id("live-epochs")
    assert chart.locator("path[data-series='validation accuracy']").count() == 1
    # The search below: its trials ranked, and the heat map (2 architectures x 2 rates).
    page.get_by_test_id("search-status").filter(has_text="4 trials finished").wait_for()
    assert page.locator("#search-ranking tr").count() == 4
    assert page.get_by_test_id("search-heatmap").locator("rect").count() == 4


def test_autograd_steps_through_backward_node_by_node(page):
    page.goto(page.studio + "/#autograd")
    page.get_by_test_id("autograd-input").fill("(a * b + a).sum()")
    page.locator("#autograd-values").fill("a = [[1, 2], [3, 4]]; b = [[0.5, -1], [2, 0]]")
    page.locator("#autograd-build").click()
    graph = page.get_by_test_id("autograd-graph")
    status = page.get_by_test_id("autograd-status")
    page.wait_for_function(
        "document.querySelector('[data-testid=autograd-status]').dataset.step === '0'")
    assert graph.locator("g.node").count() == 5
    shown = "nodes => nodes.filter(n => n.dataset.gradShown === 'yes').map(n => n.dataset.label)"
    assert graph.locator("g.node").evaluate_all(shown) == []
    expected = [(["Sum"], "Sum.backward"), (["Sum", "Add"], "Add.backward"),
                (["Sum", "Add", "Mul", "a", "b"], "Mul.backward")]
    for step, (labels, fragment) in enumerate(expected, start=1):
        page.get_by_test_id("autograd-step").click()
        page.wait_for_function(
            f"document.querySelector('[data-testid=autograd-status]').dataset.step === '{step}'")
        assert sorted(graph.locator("g.node").evaluate_all(shown)) == sorted(labels)
        assert fragment in status.text_content()
    a = graph.locator("g.node[data-label=a] text.grad").all_text_contents()
    assert a == ["grad [1.5, 0]", "     [3, 1]"]  # b + 1
    assert page.get_by_test_id("autograd-step").is_disabled()
