"""Kafka records from Amazon MSK and self-managed clusters (reference §4.2, §9.5)."""

from __future__ import annotations

from batchmap.records._describe import key_name
from batchmap.records.record import Record, b64decode, b64size, integer, json_loads, optional, text, wrong

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from batchmap.records.wire import KafkaItemIdentifier, KafkaSchemaMetadata


class KafkaRecord(Record):
    """One Kafka record. ``.id`` is AWS's identifier ``{"partition": "topic-0", "offset": 15}``.

    ``.key`` is the record key as delivered (base64, ``None`` when absent);
    ``.value`` and ``.key_bytes`` are decoded; ``.json()`` decodes the value as
    JSON (``None`` for a tombstone). Avro, Protobuf and JSON Schema payloads:
    ``batchmap.handler.SchemaConfig``.
    """

    __slots__ = ()
    kind = "kafka"
    event_source = "aws:kafka"

    @property
    def topic(self) -> str:
        return text(self._raw, "topic", "topic", non_empty=True)

    @property
    def partition(self) -> int:
        return integer(self._raw, "partition", "partition")

    @property
    def offset(self) -> int:
        offset = integer(self._raw, "offset", "offset")
        if offset < 0:
            raise wrong("offset", "a whole number >= 0", offset)
        return offset

    @property
    def topic_partition(self) -> str:
        """``<topic>-<partition>``: the key of ``records`` in the event and of Kafka's identifier."""
        return f"{self.topic}-{self.partition}"

    @property
    def id(self) -> KafkaItemIdentifier:
        return {"partition": self.topic_partition, "offset": self.offset}

    @property
    def key(self) -> str | None:
        key: str | None = optional(self._raw, "key", "key", str)
        return key

    @property
    def key_bytes(self) -> bytes | None:
        key = self.key
        return None if key is None else b64decode(key, "key")

    @property
    def value(self) -> bytes | None:
        """The record value, base64-decoded; ``None`` for a tombstone."""
        value = self._value_text()
        return None if value is None else b64decode(value, "value")

    def _value_text(self) -> str | None:
        value: str | None = optional(self._raw, "value", "value", str)
        return value

    @property
    def size(self) -> int:
        value = self._value_text()
        return 0 if value is None else b64size(value)

    def _decode(self) -> Any:
        value = self.value
        return None if value is None else json_loads(value, "value")

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        """Headers in order as ``(name, value)``; Lambda sends each value as a list of byte values."""
        headers = optional(self._raw, "headers", "headers", list, ())
        out: list[tuple[str, bytes]] = []
        for n, header in enumerate(headers):
            if type(header) is not dict:
                raise wrong(f"headers[{n}]", "an object of header name to bytes", header)
            for name, data in header.items():
                try:
                    if type(data) is not list:
                        raise TypeError(type(data).__name__)
                    out.append((name, bytes(data)))
                except (TypeError, ValueError) as exc:
                    raise wrong(f"headers[{n}].{key_name(name)}", "a list of byte values (0-255)", data) from exc
        return out

    def header(self, name: str) -> bytes | None:
        """The first header called ``name``, or ``None``."""
        for header_name, data in self.headers:
            if header_name == name:
                return data
        return None

    @property
    def timestamp_ms(self) -> int:
        timestamp: int = optional(self._raw, "timestamp", "timestamp", int, 0)
        return timestamp

    @property
    def timestamp_type(self) -> str:
        """``CREATE_TIME`` or ``LOG_APPEND_TIME``."""
        kind: str = optional(self._raw, "timestampType", "timestampType", str, "CREATE_TIME")
        return kind

    @property
    def key_schema_metadata(self) -> KafkaSchemaMetadata | None:
        """``keySchemaMetadata`` (``dataFormat``, ``schemaId``): present when a registry validated the key."""
        return self._schema_metadata("keySchemaMetadata")

    @property
    def value_schema_metadata(self) -> KafkaSchemaMetadata | None:
        """``valueSchemaMetadata`` (``dataFormat``, ``schemaId``): present when a registry validated the value."""
        return self._schema_metadata("valueSchemaMetadata")

    def _schema_metadata(self, name: str) -> KafkaSchemaMetadata | None:
        metadata: KafkaSchemaMetadata | None = optional(self._raw, name, name, dict)
        if metadata is not None:
            text(metadata, "dataFormat", f"{name}.dataFormat", non_empty=True)
            text(metadata, "schemaId", f"{name}.schemaId", non_empty=True)
        return metadata
