"""Print sensor-report messages, one JSON body per line, for ``batchmap send``.

Each report is a CSV of readings, gzip-compressed and base64-encoded, so the
message stays under SQS's 1 MiB while the report itself is tens of MB.

    python examples/memory-aware/reports.py [COUNT] [ROWS]
"""

from __future__ import annotations

import base64
import gzip
import json
import sys


def report(number: int, rows: int) -> str:
    """A report of ``rows`` readings that repeat every 50 rows (so it compresses well)."""
    cycle = [f"sensor-{number},{20 + (i * 7 + number) % 50 / 10}\n" for i in range(50)]
    text = "".join(cycle) * (rows // 50) + "".join(cycle[: rows % 50])
    return base64.b64encode(gzip.compress(text.encode("ascii"), compresslevel=9)).decode("ascii")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    for number in range(count):
        print(json.dumps({"id": f"report-{number}", "report": report(number, rows)}))


if __name__ == "__main__":
    main()
