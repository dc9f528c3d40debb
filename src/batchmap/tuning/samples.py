"""Sample events for measurement: any batch size, built from the records a user gives.

A user gives one AWS-shaped event (``{"Records": [...]}`` or a Kafka event),
a list of records, or a single record. ``SampleEvents.event(n)`` cycles through
those records and gives each copy its own identity (``messageId``, sequence
number, offset), so handlers that deduplicate or report ``batchItemFailures``
behave as they would on real traffic. It also measures s̄ (payload bytes) and h
(the envelope around it) for the cost and payload model.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batchmap.errors import ConfigError, UnknownEventSourceError
from batchmap.records import SourceKind
from batchmap.records.shapes import EVENT_SOURCES, shape_of


@dataclass(frozen=True, slots=True)
class SampleEvents:
    """Record templates of one shape, and what an event of ``n`` of them looks like."""

    shape: SourceKind
    records: tuple[dict[str, Any], ...]
    kafka_meta: tuple[tuple[str, Any], ...] = ()

    def event(self, n: int) -> dict[str, Any]:
        """A fresh event of ``n`` records (deep copies with unique identities)."""
        if n < 1:
            raise ConfigError("batch_size", n, "an integer >= 1")
        records = [
            _identify(self.shape, copy.deepcopy(self.records[i % len(self.records)]), i) for i in range(n)
        ]
        if self.shape == "kafka":
            event: dict[str, Any] = dict(self.kafka_meta)
            event["records"] = {f"{records[0].get('topic', 'topic')}-0": records}
            return event
        return {"Records": records}

    @property
    def record_bytes(self) -> int:
        """s̄: mean payload bytes (SQS body, decoded Kinesis/Kafka data, DynamoDB images)."""
        return max(1, round(sum(_payload_bytes(self.shape, r) for r in self.records) / len(self.records)))

    @property
    def envelope_bytes(self) -> int:
        """h: mean bytes each record adds to the event beyond its (expanded) payload."""
        expansion = shape_of(self.shape).payload_expansion
        total = sum(len(json.dumps(r, separators=(",", ":"))) for r in self.records) / len(self.records)
        return max(0, round(total - math.ceil(expansion * self.record_bytes)))


def load_samples(path: str | Path) -> SampleEvents:
    """Read a JSON file holding an event, a list of records, or one record."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError("--sample-event", str(file), f"a readable JSON file ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError("--sample-event", str(file), f"valid JSON: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("--sample-event", str(file), f"UTF-8 JSON ({exc.reason} at byte {exc.start})") from None
    return samples_from(data, where=str(file))


def samples_from(data: Any, where: str = "sample event") -> SampleEvents:
    """Sample events from parsed JSON (an event, a list of records, or a single record)."""
    if isinstance(data, dict) and isinstance(data.get("records"), dict):
        records = [r for group in data["records"].values() if isinstance(group, list) for r in group]
        meta = tuple((k, v) for k, v in data.items() if k != "records")
        return _checked("kafka", records, where, meta)
    if isinstance(data, dict) and "Records" in data:
        records = data["Records"]
    elif isinstance(data, list):
        records = data
    elif isinstance(data, dict):
        records = [data]
    else:
        raise ConfigError(where, type(data).__name__, "an event object, a list of records or one record")
    if not isinstance(records, list) or not records or not all(isinstance(r, dict) for r in records):
        raise ConfigError(f"{where}: Records", records, "a non-empty list of record objects")
    source = records[0].get("eventSource")
    shape = EVENT_SOURCES.get(source) if isinstance(source, str) else None
    if shape is None or shape == "kafka":
        raise UnknownEventSourceError(source, where=f"{where}: Records[0].eventSource")
    return _checked(shape, records, where, ())


def _checked(shape: SourceKind, records: list[Any], where: str, meta: tuple[tuple[str, Any], ...]) -> SampleEvents:
    if not records or not all(isinstance(r, dict) for r in records):
        raise ConfigError(f"{where}: records", records, "a non-empty list of record objects")
    for index, record in enumerate(records):
        _payload_bytes(shape, record, f"{where}: record {index}")
    return SampleEvents(shape, tuple(records), meta)


def _payload_bytes(shape: SourceKind, record: dict[str, Any], where: str = "record") -> int:
    try:
        if shape == "sqs":
            return len(str(record["body"]).encode())
        if shape == "kinesis":
            return len(base64.b64decode(record["kinesis"]["data"], validate=True))
        if shape == "dynamodb":
            return len(json.dumps(record["dynamodb"], separators=(",", ":")))
        value = record.get("value")
        return len(base64.b64decode(value, validate=True)) if value else 0
    except (KeyError, TypeError) as exc:
        raise ConfigError(
            f"{where}", sorted(record), f"a {shape} record with its payload field ({exc})"
        ) from exc
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{where}", "data", f"base64 payload ({exc})") from exc


def _identify(shape: SourceKind, record: dict[str, Any], i: int) -> dict[str, Any]:
    """Give copy ``i`` its own id, as the broker would."""
    if shape == "sqs":
        record["messageId"] = str(uuid.UUID(int=i + 1))
    elif shape == "kinesis":
        data = record["kinesis"]
        data["sequenceNumber"] = _next_number(data.get("sequenceNumber"), i)
        record["eventID"] = f"shardId-000000000000:{data['sequenceNumber']}"
    elif shape == "dynamodb":
        stream = record["dynamodb"]
        stream["SequenceNumber"] = _next_number(stream.get("SequenceNumber"), i)
        record["eventID"] = uuid.UUID(int=i + 1).hex
    else:
        record["partition"] = 0
        record["offset"] = i
    return record


def _next_number(base: object, i: int) -> str:
    start = int(base) if isinstance(base, str) and base.isdigit() else 10**20
    return str(start + i)
