"""Open a page in headless Chromium and collect its console errors over the DevTools protocol.

A small standard-library WebSocket client (RFC 6455: handshake, masked text
frames out, unmasked frames in) is all the protocol needs here.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services import missing

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
    "--remote-debugging-address=127.0.0.1",
)


def chromium_or_skip() -> str:
    """The Chromium binary; missing fails under CI=true and skips otherwise."""
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if path is None:
        missing(f"headless Chromium is not installed at {CHROMIUM}")
    return path


@dataclass
class PageReport:
    """What the browser saw: console errors, exceptions and whatever the probe expression returned."""

    errors: list[str] = field(default_factory=list)
    loaded: bool = False
    probe: Any = None


class _WebSocket:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        assert url.startswith("ws://127.0.0.1:"), url
        host_port, _, path = url[len("ws://") :].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            response += chunk
        head, _, self.buffer = response.partition(b"\r\n\r\n")
        self.message = b""
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.decode(errors="replace"))

    def send(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message).encode()
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x81]) + (
            bytes([0x80 | n])
            if n < 126
            else bytes([0x80 | 126]) + struct.pack(">H", n)
            if n < 65536
            else bytes([0x80 | 127]) + struct.pack(">Q", n)
        )
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _frame(self) -> tuple[int, bytes] | None:
        """One whole frame from the buffer (opcode with FIN bit, payload), or None while it is incomplete."""
        buf = self.buffer
        if len(buf) < 2:
            return None
        length, offset = buf[1] & 0x7F, 2
        if length == 126:
            if len(buf) < 4:
                return None
            length, offset = struct.unpack(">H", buf[2:4])[0], 4
        elif length == 127:
            if len(buf) < 10:
                return None
            length, offset = struct.unpack(">Q", buf[2:10])[0], 10
        if len(buf) < offset + length:
            return None
        self.buffer = buf[offset + length :]
        return buf[0], buf[offset : offset + length]

    def receive(self) -> dict[str, Any] | None:
        """The next whole message; a socket timeout leaves partial data buffered for the next call."""
        while True:
            frame = self._frame()
            if frame is None:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("DevTools closed the connection")
                self.buffer += chunk
                continue
            first, payload = frame
            opcode = first & 0x0F
            if opcode == 8:
                return None
            if opcode in (0, 1, 2):
                self.message += payload
                if first & 0x80:
                    message, self.message = self.message, b""
                    return json.loads(message)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.sock.close()


def open_page(url: str, probe: str = "null", settle_s: float = 1.0, timeout_s: float = 30.0) -> PageReport:
    """Load ``url`` in a fresh headless Chromium; return console errors and the probe's value."""
    binary = chromium_or_skip()
    profile = tempfile.mkdtemp(prefix="bm-chromium-")
    proc = subprocess.Popen(
        [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = _devtools_port(Path(profile), proc, timeout_s)
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t.get("type") == "page")
        ws = _WebSocket(page["webSocketDebuggerUrl"])
        try:
            return _drive(ws, url, probe, settle_s, timeout_s)
        finally:
            ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path, proc: subprocess.Popen[bytes], timeout_s: float) -> int:
    marker = profile / "DevToolsActivePort"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if marker.exists():
            lines = marker.read_text().splitlines()
            if lines and lines[0].strip().isdigit():
                return int(lines[0])
        if proc.poll() is not None:
            raise RuntimeError(f"Chromium exited with status {proc.returncode} before DevTools was up")
        time.sleep(0.05)
    raise TimeoutError("Chromium did not write DevToolsActivePort in time")


class _Session:
    """Commands and events over one page's DevTools socket; every event goes to the report."""

    def __init__(self, ws: _WebSocket, report: PageReport) -> None:
        self.ws, self.report, self.next_id = ws, report, 0

    def call(
        self, method: str, params: dict[str, Any] | None = None, timeout_s: float = 15.0
    ) -> dict[str, Any]:
        self.next_id += 1
        ident = self.next_id
        self.ws.send({"id": ident, "method": method, "params": params or {}})
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            message = self.pump()
            if message is not None and message.get("id") == ident:
                return message.get("result", {})  # type: ignore[no-any-return]
        raise TimeoutError(f"DevTools did not answer {method}")

    def pump(self) -> dict[str, Any] | None:
        """Read one message (None after a quiet 0.2 s), recording what it says."""
        try:
            message = self.ws.receive()
        except TimeoutError:
            return None
        if message is None:
            raise ConnectionError("DevTools closed the page socket")
        _collect(self.report, message)
        if message.get("method") == "Page.loadEventFired":
            self.report.loaded = True
        return message

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}
        )
        return result.get("result", {}).get("value")


def _drive(ws: _WebSocket, url: str, probe: str, settle_s: float, timeout_s: float) -> PageReport:
    """Enable the domains (waiting for each), navigate, wait until the document is complete, settle, probe."""
    report = PageReport()
    ws.sock.settimeout(0.2)
    session = _Session(ws, report)
    for method in ("Runtime.enable", "Log.enable", "Page.enable"):
        session.call(method)
    session.call("Page.navigate", {"url": url})
    deadline = time.monotonic() + timeout_s
    while not report.loaded:
        if time.monotonic() > deadline:
            raise TimeoutError(f"page {url} did not finish loading")
        # The load event can race the navigation of a tiny page: ask the document itself too.
        if session.evaluate("document.readyState") == "complete" and session.evaluate("location.href") == url:
            report.loaded = True
        else:
            session.pump()
    settle_until = time.monotonic() + settle_s
    while time.monotonic() < settle_until:
        session.pump()
    report.probe = session.evaluate(probe)
    return report


def _collect(report: PageReport, message: dict[str, Any]) -> None:
    method, params = message.get("method"), message.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        report.errors.append(
            "console: " + " ".join(str(a.get("value", a.get("description"))) for a in params.get("args", []))
        )
    elif method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        report.errors.append("exception: " + str(details.get("exception", {}).get("description", details)))
    elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        entry = params["entry"]
        report.errors.append(f"log: {entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")
