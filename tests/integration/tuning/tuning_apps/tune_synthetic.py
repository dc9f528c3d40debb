"""Synthetic handlers with known costs, for the tuner's measurement tests.

``handler`` sleeps t0 + t1·n (20 ms + 2 ms per record): pure waiting, as I/O is.
``per_record_io`` waits per record, so slices of a batch run in parallel threads.
``cpu_bound`` spins the CPU per record; Python threads cannot run it in parallel.
``allocating`` keeps 10 KiB per record alive until it returns.
"""

from __future__ import annotations

import time
from typing import Any

T0_S = 0.020
T1_S = 0.002
KEPT_BYTES = 10 * 1024


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(T0_S + T1_S * len(event["Records"]))
    return {"batchItemFailures": []}


def per_record_io(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(T0_S)
    for _ in event["Records"]:
        time.sleep(T1_S)
    return {"batchItemFailures": []}


def cpu_bound(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for _ in event["Records"]:
        deadline = time.thread_time() + 0.002
        while time.thread_time() < deadline:
            pass
    return {"batchItemFailures": []}


def allocating(event: dict[str, Any], context: Any) -> dict[str, Any]:
    kept = [bytearray(KEPT_BYTES) for _ in event["Records"]]
    return {"batchItemFailures": [], "kept": len(kept)}


def failing(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if len(event["Records"]) > 3:
        raise RuntimeError("downstream refused the batch")
    return {"batchItemFailures": []}
