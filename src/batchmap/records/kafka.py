"""Kafka records from Amazon MSK and self-managed clusters (reference §4.2, §9.5)."""

from __future__ import annotations

from batchmap.records.record import Record, b64decode, b64size, json_loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from batchmap.records.wire import KafkaItemIdentifier


class KafkaRecord(Record):
    """One Kafka record. ``.id`` is AWS's identifier ``{"partition": "topic-0", "offset": 15}``.

    ``.key`` is the record key as delivered (base64, ``None`` when absent);
    ``.value`` and ``.key_bytes`` are decoded; ``.json()`` decodes the value as
    JSON (``None`` for a tombstone).
    """

    __slots__ = ()
    kind = "kafka"
    event_source = "aws:kafka"

    @property
    def topic(self) -> str:
        topic: str = self._raw["topic"]
        return topic

    @property
    def partition(self) -> int:
        partition: int = self._raw["partition"]
        return partition

    @property
    def offset(self) -> int:
        offset: int = self._raw["offset"]
        return offset

    @property
    def topic_partition(self) -> str:
        """``<topic>-<partition>``: the key of ``records`` in the event and of Kafka's identifier."""
        return f"{self._raw['topic']}-{self._raw['partition']}"

    @property
    def id(self) -> KafkaItemIdentifier:
        return {"partition": self.topic_partition, "offset": self._raw["offset"]}

    @property
    def key(self) -> str | None:
        key: str | None = self._raw.get("key")
        return key

    @property
    def key_bytes(self) -> bytes | None:
        key = self.key
        return None if key is None else b64decode(key)

    @property
    def value(self) -> bytes | None:
        """The record value, base64-decoded; ``None`` for a tombstone."""
        value = self._raw.get("value")
        return None if value is None else b64decode(value)

    @property
    def size(self) -> int:
        value = self._raw.get("value")
        return 0 if value is None else b64size(value)

    def _decode(self) -> Any:
        value = self.value
        return None if value is None else json_loads(value)

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        """Headers in order as ``(name, value)``; Lambda sends each value as a list of byte values."""
        headers = self._raw.get("headers") or ()
        return [(name, bytes(data)) for header in headers for name, data in header.items()]

    def header(self, name: str) -> bytes | None:
        """The first header called ``name``, or ``None``."""
        for header_name, data in self.headers:
            if header_name == name:
                return data
        return None

    @property
    def timestamp_ms(self) -> int:
        timestamp: int = self._raw.get("timestamp", 0)
        return timestamp

    @property
    def timestamp_type(self) -> str:
        """``CREATE_TIME`` or ``LOG_APPEND_TIME``."""
        kind: str = self._raw.get("timestampType", "CREATE_TIME")
        return kind
