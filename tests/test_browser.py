"""A real browser on the toy notebook: JupyterLab on loopback, Debian's chromium driven by
playwright. Moves the outlier slider and checks that the boundary figure is redrawn.

Runs when chromium and playwright are installed (`make test-browser` installs both), and is
skipped otherwise. The screenshot is kept in `outputs/browser/` for a person to look at.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (make test-browser)")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (make test-browser)"),
]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    """JupyterLab serving a scratch copy of the notebooks on 127.0.0.1, no token."""
    workdir = tmp_path_factory.mktemp("lab")
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(path, workdir / path.name)
    port = free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(workdir / ".jupyter"),
               JUPYTER_RUNTIME_DIR=str(workdir / ".runtime"))
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
         "--LabApp.expose_app_in_browser=True", f"--ServerApp.root_dir={workdir}", "--allow-root"],
        cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail("JupyterLab did not start on loopback within 60 s")
                time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=20)


def readout_value(readout) -> float:
    """A slider's displayed value (ipywidgets prints negatives with a Unicode minus)."""
    return float(readout.inner_text().replace("\u2212", "-"))


def test_outlier_slider_redraws_the_boundaries(lab_url):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{lab_url}/lab/tree/toy_outliers.ipynb")
        page.wait_for_function("window.jupyterapp && window.jupyterapp.shell.currentWidget"
                               " && window.jupyterapp.shell.currentWidget.sessionContext"
                               " && window.jupyterapp.shell.currentWidget.sessionContext.session",
                               timeout=90_000)
        page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")

        slider = page.locator(".widget-slider").first
        slider.wait_for(timeout=120_000)
        slider.scroll_into_view_if_needed()
        figure = page.locator("img.widget-image").first
        figure.wait_for(timeout=60_000)
        before = figure.get_attribute("src")

        readout = slider.locator(".widget-readout")
        old_value = readout_value(readout)
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(str(old_value + 2.0))
        page.keyboard.press("Enter")
        # the redraw may replace the <img> element, so look it up afresh each time
        page.wait_for_function(
            "src => { const img = document.querySelector('img.widget-image');"
            " return img !== null && img.getAttribute('src') !== src; }", arg=before, timeout=30_000)

        shots = ROOT / "outputs" / "browser"
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "toy_outliers_slider.png"))
        assert readout_value(readout) == pytest.approx(old_value + 2.0, abs=0.11)
        assert figure.get_attribute("src") != before
        browser.close()
