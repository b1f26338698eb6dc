"""A headless Chromium driven through chromedriver's W3C WebDriver
protocol, with urllib and json only: enough to load a page, click, type,
run a script that reads the page, resize the window and save screenshots
(Debian's chromium and chromium-driver)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from harness import ScenarioError

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM = ("/usr/bin/chromium", "/usr/lib/chromium/chromium")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def _first(paths: tuple[str, ...], name: str) -> str:
    for path in paths:
        if Path(path).is_file():
            return path
    found = shutil.which(name)
    if found is None:
        raise ScenarioError(f"{name} is not installed (make deps installs chromium and chromium-driver)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """One chromedriver and one headless Chromium session; close() ends both."""

    def __init__(self, log_path: Path, width: int = 1280, height: int = 800) -> None:
        self.port = _free_port()
        self.profile = tempfile.mkdtemp(prefix="lanspread-chromium-")
        self.log = open(log_path, "ab")
        self.driver = subprocess.Popen(
            [_first(DRIVER, "chromedriver"), f"--port={self.port}", "--allowed-ips=127.0.0.1"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.base = f"http://127.0.0.1:{self.port}"
        self.session = ""
        deadline = time.monotonic() + 20
        while True:
            try:
                if self._call("GET", "/status", timeout=2).get("ready"):
                    break
            except (OSError, ScenarioError):
                pass
            if time.monotonic() > deadline:
                self.close()
                raise ScenarioError("chromedriver did not start")
            time.sleep(0.2)
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": _first(CHROMIUM, "chromium"),
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--no-proxy-server", f"--user-data-dir={self.profile}",
                         f"--window-size={width},{height}"],
            },
        }}}
        try:
            self.session = self._call("POST", "/session", caps, timeout=60)["sessionId"]
        except Exception:
            self.close()
            raise

    def _call(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                reply = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                detail = json.loads(exc.read()).get("value", {})
            except ValueError:
                detail = {}
            raise ScenarioError(f"webdriver {method} {path}: {detail.get('error', exc.code)}: "
                                f"{str(detail.get('message', ''))[:300]}") from exc
        return reply.get("value", reply)

    def _s(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self._s("POST", "/url", {"url": url})

    def script(self, source: str, *args: Any) -> Any:
        """Runs source as a function body in the page; returns its value."""
        return self._s("POST", "/execute/sync", {"script": source, "args": list(args)})

    def find(self, css: str) -> str:
        return self._s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css: str) -> None:
        self._s("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css: str, text: str) -> None:
        element = self.find(css)
        self._s("POST", f"/element/{element}/clear", {})
        self._s("POST", f"/element/{element}/value", {"text": text})

    def resize(self, width: int, height: int) -> None:
        self._s("POST", "/window/rect", {"width": width, "height": height})

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._s("GET", "/screenshot")))
        return path

    def wait(self, source: str, what: str, timeout: float = 30, interval: float = 0.1) -> Any:
        """Runs source until it returns a true value; returns that value."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            last = self.script(source)
            if last:
                return last
            if time.monotonic() > deadline:
                raise ScenarioError(f"page: {what} (waited {timeout:g}s; last {str(last)[:200]})")
            time.sleep(interval)

    def close(self) -> None:
        if self.session:
            try:
                self._s("DELETE", "")
            except (OSError, ScenarioError):
                pass
            self.session = ""
        if self.driver.poll() is None:
            self.driver.terminate()
            try:
                self.driver.wait(10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait(5)
        # A Chromium left behind is in chromedriver's own process group.
        try:
            os.killpg(self.driver.pid, signal.SIGKILL)
        except OSError:
            pass
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
