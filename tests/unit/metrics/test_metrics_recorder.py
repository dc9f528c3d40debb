"""MetricsRecorder: AWS's event source mapping counting rules (reference §6), one test per rule."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import batchmap.metrics as metrics
from batchmap.engine.invocation import Invocation
from batchmap.engine.outcome import Outcome, judge
from batchmap.errors import ConfigError
from batchmap.metrics import (
    COUNTERS,
    HookChain,
    MetricsHook,
    MetricsRecorder,
    NullHook,
    committed_event_count,
    iterator_age_ms,
)

IDS = ["a", "b", "c", "d"]


def outcome_of(
    status: str = "ok", payload: Any = None, report: bool = True, duration_ms: float = 10.0
) -> Outcome:
    error = {"errorType": "ValueError", "errorMessage": "bad"} if status == "error" else None
    invocation = Invocation(status, payload=payload, error=error, duration_ms=duration_ms)  # type: ignore[arg-type]
    return judge(invocation, IDS, shape="sqs", report_batch_item_failures=report)


def invoke(recorder: MetricsHook, outcome: Outcome, records: int = len(IDS)) -> None:
    """What the engine does around one invocation."""
    recorder.invoked(records)
    recorder.outcome(records, outcome)


def test_every_counter_starts_at_zero_and_an_empty_poll_adds_zero() -> None:
    recorder = MetricsRecorder("worker", "uuid-1")
    recorder.polled(0)
    snap = recorder.snapshot()
    assert {name: snap[name] for name in COUNTERS} == dict.fromkeys(COUNTERS, 0)
    assert snap.iterator_age_ms is None
    assert snap.offset_lag_sum is None
    assert snap.duration.count == 0


def test_polled_and_filtered_out() -> None:
    recorder = MetricsRecorder()
    recorder.polled(10)
    recorder.filtered_out(3)
    recorder.polled(5)
    snap = recorder.snapshot()
    assert (snap["PolledEventCount"], snap["FilteredOutEventCount"]) == (15, 3)


def test_retries_count_again_in_invoked_event_count() -> None:
    recorder = MetricsRecorder()
    recorder.polled(4)
    invoke(recorder, outcome_of("error"))
    invoke(recorder, outcome_of("error"))
    invoke(recorder, outcome_of("ok"))
    snap = recorder.snapshot()
    assert snap["InvokedEventCount"] == 12
    assert snap["InvokedEventCount"] > snap["PolledEventCount"]
    assert snap["Invocations"] == 3


def test_failed_invoke_event_count_counts_every_record_of_a_failed_invocation() -> None:
    recorder = MetricsRecorder()
    invoke(recorder, outcome_of("error"))
    invoke(recorder, outcome_of("timeout"))
    invoke(recorder, outcome_of("ok", payload={"batchItemFailures": [{"itemIdentifier": ""}]}))
    snap = recorder.snapshot()
    assert snap["FailedInvokeEventCount"] == 12


def test_failed_invoke_event_count_includes_a_partial_responses_whole_invocation() -> None:
    recorder = MetricsRecorder()
    partial = outcome_of("ok", payload={"batchItemFailures": [{"itemIdentifier": "b"}]})
    assert partial.kind == "partial"
    invoke(recorder, partial)
    assert recorder.snapshot()["FailedInvokeEventCount"] == 4


def test_a_list_returned_without_report_batch_item_failures_is_not_a_failure() -> None:
    recorder = MetricsRecorder()
    invoke(recorder, outcome_of("ok", payload={"batchItemFailures": [{"itemIdentifier": "b"}]}, report=False))
    invoke(recorder, outcome_of("ok", payload={"batchItemFailures": []}))
    assert recorder.snapshot()["FailedInvokeEventCount"] == 0


def test_errors_count_function_errors_and_timeouts_not_malformed_responses() -> None:
    recorder = MetricsRecorder()
    invoke(recorder, outcome_of("error"))
    invoke(recorder, outcome_of("timeout"))
    invoke(recorder, outcome_of("ok", payload="not an object"))
    invoke(recorder, outcome_of("ok"))
    assert recorder.snapshot()["Errors"] == 2


def test_duration_statistics() -> None:
    recorder = MetricsRecorder()
    for ms in (4.0, 20.0, 1500.0):
        invoke(recorder, outcome_of("ok", duration_ms=ms))
    stats = recorder.snapshot().duration
    assert (stats.count, stats.sum_ms, stats.min_ms, stats.max_ms) == (3, 1524.0, 4.0, 1500.0)
    assert stats.mean_ms == 508.0
    assert stats.cumulative()[-1] == 3
    assert stats.quantile(0.0) == 4.0
    assert stats.quantile(0.5) == 25  # 20 ms falls in the (10, 25] bucket
    assert stats.quantile(1.0) == 1500.0
    with pytest.raises(ConfigError, match="q"):
        stats.quantile(1.5)


def test_dropped_event_count_excludes_records_the_destination_received() -> None:
    recorder = MetricsRecorder()
    recorder.destination_delivered(5)
    recorder.dropped(2)  # discarded with no destination configured
    snap = recorder.snapshot()
    assert snap["OnFailureDestinationDeliveredEventCount"] == 5
    assert snap["DroppedEventCount"] == 2
    assert snap["DestinationDeliveryFailures"] == 0


def test_a_failed_destination_send_drops_the_records_and_counts_one_failure() -> None:
    recorder = MetricsRecorder()
    recorder.destination_failed(7)
    recorder.destination_failed(3)
    snap = recorder.snapshot()
    assert snap["DestinationDeliveryFailures"] == 2
    assert snap["DroppedEventCount"] == 10
    assert snap["OnFailureDestinationDeliveredEventCount"] == 0


def test_deleted_committed_and_oversized() -> None:
    recorder = MetricsRecorder()
    recorder.deleted(9)
    recorder.deleted(0)  # a failed delete emits 0
    recorder.committed(committed_event_count({"t-0": 10, "t-1": 4}, {"t-0": 15, "t-1": 7}))
    recorder.oversized(1)
    snap = recorder.snapshot()
    assert (snap["DeletedEventCount"], snap["CommittedEventCount"], snap["OversizedEventCount"]) == (9, 8, 1)


def test_committed_event_count_needs_a_starting_point_and_ignores_rewinds() -> None:
    assert committed_event_count({"t-0": 10}, {"t-0": 8}) == 0
    with pytest.raises(ConfigError, match="t-1"):
        committed_event_count({"t-0": 10}, {"t-1": 3})


def test_iterator_age_keeps_the_latest_and_the_maximum() -> None:
    recorder = MetricsRecorder()
    recorder.iterator_age(iterator_age_ms(last_arrival_ms=1_000, sent_at_ms=1_750))
    recorder.iterator_age(iterator_age_ms(last_arrival_ms=2_000, sent_at_ms=2_100))
    snap = recorder.snapshot()
    assert (snap.iterator_age_ms, snap.iterator_age_max_ms) == (100, 750)
    assert iterator_age_ms(5_000, 4_000) == 0  # clock skew never makes a negative age


def test_offset_lag_is_summed_over_partitions_with_the_maximum_beside_it() -> None:
    recorder = MetricsRecorder()
    recorder.offset_lag("t-0", 40)
    recorder.offset_lag("t-1", 2)
    recorder.offset_lag("t-0", 30)  # a newer reading replaces the older one
    snap = recorder.snapshot()
    assert (snap.offset_lag_sum, snap.offset_lag_max) == (32, 30)


def test_negative_counts_are_refused_by_name() -> None:
    recorder = MetricsRecorder()
    with pytest.raises(ConfigError, match="PolledEventCount"):
        recorder.polled(-1)
    with pytest.raises(ConfigError, match="DroppedEventCount"):
        recorder.destination_failed(-1)


def test_a_snapshot_is_frozen_and_as_dict_is_plain_json() -> None:
    recorder = MetricsRecorder("worker", "uuid-1")
    invoke(recorder, outcome_of("ok", duration_ms=8.0))
    snap = recorder.snapshot()
    recorder.polled(100)
    assert snap["PolledEventCount"] == 0
    with pytest.raises(TypeError):
        snap.counters["PolledEventCount"] = 5  # type: ignore[index]
    as_dict = snap.as_dict()
    assert as_dict["InvokedEventCount"] == 4
    assert as_dict["Duration"] == {"SampleCount": 1, "Sum": 8.0, "Minimum": 8.0, "Maximum": 8.0,
                                   "Average": 8.0}
    assert as_dict["IteratorAge"] == {"Latest": None, "Maximum": None}


def test_counts_are_exact_under_concurrent_threads() -> None:
    recorder = MetricsRecorder()
    outcome = outcome_of("error")

    def work() -> None:
        for _ in range(2_000):
            recorder.polled(1)
            recorder.invoked(2)
            recorder.outcome(2, outcome)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snap = recorder.snapshot()
    assert snap["PolledEventCount"] == 16_000
    assert snap["InvokedEventCount"] == 32_000
    assert snap["Invocations"] == 16_000
    assert snap["FailedInvokeEventCount"] == 32_000
    assert snap["Errors"] == 16_000
    assert snap.duration.count == 16_000


def test_a_hook_overrides_only_what_it_needs_and_a_chain_calls_each() -> None:
    class Failures(MetricsHook):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def outcome(self, records: int, outcome: Outcome) -> None:
            self.seen.append(outcome.kind)

    listener = Failures()
    recorder = MetricsRecorder()
    chain = HookChain(NullHook(), recorder, listener)
    chain.polled(3)
    invoke(chain, outcome_of("timeout"))
    for event in ("filtered_out", "oversized", "dropped", "destination_delivered", "destination_failed",
                  "deleted", "committed", "iterator_age"):
        getattr(chain, event)(1)
    chain.offset_lag("t-0", 5)
    snap = recorder.snapshot()
    assert listener.seen == ["failure"]
    assert snap["PolledEventCount"] == 3
    assert snap["FailedInvokeEventCount"] == 4
    assert snap["DroppedEventCount"] == 2  # one dropped, one from the failed send
    assert snap.offset_lag_sum == 5


def test_the_public_names_are_all_exported() -> None:
    for name in metrics.__all__:
        assert hasattr(metrics, name), name
    public = {n for n in dir(metrics) if not n.startswith("_")}
    modules = {"emf", "histogram", "hook", "live", "prometheus", "recorder"}
    assert public - modules == set(metrics.__all__)
