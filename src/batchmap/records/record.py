"""The common face of every record view: ``.id``, ``.key``, ``.raw``, ``.json()``, ``.size``.

A view wraps the dict Lambda delivered and decodes lazily: building one costs a
single slot assignment, so the handler can make one per record, hand it to
user code and drop it. ``.json()`` decodes once and caches the result on the
view. Views are read-only (every field is a property over the original dict).
"""

from __future__ import annotations

import binascii

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, ClassVar

    from batchmap.records.wire import ItemIdentifier, SourceKind


def b64decode(text: str) -> bytes:
    """Strict base64 (the only encoding Lambda uses for Kinesis data and Kafka keys/values)."""
    return binascii.a2b_base64(text, strict_mode=True)


def b64size(text: str) -> int:
    """Bytes that ``text`` decodes to, without decoding it."""
    n = len(text)
    if n == 0:
        return 0
    pad = (text[-1] == "=") + (n > 1 and text[-2] == "=")
    return n * 3 // 4 - pad


def json_loads(data: str | bytes) -> Any:
    """``json.loads``, importing ``json`` only when a payload is first decoded."""
    import json

    return json.loads(data)


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
        return f"{type(self).__name__}(id={self.id!r}, key={self.key!r})"

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
        arn: str = self._raw.get("eventSourceARN", "")
        return arn

    @property
    def aws_region(self) -> str:
        region: str = self._raw.get("awsRegion", "")
        return region
