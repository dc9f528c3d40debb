"""CloudWatch Embedded Metric Format (EMF) lines: metrics CloudWatch Logs extracts from a log line.

Each line covers the interval since the previous line of the same emitter:
counters are the increase over the interval (CloudWatch sums them back into
totals), ``Duration`` is the interval's mean invocation duration (EMF has no
histogram; exact sum, count, min and max stay in the snapshot and in the
Prometheus exposition), ``IteratorAge`` and the Kafka lags are the latest values.

Namespace ``batchmap`` (``AWS/`` is reserved to AWS), dimensions
``FunctionName`` and ``EventSourceMappingUUID``, names as Lambda's own.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from batchmap.errors import ConfigError
from batchmap.metrics.recorder import COUNTERS, MetricsRecorder, MetricsSnapshot

NAMESPACE = "batchmap"
DIMENSIONS = ("FunctionName", "EventSourceMappingUUID")
_NAMESPACE = re.compile(r"[A-Za-z0-9.\-_/#:]{1,255}")


def _check_namespace(namespace: str) -> str:
    if not _NAMESPACE.fullmatch(namespace) or namespace.startswith("AWS/"):
        allowed = "1-255 of A-Z a-z 0-9 . - _ / # :, not starting with 'AWS/'"
        raise ConfigError("namespace", namespace, allowed)
    return namespace


def emf_line(
    snapshot: MetricsSnapshot,
    previous: MetricsSnapshot | None,
    timestamp_ms: int,
    namespace: str = NAMESPACE,
) -> str:
    """One EMF JSON line for the interval from ``previous`` (``None``: since the start) to ``snapshot``."""
    _check_namespace(namespace)
    values: dict[str, float] = {}
    units: dict[str, str] = {}
    for name in COUNTERS:
        before = previous.counters[name] if previous is not None else 0
        values[name] = snapshot.counters[name] - before
        units[name] = "Count"
    count = snapshot.duration.count - (previous.duration.count if previous else 0)
    if count > 0:
        total = snapshot.duration.sum_ms - (previous.duration.sum_ms if previous else 0.0)
        values["Duration"] = round(total / count, 3)
        units["Duration"] = "Milliseconds"
    if snapshot.iterator_age_ms is not None:
        values["IteratorAge"] = snapshot.iterator_age_ms
        units["IteratorAge"] = "Milliseconds"
    if snapshot.offset_lag_sum is not None and snapshot.offset_lag_max is not None:
        values.update(OffsetLag=snapshot.offset_lag_sum, SumOffsetLag=snapshot.offset_lag_sum,
                      MaxOffsetLag=snapshot.offset_lag_max)
        units.update(OffsetLag="Count", SumOffsetLag="Count", MaxOffsetLag="Count")
    if snapshot.provisioned_pollers is not None:
        values["ProvisionedPollers"] = snapshot.provisioned_pollers
        units["ProvisionedPollers"] = "Count"
    for name in snapshot.hidden:  # groups the mapping's MetricsConfig did not choose
        values.pop(name, None)
        units.pop(name, None)
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(timestamp_ms),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [list(DIMENSIONS)],
                "Metrics": [{"Name": name, "Unit": units[name]} for name in values],
            }],
        },
        "FunctionName": snapshot.function_name,
        "EventSourceMappingUUID": snapshot.event_source_mapping_uuid,
        **values,
    }
    return json.dumps(document, separators=(",", ":"))


class EmfEmitter:
    """Emits a recorder's metrics as EMF lines, each covering the time since the previous one."""

    def __init__(self, recorder: MetricsRecorder, namespace: str = NAMESPACE) -> None:
        self.recorder = recorder
        self.namespace = _check_namespace(namespace)
        self._previous: MetricsSnapshot | None = None
        self._lock = threading.Lock()

    def line(self, timestamp_ms: int) -> str:
        """The EMF line for the interval ending now (``timestamp_ms``, epoch milliseconds)."""
        with self._lock:
            snapshot = self.recorder.snapshot()
            text = emf_line(snapshot, self._previous, timestamp_ms, self.namespace)
            self._previous = snapshot
            return text
