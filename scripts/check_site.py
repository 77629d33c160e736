"""Open the built book in headless Chromium and check that its pages really show figures.

Serves ``_build/html`` on 127.0.0.1, loads every chapter page through the DevTools protocol,
and fails unless each page has rendered ``<img>`` elements of non-zero size (the notebooks'
figures) and, where the page has math, MathJax output, and no display equation is wider
than its column (at this window size; the book's CSS lets a wide one scroll, but it should
be broken into lines instead). A screenshot of each page is saved under
``_build/screenshots/`` for a person to look at.

Usage: python scripts/check_site.py _build/html
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import websocket

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,2400",
]
PAGE_PROBE = """JSON.stringify({
  images: Array.from(document.querySelectorAll('main img')).filter(
    (img) => img.complete && img.naturalWidth > 0 && img.getBoundingClientRect().width > 0
  ).length,
  math_sources: document.querySelectorAll('main .math').length,
  math_rendered: document.querySelectorAll('main mjx-container').length,
  wide_math: Array.from(document.querySelectorAll('main mjx-container[display="true"]')).map(
    (container, index) => ({
      index,
      width: Math.round(container.querySelector('mjx-math').getBoundingClientRect().width),
      column: Math.round(container.parentElement.getBoundingClientRect().width),
    })
  ).filter((equation) => equation.width > equation.column + 1),
  title: document.title,
})"""


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on a free loopback port; yield its base URL."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Keep the request log out of the test output."""

    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def chromium() -> Iterator[str]:
    """Start headless Chromium with remote debugging; yield the DevTools HTTP endpoint."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise SystemExit("check_site: chromium not found (Debian package 'chromium')")
    profile = tempfile.mkdtemp(prefix="msgan-chromium-")
    process = subprocess.Popen(
        [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port_file = Path(profile) / "DevToolsActivePort"
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("check_site: chromium did not start")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port_file.read_text().split()[0]}"
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


class Tab:
    """A Chromium tab driven over the DevTools websocket."""

    def __init__(self, devtools: str) -> None:
        request = urllib.request.Request(f"{devtools}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as response:
            target = json.load(response)
        self.socket = websocket.create_connection(target["webSocketDebuggerUrl"], timeout=60)
        self.next_id = 0

    def call(self, method: str, **params: object) -> dict:
        """Send one DevTools command and return its result."""
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> object:
        """Evaluate JavaScript in the page and return its value."""
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)[
            "result"
        ].get("value")


def check_page(tab: Tab, url: str, screenshot: Path) -> dict:
    """Load ``url``, wait for images and MathJax, save a screenshot, return the probe."""
    tab.call("Page.enable")
    tab.call("Page.navigate", url=url)
    deadline = time.monotonic() + 30
    while tab.evaluate("document.readyState") != "complete" and time.monotonic() < deadline:
        time.sleep(0.2)
    probe: dict = {}
    while time.monotonic() < deadline:  # MathJax typesets asynchronously after load
        probe = json.loads(str(tab.evaluate(PAGE_PROBE)))
        if probe["math_rendered"] >= min(probe["math_sources"], 1):
            break
        time.sleep(0.3)
    shot = tab.call("Page.captureScreenshot", format="png")
    screenshot.write_bytes(base64.b64decode(shot["data"]))
    return probe


def main(site: Path) -> int:
    """Check every chapter page of the site; print one line per page; exit 1 on a failure."""
    pages = sorted(site.glob("book/[0-9][0-9]_*.html"))
    if not pages:
        print(f"check_site: no chapter pages under {site}/book: build the book first")
        return 1
    shots = site.parent / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    failures = 0
    with serve(site) as base, chromium() as devtools:
        tab = Tab(devtools)
        for page in pages:
            relative = page.relative_to(site).as_posix()
            probe = check_page(tab, f"{base}/{relative}", shots / f"{page.stem}.png")
            ok = probe["images"] > 0 and (probe["math_sources"] == 0 or probe["math_rendered"])
            ok = ok and not probe["wide_math"]
            failures += not ok
            print(
                f"{'ok  ' if ok else 'FAIL'} {relative}: {probe['images']} figures rendered, "
                f"{probe['math_rendered']}/{probe['math_sources']} formulas typeset"
            )
            for equation in probe["wide_math"]:
                print(
                    f"     display equation {equation['index'] + 1} is {equation['width']} px "
                    f"wide in a {equation['column']} px column: break it into lines"
                )
    print(f"check_site: {len(pages) - failures} of {len(pages)} chapter pages show their figures")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")))
