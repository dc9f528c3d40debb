"""The HTTP invoker: POST the event to anything that speaks the Lambda Invoke API.

That is the AWS Lambda Runtime Interface Emulator
(``http://127.0.0.1:9000/2015-03-31/functions/function/invocations``),
``batchmap serve``, or any endpoint with Lambda's wire contract: the event is
the request body; the response body is the function's JSON result; an
``X-Amz-Function-Error`` header marks a function error whose body is Lambda's
error document; an HTTP error status means the function was never run
(``Invocation.invoked`` is ``False``).

``handler`` is either the full invocations URL or an endpoint
(``http://127.0.0.1:9001``), to which the invocations path for the function's
``name`` is added. Connections are standard-library ``http.client`` connections
kept alive in a pool, one per concurrent invocation; the socket timeout is the
function timeout plus ``margin_s``, so a remote that hangs is reported as a
timeout rather than waited for forever.

Credentials: a user part in the URL (``http://user:password@host``) is sent as
HTTP Basic authorization, and ``BATCHMAP_AUTH_TOKEN``, when set, as the
``X-Batchmap-Auth-Token`` header a ``batchmap serve --auth-token`` requires.
Neither is ever printed: messages show the URL through ``redact_uri``.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from batchmap.config.function import FunctionConfig
from batchmap.engine.api_guard import TOKEN_ENV, TOKEN_HEADER, check_token
from batchmap.engine.invocation import Invocation
from batchmap.engine.invokers import faults
from batchmap.errors import ConfigError, FunctionLoadError
from batchmap.redaction import redact_uri

INVOKE_PATH = "/2015-03-31/functions/{name}/invocations"
_RETRYABLE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def invocations_url(endpoint: str, name: str) -> str:
    """The full invocations URL: ``endpoint`` itself if it already names one, else built from ``name``."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("handler", endpoint, "an http:// or https:// URL of a Lambda Invoke API endpoint")
    if "/2015-03-31/functions/" in parts.path:
        return endpoint
    return endpoint.rstrip("/") + INVOKE_PATH.format(name=quote(name, safe=""))


class HttpInvoker:
    """Invokes a function over HTTP with the Lambda Invoke API, ``concurrency`` requests at a time."""

    def __init__(
        self, function: FunctionConfig, concurrency: int = 1, *, margin_s: float = 5.0, auth_token: str | None = None
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ConfigError("concurrency", concurrency, "an integer of at least 1")
        self.function = function
        self.concurrency = concurrency
        self.url = invocations_url(function.handler, function.name)
        parts = urlsplit(self.url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._path = parts.path + (f"?{parts.query}" if parts.query else "")
        self._headers = request_headers(parts, auth_token if auth_token is not None else os.environ.get(TOKEN_ENV))
        self._socket_timeout = function.timeout_s + margin_s
        self._pool: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(concurrency, thread_name_prefix="batchmap-http")

    async def start(self) -> None:
        """Check that the endpoint accepts connections; ``FunctionLoadError`` naming it if not."""
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._probe)
        except OSError as exc:
            raise FunctionLoadError(
                f"handler {redact_uri(self.function.handler)!r}: cannot connect to {self._host}:{self._port}: {exc}",
                handler=redact_uri(self.function.handler),
                error_type="EndpointConnectionError",
            ) from exc

    def _probe(self) -> None:
        socket.create_connection((self._host, self._port), timeout=min(self._socket_timeout, 5.0)).close()

    async def invoke(self, event: dict[str, Any], request_id: str) -> Invocation:
        """POST the event; the function's result, error or timeout comes back as an ``Invocation``."""
        body = json.dumps(event, separators=(",", ":")).encode()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._post, body, request_id)

    def _post(self, body: bytes, request_id: str) -> Invocation:
        started = time.perf_counter()
        headers = {**self._headers, "X-Amz-Client-Request-Id": request_id}
        for attempt in (1, 2):
            conn, reused = self._connection()
            try:
                if conn.sock is None:
                    _connect(conn)
                conn.request("POST", self._path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except _RETRYABLE as exc:
                conn.close()
                if reused and attempt == 1:
                    continue  # a kept-alive connection the server had closed: retry once on a new one
                return _unreachable(exc, request_id, _ms(started))
            except (OSError, http.client.HTTPException) as exc:
                return self._failed(conn, exc, request_id, started)
            self._release(conn, response)
            return read_response(response.status, response.headers, data, request_id, _ms(started))
        raise AssertionError("unreachable")  # pragma: no cover

    def _failed(
        self, conn: http.client.HTTPConnection, exc: BaseException, request_id: str, started: float
    ) -> Invocation:
        """A request that broke: a timeout once connected, else the endpoint could not be reached."""
        connected = conn.sock is not None
        conn.close()
        if isinstance(exc, TimeoutError) and connected:
            return faults.timeout_invocation(request_id, self.function.timeout_s, _ms(started))
        return _unreachable(exc, request_id, _ms(started))

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """A kept-alive connection from the pool, or a new (not yet connected) one."""
        with self._lock:
            if self._pool:
                return self._pool.pop(), True
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        return cls(self._host, self._port, timeout=self._socket_timeout), False

    def _release(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse) -> None:
        if response.will_close:
            conn.close()
            return
        with self._lock:
            self._pool.append(conn)

    async def close(self) -> None:
        """Close pooled connections and the request threads."""
        with self._lock:
            pool, self._pool = self._pool, []
        for conn in pool:
            conn.close()
        self._executor.shutdown(wait=False, cancel_futures=True)


def request_headers(parts: Any, token: str | None) -> dict[str, str]:
    """The headers every request carries: JSON, RequestResponse, and the credentials the caller gave."""
    headers = {"Content-Type": "application/json", "X-Amz-Invocation-Type": "RequestResponse"}
    if parts.username is not None or parts.password is not None:
        user_pass = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(user_pass.encode()).decode()
    if token:
        headers[TOKEN_HEADER] = check_token(token, TOKEN_ENV)
    return headers


def read_response(status: int, headers: Any, data: bytes, request_id: str, duration_ms: float) -> Invocation:
    """Turn an Invoke API response (status, headers, body) into an ``Invocation``."""
    timing: dict[str, Any] = {"duration_ms": duration_ms, "request_id": request_id}
    if status >= 300:
        return Invocation("error", error=api_error(status, headers, data, request_id), invoked=False, **timing)
    payload = decode_payload(data)
    function_error = headers.get("X-Amz-Function-Error")
    if not function_error:
        return Invocation("ok", payload=payload, **timing)
    return function_error_invocation(payload, str(function_error), request_id, duration_ms)


def function_error_invocation(payload: Any, label: str, request_id: str, duration_ms: float) -> Invocation:
    """A response flagged as a function error: ``timeout`` when it reports Lambda's timeout, else ``error``."""
    document = payload if isinstance(payload, dict) else faults.error_document(label, str(payload), request_id)
    if faults.is_timeout(document):
        return Invocation("timeout", error=document, duration_ms=duration_ms, request_id=request_id)
    return Invocation("error", error=document, duration_ms=duration_ms, request_id=request_id)


def decode_payload(data: bytes) -> Any:
    """The response body as JSON; a body that is not JSON is kept as text (Lambda passes it through)."""
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", errors="replace")


def api_error(status: int, headers: Any, data: bytes, request_id: str) -> dict[str, Any]:
    """An Invoke API error response (the request was refused): its type and message as a document."""
    body = decode_payload(data)
    fields = body if isinstance(body, dict) else {}
    error_type = str(headers.get("x-amzn-ErrorType") or fields.get("__type") or f"HTTP{status}")
    error_type = error_type.split(":", 1)[0].rsplit("#", 1)[-1]
    message = fields.get("message") or fields.get("Message") or fields.get("errorMessage")
    if not message:
        message = body if isinstance(body, str) and body else f"HTTP status {status}"
    return faults.error_document(error_type, str(message), request_id)


def _connect(conn: http.client.HTTPConnection) -> None:
    conn.connect()
    if conn.sock is not None:  # small requests must not wait for the server's delayed ACK (Nagle)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _unreachable(exc: BaseException, request_id: str, duration_ms: float) -> Invocation:
    document = faults.error_document("EndpointConnectionError", f"{type(exc).__name__}: {exc}", request_id)
    return Invocation("error", error=document, duration_ms=duration_ms, request_id=request_id, invoked=False)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
