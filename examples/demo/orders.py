"""The demo's function: orders routed by type, with per-record error isolation and partial batch failures.

A record that raises is reported in ``batchItemFailures`` and retried by the
queue; the rest of its batch is deleted. Orders with a negative amount always
fail, so after ``maxReceiveCount`` receives the queue moves them to its
dead-letter queue, where ``batchmap inspect`` shows them.
"""

from __future__ import annotations

import time

from batchmap.handler import Router, batch_handler
from batchmap.records import Record

router = Router("type")
TOTALS: dict[str, float] = {"created": 0.0, "refunded": 0.0}


@router.route("order.created")
def created(record: Record) -> None:
    order = record.json()
    if order["amount"] < 0:
        raise ValueError(f"order {order['id']}: negative amount {order['amount']}")
    time.sleep(0.002)  # stands in for a call to a downstream service
    TOTALS["created"] += order["amount"]


@router.route("order.refunded")
def refunded(record: Record) -> None:
    order = record.json()
    time.sleep(0.002)
    TOTALS["refunded"] += order["amount"]


handler = batch_handler(concurrency=16)(router)
