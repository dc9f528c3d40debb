"""Prometheus text exposition (format 0.0.4) of mapping metrics, for a ``/metrics`` endpoint.

Names follow Prometheus conventions (``batchmap_`` prefix, ``_total`` on
counters, base units: seconds), and each HELP line names the AWS metric it
mirrors. Every series carries ``function_name`` and
``event_source_mapping_uuid`` labels, so one exposition can hold many mappings.
"""

from __future__ import annotations

from collections.abc import Iterable

from batchmap.metrics.histogram import DurationStats
from batchmap.metrics.live import MappingView
from batchmap.metrics.recorder import (
    COMMITTED,
    DELETED,
    DESTINATION_DELIVERED,
    DESTINATION_DELIVERY_FAILURES,
    DROPPED,
    ERRORS,
    FAILED_ATTEMPTS,
    FAILED_INVOKE,
    FILTERED_OUT,
    HOOK_ERRORS,
    INVOCATIONS,
    INVOKED,
    MAX_OFFSET_LAG,
    OVERSIZED,
    POLLED,
    POLLING_ERRORS,
    SUCCEEDED,
    MetricsRecorder,
    MetricsSnapshot,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The ``Content-Type`` of the exposition."""

PROMETHEUS_COUNTERS: tuple[tuple[str, str, str], ...] = (
    (POLLED, "batchmap_polled_events_total", "Records read from the source"),
    (FILTERED_OUT, "batchmap_filtered_out_events_total", "Records removed by FilterCriteria"),
    (INVOKED, "batchmap_invoked_events_total", "Records sent to the function, retries included"),
    (FAILED_INVOKE, "batchmap_failed_invoke_events_total", "Records of failed or partly failed invocations"),
    (DROPPED, "batchmap_dropped_events_total", "Records discarded that no on-failure destination holds"),
    (DESTINATION_DELIVERED, "batchmap_on_failure_destination_delivered_events_total",
     "Records named by on-failure records the destination accepted"),
    (DELETED, "batchmap_deleted_events_total", "Queue messages deleted after processing"),
    (COMMITTED, "batchmap_committed_events_total", "Kafka offsets committed"),
    (INVOCATIONS, "batchmap_invocations_total", "Function invocations"),
    (ERRORS, "batchmap_errors_total", "Invocations that ended in a function error or timeout"),
    (DESTINATION_DELIVERY_FAILURES, "batchmap_destination_delivery_failures_total",
     "On-failure records the destination refused"),
    (OVERSIZED, "batchmap_oversized_events_total", "Records over the 6 MB payload limit, never sent"),
    (POLLING_ERRORS, "batchmap_polling_errors_total", "Failed calls to the source, retried with backoff"),
    (HOOK_ERRORS, "batchmap_hook_errors_total", "Errors raised by metrics hooks, logged and ignored"),
    (SUCCEEDED, "batchmap_succeeded_events_total", "Records the function processed successfully"),
    (FAILED_ATTEMPTS, "batchmap_failed_attempt_events_total",
     "Records that failed an attempt: in a failed invocation or reported in batchItemFailures"),
)
"""(AWS name, Prometheus name, help) of each counter."""


def _labels(snapshot: MetricsSnapshot, extra: str = "") -> str:
    pairs = [f'function_name="{_escape(snapshot.function_name)}"',
             f'event_source_mapping_uuid="{_escape(snapshot.event_source_mapping_uuid)}"']
    if extra:
        pairs.append(extra)
    return "{" + ",".join(pairs) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _header(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines.append(f"# HELP {name} {help_text}")
    lines.append(f"# TYPE {name} {kind}")


def prometheus_text(sources: Iterable[MetricsRecorder | MetricsSnapshot]) -> str:
    """The exposition of every mapping in ``sources`` (recorders are snapshotted once each)."""
    snaps = [s.snapshot() if isinstance(s, MetricsRecorder) else s for s in sources]
    lines: list[str] = []
    for aws_name, name, help_text in PROMETHEUS_COUNTERS:
        shown = [s for s in snaps if aws_name not in s.hidden]
        if shown:
            _header(lines, name, "counter", f"{help_text} (AWS {aws_name}).")
            lines.extend(f"{name}{_labels(s)} {s.counters[aws_name]}" for s in shown)
    _duration(lines, snaps)
    _gauges(lines, snaps)
    return "\n".join(lines) + "\n"


def _duration(lines: list[str], snaps: list[MetricsSnapshot]) -> None:
    name = "batchmap_duration_seconds"
    _header(lines, name, "histogram", "Invocation duration (AWS Duration).")
    for snap in snaps:
        _histogram(lines, name, snap, snap.duration)
    ages = [snap for snap in snaps if snap.iterator_age_stats.count]
    if ages:
        name = "batchmap_iterator_age_histogram_seconds"
        _header(lines, name, "histogram", "Age of the last record of each stream batch when sent (AWS IteratorAge).")
        for snap in ages:
            _histogram(lines, name, snap, snap.iterator_age_stats)


def _histogram(lines: list[str], name: str, snap: MetricsSnapshot, stats: DurationStats) -> None:
    bounds = [_number(bound / 1000) for bound in stats.bounds] + ["+Inf"]
    for bound, seen in zip(bounds, stats.cumulative(), strict=True):
        le = 'le="' + bound + '"'
        lines.append(f"{name}_bucket{_labels(snap, le)} {seen}")
    lines.append(f"{name}_sum{_labels(snap)} {_number(stats.sum_ms / 1000)}")
    lines.append(f"{name}_count{_labels(snap)} {stats.count}")


GAUGES: tuple[tuple[str, str], ...] = (
    ("batchmap_iterator_age_seconds", "Age of the last record of the latest stream batch (AWS IteratorAge)."),
    ("batchmap_iterator_age_max_seconds", "Largest IteratorAge seen."),
    ("batchmap_offset_lag", "Kafka lag summed over partitions (AWS OffsetLag, SumOffsetLag)."),
    ("batchmap_max_offset_lag", "Kafka lag of the partition furthest behind (AWS MaxOffsetLag)."),
    ("batchmap_provisioned_pollers", "Pollers in provisioned mode, a queue's lanes (AWS ProvisionedPollers)."),
)


def _gauge_values(snap: MetricsSnapshot) -> tuple[float | None, ...]:
    """Values of ``GAUGES`` for one mapping, ``None`` where the mapping has none (a queue has no lag)."""
    age, age_max = snap.iterator_age_ms, snap.iterator_age_max_ms
    return (
        None if age is None else age / 1000,
        None if age_max is None else age_max / 1000,
        snap.offset_lag_sum,
        None if MAX_OFFSET_LAG in snap.hidden else snap.offset_lag_max,
        snap.provisioned_pollers,
    )


def _gauges(lines: list[str], snaps: list[MetricsSnapshot]) -> None:
    values = [(snap, _gauge_values(snap)) for snap in snaps]
    for index, (name, help_text) in enumerate(GAUGES):
        present = [(snap, row[index]) for snap, row in values if row[index] is not None]
        if present:
            _header(lines, name, "gauge", help_text)
            lines.extend(f"{name}{_labels(snap)} {_number(v)}" for snap, v in present if v is not None)


LIVE_GAUGES: tuple[tuple[str, str], ...] = (
    ("batchmap_mapping_ready", "1 while the mapping runs and every system it calls answers (what /readyz reads)."),
    ("batchmap_source_in_backoff", "1 while the mapping waits out an outage of its source, store or destination."),
    ("batchmap_backlog_messages", "Queue messages by state: visible, in_flight, delayed (queues only)."),
    ("batchmap_dead_letter_queue_messages", "Messages in the dead-letter queue (queues with a redrive policy)."),
    ("batchmap_dead_lettered_events", "Records dead-lettered during this run: DLQ growth plus on-failure deliveries."),
    ("batchmap_invocations_in_flight", "Invocations running now."),
)
"""(name, help) of the gauges a running engine adds from its live view (``live_text``)."""


def live_text(views: Iterable[MappingView]) -> str:
    """The live gauges of every mapping: readiness, backlog, dead-letter depth, invocations in flight."""
    views = list(views)
    rows: dict[str, list[str]] = {name: [] for name, _ in LIVE_GAUGES}
    for view in views:
        snap = view.metrics
        rows["batchmap_mapping_ready"].append(f"{_labels(snap)} {int(view.ready)}")
        rows["batchmap_source_in_backoff"].append(f"{_labels(snap)} {int(view.outage is not None)}")
        if view.depth is not None:
            for state in ("visible", "in_flight", "delayed"):
                label = f'state="{state}"'
                rows["batchmap_backlog_messages"].append(f"{_labels(snap, label)} {getattr(view.depth, state)}")
            rows["batchmap_dead_letter_queue_messages"].append(f"{_labels(snap)} {view.depth.dead_letter_depth}")
        rows["batchmap_dead_lettered_events"].append(f"{_labels(snap)} {view.dead_lettered}")
        rows["batchmap_invocations_in_flight"].append(f"{_labels(snap)} {snap.invocations_in_flight}")
    lines: list[str] = []
    for name, help_text in LIVE_GAUGES:
        if rows[name]:
            _header(lines, name, "gauge", help_text)
            lines.extend(name + row for row in rows[name])
    return "\n".join(lines) + "\n" if lines else ""
