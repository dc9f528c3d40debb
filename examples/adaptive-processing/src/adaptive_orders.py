"""Pattern 1: route each record by its type, isolate failures, report them as a partial batch response.

``Router("type")`` sends ``{"type": "simple", ...}`` to ``simple`` and
``{"type": "complex", ...}`` to ``complex_order``; any other type (or a body
that is not JSON) fails that record alone with an error naming the type. The
toolkit returns ``{"batchItemFailures": [...]}`` with exactly the failed
message ids, so SQS deletes the rest and redelivers only those; the queue's
redrive policy moves a message that keeps failing to the dead-letter queue.
"""

from __future__ import annotations

import json
import os
import sys

from batchmap.handler import Router, batch_handler
from batchmap.records import SQSRecord


def emit(document: dict[str, object]) -> None:
    """Print one JSON line in a single write, so lines from several threads never interleave."""
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()


LARGE_ORDER_THRESHOLD = float(os.environ.get("LARGE_ORDER_THRESHOLD", "1000"))

router = Router("type")


def done(record: SQSRecord, outcome: dict[str, object]) -> None:
    """One JSON line per processed record: what a real consumer would write to its store."""
    emit({"processed": record.message_id, **outcome})


@router.route("simple")
def simple(record: SQSRecord) -> None:
    order = record.json()
    if order.get("fail_first_attempt") and record.attributes["ApproximateReceiveCount"] == "1":
        raise ConnectionError(f"order {order['id']}: downstream timed out (fails on the first delivery only)")
    done(record, {"id": order["id"], "type": "simple", "total": round(float(order["amount"]), 2)})


@router.route("complex")
def complex_order(record: SQSRecord) -> None:
    order = record.json()
    lines = order.get("lines")
    if not isinstance(lines, list) or not lines:
        raise ValueError(f"order {order.get('id')}: a complex order needs order lines")
    total = sum(float(line["quantity"]) * float(line["price"]) for line in lines)
    done(record, {"id": order["id"], "type": "complex", "total": round(total, 2),
                  "review": total >= LARGE_ORDER_THRESHOLD})


handler = batch_handler(router)
