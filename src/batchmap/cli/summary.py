"""The end-of-run summary of ``batchmap run``: records first, then AWS's metrics, each with its meaning.

AWS counts the records of invocations: ``FailedInvokeEventCount`` counts every
record of a batch in which one record failed, and a retry counts again, so
"1,919 of 2,019 failed" may mean 19 orders failed twice each. The summary
therefore leads with what happened to records (succeeded, failed attempts,
dead-lettered, filtered out) and keeps AWS's names below, one line each, with
what the number means. ``--summary-json`` prints the same as one JSON object.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import IO, Any

from batchmap.metrics.live import RunView
from batchmap.metrics.recorder import DROPPED, FAILED_ATTEMPTS, FILTERED_OUT, SUCCEEDED

AWS_MEANINGS: tuple[tuple[str, str], ...] = (
    ("PolledEventCount", "records read from the source; redeliveries count again"),
    ("FilteredOutEventCount", "records FilterCriteria removed"),
    ("InvokedEventCount", "records sent to the function; retries count again"),
    ("FailedInvokeEventCount", "records of invocations that failed or reported any failure, whole batches"),
    ("DeletedEventCount", "queue messages deleted: succeeded and filtered out"),
    ("CommittedEventCount", "Kafka offsets committed"),
    ("DroppedEventCount", "records discarded that no on-failure destination holds"),
    ("OnFailureDestinationDeliveredEventCount", "records named in on-failure records the destination took"),
    ("DestinationDeliveryFailures", "on-failure records the destination refused"),
    ("Invocations", "function invocations (batches, retries included)"),
    ("Errors", "invocations that ended in a function error or a timeout"),
    ("PollingErrorCount", "failed calls to the source, retried with backoff"),
    ("OversizedEventCount", "records over the 6 MB payload limit, never sent"),
)
"""Each AWS metric the summary shows, with its meaning in one line (a zero of a rarely moving one is left out)."""

_WIDTH = 39
_ALWAYS = frozenset({"PolledEventCount", "InvokedEventCount", "FailedInvokeEventCount", "Invocations", "Errors"})


def record_counts(view: RunView) -> dict[str, int]:
    """What happened to records, over every mapping."""
    return {
        "succeeded": view.total(SUCCEEDED),
        "failed_attempts": view.total(FAILED_ATTEMPTS),
        "dead_lettered": sum(m.dead_lettered for m in view.mappings),
        "filtered_out": view.total(FILTERED_OUT),
        "dropped": view.total(DROPPED),
    }


def counters(view: RunView) -> dict[str, Any]:
    """Every mapping's counters, summed (one mapping: its own, with its statistic sets)."""
    if len(view.mappings) == 1:
        return view.mappings[0].metrics.as_dict()
    total: dict[str, Any] = {}
    for mapping in view.mappings:
        for name, value in mapping.metrics.counters.items():
            total[name] = total.get(name, 0) + value
    return total


def summary_text(view: RunView, elapsed_s: float, retry_wait_s: float = 0.0) -> str:
    """The summary: the records, the rate, then AWS's metrics with their meanings."""
    records = record_counts(view)
    lines = [f"batchmap run finished in {elapsed_s:.2f} s", "records"]
    rows = [
        ("succeeded", records["succeeded"], "processed by the function (then deleted or checkpointed)"),
        ("failed attempts", records["failed_attempts"],
         "records in failed invocations or reported in batchItemFailures; a record failing twice counts twice"),
        ("dead-lettered", records["dead_lettered"], "moved to the dead-letter queue or on-failure destination"),
        ("filtered out", records["filtered_out"], "removed by FilterCriteria, never sent"),
    ]
    if records["dropped"]:
        rows.append(("dropped", records["dropped"], "discarded with no destination to hold them: lost"))
    lines.extend(f"  {name:<{_WIDTH}} {value:>10,}   {meaning}" for name, value, meaning in rows)
    lines.append(_rate_line(records["succeeded"], elapsed_s, retry_wait_s))
    lines.append("AWS metrics (CloudWatch names)")
    totals = counters(view)
    for name, meaning in AWS_MEANINGS:
        value = totals.get(name, 0)
        if value or name in _ALWAYS:
            lines.append(f"  {name:<{_WIDTH}} {value:>10,}   {meaning}")
    age = totals.get("IteratorAge")
    if isinstance(age, Mapping) and age.get("Maximum") is not None:
        lines.append(f"  {'IteratorAge (max, ms)':<{_WIDTH}} {age['Maximum']:>10,}   "
                     "how long the last record of a stream batch waited before it was sent")
    return "\n".join(lines)


def _rate_line(succeeded: int, elapsed_s: float, retry_wait_s: float) -> str:
    if elapsed_s <= 0:
        return f"  {'rate (records/s)':<{_WIDTH}} {'–':>10}"
    name = 'rate (records/s)'
    line = f"  {name:<{_WIDTH}} {succeeded / elapsed_s:>10,.1f}   records succeeded per second over the run"
    busy = elapsed_s - retry_wait_s
    if retry_wait_s >= 0.5 and busy > 0:
        line += f"; {succeeded / busy:,.1f}/s leaving out {retry_wait_s:.1f} s spent waiting for retries"
    return line


def write_summary(view: RunView, elapsed_s: float, stream: IO[str], *, as_json: bool = False,
                  retry_wait_s: float = 0.0) -> None:
    """Print the summary: text by default, one JSON object with ``as_json`` (for scripts)."""
    if as_json:
        document = {"summary": counters(view), "records": record_counts(view), "elapsed_s": round(elapsed_s, 3),
                    "retry_wait_s": round(retry_wait_s, 3)}
        stream.write(json.dumps(document, default=str) + "\n")
    else:
        stream.write(summary_text(view, elapsed_s, retry_wait_s) + "\n")
