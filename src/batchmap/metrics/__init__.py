"""Metrics under AWS's event source mapping names: hooks, a recorder, Prometheus and EMF exporters, and the
live view an operator reads (rates over the last seconds, depth, readiness)."""

from batchmap.metrics.emf import NAMESPACE, EmfEmitter, emf_line
from batchmap.metrics.histogram import AGE_BUCKETS_MS, DURATION_BUCKETS_MS, DurationStats
from batchmap.metrics.hook import HookChain, MetricsHook, NullHook
from batchmap.metrics.live import Depth, MappingView, RateWindow, RetryWait, RunView, eta_s, retry_wait
from batchmap.metrics.prometheus import CONTENT_TYPE, LIVE_GAUGES, live_text, prometheus_text
from batchmap.metrics.recorder import (
    COUNTERS,
    MetricsRecorder,
    MetricsSnapshot,
    committed_event_count,
    iterator_age_ms,
    record_outcomes,
)

__all__ = [
    "AGE_BUCKETS_MS",
    "CONTENT_TYPE",
    "COUNTERS",
    "DURATION_BUCKETS_MS",
    "LIVE_GAUGES",
    "NAMESPACE",
    "Depth",
    "DurationStats",
    "EmfEmitter",
    "HookChain",
    "MappingView",
    "MetricsHook",
    "MetricsRecorder",
    "MetricsSnapshot",
    "NullHook",
    "RateWindow",
    "RetryWait",
    "RunView",
    "committed_event_count",
    "emf_line",
    "eta_s",
    "iterator_age_ms",
    "live_text",
    "prometheus_text",
    "record_outcomes",
    "retry_wait",
]
