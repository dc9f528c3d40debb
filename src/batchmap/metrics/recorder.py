"""Counters under AWS's event source mapping metric names, with AWS's counting rules (reference §6).

``MetricsRecorder`` is the ``MetricsHook`` that aggregates: one per mapping,
thread-safe (one lock, taken once per batch event), and read through
``snapshot()``, a frozen value the exporters (Prometheus, EMF) and the CLI
summary share.

Counting rules:

* ``PolledEventCount``: records a poll returned; an empty poll adds 0.
* ``FilteredOutEventCount``: records FilterCriteria removed.
* ``InvokedEventCount``: records sent to the function; retries count again,
  so it can pass ``PolledEventCount``. ``Invocations`` counts the invocations.
* ``FailedInvokeEventCount``: every record of an invocation that failed
  (function error, timeout, malformed response) and, partial responses being
  on, of an invocation whose response listed failures.
* ``Errors``: invocations that ended in a function error or a timeout.
* ``DroppedEventCount``: records discarded (retries or record age used up)
  that no destination holds: none configured, or the send failed.
* ``OnFailureDestinationDeliveredEventCount``: records named by an on-failure
  record the destination accepted. A refused send adds nothing here, 1 to
  ``DestinationDeliveryFailures`` and the records to ``DroppedEventCount``.
* ``DeletedEventCount``: queue messages deleted (0 when a delete fails).
* ``CommittedEventCount``: Kafka offset advances (see ``committed_event_count``).
* ``IteratorAge`` (ms): age of the last record of a stream batch when sent.
* ``OffsetLag``: Kafka lag summed over partitions (``MaxOffsetLag``: the largest).
* ``ProvisionedPollers``: in provisioned mode, the pollers running now (a queue's lanes).
* ``OversizedEventCount`` (ours, no AWS twin): records over the 6 MB payload.
* ``PollingErrorCount``: calls to the source (polls, deletes, checkpoints, leases) that
  failed and were retried with backoff. AWS publishes it for Kafka; here every source has it.
* ``HookErrorCount`` (ours): times another metrics hook raised (logged once, then ignored).

Record-level counts (ours: AWS counts invocations' records, which reads as "95 %
failed" when a few records fail in many batches), from each judged outcome:

* ``SucceededEventCount``: records the function processed: every record of a
  successful invocation; of a partial one, those not reported (streams and
  Kafka: those before the lowest reported one, which are checkpointed).
* ``FailedAttemptEventCount``: records that failed an attempt: every record of a
  failed invocation, and the records a partial response reported. A record that
  fails twice counts twice.

``IteratorAge`` also feeds a histogram (``iterator_age_stats``), and the
snapshot says how many invocations are running (``invocations_in_flight``).

AWS publishes some of these only when the mapping's ``MetricsConfig`` names
their group (``METRIC_GROUPS``); ``hidden_metrics`` says which ones a mapping
leaves out, and the exporters skip them. The counting itself never stops, so
the end-of-run summary still has every counter.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from batchmap.errors import ConfigError
from batchmap.metrics.histogram import AGE_BUCKETS_MS, DurationStats, Histogram
from batchmap.metrics.hook import MetricsHook, Outcome

POLLED = "PolledEventCount"
FILTERED_OUT = "FilteredOutEventCount"
INVOKED = "InvokedEventCount"
FAILED_INVOKE = "FailedInvokeEventCount"
DROPPED = "DroppedEventCount"
DESTINATION_DELIVERED = "OnFailureDestinationDeliveredEventCount"
DELETED = "DeletedEventCount"
COMMITTED = "CommittedEventCount"
INVOCATIONS = "Invocations"
ERRORS = "Errors"
DESTINATION_DELIVERY_FAILURES = "DestinationDeliveryFailures"
OVERSIZED = "OversizedEventCount"
POLLING_ERRORS = "PollingErrorCount"
HOOK_ERRORS = "HookErrorCount"
SUCCEEDED = "SucceededEventCount"
FAILED_ATTEMPTS = "FailedAttemptEventCount"

COUNTERS: tuple[str, ...] = (
    POLLED, FILTERED_OUT, INVOKED, FAILED_INVOKE, DROPPED, DESTINATION_DELIVERED, DELETED, COMMITTED,
    INVOCATIONS, ERRORS, DESTINATION_DELIVERY_FAILURES, OVERSIZED, POLLING_ERRORS, HOOK_ERRORS,
    SUCCEEDED, FAILED_ATTEMPTS,
)
"""Every counter, in the order exporters list them."""

MAX_OFFSET_LAG = "MaxOffsetLag"
SUM_OFFSET_LAG = "SumOffsetLag"

METRIC_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "EventCount": (POLLED, FILTERED_OUT, INVOKED, FAILED_INVOKE, DROPPED, DESTINATION_DELIVERED, DELETED, COMMITTED),
    "ErrorCount": (POLLING_ERRORS,),
    "KafkaMetrics": (MAX_OFFSET_LAG, SUM_OFFSET_LAG),
})
"""AWS's ``MetricsConfig`` groups and the metrics of each that batchmap has (AWS's ErrorCount also names
InvokeErrorCount, CommitErrorCount and others batchmap does not count apart)."""


def hidden_metrics(chosen: frozenset[str] | None, offered: tuple[str, ...]) -> frozenset[str]:
    """The metrics a mapping does not publish: those of the groups its source offers that ``chosen`` leaves out.

    ``chosen`` is ``None`` when ``MetricsConfig`` is not set: batchmap then publishes every group (AWS would
    publish none). A group the source does not offer hides nothing: ``PollingErrorCount`` is an ErrorCount
    metric for Kafka only, and batchmap's own for every other source.
    """
    if chosen is None:
        return frozenset()
    return frozenset(name for group in offered if group not in chosen for name in METRIC_GROUPS.get(group, ()))

_FUNCTION_ERRORS = ("FunctionError", "Timeout")


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """The metrics of one mapping at one moment."""

    function_name: str
    event_source_mapping_uuid: str
    counters: Mapping[str, int]
    duration: DurationStats = field(default_factory=DurationStats)
    iterator_age_ms: int | None = None
    iterator_age_max_ms: int | None = None
    offset_lag: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    iterator_age_stats: DurationStats = field(default_factory=lambda: Histogram(AGE_BUCKETS_MS).stats())
    invocations_in_flight: int = 0
    provisioned_pollers: int | None = None
    hidden: frozenset[str] = frozenset()
    """Metrics the exporters leave out (``hidden_metrics``: groups ``MetricsConfig`` did not choose)."""

    def __getitem__(self, name: str) -> int:
        """A counter by its AWS name: ``snapshot["PolledEventCount"]``."""
        return self.counters[name]

    @property
    def offset_lag_sum(self) -> int | None:
        """``OffsetLag`` / ``SumOffsetLag``: the lag of every partition added up."""
        return sum(self.offset_lag.values()) if self.offset_lag else None

    @property
    def offset_lag_max(self) -> int | None:
        """``MaxOffsetLag``: the lag of the partition furthest behind."""
        return max(self.offset_lag.values()) if self.offset_lag else None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON: counters by AWS name, then statistic sets named as CloudWatch names them."""
        out: dict[str, Any] = dict(self.counters)
        d = self.duration
        out["Duration"] = {"SampleCount": d.count, "Sum": d.sum_ms, "Minimum": d.min_ms, "Maximum": d.max_ms,
                           "Average": d.mean_ms}
        out["IteratorAge"] = {"Latest": self.iterator_age_ms, "Maximum": self.iterator_age_max_ms}
        out["OffsetLag"] = {"Sum": self.offset_lag_sum, "Maximum": self.offset_lag_max}
        return out


class MetricsRecorder(MetricsHook):
    """Aggregates one mapping's metrics; safe to call from any thread."""

    def __init__(self, function_name: str = "batchmap-function", event_source_mapping_uuid: str = "",
                 hidden: frozenset[str] = frozenset()) -> None:
        self.function_name = function_name
        self.event_source_mapping_uuid = event_source_mapping_uuid
        self.hidden = hidden
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._duration = Histogram()
        self._age: int | None = None
        self._age_max: int | None = None
        self._lag: dict[str, int] = {}
        self._pollers: int | None = None
        self._ages = Histogram(AGE_BUCKETS_MS)
        self._outcomes = 0

    def _add(self, name: str, records: int) -> None:
        if records < 0:
            raise ConfigError(name, records, "a record count >= 0")
        with self._lock:
            self._counts[name] += records

    def polled(self, records: int) -> None:
        self._add(POLLED, records)

    def filtered_out(self, records: int) -> None:
        self._add(FILTERED_OUT, records)

    def oversized(self, records: int) -> None:
        self._add(OVERSIZED, records)

    def invoked(self, records: int) -> None:
        if records < 0:
            raise ConfigError(INVOKED, records, "a record count >= 0")
        with self._lock:
            self._counts[INVOCATIONS] += 1
            self._counts[INVOKED] += records

    def outcome(self, records: int, outcome: Outcome) -> None:
        if records < 0:
            raise ConfigError(FAILED_INVOKE, records, "a record count >= 0")
        succeeded, failed = record_outcomes(records, outcome)
        with self._lock:
            self._outcomes += 1
            if outcome.kind != "success":
                self._counts[FAILED_INVOKE] += records
            if outcome.reason in _FUNCTION_ERRORS:
                self._counts[ERRORS] += 1
            self._counts[SUCCEEDED] += succeeded
            self._counts[FAILED_ATTEMPTS] += failed
            self._duration.observe(outcome.duration_ms)

    def dropped(self, records: int) -> None:
        self._add(DROPPED, records)

    def destination_delivered(self, records: int) -> None:
        self._add(DESTINATION_DELIVERED, records)

    def destination_failed(self, records: int) -> None:
        if records < 0:
            raise ConfigError(DROPPED, records, "a record count >= 0")
        with self._lock:
            self._counts[DESTINATION_DELIVERY_FAILURES] += 1
            self._counts[DROPPED] += records

    def deleted(self, records: int) -> None:
        self._add(DELETED, records)

    def committed(self, records: int) -> None:
        self._add(COMMITTED, records)

    def polling_error(self) -> None:
        self._add(POLLING_ERRORS, 1)

    def hook_error(self, hook: str, event: str) -> None:
        self._add(HOOK_ERRORS, 1)

    def iterator_age(self, age_ms: int) -> None:
        age = max(0, int(age_ms))
        with self._lock:
            self._age = age
            self._ages.observe(age)
            self._age_max = age if self._age_max is None or age > self._age_max else self._age_max

    def offset_lag(self, partition: str, lag: int) -> None:
        with self._lock:
            self._lag[partition] = max(0, int(lag))

    def pollers(self, count: int) -> None:
        with self._lock:
            self._pollers = max(0, int(count))

    def snapshot(self) -> MetricsSnapshot:
        """A consistent copy of every metric."""
        with self._lock:
            return MetricsSnapshot(
                function_name=self.function_name,
                event_source_mapping_uuid=self.event_source_mapping_uuid,
                counters=MappingProxyType(dict(self._counts)),
                duration=self._duration.stats(),
                iterator_age_ms=self._age,
                iterator_age_max_ms=self._age_max,
                offset_lag=MappingProxyType(dict(self._lag)),
                iterator_age_stats=self._ages.stats(),
                invocations_in_flight=max(0, self._counts[INVOCATIONS] - self._outcomes),
                provisioned_pollers=self._pollers,
                hidden=self.hidden,
            )


def record_outcomes(records: int, outcome: Outcome) -> tuple[int, int]:
    """(succeeded, failed) records of one invocation of ``records`` records, by the record-level rules."""
    if outcome.kind == "success":
        return records, 0
    if outcome.kind == "failure":
        return 0, records
    failed = len(outcome.failed_ids)
    succeeded = outcome.rewind_index if outcome.rewind_index is not None else records - failed
    return max(0, succeeded), failed


def iterator_age_ms(last_arrival_ms: int, sent_at_ms: int) -> int:
    """``IteratorAge`` of a batch: how long its last record waited in the stream before being sent."""
    return max(0, int(sent_at_ms) - int(last_arrival_ms))


def committed_event_count(previous: Mapping[str, int], new: Mapping[str, int]) -> int:
    """``CommittedEventCount`` of a commit: the sum over partitions of the committed offset's advance.

    ``previous`` must name every partition in ``new`` (for a first commit, the
    offset the consumer started from). A partition moved backwards adds 0.
    """
    total = 0
    for partition, offset in new.items():
        if partition not in previous:
            raise ConfigError("previous committed offsets", partition,
                              "the starting or last committed offset of every partition being committed")
        total += max(0, offset - previous[partition])
    return total
