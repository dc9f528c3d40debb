"""Pattern 2: call a slow downstream service for every record, at most CONCURRENCY calls at once.

``process_batch(..., concurrency=N)`` runs the record handler on N threads with
a sliding window: when one call returns, the next record starts at once, so
one slow call holds up one slot, not a whole wave of N records. Records that
fail are reported alone (partial batch response). Each invocation counts its
calls in flight, so the output shows the limit is reached and never passed.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

from batchmap.handler import process_batch
from batchmap.records import SQSRecord

CONCURRENCY = int(os.environ.get("CONCURRENCY", "5"))


def emit(document: dict[str, object]) -> None:
    """Print one JSON line in a single write, so lines from several threads never interleave."""
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()


def call_downstream(latency_ms: float) -> None:
    """Stands in for an HTTP call or a database query: it only waits."""
    time.sleep(latency_ms / 1000)


class InFlight:
    """Calls in flight for one invocation."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0

    def enter(self) -> int:
        with self.lock:
            self.count += 1
            return self.count

    def leave(self) -> None:
        with self.lock:
            self.count -= 1


def handler(event: dict[str, Any], context: Any) -> Any:
    in_flight = InFlight()

    def enrich(record: SQSRecord) -> None:
        item = record.json()
        seen = in_flight.enter()
        try:
            call_downstream(float(item.get("latency_ms", 20)))
        finally:
            in_flight.leave()
        emit({"enriched": item["id"], "in_flight": seen, "limit": CONCURRENCY})

    return process_batch(event, enrich, context, concurrency=CONCURRENCY)
