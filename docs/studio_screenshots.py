"""Take the screenshots of docs/studio.md: each view of the studio in Debian's chromium.

    python docs/studio_screenshots.py RUNS_DIR [--out docs/images]

RUNS_DIR should hold real MNIST runs, as docs/studio.md describes them: `mlp-default`
(`tinygrad-mnist train --out RUNS_DIR/mlp-default`), `cnn-2-epochs`, a few other MLPs
and a search (`small-grid`). The Live view's screenshot is taken while a `train` on
MNIST that this script starts (into RUNS_DIR/live-demo, removed afterwards) is running.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def draw_seven(page) -> None:
    box = page.get_by_test_id("draw-canvas").bounding_box()
    x, y = box["x"], box["y"]
    page.mouse.move(x + 75, y + 65)
    page.mouse.down()
    for step in range(1, 13):
        page.mouse.move(x + 75 + step * 11, y + 62 - step * 0.4)
    for step in range(1, 17):
        page.mouse.move(x + 207 - step * 5, y + 58 + step * 12)
    page.mouse.up()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "images")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = subprocess.Popen([sys.executable, "-m", "tinygrad_mnist", "studio",
                               str(args.runs_dir), "--port", "0", "--no-browser"],
                              stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip().split(" ", 1)[1]
    live = args.runs_dir / "live-demo"
    train = None
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.on("console", lambda m: print("console:", m.text) if m.type == "error" else None)

            page.goto(url + "#draw")
            page.get_by_test_id("run-select").select_option("mlp-default")
            draw_seven(page)
            page.wait_for_timeout(1500)
            page.screenshot(path=args.out / "studio-draw.png")
            page.get_by_test_id("run-select").select_option("cnn-2-epochs")
            page.wait_for_timeout(2000)
            page.screenshot(path=args.out / "studio-draw-cnn.png", full_page=True)

            page.goto(url + "#runs/mlp-default")
            page.locator("#confusion td[data-true='7'][data-predicted='2']").click()
            page.wait_for_timeout(2500)
            page.screenshot(path=args.out / "studio-run.png", full_page=True)
            for run_id in ("mlp-default", "mlp-100-sigmoid", "mlp-32-slow"):
                page.locator(f"[data-run-id={run_id}] input[type=checkbox]").check()
            page.wait_for_timeout(1500)
            page.get_by_test_id("compare-chart").scroll_into_view_if_needed()
            page.evaluate("window.scrollTo(0, 0)")
            chart = page.locator("#compare-panel").bounding_box()
            page.screenshot(path=args.out / "studio-compare.png", full_page=True, clip={
                "x": 0, "y": 0, "width": 1280, "height": chart["y"] + chart["height"] + 16})

            shutil.rmtree(live, ignore_errors=True)
            train = subprocess.Popen([sys.executable, "-m", "tinygrad_mnist", "-q", "train",
                                      "--hidden", "100", "--epochs", "12", "--out", str(live)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            page.goto(url + "#live")
            status = page.get_by_test_id("live-status")
            deadline = time.monotonic() + 300
            while not (status.text_content().startswith("run live-demo")
                       and status.get_attribute("data-epochs") == "4"):
                if time.monotonic() > deadline:
                    raise SystemExit(f"the live run did not get going: {status.text_content()}")
                page.wait_for_timeout(100)
            page.wait_for_timeout(600)  # part of the next epoch
            page.screenshot(path=args.out / "studio-live.png", full_page=True)
            train.send_signal(signal.SIGINT)  # enough for the picture

            page.goto(url + "#autograd")
            page.get_by_test_id("autograd-input").fill("relu(w @ x + b).sum()")
            page.locator("#autograd-values").fill(
                "w = [[1, -2], [0.5, 1]]; x = [[1], [2]]; b = [[0.5], [-1]]")
            page.locator("#autograd-build").click()
            page.wait_for_timeout(800)
            for _ in range(3):
                page.get_by_test_id("autograd-step").click()
            page.wait_for_timeout(500)
            page.screenshot(path=args.out / "studio-autograd.png")
            browser.close()
    finally:
        if train is not None:
            train.wait(timeout=600)
            shutil.rmtree(live, ignore_errors=True)
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
