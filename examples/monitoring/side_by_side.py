"""Read ``batchmap run ... --summary-json`` output: the handler's EMF metrics beside the engine's counters.

    batchmap run examples/monitoring/template.yaml --until-idle --summary-json | \
        python examples/monitoring/side_by_side.py

The handler's lines are summed over batches; the engine's summary is its last line.
"""

from __future__ import annotations

import json
import sys
from typing import Any

ROWS = (
    ("records taken from the queue", None, "PolledEventCount"),
    ("dropped by the filter, unseen", None, "FilteredOutEventCount"),
    ("invocations (batches)", "batches", "Invocations"),
    ("records the function received", "BatchSize", "InvokedEventCount"),
    ("records that succeeded", "SuccessCount", None),
    ("records reported as failed", "ReportedCount", None),
    ("records of batches with failures", None, "FailedInvokeEventCount"),
    ("deleted (succeeded or filtered)", None, "DeletedEventCount"),
    ("function errors (whole batch)", None, "Errors"),
)
CHECKS = (
    ("every invoked record reached the handler", ("BatchSize",), ("InvokedEventCount",)),
    ("one EMF line per invocation", ("batches",), ("Invocations",)),
    ("deleted = succeeded + filtered out", ("SuccessCount",),
     ("DeletedEventCount", "-FilteredOutEventCount")),
)


def read(lines: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    emf: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for line in lines:
        if not line.startswith("{"):
            continue
        document = json.loads(line)
        if "_aws" in document:
            emf.append(document)
        elif "summary" in document:
            summary = document["summary"]
    return emf, summary


def main() -> None:
    emf, summary = read(sys.stdin.read().splitlines())
    if not summary:
        sys.exit("no summary line: run batchmap with --summary-json")
    handler = {"batches": len(emf)}
    names = ("BatchSize", "SuccessCount", "FailureCount", "SkippedCount", "ReportedCount", "ProcessingTime")
    for name in names:
        handler[name] = sum(line[name] for line in emf)
    print(f"{'':34} {'handler (EMF)':>22} {'engine (counters)':>30}")
    for label, mine, theirs in ROWS:
        left = f"{mine} {handler[mine]}" if mine else "-"
        right = f"{theirs} {summary.get(theirs, 0)}" if theirs else "-"
        print(f"{label:34} {left:>22} {right:>30}")
    print()
    for label, mine, theirs in CHECKS:
        left = sum(handler[name] for name in mine)
        right = sum(-summary[n[1:]] if n.startswith("-") else summary[n] for n in theirs)
        print(f"{'ok ' if left == right else 'MISMATCH '}{label}: {left} = {right}")
    if emf:
        average = handler["ProcessingTime"] / len(emf)
        print(f"handler: {average:.1f} ms per batch on average; EMF dimensions "
              f"{emf[0]['_aws']['CloudWatchMetrics'][0]['Dimensions'][0]}")


if __name__ == "__main__":
    main()
