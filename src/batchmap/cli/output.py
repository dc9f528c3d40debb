"""How the command line talks: JSON logs off a terminal, a live progress line on one, a summary.

Formatting only; the numbers come from the engine's counters (AWS metric names).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import IO, Any

from batchmap.redaction import redact_text

Snapshot = Callable[[], Mapping[str, Any]]


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log shippers (and CloudWatch-style parsing)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
        }
        message = record.getMessage()
        entry.update(_structured(message) or {"message": message})
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _structured(message: str) -> dict[str, Any] | None:
    """A message that is already a JSON object (the handler toolkit's lines) is merged, not nested."""
    if not message.startswith("{"):
        return None
    try:
        value = json.loads(message)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class RedactingFormatter(logging.Formatter):
    """Another formatter's line with every URI's credentials masked (``batchmap.redaction``)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(self.inner.format(record))


def configure_logging(stream: IO[str], level: str = "INFO", json_logs: bool | None = None) -> None:
    """Plain lines on a terminal, JSON lines otherwise (or as forced by ``json_logs``)."""
    use_json = (not stream.isatty()) if json_logs is None else json_logs
    handler = logging.StreamHandler(stream)
    inner = JsonFormatter() if use_json else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    handler.setFormatter(RedactingFormatter(inner))
    root = logging.getLogger("batchmap")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def progress_line(snapshot: Mapping[str, Any], elapsed_s: float, backlog: int | None) -> str:
    """``done 1,200  rate 850/s  backlog 300  failed 2`` from a counter snapshot."""
    done = int(snapshot.get("DeletedEventCount", 0)) + int(snapshot.get("CommittedEventCount", 0))
    invoked = int(snapshot.get("InvokedEventCount", 0))
    failed = int(snapshot.get("FailedInvokeEventCount", 0))
    rate = invoked / elapsed_s if elapsed_s > 0 else 0.0
    parts = [f"invoked {invoked:,}", f"done {done:,}", f"rate {rate:,.0f}/s", f"failed {failed:,}"]
    if backlog is not None:
        parts.insert(2, f"backlog {backlog:,}")
    return "  ".join(parts)


async def show_progress(
    snapshot: Snapshot, backlog: Callable[[], Any], stream: IO[str], interval_s: float = 0.5
) -> None:
    """Rewrite one status line on a terminal until cancelled."""
    start = time.monotonic()
    try:
        while True:
            await asyncio.sleep(interval_s)
            depth = await backlog()
            line = progress_line(snapshot(), time.monotonic() - start, depth)
            stream.write("\r\x1b[2K" + line)
            stream.flush()
    finally:
        stream.write("\r\x1b[2K")
        stream.flush()


SUMMARY_ORDER = (
    "PolledEventCount", "FilteredOutEventCount", "InvokedEventCount", "FailedInvokeEventCount",
    "DeletedEventCount", "CommittedEventCount", "DroppedEventCount",
    "OnFailureDestinationDeliveredEventCount", "DestinationDeliveryFailures", "Invocations", "Errors",
    "IteratorAge",
)


def summary_text(snapshot: Mapping[str, Any], elapsed_s: float) -> str:
    """The end-of-run summary, one metric per line, AWS's names."""
    lines = [f"batchmap run finished in {elapsed_s:.2f} s"]
    for name in SUMMARY_ORDER:
        value = snapshot.get(name)
        if value is not None and not (isinstance(value, Mapping) and all(v is None for v in value.values())):
            lines.append(f"  {name:<42} {value:,}" if isinstance(value, int) else f"  {name:<42} {value}")
    invoked = snapshot.get("InvokedEventCount", 0)
    if isinstance(invoked, int) and elapsed_s > 0:
        lines.append(f"  {'records/s (invoked)':<42} {invoked / elapsed_s:,.1f}")
    return "\n".join(lines)


def write_summary(snapshot: Mapping[str, Any], elapsed_s: float, stream: IO[str], as_json: bool = False) -> None:
    """Print the summary: text by default, one JSON object with ``as_json`` (for scripts)."""
    if as_json:
        stream.write(json.dumps({"summary": dict(snapshot), "elapsed_s": round(elapsed_s, 3)}, default=str) + "\n")
    else:
        stream.write(summary_text(snapshot, elapsed_s) + "\n")
