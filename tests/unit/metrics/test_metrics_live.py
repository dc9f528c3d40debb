"""Record-level counts, the live view (rates over a sliding window, ETA, retry waits, readiness) and its gauges."""

from __future__ import annotations

from types import MappingProxyType

import pytest
from test_metrics_exporters import parse, value

from batchmap.engine.invocation import Invocation
from batchmap.engine.outcome import Outcome, judge
from batchmap.metrics import (
    COUNTERS,
    Depth,
    MappingView,
    MetricsRecorder,
    MetricsSnapshot,
    RateWindow,
    RunView,
    eta_s,
    live_text,
    prometheus_text,
    record_outcomes,
    retry_wait,
)


def partial(ids: list[str], failed: list[str], shape: str = "sqs") -> Outcome:
    body = {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
    return judge(Invocation("ok", body), ids, shape=shape, report_batch_item_failures=True)  # type: ignore[arg-type]


def test_record_outcomes_count_records_not_batches() -> None:
    ids = [f"m{i}" for i in range(10)]
    ok = judge(Invocation("ok", None), ids, shape="sqs", report_batch_item_failures=True)
    error = judge(Invocation("error"), ids, shape="sqs", report_batch_item_failures=True)  # type: ignore[arg-type]
    assert record_outcomes(10, ok) == (10, 0)
    assert record_outcomes(10, error) == (0, 10)
    assert record_outcomes(10, partial(ids, ["m3"])) == (9, 1)
    # a stream re-reads from the lowest failure: only the records before it are checkpointed
    seqs = [str(100 + i) for i in range(10)]
    assert record_outcomes(10, partial(seqs, ["106", "104"], shape="kinesis")) == (4, 2)


def test_the_recorder_counts_succeeded_and_failed_attempts_beside_aws_counters() -> None:
    recorder = MetricsRecorder()
    ids = [f"m{i}" for i in range(100)]
    for _ in range(2):  # the same bad record fails in two batches of 100
        recorder.invoked(100)
        recorder.outcome(100, partial(ids, ["m7"]))
    snap = recorder.snapshot()
    assert snap["FailedInvokeEventCount"] == 200  # AWS: every record of both batches
    assert snap["FailedAttemptEventCount"] == 2 and snap["SucceededEventCount"] == 198
    assert snap.invocations_in_flight == 0
    recorder.invoked(5)
    assert recorder.snapshot().invocations_in_flight == 1


def test_iterator_age_is_a_histogram_in_the_exposition() -> None:
    recorder = MetricsRecorder("fn", "u")
    for age in (50, 700, 4_000_000):
        recorder.iterator_age(age)
    types, samples = parse(prometheus_text([recorder]))
    assert types["batchmap_iterator_age_histogram_seconds"] == "histogram"
    assert value(samples, "batchmap_iterator_age_histogram_seconds_bucket", le="0.1") == 1
    assert value(samples, "batchmap_iterator_age_histogram_seconds_bucket", le="1") == 2
    assert value(samples, "batchmap_iterator_age_histogram_seconds_bucket", le="+Inf") == 3
    assert value(samples, "batchmap_iterator_age_histogram_seconds_count") == 3
    assert "batchmap_iterator_age_histogram_seconds" not in prometheus_text([MetricsRecorder()])  # a queue has none


def test_rates_are_taken_over_the_last_seconds_not_since_the_start() -> None:
    window = RateWindow(window_s=5.0)
    assert window.rate("SucceededEventCount") is None
    for second in range(0, 11):  # 100/s for 10 s ...
        window.add(second, {"SucceededEventCount": 100 * second})
    assert window.rate("SucceededEventCount") == pytest.approx(100)
    for second in range(11, 21):  # ... then 1,000/s: the rate says so within the window, not an average
        window.add(second, {"SucceededEventCount": 1000 + 1000 * (second - 10)})
    assert window.rate("SucceededEventCount") == pytest.approx(1000)


def test_eta_is_the_backlog_over_the_current_rate() -> None:
    assert eta_s(9_000, 1_000.0) == 9.0
    assert eta_s(0, None) == 0.0
    assert eta_s(10, 0.0) is None and eta_s(None, 5.0) is None


def test_a_retry_wait_is_seen_only_when_failed_messages_are_all_that_is_left() -> None:
    hidden = Depth(visible=0, in_flight=3, delayed=0, next_visible_in_s=1.5)
    exact = retry_wait(hidden, in_flight_invocations=0, failed_attempts=3, since_failure_s=0.5,
                       visibility_timeout_s=30)
    assert exact is not None and (exact.messages, exact.in_s, exact.exact) == (3, 1.5, True)
    bound = retry_wait(Depth(0, 3, 0), 0, 3, since_failure_s=10.0, visibility_timeout_s=30)
    assert bound is not None and (bound.in_s, bound.exact) == (20.0, False)
    assert retry_wait(Depth(1, 3, 0), 0, 3, 1.0, 30) is None  # something to work on
    assert retry_wait(hidden, 1, 3, 1.0, 30) is None  # an invocation is running
    assert retry_wait(hidden, 0, 0, None, 30) is None  # nothing failed: messages are merely held


def mapping(state: str = "running", outage: str | None = None, depth: Depth | None = None) -> MappingView:
    counters = MappingProxyType(dict.fromkeys(COUNTERS, 0))
    return MappingView("u-1", "fn", "sqlite:///q.db?queue=q", "queue", state,  # type: ignore[arg-type]
                       MetricsSnapshot("fn", "u-1", counters), outage=outage, depth=depth, dead_lettered=4)


def test_readiness_names_each_mapping_that_is_not_ready() -> None:
    assert RunView(1.0, (mapping(),)).not_ready() == []
    assert RunView(1.0, ()).not_ready() == ["no mapping is running"]
    outage = RunView(1.0, (mapping(outage="sqlite:///q.db?queue=q unavailable for 3.0 s (7 failed calls)"),))
    assert outage.not_ready() == ["mapping u-1 (sqlite:///q.db?queue=q): sqlite:///q.db?queue=q unavailable "
                                  "for 3.0 s (7 failed calls)"]
    assert RunView(1.0, (mapping("stopped"),)).not_ready() == ["mapping u-1 (sqlite:///q.db?queue=q) is stopped"]
    assert outage.as_json()["ready"] is False and outage.as_json()["mappings"][0]["dead_lettered"] == 4


def test_the_live_gauges_are_well_formed_and_carry_readiness_and_depth() -> None:
    text = live_text([mapping(depth=Depth(5, 2, 1, dead_letter_depth=9)), mapping(outage="down")])
    types, samples = parse(text)
    assert set(types.values()) == {"gauge"}
    assert [v for n, _, v in samples if n == "batchmap_mapping_ready"] == [1, 0]
    assert [v for n, _, v in samples if n == "batchmap_source_in_backoff"] == [0, 1]
    assert value(samples, "batchmap_backlog_messages", state="in_flight") == 2
    assert value(samples, "batchmap_dead_letter_queue_messages") == 9
    assert live_text([]) == ""
