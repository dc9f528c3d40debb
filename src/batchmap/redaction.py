"""Secrets out of what batchmap prints: the one place that decides what of a URI may be shown.

A URI given to batchmap (a source, a function URL, a destination, a checkpoint
store, an endpoint URL) may carry credentials: ``redis://:PASSWORD@host``,
``http://user:PASSWORD@host``, ``postgresql://host/db?password=PASSWORD``.
Everything batchmap prints or logs passes a URI through ``redact_uri`` and free
text through ``redact_text``, so the user part of a URI and the values of
secret-looking query options never reach a terminal, a log line or an
exception's ``repr``::

    >>> redact_uri("redis://user:hunter2@127.0.0.1:6379/0?stream=s")
    'redis://***@127.0.0.1:6379/0?stream=s'
    >>> redact_uri("postgresql://127.0.0.1/test?queue=q&password=hunter2")
    'postgresql://127.0.0.1/test?queue=q&password=***'

The whole user part goes (not only a password): a token is often given as the
user name (``https://TOKEN@host``). Standard library only, and ``re`` is
imported only when a text holds a URI: the handler toolkit's errors use it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import re

MASK = "***"
"""What stands in for a secret."""

SECRET_WORDS = ("password", "passwd", "pwd", "secret", "token", "credential", "signature", "apikey",
                "api_key", "accesskey", "access_key")
"""A query option or parameter whose name contains one of these holds a secret."""


def is_secret_name(name: str) -> bool:
    """Whether an option or parameter called ``name`` holds a secret (``password``, ``--auth-token``, ...)."""
    lowered = name.lower().replace("-", "_")
    return any(word in lowered for word in SECRET_WORDS)


def redact_uri(uri: str) -> str:
    """``uri`` without its user part and with secret query values masked; anything else is kept as given."""
    return _redact(uri) if "@" in uri or "=" in uri else uri


def without_credentials(uri: str) -> str:
    """``scheme://host[:port]`` of ``uri``: no user part, no path, no options (for identifiers such as ARNs)."""
    parts = urlsplit(uri)
    host = parts.hostname or "127.0.0.1"
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return f"{parts.scheme}://{netloc}"


def redact_text(text: str) -> str:
    """``text`` with every URI in it redacted as ``redact_uri`` does (error messages, log lines)."""
    return _redact(text) if "://" in text else text


def _redact(text: str) -> str:
    import re

    text = re.sub(r"(?<=://)[^\s/?#'\"<>@]*(?:@[^\s/?#'\"<>@]*)*@", MASK + "@", text)
    return re.sub(r"(?<=[?&;])([^\s=&;#'\"?]+)=([^\s&;#'\"]*)", _redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    name, value = match.group(1), match.group(2)
    return f"{name}={MASK}" if value and is_secret_name(name) else f"{name}={value}"
