"""The functions the contract suite maps sources to, for every record shape (SQS, Kinesis, DynamoDB, Kafka).

In-process handlers keep what they saw in ``CALLS`` (one ``Call`` per
invocation); ``log_ids`` is for engines in a subprocess: it appends
``ID PID`` lines to the file named by ``BATCHMAP_CONTRACT_LOG`` and fsyncs
before returning, so what it processed survives a SIGKILL.

Messages say how they behave: ``{"fail": N}`` fails the first N deliveries,
``{"poison": true}`` fails every one. A delivery's number is the record's
``ApproximateReceiveCount`` on queues (the broker counts) and the number of
times this process saw the message on streams (a stream has no counter).
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One invocation: the message ids in order, their delivery numbers and keys, and when it ran."""

    ids: tuple[str, ...]
    deliveries: tuple[int, ...]
    keys: tuple[str | None, ...]
    started: float
    ended: float


CALLS: list[Call] = []
RECORDS: list[Record] = []
"""Every record ``ok`` was given, as it was given."""
SEEN: Counter[str] = Counter()
ACTIVE = {"now": 0, "max": 0}
SLEEP_S = {"value": 0.0}
_lock = threading.Lock()


def reset(sleep_s: float = 0.0) -> None:
    with _lock:
        CALLS.clear()
        RECORDS.clear()
        SEEN.clear()
        ACTIVE.update(now=0, max=0)
        SLEEP_S["value"] = sleep_s


def records(event: dict[str, Any]) -> list[Record]:
    """The records of any event: ``Records`` (SQS, Kinesis, DynamoDB) or Kafka's ``records`` by partition."""
    if "Records" in event:
        found: list[Record] = event["Records"]
        return found
    return [r for batch in event.get("records", {}).values() for r in batch]


def payload(record: Record) -> dict[str, Any]:
    """The JSON message a kit sent, whatever the record shape."""
    if "body" in record:
        decoded: dict[str, Any] = json.loads(record["body"])
    elif "kinesis" in record:
        decoded = json.loads(base64.b64decode(record["kinesis"]["data"]))
    elif "dynamodb" in record:
        decoded = json.loads(record["dynamodb"]["NewImage"]["doc"]["S"])
    else:
        decoded = json.loads(base64.b64decode(record["value"]))
    return decoded


def item_identifier(record: Record) -> Any:
    """What a partial batch response names this record by (reference §9.7)."""
    if "messageId" in record:
        return record["messageId"]
    if "kinesis" in record:
        return record["kinesis"]["sequenceNumber"]
    if "dynamodb" in record:
        return record["dynamodb"]["SequenceNumber"]
    return {"partition": f"{record['topic']}-{record['partition']}", "offset": record["offset"]}


def _delivery_number(record: Record, message_id: str) -> int:
    if "attributes" in record:
        return int(record["attributes"]["ApproximateReceiveCount"])
    return SEEN[message_id]


def _fails(message: dict[str, Any], delivery: int) -> bool:
    return bool(message.get("poison")) or delivery <= int(message.get("fail", 0))


def _observe(event: dict[str, Any]) -> tuple[list[tuple[Record, dict[str, Any], int]], float]:
    """Count each message's delivery; returns (record, message, delivery number) and the start time."""
    started = time.monotonic()
    seen = []
    with _lock:
        for record in records(event):
            message = payload(record)
            SEEN[message["id"]] += 1
            seen.append((record, message, _delivery_number(record, message["id"])))
    return seen, started


def _keep(seen: list[tuple[Record, dict[str, Any], int]], started: float) -> None:
    call = Call(tuple(m["id"] for _, m, _ in seen), tuple(n for _, _, n in seen),
                tuple(m.get("key") for _, m, _ in seen), started, time.monotonic())
    with _lock:
        CALLS.append(call)


def ok(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Succeeds (sleeping ``SLEEP_S`` first); tracks how many invocations ran at once."""
    seen, started = _observe(event)
    with _lock:
        RECORDS.extend(records(event))
        ACTIVE["now"] += 1
        ACTIVE["max"] = max(ACTIVE["max"], ACTIVE["now"])
    try:
        if SLEEP_S["value"]:
            time.sleep(SLEEP_S["value"])
    finally:
        with _lock:
            ACTIVE["now"] -= 1
        _keep(seen, started)
    return {}


def partial(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """ReportBatchItemFailures: names the records that fail this delivery."""
    seen, started = _observe(event)
    _keep(seen, started)
    failed = [item_identifier(r) for r, message, n in seen if _fails(message, n)]
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}


def raising(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A function error when any record of the batch fails this delivery."""
    seen, started = _observe(event)
    _keep(seen, started)
    bad = [m["id"] for _, m, n in seen if _fails(m, n)]
    if bad:
        raise RuntimeError(f"failing messages: {', '.join(bad)}")
    return {}


def log_ids(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """For engines in a subprocess: note the batch as started, sleep, then note it as processed.

    Both notes are ``ID PID`` lines appended and fsynced (``BATCHMAP_CONTRACT_STARTED``,
    ``BATCHMAP_CONTRACT_LOG``), so a test can tell what a killed engine had in hand.
    """
    lines = "".join(f"{payload(r)['id']} {os.getpid()}\n" for r in records(event))
    _append(os.environ.get("BATCHMAP_CONTRACT_STARTED"), lines)
    time.sleep(float(os.environ.get("BATCHMAP_CONTRACT_SLEEP", "0.05")))
    _append(os.environ["BATCHMAP_CONTRACT_LOG"], lines)
    return {}


def _append(path: str | None, lines: str) -> None:
    if path:
        with open(path, "a", encoding="utf-8") as out:
            out.write(lines)
            out.flush()
            os.fsync(out.fileno())


def first_deliveries() -> list[str]:
    """Message ids in the order they were first invoked."""
    order: list[str] = []
    seen: set[str] = set()
    for call in sorted(CALLS, key=lambda c: c.started):
        for message_id in call.ids:
            if message_id not in seen:
                seen.add(message_id)
                order.append(message_id)
    return order


def processed() -> Counter[str]:
    """How many times each message id was invoked."""
    return Counter(i for call in CALLS for i in call.ids)
