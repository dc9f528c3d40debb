"""Who may call ``batchmap serve``: the checks every request passes before it is routed.

A server on 127.0.0.1 is within reach of every web page the developer's browser
opens: a page can POST to it (a cross-origin "simple" request is sent without a
preflight), and a page whose DNS name is rebound to 127.0.0.1 can even read the
replies. So a request is answered only when

* its ``Host`` names this server: the bound address, ``localhost``,
  ``127.0.0.1`` or ``[::1]`` (the server is on loopback), or a name allowed
  with ``--allowed-host``; with a port, the bound port;
* it does not come from another origin: an ``Origin`` header must name one of
  those hosts (``http``, the bound port) and ``Sec-Fetch-Site``, when a browser
  sends it, must be ``same-origin`` or ``none``;
* with a token set (``--auth-token`` or ``BATCHMAP_AUTH_TOKEN``), it carries
  that token in ``X-Batchmap-Auth-Token`` (compared in constant time).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from batchmap.errors import ConfigError

TOKEN_HEADER = "X-Batchmap-Auth-Token"
"""The request header that carries the token."""

TOKEN_ENV = "BATCHMAP_AUTH_TOKEN"
"""The environment variable ``batchmap serve`` and batchmap's HTTP invoker read the token from."""

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
_SAFE_FETCH_SITES = ("same-origin", "none")


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a request is not answered: an AWS-style error status, type and message."""

    status: int
    error_type: str
    message: str


def check_token(token: str, parameter: str = "--auth-token") -> str:
    """A token usable in an HTTP header: 1-512 printable ASCII characters without spaces."""
    if not 0 < len(token) <= 512 or not all("!" <= c <= "~" for c in token):
        raise ConfigError(parameter, token, "1 to 512 printable ASCII characters without spaces")
    return token


def check_host_name(name: str) -> str:
    """A name for ``--allowed-host``: a DNS name or an IP address (IPv6 in brackets), without a port."""
    text = name.strip().lower()
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789.-_") | ({":"} if bare != text else set())
    if not bare or len(bare) > 253 or not set(bare) <= allowed:
        raise ConfigError("--allowed-host", name, "a host name or address without a port, e.g. myhost.test")
    return text


def split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` or ``[v6][:port]`` as (lower-case name, port); ``None`` if it is not of that form."""
    text = value.strip().lower()
    if text.startswith("["):
        name, _, rest = text.partition("]")
        name += "]"
        port_text = rest[1:] if rest.startswith(":") else None
        if rest and port_text is None:
            return None
    else:
        name, sep, port_part = text.partition(":")
        port_text = port_part if sep else None
    if port_text is None:
        return name, None
    if not port_text.isdigit() or len(port_text) > 5:
        return None
    return name, int(port_text)


class RequestGuard:
    """Decides, from a request's headers alone, whether ``batchmap serve`` answers it."""

    def __init__(
        self, address: str, port: int, *, allowed_hosts: Iterable[str] = (), auth_token: str | None = None
    ) -> None:
        self.port = port
        names = {address.lower(), *(check_host_name(name) for name in allowed_hosts)}
        if address in ("127.0.0.1", "::1", "localhost"):
            names.update(LOOPBACK_NAMES)
        self.names = frozenset(names)
        self._token = check_token(auth_token).encode() if auth_token is not None else None

    @property
    def requires_token(self) -> bool:
        """Whether requests must carry the token."""
        return self._token is not None

    def check(self, headers: Any) -> Refusal | None:
        """``None`` when the request may be answered, else why not (the first check that fails)."""
        hosts = (headers.get_all("Host") or []) if hasattr(headers, "get_all") else [headers.get("Host")]
        host = hosts[0] if len(hosts) == 1 else None  # none, or two (a smuggling attempt): refused
        return self._check_host(host) or self._check_origin(headers) or self._check_token(headers)

    def _names_us(self, value: str) -> bool:
        parsed = split_host(value)
        return parsed is not None and parsed[0] in self.names and parsed[1] in (None, self.port)

    def _check_host(self, host: str | None) -> Refusal | None:
        if host is not None and self._names_us(host):
            return None
        expected = ", ".join(f"{name}:{self.port}" for name in sorted(self.names))
        return Refusal(403, "AccessDeniedException", f"Host {host!r} is not this server ({expected}); "
                       "a name of your own can be allowed with batchmap serve --allowed-host NAME")

    def _check_origin(self, headers: Any) -> Refusal | None:
        site = headers.get("Sec-Fetch-Site")
        if site is not None and site.lower() not in _SAFE_FETCH_SITES:
            return Refusal(403, "AccessDeniedException", f"Sec-Fetch-Site {site!r}: cross-origin requests are refused")
        origin = headers.get("Origin")
        if origin is None:
            return None
        scheme, sep, rest = origin.partition("://")
        parsed = split_host(rest) if sep and scheme.lower() == "http" else None
        if parsed is not None and parsed[0] in self.names and (parsed[1] or 80) == self.port:
            return None
        return Refusal(403, "AccessDeniedException", f"Origin {origin!r}: cross-origin requests are refused")

    def _check_token(self, headers: Any) -> Refusal | None:
        if self._token is None:
            return None
        given = headers.get(TOKEN_HEADER)
        if given is not None and hmac.compare_digest(given.encode("utf-8", "surrogateescape"), self._token):
            return None
        what = "no" if given is None else "a wrong"
        return Refusal(403, "UnrecognizedClientException",
                       f"{what} {TOKEN_HEADER} header: this server requires its token (--auth-token or {TOKEN_ENV})")
