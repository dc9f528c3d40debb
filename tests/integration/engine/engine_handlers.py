"""Handlers the engine tests invoke in-process; they record what they saw in module state."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

EVENTS: list[dict[str, Any]] = []
ACTIVE: dict[str, int] = {"now": 0, "max": 0}
GROUP_SPANS: list[tuple[str, float, float]] = []
ATTEMPTS: dict[str, int] = {}
_lock = threading.Lock()


def reset() -> None:
    with _lock:
        EVENTS.clear()
        GROUP_SPANS.clear()
        ATTEMPTS.clear()
        LATENCIES.clear()
        ACTIVE.update(now=0, max=0)


def bodies() -> list[Any]:
    """Every SQS body (decoded) the function received, in invocation order."""
    return [json.loads(r["body"]) for e in EVENTS for r in e.get("Records", [])]


def _seen(event: dict[str, Any]) -> None:
    with _lock:
        EVENTS.append(event)


def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _seen(event)
    return {}


def report_bad(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Partial failure: every SQS message whose body has "bad": true."""
    _seen(event)
    failed = [r["messageId"] for r in event["Records"] if json.loads(r["body"]).get("bad")]
    return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}


def raise_on_bad(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _seen(event)
    if any(json.loads(r["body"]).get("bad") for r in event["Records"]):
        raise RuntimeError("bad message in batch")
    return {}


def unknown_id(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A malformed partial response: an identifier that is not in the batch."""
    _seen(event)
    return {"batchItemFailures": [{"itemIdentifier": "not-in-this-batch"}]}


def slow_tracking(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Sleeps a little and tracks concurrency and, for FIFO, when each group was in flight."""
    _seen(event)
    start = time.monotonic()
    with _lock:
        ACTIVE["now"] += 1
        ACTIVE["max"] = max(ACTIVE["max"], ACTIVE["now"])
    time.sleep(0.05)
    with _lock:
        ACTIVE["now"] -= 1
        end = time.monotonic()
        for group in {r.get("attributes", {}).get("MessageGroupId") for r in event["Records"]} - {None}:
            GROUP_SPANS.append((group, start, end))
    return {}


def _data(record: dict[str, Any]) -> Any:
    import base64

    return json.loads(base64.b64decode(record["kinesis"]["data"]))


def stream_data() -> list[Any]:
    return [_data(r) for e in EVENTS for r in e.get("Records", [])]


def stream_report_poison(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Streams, partial: report records whose data has "poison": true (each fails the first 2 times)."""
    _seen(event)
    failed = []
    for r in event["Records"]:
        seq = r["kinesis"]["sequenceNumber"]
        if _data(r).get("poison"):
            with _lock:
                ATTEMPTS[seq] = ATTEMPTS.get(seq, 0) + 1
                if ATTEMPTS[seq] <= 2:
                    failed.append(seq)
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failed]}


def stream_raise_on_poison(event: dict[str, Any], context: Any) -> dict[str, Any]:
    _seen(event)
    if any(_data(r).get("poison") for r in event["Records"]):
        raise ValueError("poison record")
    return {}


def stream_slow_keys(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return slow_tracking(event, context)


def tumbling_count(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Counts records per window in the state; the final invocation is recorded too."""
    _seen(event)
    state = dict(event.get("state") or {})
    state["count"] = state.get("count", 0) + len(event["Records"])
    return {"state": state, "batchItemFailures": []}


LATENCIES: dict[str, list[float]] = {}
"""Per queue (its ARN): each message's time from sending to invocation, so runs on two queues can overlap."""


def latency(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Records, per message, the time from its sending to its invocation."""
    _seen(event)
    now_ms = time.time() * 1000
    with _lock:
        for r in event["Records"]:
            sent_ms = int(r["attributes"]["SentTimestamp"])
            LATENCIES.setdefault(r["eventSourceARN"], []).append((now_ms - sent_ms) / 1000)
    return {}
