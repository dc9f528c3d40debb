"""The common face of every record view: ``.id``, ``.key``, ``.raw``, ``.json()``, ``.size``.

A view wraps the dict Lambda delivered and decodes lazily: building one costs a
single slot assignment, so the handler can make one per record, hand it to
user code and drop it. ``.json()`` decodes once and caches the result on the
view. Views are read-only (every field is a property over the original dict).

A field that is missing, of the wrong type or undecodable (bad base64, invalid
JSON) raises ``RecordError`` naming the field, from every property and method:
the readers below turn the ``KeyError``/``TypeError``/``ValueError`` a raw dict
would give into that one documented error. ``RecordError`` is also a
``ValueError``, so ``except ValueError`` around ``.json()`` keeps working.
"""

from __future__ import annotations

import binascii

from batchmap.errors import RecordError
from batchmap.records._describe import MISSING, got

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

    from batchmap.records.wire import ItemIdentifier, SourceKind

def wrong(field: str, expected: str, value: object) -> RecordError:
    """``RecordError``: ``field`` should be ``expected`` but is ``value`` (``MISSING``: it is missing)."""
    return RecordError(f"{field}: expected {expected}, got {got(value)}", field=field)


def _get(raw: object, name: str) -> Any:
    """``raw[name]``, or ``MISSING`` when there is no such key (or ``raw`` is not an object)."""
    try:
        return raw[name]  # type: ignore[index]
    except (LookupError, TypeError):
        return MISSING


def member(raw: object, name: str, field: str) -> dict[str, Any]:
    """``raw[name]``, which must be an object."""
    value = _get(raw, name)
    if type(value) is not dict:
        raise wrong(field, "an object", value)
    return value


def text(raw: object, name: str, field: str, *, non_empty: bool = False) -> str:
    """``raw[name]``, which must be a string (a non-empty one with ``non_empty``)."""
    value = _get(raw, name)
    if type(value) is not str or (non_empty and not value):
        raise wrong(field, "a non-empty string" if non_empty else "a string", value)
    return value


def optional(raw: object, name: str, field: str, kind: type, default: Any = None) -> Any:
    """``raw.get(name, default)``, which must be a ``kind`` (``None`` and a missing key give ``default``)."""
    try:
        value = raw.get(name)  # type: ignore[attr-defined]
    except AttributeError:
        raise wrong(field.rpartition(".")[0] or "record", "an object", raw) from None
    if value is None:
        return default
    if type(value) is not kind:
        raise wrong(field, _KIND_NAMES.get(kind, kind.__name__), value)
    return value


def integer(raw: object, name: str, field: str) -> int:
    """``raw[name]``, which must be a whole number (not a boolean)."""
    value = _get(raw, name)
    if type(value) is not int:
        raise wrong(field, "an integer", value)
    return value


def number(value: object, field: str, convert: type) -> Any:
    """``convert(value)`` (``int`` or ``float``) of a number or a numeric string; ``RecordError`` if it is not one."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        try:
            return convert(value)
        except (ValueError, OverflowError):
            pass
    raise wrong(field, "a number" if convert is float else "a whole number", value)


_KIND_NAMES = {str: "a string", dict: "an object", list: "an array", int: "an integer", bool: "true or false"}


def b64decode(data: object, field: str) -> bytes:
    """Strict base64 (the only encoding Lambda uses for Kinesis data and Kafka keys/values)."""
    if type(data) is not str:
        raise wrong(field, "base64 text", data)
    try:
        return binascii.a2b_base64(data, strict_mode=True)
    except ValueError as exc:  # binascii.Error, or a non-ASCII character
        raise RecordError(f"{field}: not valid base64 ({exc}): {got(data)}", field=field) from exc


def b64size(text: str) -> int:
    """Bytes that ``text`` decodes to, without decoding it."""
    n = len(text)
    if n == 0:
        return 0
    pad = (text[-1] == "=") + (n > 1 and text[-2] == "=")
    return n * 3 // 4 - pad


def json_loads(data: str | bytes, field: str) -> Any:
    """``json.loads``, importing ``json`` only when a payload is first decoded; ``RecordError`` if it is not JSON."""
    import json

    try:
        return json.loads(data)
    except (ValueError, TypeError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, nesting
        raise RecordError(f"{field}: not valid JSON ({type(exc).__name__}: {str(exc)[:120]})",
                          field=field) from exc


class Record:
    """A read-only view of one record of a batch event, exactly as Lambda delivered it."""

    __slots__ = ("_decoded", "_raw")

    _decoded: Any
    _raw: dict[str, Any]
    kind: ClassVar[SourceKind]
    """``sqs``, ``kinesis``, ``dynamodb`` or ``kafka``."""
    event_source: ClassVar[str]
    """The ``eventSource`` value of this kind of record (``aws:sqs``, ...)."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self._raw = raw

    @property
    def raw(self) -> dict[str, Any]:
        """The original record dict (shared, not copied: do not mutate it)."""
        return self._raw

    @property
    def id(self) -> ItemIdentifier:
        """The value that goes into ``itemIdentifier`` when this record is reported."""
        raise NotImplementedError

    @property
    def key(self) -> str | None:
        """The ordering key: records with the same key must be processed in order."""
        return None

    @property
    def size(self) -> int:
        """Payload size in bytes (what the record carries, not its JSON envelope)."""
        raise NotImplementedError

    def json(self) -> Any:
        """The decoded payload, decoded on first call and cached on this view."""
        try:
            return self._decoded
        except AttributeError:
            value = self._decoded = self._decode()
            return value

    def _decode(self) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        try:
            return f"{type(self).__name__}(id={self.id!r}, key={self.key!r})"
        except RecordError as exc:
            return f"{type(self).__name__}(<malformed: {exc}>)"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or type(other) is not type(self):
            return NotImplemented
        return self._raw == other._raw

    __hash__ = None  # type: ignore[assignment]


class AwsRecord(Record):
    """A record that names its own source and region (SQS, Kinesis, DynamoDB; Kafka's are per event)."""

    __slots__ = ()

    @property
    def event_source_arn(self) -> str:
        arn: str = optional(self._raw, "eventSourceARN", "eventSourceARN", str, "")
        return arn

    @property
    def aws_region(self) -> str:
        region: str = optional(self._raw, "awsRegion", "awsRegion", str, "")
        return region
