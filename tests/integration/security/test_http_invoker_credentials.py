"""The HTTP invoker sends the credentials it was given (URL user part, token) to a real HTTP server."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from batchmap.config.function import FunctionConfig
from batchmap.engine.invokers import HttpInvoker
from batchmap.errors import ConfigError


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Recorder.seen.append(dict(self.headers))
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Recorder.seen = []
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def invoke(handler: str, **settings: Any) -> dict[str, str]:
    async def once() -> None:
        invoker = HttpInvoker(FunctionConfig(handler, timeout_s=5), **settings)
        await invoker.start()
        result = await invoker.invoke({"Records": []}, "req-1")
        await invoker.close()
        assert result.status == "ok", result

    asyncio.run(once())
    return Recorder.seen[-1]


def test_a_url_user_part_is_sent_as_basic_authorization(endpoint: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BATCHMAP_AUTH_TOKEN", raising=False)
    headers = invoke(f"http://orders:p%40ss@127.0.0.1:{endpoint}")
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"orders:p@ss").decode()
    assert "X-Batchmap-Auth-Token" not in headers


def test_the_token_comes_from_the_environment_or_the_argument(endpoint: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHMAP_AUTH_TOKEN", "from-env")
    assert invoke(f"http://127.0.0.1:{endpoint}")["X-Batchmap-Auth-Token"] == "from-env"
    assert invoke(f"http://127.0.0.1:{endpoint}", auth_token="given")["X-Batchmap-Auth-Token"] == "given"
    assert "Authorization" not in Recorder.seen[-1]


def test_a_token_that_cannot_be_a_header_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCHMAP_AUTH_TOKEN", "two words")
    with pytest.raises(ConfigError, match="BATCHMAP_AUTH_TOKEN") as caught:
        HttpInvoker(FunctionConfig("http://127.0.0.1:1", timeout_s=1))
    assert "two words" not in str(caught.value) and caught.value.parameter == "BATCHMAP_AUTH_TOKEN"
