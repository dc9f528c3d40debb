"""Handlers the benchmarks invoke in process (a module of their own, so state is shared with the bench)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

LATENESS_MS: list[float] = []
INVOKED_MS: list[float] = []
WINDOW_S = 1.0


def trivial(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """A do-nothing handler that touches every record once."""
    for _ in event["Records"]:
        pass
    return {}


def parse_bodies(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Parse every record's JSON body: issue 15's handler, and what the raw loops' handler does."""
    loads = json.loads
    for record in event["Records"]:
        loads(record["body"])
    return {}


def window_probe(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """How late the invocation came after its first record was sent, minus the window."""
    now_ms = time.time() * 1000
    sent = min(int(r["attributes"]["SentTimestamp"]) if "attributes" in r  # SQS, else Kinesis
               else r["kinesis"]["approximateArrivalTimestamp"] * 1000 for r in event["Records"])
    LATENESS_MS.append(now_ms - sent - WINDOW_S * 1000)
    INVOKED_MS.append(now_ms)
    return {}


def marking(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The trivial handler, then one line per batch, ``TIME RECORDS``, appended to the file ``BENCH_MARKS`` names.

    ``scale_out.py`` adds up the lines of every engine process to see how fast they went together.
    """
    count = 0
    for _ in event["Records"]:
        count += 1
    with open(os.environ["BENCH_MARKS"], "a", encoding="utf-8") as marks:
        marks.write(f"{time.time()} {count}\n")
    return {}
