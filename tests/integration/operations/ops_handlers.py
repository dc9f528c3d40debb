"""Functions the operations tests run."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from batchmap.handler import batch_handler
from batchmap.records import Record


def slow_orders(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Take a while per batch; report every record whose body has ``"bad": true`` as failed."""
    time.sleep(float(os.environ.get("OPS_SLEEP_S", "0.1")))
    failed = [r for r in event["Records"] if json.loads(r["body"]).get("bad")]
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in failed]}


def always_fails(event: dict[str, Any], context: Any) -> None:
    """A function error on every batch."""
    raise RuntimeError("the downstream service is down")


def stream_reader(event: dict[str, Any], context: Any) -> None:
    """Accept every stream record."""
    time.sleep(0.01)


@batch_handler(concurrency=2)
def logs_failures(record: Record) -> None:
    """Fail (and so log a line for) every record whose body has ``"bad": true``."""
    time.sleep(0.01)
    if json.loads(record.body).get("bad"):
        raise ValueError(f"bad order {record.body}")


_in_flight = 0
_in_flight_lock = threading.Lock()


def counts_concurrency(event: dict[str, Any], context: Any) -> None:
    """Write how many invocations run at once (this one included) to ``OPS_LOG``, then take ``OPS_SLEEP_S``.

    The in-process invoker runs every invocation on a thread of the engine's process, so the count is the
    mapping's real concurrency: one per lane of a queue mapping."""
    global _in_flight
    with _in_flight_lock:
        _in_flight += 1
        seen = _in_flight
    try:
        with open(os.environ["OPS_LOG"], "a", encoding="utf-8") as out:
            out.write(f"{seen}\n")
        time.sleep(float(os.environ.get("OPS_SLEEP_S", "0.1")))
    finally:
        with _in_flight_lock:
            _in_flight -= 1
