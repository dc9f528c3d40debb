"""``sqlite:///path?queue=NAME`` / ``?stream=NAME``: parsing, name rules and ARNs.

Paths follow SQLAlchemy's convention, which Python users already know: after
``sqlite://`` comes an empty host, so three slashes start a *relative* path
(``sqlite:///x.db``, ``sqlite:///./data/x.db``, resolved against the current
directory) and four start an *absolute* one (``sqlite:////var/lib/x.db``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from batchmap.errors import ConfigError

REGION = "local"
ACCOUNT = "000000000000"

Kind = Literal["queue", "stream"]

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
_FIFO_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,75}\.fifo")
_STREAM_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_SYNCHRONOUS = ("NORMAL", "FULL")
DEFAULT_BUSY_TIMEOUT_S = 30.0
"""How long a statement waits for another process's write lock before it fails (then the engine backs off)."""
MAX_BUSY_TIMEOUT_S = 3600.0


@dataclass(frozen=True, slots=True)
class SqliteUri:
    """A parsed embedded-source URI: which file, whether a queue or a stream, and its name."""

    path: str
    kind: Kind
    name: str
    synchronous: str = "FULL"
    busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S

    @property
    def arn(self) -> str:
        """The ``eventSourceARN`` records from this queue or stream carry."""
        return queue_arn(self.name) if self.kind == "queue" else stream_arn(self.name)

    @property
    def fifo(self) -> bool:
        """Whether the name is a FIFO queue name (ends in ``.fifo``)."""
        return self.kind == "queue" and self.name.endswith(".fifo")

    def uri(self) -> str:
        """The canonical URI (absolute path), usable from any working directory."""
        suffix = "" if self.synchronous == "FULL" else f"&synchronous={self.synchronous}"
        if self.busy_timeout_s != DEFAULT_BUSY_TIMEOUT_S:
            suffix += f"&busy_timeout={self.busy_timeout_s:g}"
        return f"sqlite:///{self.path}?{self.kind}={self.name}{suffix}"


def queue_arn(name: str) -> str:
    """ARN of an embedded queue: ``arn:aws:sqs:local:000000000000:NAME``."""
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def stream_arn(name: str) -> str:
    """ARN of an embedded stream: ``arn:aws:kinesis:local:000000000000:stream/NAME``."""
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


def queue_name_from_arn(arn: str) -> str:
    """The queue name an embedded-queue ARN names (for a RedrivePolicy's ``deadLetterTargetArn``)."""
    prefix = f"arn:aws:sqs:{REGION}:{ACCOUNT}:"
    if not arn.startswith(prefix):
        raise ConfigError("deadLetterTargetArn", arn, f"the ARN of an embedded queue: {prefix}NAME")
    name = arn[len(prefix):]
    validate_queue_name(name)
    return name


def validate_queue_name(name: str, parameter: str = "QueueName") -> None:
    """SQS's rule: 1-80 letters, digits, ``-`` and ``_``; FIFO names end in ``.fifo``."""
    if not (_QUEUE_NAME.fullmatch(name) or _FIFO_QUEUE_NAME.fullmatch(name)):
        raise ConfigError(
            parameter, name,
            "1 to 80 characters: letters, digits, '-' and '_'; a FIFO queue name ends in '.fifo'",
        )


def validate_stream_name(name: str, parameter: str = "StreamName") -> None:
    """Kinesis's rule: 1-128 letters, digits, ``_``, ``.`` and ``-``."""
    if not _STREAM_NAME.fullmatch(name):
        raise ConfigError(parameter, name, "1 to 128 characters: letters, digits, '_', '.' and '-'")


def parse_uri(uri: str) -> SqliteUri:
    """Parse an embedded-source URI; any problem is a ConfigError naming the value.

    Query parameters: exactly one of ``queue=NAME`` / ``stream=NAME``, and
    optionally ``synchronous=FULL|NORMAL`` (SQLite's durability level; FULL,
    the default, survives power loss, NORMAL only process crashes) and
    ``busy_timeout=SECONDS`` (how long a call waits for another process's lock, 30 by default).
    """
    parts = urlsplit(uri)
    if parts.scheme != "sqlite":
        raise ConfigError("--source", uri,
                          "an embedded source URI: sqlite:///PATH?queue=NAME or ?stream=NAME")
    if parts.netloc:
        raise ConfigError(
            "--source", uri,
            "sqlite URIs have no host: sqlite:///relative.db or sqlite:////absolute/path.db",
        )
    raw_path = unquote(parts.path)
    if not raw_path.startswith("/") or raw_path == "/" or raw_path.endswith("/"):
        raise ConfigError("--source", uri, "a database file path after 'sqlite:///'")
    path = _file_path(raw_path[1:], uri)
    params = _params(parts.query, uri)
    kind, name = _kind_and_name(params, uri)
    synchronous = params.get("synchronous", "FULL").upper()
    if synchronous not in _SYNCHRONOUS:
        raise ConfigError("synchronous", params["synchronous"], "FULL or NORMAL")
    return SqliteUri(path=path, kind=kind, name=name, synchronous=synchronous,
                     busy_timeout_s=_busy_timeout(params.get("busy_timeout")))


def _busy_timeout(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_BUSY_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.001 <= value <= MAX_BUSY_TIMEOUT_S:
        raise ConfigError("busy_timeout", raw, f"seconds from 0.001 to {MAX_BUSY_TIMEOUT_S:g}")
    return value


def _file_path(path: str, uri: str) -> str:
    if path in (":memory:", "") or path.startswith("file:"):
        raise ConfigError("--source", uri, "a database file path (in-memory databases cannot be shared)")
    if "\x00" in path:
        raise ConfigError("--source", uri, "a database file path without NUL characters (%00)")
    return os.path.abspath(path)


def _params(query: str, uri: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        if key not in ("queue", "stream", "synchronous", "busy_timeout"):
            raise ConfigError("--source", uri,
                              f"unknown query parameter {key!r}; known: queue, stream, synchronous, busy_timeout")
        if key in params:
            raise ConfigError("--source", uri, f"query parameter {key!r} given twice")
        params[key] = value
    return params


def _kind_and_name(params: dict[str, str], uri: str) -> tuple[Kind, str]:
    if ("queue" in params) == ("stream" in params):
        raise ConfigError("--source", uri, "exactly one of ?queue=NAME or ?stream=NAME")
    if "queue" in params:
        validate_queue_name(params["queue"])
        return "queue", params["queue"]
    validate_stream_name(params["stream"])
    return "stream", params["stream"]
