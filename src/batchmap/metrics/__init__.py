"""Metrics under AWS's event source mapping names: hooks, a recorder, Prometheus and EMF exporters."""

from batchmap.metrics.emf import NAMESPACE, EmfEmitter, emf_line
from batchmap.metrics.histogram import DURATION_BUCKETS_MS, DurationStats
from batchmap.metrics.hook import HookChain, MetricsHook, NullHook
from batchmap.metrics.prometheus import CONTENT_TYPE, prometheus_text
from batchmap.metrics.recorder import (
    COUNTERS,
    MetricsRecorder,
    MetricsSnapshot,
    committed_event_count,
    iterator_age_ms,
)

__all__ = [
    "CONTENT_TYPE",
    "COUNTERS",
    "DURATION_BUCKETS_MS",
    "NAMESPACE",
    "DurationStats",
    "EmfEmitter",
    "HookChain",
    "MetricsHook",
    "MetricsRecorder",
    "MetricsSnapshot",
    "NullHook",
    "committed_event_count",
    "emf_line",
    "iterator_age_ms",
    "prometheus_text",
]
