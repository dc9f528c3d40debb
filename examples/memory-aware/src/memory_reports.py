"""Pattern 4: large records without running out of memory.

Three habits keep memory flat:

* stream the payload: the gzip report is read line by line, never expanded
  whole (a 1 MB message here expands to tens of MB);
* ``concurrency="auto"`` runs large records one at a time, so one payload is
  decoded at a time instead of ten;
* a ``MemoryBudget`` checks the process's resident memory before each record:
  above 75 % of the limit it halves the concurrency and collects garbage, above
  90 % it starts no more records and reports the rest, which Lambda delivers
  again, instead of the function being killed with the whole batch.

The limit is the function's ``MemorySize`` (from the Lambda context) unless
``MEMORY_LIMIT_MB`` sets it.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import resource
import sys

from batchmap.handler import MemoryBudget, batch_handler
from batchmap.records import SQSRecord


def emit(document: dict[str, object]) -> None:
    """Print one JSON line in a single write, so lines from several threads never interleave."""
    sys.stdout.write(json.dumps(document) + "\n")
    sys.stdout.flush()


_limit = os.environ.get("MEMORY_LIMIT_MB")
BUDGET = MemoryBudget(limit_mb=float(_limit) if _limit else None, check_interval_ms=0)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@batch_handler(concurrency="auto", memory=BUDGET)
def handler(record: SQSRecord) -> None:
    report = record.json()
    compressed = base64.b64decode(report["report"])
    rows, total, expanded = 0, 0.0, 0
    with gzip.open(io.BytesIO(compressed), mode="rt", encoding="ascii") as lines:
        for line in lines:  # one row in memory at a time
            expanded += len(line)
            total += float(line.rsplit(",", 1)[1])
            rows += 1
    emit({"report": report["id"], "rows": rows, "mean": round(total / rows, 3),
                      "compressed_kb": len(compressed) // 1024, "expanded_kb": expanded // 1024,
                      "peak_rss_mb": round(peak_rss_mb(), 1)})
