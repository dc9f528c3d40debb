"""An order-processing handler for SQS: parse each body, look the customer up, write the order.

The lookup and the write wait on "the network" (sleeps), the parsing uses the
CPU: a realistic mix to run ``batchmap tune`` on. Failed records are reported
with ``batchItemFailures``, as a partial batch response.
"""

from __future__ import annotations

import json
import time
from typing import Any

CONNECT_S = 0.010  # per invocation: take a pooled connection, begin a transaction
WRITE_S = 0.001  # per record: one INSERT


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(CONNECT_S)
    failures = []
    for record in event["Records"]:
        try:
            order = json.loads(record["body"])
            if not order.get("items"):
                raise ValueError("an order needs items")
            time.sleep(WRITE_S)
        except (ValueError, KeyError):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
