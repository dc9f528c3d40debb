"""What the self-hosted broker sources share.

Redis Streams, RabbitMQ, NATS JetStream and PostgreSQL all hand the user's
function SQS-shaped records, read their options from the source URI's query
string, and must tell the engine, when a call fails, whether waiting helps (it
waits out an outage without losing anything). Those three chores live here once,
so each broker module is only about its broker.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from batchmap.errors import ConfigError, MissingExtraError, SourceError
from batchmap.redaction import without_credentials
from batchmap.sources.base import Delivery

T = TypeVar("T")

DEFAULT_REGION = "local"
"""``awsRegion`` of records from a self-hosted broker when no region was given."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def import_client(module: str, extra: str) -> ModuleType:
    """Import a broker's client library, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(extra, module.split(".")[0]) from exc


class UriOptions:
    """The batchmap options of a source URI's query string, read once, typed, checked.

    Every option is named in errors as ``<scheme> URI option <name>``; an option
    that no one reads is reported by ``check_all_used`` so a typo never passes
    silently. Options listed in ``passthrough`` are left for the client library.
    """

    def __init__(self, uri: str, passthrough: frozenset[str] = frozenset()) -> None:
        parts = urlsplit(uri)
        self.scheme = parts.scheme
        self._values: dict[str, str] = {}
        self._passthrough: list[tuple[str, str]] = []
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name in passthrough:
                self._passthrough.append((name, value))
            elif name in self._values:
                raise ConfigError(self._field(name), value, "given more than once")
            else:
                self._values[name] = value
        self._used: set[str] = set()
        self._uri = uri

    def _field(self, name: str) -> str:
        return f"{self.scheme} URI option {name}"

    def text(self, name: str, default: str | None = None) -> str | None:
        """A string option, or ``default`` when absent or empty."""
        self._used.add(name)
        value = self._values.get(name, "")
        return value if value != "" else default

    def required(self, name: str) -> str:
        """A string option that must be present."""
        value = self.text(name)
        if value is None:
            raise ConfigError(self._field(name), None, f"required: add ?{name}=... to the source URI")
        return value

    def number(self, name: str, default: float, minimum: float, maximum: float) -> float:
        """A decimal option within ``[minimum, maximum]``."""
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(self._field(name), raw, f"a number from {minimum:g} to {maximum:g}") from None
        if not minimum <= value <= maximum:
            raise ConfigError(self._field(name), raw, f"a number from {minimum:g} to {maximum:g}")
        return value

    def integer(self, name: str, default: int | None, minimum: int, maximum: int) -> int | None:
        """A whole-number option within ``[minimum, maximum]``; ``default`` (maybe ``None``) when absent."""
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(self._field(name), raw, f"a whole number from {minimum} to {maximum}") from None
        if not minimum <= value <= maximum:
            raise ConfigError(self._field(name), raw, f"a whole number from {minimum} to {maximum}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        """A true/false option."""
        raw = self.text(name)
        if raw is None:
            return default
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise ConfigError(self._field(name), raw, "true or false")

    def check_all_used(self) -> None:
        """Fail on options nobody read: most often a typo."""
        unknown = sorted(set(self._values) - self._used)
        if unknown:
            raise ConfigError(
                self._field(unknown[0]), self._values[unknown[0]],
                f"unknown option; known: {', '.join(sorted(self._used))}",
            )

    def client_uri(self) -> str:
        """The URI without batchmap's options (passthrough options kept) for the client library."""
        parts = urlsplit(self._uri)
        query = "&".join(f"{k}={v}" for k, v in self._passthrough)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def with_option(uri: str, name: str, value: str) -> str:
    """``uri`` with its query option ``name`` set to ``value`` (the others kept): a sibling queue's URI."""
    parts = urlsplit(uri)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name] + [(name, value)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(pairs, safe=":/"), ""))


def sibling_queue(source_uri: str, destination: str, option: str, schemes: tuple[str, ...]) -> UriOptions:
    """The options of ``destination``, a queue on the same server as ``source_uri`` (host, port and path).

    A message moves between queues of one broker; anything else is a ``ConfigError`` naming ``--destination-arn``.
    """
    here, there = urlsplit(source_uri), urlsplit(destination)
    same = (there.scheme in schemes and (here.hostname, here.port, here.path.rstrip("/"))
            == (there.hostname, there.port, there.path.rstrip("/")))
    if not same:
        raise ConfigError("--destination-arn", destination,
                          f"a {here.scheme} URI on the same server as the source, with ?{option}=NAME")
    opts = UriOptions(destination)
    if opts.text(option) is None:
        raise ConfigError("--destination-arn", destination, f"a URI with ?{option}=NAME")
    return opts


def checked_name(field: str, value: str, allowed: str = "-_.") -> str:
    """A queue/stream/table name made only of letters, digits and ``allowed``, at most 200 characters."""
    if not value or len(value) > 200 or not all(c.isalnum() or c in allowed for c in value):
        raise ConfigError(field, value, f"1-200 letters, digits or {' '.join(allowed)}")
    return value


def source_id(uri: str, *path: str) -> str:
    """The ``eventSourceARN`` of a broker queue: its URI without credentials or options."""
    tail = "/".join(p.strip("/") for p in path if p != "")
    return f"{without_credentials(uri)}/{tail}"


def default_consumer_name() -> str:
    """A consumer name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def message_attribute(value: str) -> dict[str, Any]:
    """A string message attribute in the SQS event shape."""
    return {"stringValue": value, "stringListValues": [], "binaryListValues": [], "dataType": "String"}


_json_str = json.encoder.encode_basestring_ascii
"""A string as ``json.dumps`` writes it (quoted, escaped, ASCII): its length is the string's JSON size."""
_SQS_KEYS = ("ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp")
_ATTRIBUTE_SIZE = len(json.dumps(message_attribute(""), separators=(",", ":")))
"""JSON bytes of one message attribute whose value is empty."""


class SqsRecords:
    """Makes one source's SQS-shaped records, exactly as Lambda shapes an SQS message, and their JSON size.

    A ``Delivery`` must say how many bytes its record takes in the invocation
    payload. Serialising every record to count them cost as much as receiving
    it, so the size is added up instead: the JSON size of a record whose
    strings are all empty, measured once, plus each string's own JSON size.
    The broker's metadata is kept as strings: ``constant`` (the same for every
    record of the source) and ``native`` go into ``attributes`` beside SQS's own
    names, ``message_attributes`` into ``messageAttributes`` as String attributes.
    """

    def __init__(self, *, arn: str, region: str, constant: Mapping[str, str] | None = None) -> None:
        self.arn = arn
        self.region = region
        self._constant = dict(constant or {})
        clash = set(self._constant) & set(_SQS_KEYS)
        if clash:
            raise ValueError(f"constant attributes may not replace SQS's own: {sorted(clash)}")
        self._empty_size = 0
        probe = self.delivery(message_id="", receipt_handle="", body="", receive_count=0, sent_ms=0,
                              first_receive_ms=0)
        self._empty_size = len(json.dumps(probe.record, separators=(",", ":"))) - probe.size

    def delivery(
        self,
        *,
        message_id: str,
        receipt_handle: str,
        body: str,
        receive_count: int,
        sent_ms: int,
        first_receive_ms: int,
        sender_id: str = "",
        native: Mapping[str, str] | None = None,
        message_attributes: Mapping[str, str] | None = None,
    ) -> Delivery:
        """The engine's view of one message: its record, id, settle handle, size and arrival.

        The hottest code of a broker source, one call per message: kept flat on purpose.
        """
        count, sent, first = str(receive_count), str(sent_ms), str(first_receive_ms)
        attributes = {"ApproximateReceiveCount": count, "SentTimestamp": sent, "SenderId": sender_id,
                      "ApproximateFirstReceiveTimestamp": first, **self._constant}
        size = (self._empty_size + len(_json_str(message_id)) + len(_json_str(receipt_handle))
                + len(_json_str(body)) + len(_json_str(sender_id)) + len(count) + len(sent) + len(first))
        if native:
            attributes.update(native)
            if len(attributes) != len(_SQS_KEYS) + len(self._constant) + len(native):
                raise ValueError(f"native attributes may not replace SQS's or the source's own: {sorted(native)}")
            for name, value in native.items():
                size += len(_json_str(name)) + len(_json_str(value)) + 2  # ,"name":"value"
        shaped: dict[str, Any] = {}
        if message_attributes:
            size -= 1  # n attributes are joined by n - 1 commas
            for name, value in message_attributes.items():
                shaped[name] = message_attribute(value)
                size += len(_json_str(name)) + len(_json_str(value)) + _ATTRIBUTE_SIZE  # "name":{...},
        record = {
            "messageId": message_id,
            "receiptHandle": receipt_handle,
            "body": body,
            "attributes": attributes,
            "messageAttributes": shaped,
            "md5OfBody": hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.arn,
            "awsRegion": self.region,
        }
        return Delivery(record, message_id, None, "", size, sent_ms, receive_count, receipt_handle)


def decode_body(data: bytes, *where: object) -> str:
    """A message body as text; SQS bodies are text, so other bytes are an error naming the message.

    ``where`` (joined by spaces) names the message; it is only formatted on error.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        place = " ".join(str(part) for part in where)
        raise SourceError(f"{place}: body is not UTF-8 text ({exc}); SQS-shaped records carry text") from exc


class Reconnecting:
    """Turns a broker client's errors into ``SourceError``s that say whether waiting helps.

    The engine waits out a broker outage (``batchmap.engine.backoff``); a source only
    has to say what happened. A call that meets a dropped connection (``retryable``)
    throws the connection away (``reset``), so the next call connects afresh, and
    raises a transient ``SourceError``. One whose error ``fatal`` recognises (bad
    credentials, access refused: retrying cannot cure them), or any other error of
    the client (``errors``), raises a fatal one naming the call and the cause.
    """

    def __init__(
        self,
        name: str,
        retryable: tuple[type[BaseException], ...],
        reset: Callable[[], Awaitable[None]],
        *,
        fatal: Callable[[BaseException], bool] = lambda exc: False,
        errors: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.name = name
        self.retryable = retryable
        self._reset = reset
        self._fatal = fatal
        self._errors = errors
        self.closed = False
        self.log = logging.getLogger(f"batchmap.sources.{name}")

    async def run(self, op: Callable[[], Awaitable[T]], what: str) -> T:
        """``await op()``, its client's errors translated (a transient one after dropping the connection)."""
        if self.closed:
            raise SourceError(f"{self.name}: {what} on a closed source")
        try:
            return await op()
        except self.retryable as exc:
            if self._fatal(exc):
                raise self.error(what, exc, transient=False) from exc
            await self._drop()
            raise self.error(what, exc, transient=True) from exc
        except self._errors as exc:
            raise self.error(what, exc, transient=False) from exc

    def error(self, what: str, exc: BaseException, *, transient: bool) -> SourceError:
        """The ``SourceError`` for ``exc`` met while doing ``what``."""
        return SourceError(f"{self.name}: {what} failed: {type(exc).__name__}: {exc}", transient=transient)

    async def _drop(self) -> None:
        try:
            await self._reset()
        except Exception as exc:  # a broken connection may fail to close in many ways: it is gone either way
            self.log.debug("%s: dropping the broken connection: %s", self.name, exc)
