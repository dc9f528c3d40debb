"""One Kafka message as Lambda hands it to a function (reference §4.2, §9.5), and as the engine tracks it.

The record carries ``topic``, ``partition``, ``offset``, ``timestamp`` (epoch
ms), ``timestampType``, ``key`` (base64; left out when the message has none,
as Lambda does), ``value`` (base64; left out for a tombstone) and ``headers``
(a list of single-key objects whose value is the header bytes as a list of
integers; a null header value becomes an empty list).
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Protocol

from batchmap.errors import ConfigError
from batchmap.records.shapes import kafka_item_id, topic_partition
from batchmap.sources.base import Delivery

TIMESTAMP_TYPES = {0: "NO_TIMESTAMP_TYPE", 1: "CREATE_TIME", 2: "LOG_APPEND_TIME"}
"""confluent-kafka's timestamp type numbers -> Kafka's names."""


class Message(Protocol):
    """The parts of ``confluent_kafka.Message`` a record is made of."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def timestamp(self) -> tuple[int, int]: ...
    def key(self) -> bytes | str | None: ...
    def value(self) -> bytes | str | None: ...
    def headers(self) -> list[tuple[str, bytes | str | None]] | None: ...


def kafka_record(message: Message) -> dict[str, Any]:
    """The Lambda record for one consumed message, keys in AWS's order."""
    kind, timestamp = message.timestamp()
    record: dict[str, Any] = {
        "topic": message.topic(),
        "partition": message.partition(),
        "offset": message.offset(),
        "timestamp": timestamp,
        "timestampType": TIMESTAMP_TYPES.get(kind, "NO_TIMESTAMP_TYPE"),
    }
    key = message.key()
    if key is not None:
        record["key"] = _b64(key)
    value = message.value()
    if value is not None:
        record["value"] = _b64(value)
    record["headers"] = [{name: list(_bytes(data or b""))} for name, data in message.headers() or ()]
    return record


def delivery(message: Message, now_ms: int) -> Delivery:
    """The engine's view of a message: id ``topic-partition:offset``, ordering key, size, arrival."""
    record = kafka_record(message)
    shard = topic_partition(record["topic"], record["partition"])
    timestamp = record["timestamp"]
    return Delivery(
        record=record,
        id=kafka_item_id(shard, record["offset"]),
        key=key_text(message.key()),
        shard=shard,
        size=record_size(record),
        arrival_ms=timestamp if timestamp >= 0 else now_ms,
    )


_FIXED = len(json.dumps({"topic": "", "partition": 0, "offset": 0, "timestamp": 0, "timestampType": "",
                          "headers": []}, separators=(",", ":"))) - 3
"""Characters of a record's keys, quotes and separators, less its digits (three zeros)."""


def record_size(record: dict[str, Any]) -> int:
    """Bytes of the record as compact JSON, as ``len(json.dumps(record))`` counts them, without encoding it.

    Topic names, base64 and numbers need no escaping, so only headers (free
    text names) go through the encoder.
    """
    size = _FIXED + len(record["topic"]) + len(record["timestampType"])
    size += len(str(record["partition"])) + len(str(record["offset"])) + len(str(record["timestamp"]))
    for field in ("key", "value"):
        if field in record:
            size += len(field) + 6 + len(record[field])  # ,"key":"..."
    if record["headers"]:
        size += len(json.dumps(record["headers"], separators=(",", ":"))) - 2
    return size


def key_text(key: bytes | str | None) -> str | None:
    """A message key as text for per-key ordering: UTF-8 when it is, else its base64 (stable either way)."""
    if key is None:
        return None
    raw = _bytes(key)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return _b64(raw)


def offset_of(shard_id: str, sequence_number: str | None) -> int:
    """The offset in a checkpoint ``topic-N:offset`` of partition ``shard_id`` (``-1``: before the first)."""
    partition, sep, offset = (sequence_number or "").rpartition(":")
    number = offset.removeprefix("-")
    if not sep or partition != shard_id or not number.isdigit() or int(offset) < -1:
        raise ConfigError("Kafka checkpoint", sequence_number, f"'{shard_id}:<offset>'")
    return int(offset)


def decode_b64(text: str, where: str) -> bytes:
    """Bytes of a base64 field of a record (the key of an on-failure message, for one)."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{where}: not base64 ({exc})") from exc


def _bytes(data: bytes | str) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def _b64(data: bytes | str) -> str:
    return base64.b64encode(_bytes(data)).decode("ascii")
