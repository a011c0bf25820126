"""The HTML report rendered by real headless Chromium: title, KPI table, every chart drawn, no errors.

Chromium is driven over the DevTools protocol through a pipe (``--remote-debugging-pipe``: JSON
messages separated by NUL bytes on file descriptors 3 and 4), so no websocket package is needed.
Debian: ``apt-get install -y chromium``; the README's test command ``.ci/test`` installs it when it
is missing and it can (root or password-less sudo). Without Chromium the test fails and says so.
"""

from __future__ import annotations

import base64
import io
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from mobisim.results.report import write_report
from test_kpis_sample import META, sample_tables, write_run_folder
from test_report import EXPECTED_CHARTS, sparse_tables

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
]
TIMEOUT_S = 60.0


def chromium_path() -> str:
    for candidate in (
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.fail(
        "Chromium is needed to check that the HTML report renders. Install it: "
        "apt-get update && apt-get install -y chromium   (Debian/Ubuntu; .ci/test does it as root)"
    )


class Browser:
    """A headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, user_data_dir: Path):
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_fds():  # Chromium reads commands on fd 3 and writes answers on fd 4
            os.dup2(to_chrome_r, 3)
            os.dup2(from_chrome_w, 4)

        self.process = subprocess.Popen(
            [chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=wire_fds,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=True)

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if not select.select([self._from_chrome], [], [], max(deadline - time.time(), 0))[0]:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: bool = False, **params) -> dict:
        """Send one command and return its result (events that arrive meanwhile are kept)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.time() + TIMEOUT_S
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer["result"]
            self.events.append(answer)

    def wait_for(self, method: str) -> dict:
        """Wait for the next event ``method`` (e.g. Page.loadEventFired)."""
        deadline = time.time() + TIMEOUT_S
        while True:
            for i, event in enumerate(self.events):
                if event.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_message(deadline))

    def open(self, url: str, width_px: int = 1200, height_px: int = 900) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width_px,
            height=height_px,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.navigate", session=True, url=url)
        self.wait_for("Page.loadEventFired")

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        return result["result"].get("value")

    def screenshot(self, x: float, y: float, width: float, height: float) -> Image.Image:
        clip = {"x": x, "y": y, "width": width, "height": height, "scale": 1}
        data = self.call(
            "Page.captureScreenshot",
            session=True,
            format="png",
            clip=clip,
            captureBeyondViewport=True,
        )["data"]
        return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries seen so far."""
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value")) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                found.append("Uncaught: " + params["exceptionDetails"].get("text", ""))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append("log: " + params["entry"].get("text", ""))
        return found

    def close(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)
        os.close(self._to_chrome)
        os.close(self._from_chrome)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    b = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield b
    b.close()


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    runs = [
        write_run_folder(out, sample_tables(), META),
        write_run_folder(out, sparse_tables(), {**META, "scenario": "walk-and-car"}),
    ]
    return write_report(runs, out / "report.html", title="Sample report")


FIGURES_JS = """JSON.stringify([...document.querySelectorAll('figure.chart')].map(f => {
  const img = f.querySelector('img'); const r = img.getBoundingClientRect();
  return {name: f.dataset.chart, complete: img.complete, natural: img.naturalWidth,
          x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height};
}))"""


def test_report_renders_in_chromium(browser, report_file):
    browser.open(report_file.resolve().as_uri())
    assert browser.evaluate("document.title") == "Sample report"
    rows = browser.evaluate("document.querySelectorAll('#kpi-table tbody tr').length")
    assert rows > 20
    headers = browser.evaluate(
        "[...document.querySelectorAll('#kpi-table th')].map(th => th.textContent)"
    )
    assert headers[:4] == ["kpi", "unit", "sample", "walk-and-car"]
    figures = json.loads(browser.evaluate(FIGURES_JS))
    assert {f["name"] for f in figures} == EXPECTED_CHARTS
    for figure in figures:
        assert figure["complete"] and figure["natural"] > 0, f"{figure['name']} did not load"
        assert figure["w"] > 300 and figure["h"] > 200, figure
        shot = browser.screenshot(figure["x"], figure["y"], figure["w"], figure["h"])
        grey = shot.convert("L")
        dark = sum(grey.histogram()[:200]) / (grey.width * grey.height)
        assert ImageStat.Stat(grey).stddev[0] > 5 and dark > 0.005, f"{figure['name']} is blank"
    assert browser.errors() == []


def test_the_error_check_sees_console_errors(browser, tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><body><script>console.error('boom'); undefinedCall();</script></body></html>"
    )
    browser.open(page.resolve().as_uri())
    errors = browser.errors()
    assert any("boom" in e for e in errors) and any(e.startswith("Uncaught") for e in errors)


def test_interactive_map_renders_in_chromium(browser, report_file):
    browser.open(report_file.resolve().as_uri())
    browser.events.clear()
    browser.open(report_file.resolve().as_uri())
    box = json.loads(
        browser.evaluate(
            """JSON.stringify([...document.querySelectorAll('.interactive-map .js-plotly-plot')]
            .map(d => { const r = d.getBoundingClientRect();
              return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height,
                      traces: d.data.length, sliders: d.querySelectorAll('.slider-container').length}; }))"""
        )
    )
    assert len(box) >= 1, "no interactive map in the report"
    first = box[0]
    assert first["w"] > 300 and first["h"] > 300 and first["traces"] >= 3 and first["sliders"] == 1
    shot = browser.screenshot(first["x"], first["y"], first["w"], first["h"]).convert("L")
    assert ImageStat.Stat(shot).stddev[0] > 5, "interactive map is blank"
    assert browser.errors() == []
    assert browser.evaluate("document.querySelectorAll('script[src^=\\'http\\']').length") == 0
