"""The operator's endpoints of ``batchmap run --metrics-address``: metrics, health, readiness, a status page.

=============  ==============================================================
``/metrics``   Prometheus text exposition: the counters, the Duration and
               IteratorAge histograms, and the live gauges of every mapping
``/healthz``   200 while the engine's event loop is alive (it sampled lately)
``/readyz``    200 when every mapping runs and every system it calls answers;
               503 with the reasons, one per line, otherwise
``/``          the status page (plain HTML that fetches ``/status.json``)
=============  ==============================================================

The standard library's ``ThreadingHTTPServer`` runs in a thread of its own and
only reads the sampler's latest frozen view and the thread-safe recorders, so a
slow scraper never blocks the engine and a busy engine still answers. No
dependency: the exposition comes from ``batchmap.metrics.prometheus``.

It listens on loopback unless told otherwise (``public``), and every request
passes the same ``RequestGuard`` as ``batchmap serve``: a ``Host`` naming this
server and no cross-origin ``Origin``, so a web page cannot read it through DNS
rebinding. A public server also answers a ``Host`` that is an IP address (a
literal address cannot be rebound) or a name given in ``allowed_hosts``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from importlib import resources
from typing import Any

from batchmap.engine.api_guard import RequestGuard, split_host
from batchmap.engine.http_server import QuietHTTPServer
from batchmap.errors import ConfigError
from batchmap.metrics.live import RunView
from batchmap.metrics.prometheus import CONTENT_TYPE

log = logging.getLogger("batchmap.observe")

STALE_AFTER_S = 30.0
"""``/healthz`` fails once the sampler has not run for this long: the event loop is stuck."""

_PAGE = resources.files("batchmap.observe").joinpath("status.html").read_bytes()


@dataclass(frozen=True, slots=True)
class Address:
    """Where the endpoints listen: an IP address (or ``localhost``) and a port."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach it."""
        return self.host == "localhost" or ipaddress.ip_address(self.host).is_loopback

    def url(self, port: int | None = None) -> str:
        """``http://HOST:PORT/`` (IPv6 in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port if port is None else port}/"


def parse_address(text: str, public: bool = False, flag: str = "--metrics-address") -> Address:
    """``HOST:PORT`` or ``[V6]:PORT`` with an IP address or ``localhost``; loopback unless ``public``."""
    parsed = split_host(text)
    expected = "HOST:PORT with an IP address or localhost, e.g. 127.0.0.1:9100 or [::1]:9100 (port 0 picks one)"
    if parsed is None or parsed[1] is None or not 0 <= parsed[1] <= 65535:
        raise ConfigError(flag, text, expected)
    name, port = parsed[0], parsed[1]
    host = name[1:-1] if name.startswith("[") else name
    if host != "localhost":
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            raise ConfigError(flag, text, expected) from None
    address = Address(host, port)
    if not address.loopback and not public:
        raise ConfigError(flag, text, "a loopback address (127.0.0.1, [::1], localhost); to listen on another "
                                      "address, which every machine that reaches it can read, add --metrics-public")
    return address


@dataclass(frozen=True, slots=True)
class Views:
    """What the endpoints read, from any thread: the latest view, when it was taken, the exposition."""

    latest: Callable[[], RunView]
    sampled_at: Callable[[], float]
    metrics_text: Callable[[], str]


class EndpointServer:
    """Serves the endpoints in a thread until ``stop()``."""

    def __init__(self, address: Address, views: Views, *, public: bool = False,
                 allowed_hosts: Iterable[str] = ()) -> None:
        self.address = address
        self.views = views
        self.public = public
        self.guard = RequestGuard(address.host, address.port, allowed_hosts=tuple(allowed_hosts))
        self._httpd: QuietHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port bound (``0`` asked for any free one)."""
        return self.address.port if self._httpd is None else int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The status page's address."""
        return self.address.url(self.port)

    def start(self) -> None:
        """Bind and start answering; a port in use or an address not on this machine is a ``ConfigError``."""
        handler = type("BoundHandler", (_Handler,), {"endpoints": self})
        server_class = type("Server", (QuietHTTPServer,), {"address_family": _family(self.address.host)})
        try:
            self._httpd = server_class((self.address.host, self.address.port), handler)
        except OSError as exc:
            raise ConfigError("--metrics-address", f"{self.address.host}:{self.address.port}",
                              f"an address of this machine with a free port ({exc.strerror or exc})") from exc
        self.guard.port = self.port  # the port actually bound, for the Host check
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="batchmap-endpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop answering and release the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def refusal(self, headers: Any) -> str | None:
        """Why a request is not answered (``None``: answer it)."""
        refused = self.guard.check(headers)
        if refused is None:
            return None
        if self.public and refused.message.startswith("Host ") and _ip_literal(headers.get("Host", "")):
            return None
        return refused.message.replace("batchmap serve --allowed-host", "batchmap run --metrics-allowed-host")

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) of a GET."""
        route = path.split("?", 1)[0]
        if route == "/metrics":
            return 200, CONTENT_TYPE, self.views.metrics_text().encode()
        if route == "/healthz":
            stale = time.monotonic() - self.views.sampled_at()
            if stale > STALE_AFTER_S:
                return 503, _TEXT, f"stuck: the engine has not sampled its status for {stale:.0f} s\n".encode()
            return 200, _TEXT, b"ok\n"
        if route == "/readyz":
            reasons = self.views.latest().not_ready()
            return (503, _TEXT, ("\n".join(reasons) + "\n").encode()) if reasons else (200, _TEXT, b"ready\n")
        if route == "/status.json":
            return 200, "application/json", json.dumps(self.views.latest().as_json()).encode()
        if route in ("/", "/index.html"):
            return 200, "text/html; charset=utf-8", _PAGE
        return 404, _TEXT, f"no such page: {route}; try /, /metrics, /healthz, /readyz, /status.json\n".encode()


_TEXT = "text/plain; charset=utf-8"


def _family(host: str) -> int:
    import socket

    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _ip_literal(host_header: str) -> bool:
    parsed = split_host(host_header)
    if parsed is None:
        return False
    name = parsed[0][1:-1] if parsed[0].startswith("[") else parsed[0]
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class _Handler(BaseHTTPRequestHandler):
    endpoints: EndpointServer
    server_version = "batchmap"
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._reply(send_body=True)

    def do_HEAD(self) -> None:
        self._reply(send_body=False)

    def do_POST(self) -> None:
        self._send(405, _TEXT, b"read-only: use GET\n", True)

    def _reply(self, send_body: bool) -> None:
        refused = self.endpoints.refusal(self.headers)
        if refused is not None:
            self._send(403, _TEXT, (refused + "\n").encode(), send_body)
            return
        try:
            status, kind, body = self.endpoints.answer(self.path)
        except Exception as exc:  # a bug: one line in the log, a 500 to the caller, the server goes on
            log.error("%s %s failed: %s: %s", self.command, self.path, type(exc).__name__, exc, exc_info=exc)
            status, kind, body = 500, _TEXT, f"internal error: {type(exc).__name__}\n".encode()
        self._send(status, kind, body, send_body)

    def _send(self, status: int, kind: str, body: bytes, send_body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)
