"""One CloudWatch Embedded Metric Format line per batch (opt-in).

Lambda ships stdout to CloudWatch Logs, and CloudWatch turns a JSON log line
with an ``_aws`` member into metrics, with no API call and no extra latency.
Metrics: ``BatchSize``, ``ProcessingTime`` (ms), ``SuccessCount`` (records that
ran), ``FailureCount`` (records that raised), ``SkippedCount`` (never started),
``AverageRecordSize`` (bytes), ``SuccessRate`` (percent). Dimensions:
``EventSource``, ``FunctionName`` when the context has one, plus yours.
"""

from __future__ import annotations

from batchmap.errors import ConfigError
from batchmap.records.value import Value, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TextIO

    from batchmap.handler.result import BatchResult

_UNITS = (("BatchSize", "Count"), ("ProcessingTime", "Milliseconds"), ("SuccessCount", "Count"),
          ("FailureCount", "Count"), ("SkippedCount", "Count"), ("AverageRecordSize", "Bytes"),
          ("SuccessRate", "Percent"))


class EmfMetrics(Value):
    """Where and how to write the batch's metric line.

    ``stream`` defaults to ``sys.stdout`` at the time of writing (what Lambda
    captures); ``dimensions`` are added to every line.
    """

    __slots__ = ("dimensions", "namespace", "stream")

    namespace: str
    dimensions: tuple[tuple[str, str], ...]
    stream: TextIO | None

    def __init__(self, namespace: str = "batchmap", *, dimensions: Mapping[str, str] | None = None,
                 stream: TextIO | None = None) -> None:
        if not isinstance(namespace, str) or not namespace:
            raise ConfigError("namespace", namespace, "a non-empty CloudWatch namespace")
        pairs = tuple((dimensions or {}).items())
        for name, value in pairs:
            if not isinstance(name, str) or not isinstance(value, str):
                raise ConfigError("dimensions", dict(pairs), "names and values are strings")
        set_field(self, "namespace", namespace)
        set_field(self, "dimensions", pairs)
        set_field(self, "stream", stream)

    def document(self, result: BatchResult, context: object, timestamp_ms: int) -> dict[str, Any]:
        """The EMF JSON object for ``result``."""
        dims: dict[str, str] = {"EventSource": result.event_source}
        function_name = getattr(context, "function_name", None)
        if isinstance(function_name, str) and function_name:
            dims["FunctionName"] = function_name
        dims.update(self.dimensions)
        size = len(result)
        succeeded = result.succeeded
        values = {"BatchSize": size, "ProcessingTime": round(result.elapsed_ms, 3), "SuccessCount": succeeded,
                  "FailureCount": result.failed, "SkippedCount": result.skipped,
                  "AverageRecordSize": result.payload_bytes // size if size else 0,
                  "SuccessRate": round(100.0 * succeeded / size, 2) if size else 100.0}
        return {
            "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [{
                "Namespace": self.namespace, "Dimensions": [list(dims)],
                "Metrics": [{"Name": name, "Unit": unit} for name, unit in _UNITS]}]},
            **dims, **values,
            "Strategy": result.strategy.name, "Concurrency": result.strategy.concurrency,
            "ReportedCount": len(result.response["batchItemFailures"]),
        }

    def emit(self, result: BatchResult, context: object) -> None:
        """Write the metric line for ``result``."""
        import json
        import sys
        import time

        stream = self.stream if self.stream is not None else sys.stdout
        stream.write(json.dumps(self.document(result, context, time.time_ns() // 1_000_000)) + "\n")
        stream.flush()
