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

import pytest

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
        message = f"headless Chromium is not installed at {CHROMIUM}"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; CI=true makes a missing browser a failure")
        pytest.skip(message)
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

    def _read(self, n: int) -> bytes:
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def receive(self) -> dict[str, Any] | None:
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._read(8))[0]
            payload = self._read(length)
            opcode = first & 0x0F
            if opcode == 8:
                return None
            if opcode in (0, 1, 2):
                message += payload
                if first & 0x80:
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


def _drive(ws: _WebSocket, url: str, probe: str, settle_s: float, timeout_s: float) -> PageReport:
    report = PageReport()
    ids = iter(range(1, 1_000_000))
    for method in ("Runtime.enable", "Log.enable", "Page.enable"):
        ws.send({"id": next(ids), "method": method})
    ws.send({"id": next(ids), "method": "Page.navigate", "params": {"url": url}})
    probe_id = -1
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None
    ws.sock.settimeout(0.2)
    while time.monotonic() < deadline:
        if settle_until is not None and time.monotonic() >= settle_until and probe_id < 0:
            probe_id = next(ids)
            ws.send(
                {
                    "id": probe_id,
                    "method": "Runtime.evaluate",
                    "params": {"expression": probe, "returnByValue": True, "awaitPromise": True},
                }
            )
        try:
            message = ws.receive()
        except TimeoutError:
            continue
        if message is None:
            break
        _collect(report, message)
        if message.get("method") == "Page.loadEventFired":
            report.loaded = True
            settle_until = time.monotonic() + settle_s
        if message.get("id") == probe_id:
            report.probe = message.get("result", {}).get("result", {}).get("value")
            return report
    raise TimeoutError(f"page {url} did not finish loading (loaded={report.loaded})")


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
