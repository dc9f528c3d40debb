"""A local server speaking the Lambda Invoke API for one function, on 127.0.0.1 only.

It hosts an ``Invoker`` (the subprocess invoker by default: warm workers, real
timeouts and memory limits) behind the same HTTP contract as AWS Lambda and the
Runtime Interface Emulator, so batchmap's HTTP invoker, boto3's Lambda client
(``endpoint_url="http://127.0.0.1:PORT"``) and ``aws lambda invoke
--endpoint-url`` can all invoke a local function::

    POST /2015-03-31/functions/{FunctionName}/invocations   Invoke
    GET  /2015-03-31/functions/{FunctionName}/configuration GetFunctionConfiguration
    GET  /2015-03-31/functions/{FunctionName}               GetFunction

Like the emulator it answers to any function name (it serves one function).
Unlike it, it answers only requests that pass ``RequestGuard`` (engine/api_guard.py):
a ``Host`` naming this server, no cross-origin ``Origin``, and the token when one
is set; any other request gets a 403 before its body is looked at.
``X-Amz-Invocation-Type`` ``RequestResponse`` (default), ``Event`` (202, run in
the background) and ``DryRun`` (204) are honoured, as are ``Qualifier``
(only ``$LATEST`` exists) and ``X-Amz-Log-Type: Tail`` (the REPORT line).
Function errors and timeouts answer 200 with ``X-Amz-Function-Error:
Unhandled`` and Lambda's error document; a body that is not JSON is a 400
``InvalidRequestContentException``; over 6 MB, a 413 ``RequestTooLargeException``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import sys
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from batchmap.config.function import FunctionConfig
from batchmap.engine.api_guard import RequestGuard
from batchmap.engine.context import LATEST, function_arn
from batchmap.engine.http_server import QuietHTTPServer
from batchmap.engine.invocation import Invocation, Invoker
from batchmap.records.shapes import MAX_PAYLOAD_BYTES

HOST = "127.0.0.1"
PREFIX = "/2015-03-31/functions/"
DISCARD_LIMIT = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """What to send back: status, body and extra headers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def api_error(status: int, error_type: str, message: str) -> ApiResponse:
    """An AWS-style API error, parsed by boto3 from ``x-amzn-ErrorType`` and the ``message`` field."""
    body = json.dumps({"Type": "User" if status < 500 else "Service", "message": message}).encode()
    return ApiResponse(status, body, {"x-amzn-ErrorType": error_type})


def report_line(invocation: Invocation, memory_mb: int) -> str:
    """Lambda's REPORT log line for one invocation."""
    line = (
        f"REPORT RequestId: {invocation.request_id}\tDuration: {invocation.duration_ms:.2f} ms\t"
        f"Billed Duration: {math.ceil(invocation.duration_ms)} ms\tMemory Size: {memory_mb} MB\t"
    )
    if invocation.max_memory_used_mb is not None:
        line += f"Max Memory Used: {invocation.max_memory_used_mb} MB\t"
    if invocation.init_duration_ms is not None:
        line += f"Init Duration: {invocation.init_duration_ms:.2f} ms\t"
    return line + "\n"


class LambdaApiServer:
    """Serves ``invoker`` over the Lambda Invoke API at ``url`` until ``stop()``."""

    def __init__(
        self,
        invoker: Invoker,
        function: FunctionConfig,
        port: int = 0,
        *,
        log_requests: bool = False,
        allowed_hosts: tuple[str, ...] = (),
        auth_token: str | None = None,
    ):
        self.invoker = invoker
        self.function = function
        self.log_requests = log_requests
        self._port = port
        self.guard = RequestGuard(HOST, port, allowed_hosts=allowed_hosts, auth_token=auth_token)
        self._loop = asyncio.new_event_loop()
        self._loop_thread = threading.Thread(target=self._loop.run_forever, name="batchmap-api-loop", daemon=True)
        self._httpd: QuietHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._background: set[Future[Invocation]] = set()

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        if self._httpd is None:
            return self._port
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The endpoint, for ``endpoint_url`` or the HTTP invoker: ``http://127.0.0.1:PORT``."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        """Load the function (``FunctionLoadError`` if it cannot be), then start answering requests."""
        self._loop_thread.start()
        try:
            self.run(self.invoker.start())
        except BaseException:
            self._stop_loop()
            raise
        handler = type("BoundHandler", (_Handler,), {"app": self})
        self._httpd = QuietHTTPServer((HOST, self._port), handler)
        self.guard.port = self.port  # the port actually bound, for the Host check
        self._http_thread = threading.Thread(target=self._httpd.serve_forever, name="batchmap-api", daemon=True)
        self._http_thread.start()

    def run(self, coroutine: Any) -> Any:
        """Run a coroutine on the server's event loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def invoke_in_background(self, event: Any, request_id: str) -> None:
        """An ``Event`` invocation: start it and return at once."""
        future = asyncio.run_coroutine_threadsafe(self.invoker.invoke(event, request_id), self._loop)
        self._background.add(future)
        future.add_done_callback(self._background.discard)

    def stop(self) -> None:
        """Stop answering, close the invoker (its workers) and the event loop."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._loop_thread.is_alive():
            self.run(self.invoker.close())
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._loop_thread.join()
        self._loop.close()

    def __enter__(self) -> LambdaApiServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def configuration(self) -> dict[str, Any]:
        """The function as ``GetFunctionConfiguration`` describes it."""
        function = self.function
        return {
            "FunctionName": function.name,
            "FunctionArn": function_arn(function.name),
            "Runtime": f"python{sys.version_info.major}.{sys.version_info.minor}",
            "Handler": function.handler,
            "Timeout": max(1, math.ceil(function.timeout_s)),
            "MemorySize": function.memory_mb,
            "Version": LATEST,
            "State": "Active",
            "LastUpdateStatus": "Successful",
            "PackageType": "Zip",
        }

    def handle_invoke(self, name: str, query: dict[str, list[str]], headers: Any, body: bytes) -> ApiResponse:
        """One ``Invoke`` request for ``FunctionName`` ``name``, already read from the socket."""
        qualifier = query.get("Qualifier", [None])[0] or qualifier_of(name)
        if qualifier not in (None, LATEST):
            arn = f"{function_arn(self.function.name)}:{qualifier}"
            return api_error(404, "ResourceNotFoundException", f"Function not found: {arn}")
        invocation_type = headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        if invocation_type not in ("RequestResponse", "Event", "DryRun"):
            message = f"1 validation error detected: Value '{invocation_type}' at 'invocationType' failed to satisfy "
            message += "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
            return api_error(400, "ValidationException", message)
        try:
            event = json.loads(body) if body.strip() else {}
        except ValueError as exc:
            return api_error(400, "InvalidRequestContentException", f"Could not parse request body into json: {exc}")
        if invocation_type == "DryRun":
            return ApiResponse(204)
        request_id = _request_id(headers)
        if invocation_type == "Event":
            self.invoke_in_background(event, request_id)
            return ApiResponse(202, headers={"x-amzn-RequestId": request_id})
        invocation: Invocation = self.run(self.invoker.invoke(event, request_id))
        return self._invoke_response(invocation, headers.get("X-Amz-Log-Type") == "Tail")

    def _invoke_response(self, invocation: Invocation, tail: bool) -> ApiResponse:
        headers = {"X-Amz-Executed-Version": LATEST, "x-amzn-RequestId": invocation.request_id}
        if tail:
            report = report_line(invocation, self.function.memory_mb)
            headers["X-Amz-Log-Result"] = base64.b64encode(report.encode()).decode()
        if invocation.status == "ok":
            return ApiResponse(200, json.dumps(invocation.payload).encode(), headers)
        document = invocation.error or {"errorMessage": "unknown error", "errorType": "Unhandled"}
        if not invocation.invoked:
            return api_error(500, str(document.get("errorType", "ServiceException")), str(document.get("errorMessage")))
        headers["X-Amz-Function-Error"] = "Unhandled"
        return ApiResponse(200, json.dumps(document).encode(), headers)


def qualifier_of(function_name: str) -> str | None:
    """The version or alias in a ``FunctionName`` (``name:QUAL``, ``ACCOUNT:function:name:QUAL``, an ARN)."""
    parts = function_name.split(":")
    if parts[0] == "arn":
        return parts[7] if len(parts) > 7 else None
    if len(parts) >= 3 and parts[1] == "function":
        return parts[3] if len(parts) > 3 else None
    return parts[1] if len(parts) == 2 else None


def _request_id(headers: Any) -> str:
    """The caller's request id when batchmap's HTTP invoker sent one (logs line up), else a new one."""
    given = headers.get("X-Amz-Client-Request-Id")
    if isinstance(given, str) and 0 < len(given) <= 128 and given.isprintable():
        return given
    return str(uuid.uuid4())


class _Handler(BaseHTTPRequestHandler):
    """Routes requests to the ``LambdaApiServer`` bound as ``app``."""

    app: LambdaApiServer
    protocol_version = "HTTP/1.1"
    server_version = "batchmap-lambda-api"
    disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stall

    def _refused(self, length: int = 0) -> bool:
        """Answer 403 and hang up when the guard refuses the request (its body, if any, is read and dropped)."""
        refusal = self.app.guard.check(self.headers)
        if refusal is None:
            return False
        self._discard(length)
        self.close_connection = True
        self._send(api_error(refusal.status, refusal.error_type, refusal.message))
        return True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self._refused(min(length, MAX_PAYLOAD_BYTES)):
            return
        path, query = self._route()
        if not (path.startswith(PREFIX) and path.endswith("/invocations")):
            self._send(api_error(404, "ResourceNotFoundException", f"no such resource: {path}"))
            return
        if length > MAX_PAYLOAD_BYTES:
            self._discard(length)
            message = f"Request must be smaller than {MAX_PAYLOAD_BYTES} bytes for the InvokeFunction operation"
            self._send(api_error(413, "RequestTooLargeException", message))
            return
        body = self.rfile.read(length) if length else b""
        name = path[len(PREFIX) : -len("/invocations")]
        self._send(self.app.handle_invoke(name, query, self.headers, body))

    def _discard(self, length: int) -> None:
        """Read and drop a refused body, so the client can read the answer; past a bound, hang up."""
        if length > DISCARD_LIMIT:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                break
            length -= len(chunk)

    def do_GET(self) -> None:
        if self._refused():
            return
        path, _ = self._route()
        if path.startswith(PREFIX) and path.endswith("/configuration"):
            self._send(ApiResponse(200, json.dumps(self.app.configuration()).encode()))
        elif path.startswith(PREFIX) and "/" not in path[len(PREFIX) :].strip("/"):
            self._send(ApiResponse(200, json.dumps({"Configuration": self.app.configuration()}).encode()))
        else:
            self._send(api_error(404, "ResourceNotFoundException", f"no such resource: {path}"))

    def _route(self) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        return unquote(parts.path), parse_qs(parts.query)

    def _send(self, response: ApiResponse) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if response.body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.app.log_requests:
            super().log_message(format, *args)
