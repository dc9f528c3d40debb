"""Monitoring: one EMF metric line per batch from the handler, next to the engine's own counters.

``metrics=EmfMetrics(...)`` makes the toolkit print one JSON line per batch
that CloudWatch Logs turns into metrics (no API call, no added latency):
BatchSize, ProcessingTime, SuccessCount, FailureCount, SkippedCount,
AverageRecordSize and SuccessRate, with EventSource and FunctionName as
dimensions. Payments with a negative amount fail and are reported.
"""

from __future__ import annotations

import os
import time

from batchmap.handler import EmfMetrics, batch_handler
from batchmap.records import SQSRecord

METRICS = EmfMetrics(os.environ.get("METRICS_NAMESPACE", "batchmap"), dimensions={"Service": "payments"})


@batch_handler(concurrency=4, metrics=METRICS)
def handler(record: SQSRecord) -> None:
    payment = record.json()
    if payment["amount"] < 0:
        raise ValueError(f"payment {payment['id']}: negative amount {payment['amount']}")
    time.sleep(0.002)  # the call to the payment provider
