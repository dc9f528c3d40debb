"""Pattern 3: choose how to run each batch from what is in it (``concurrency="auto"``).

The toolkit measures the batch without decoding it (sizes come from the
envelope) and samples record types through the router, then picks:

* ``sequential`` for large records (one decoded payload in memory at a time)
  or when every record shares one ordering lane;
* ``moderate`` for medium records or a mix of more than three types;
* ``parallel`` for many small records.

The handler prints the choice and the analysis behind it for every batch.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time

from batchmap.handler import Router, run_batch
from batchmap.records import SQSRecord


def emit(document: dict[str, object]) -> None:
    """Print one JSON line in a single write, so lines from several threads never interleave."""
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()


router = Router("type")


@router.route("thumbnail", "transcode", "index", "notify", "archive")
def work(record: SQSRecord) -> None:
    job = record.json()
    digest = hashlib.sha256(record.body.encode()).hexdigest()[:12]  # work that grows with the payload
    time.sleep(float(job.get("io_ms", 5)) / 1000)  # and a call to another service
    emit({"job": job["id"], "type": job["type"], "digest": digest})


def handler(event: dict[str, object], context: object) -> object:
    result = run_batch(event, router, context, concurrency="auto")
    analysis = result.analysis.as_dict() if result.analysis is not None else {}
    emit({"batch": len(result), "strategy": result.strategy.name,
                      "concurrency": result.strategy.concurrency, "reason": result.strategy.reason,
                      "analysis": analysis})
    return result.response
