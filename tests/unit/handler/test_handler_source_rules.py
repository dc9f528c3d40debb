"""The issue's rules 1-6: what is processed and what is reported, per source."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from handler_support import dynamodb_event, kafka_batch, kinesis_event, reported, sqs_event

from batchmap.errors import BatchFailedError
from batchmap.handler import process_batch, run_batch


class Recorder:
    """A record handler that remembers what it ran and fails the identifiers it is told to."""

    def __init__(self, fail: set[str] | None = None, fail_positions: set[int] | None = None) -> None:
        self.fail = fail or set()
        self.fail_positions = fail_positions or set()
        self.ran: list[Any] = []

    def __call__(self, record: Any) -> None:
        self.ran.append(record.id)
        if str(record.id) in self.fail or record.json().get("i") in self.fail_positions:
            raise ValueError(f"fail {record.id}")


@pytest.mark.parametrize("concurrency", [1, 3])
def test_sqs_standard_reports_exactly_the_failed(concurrency: int) -> None:
    handler = Recorder(fail={"m1", "m4"})
    response = process_batch(sqs_event(6), handler, concurrency=concurrency)
    assert reported(response) == ["m1", "m4"]
    assert sorted(handler.ran) == [f"m{i}" for i in range(6)]  # rule 1: the others are unaffected


@pytest.mark.parametrize("concurrency", [1, 4])
def test_sqs_fifo_stops_only_the_failed_group(concurrency: int) -> None:
    groups = ["a", "b", "a", "b", "a", "c"]
    handler = Recorder(fail={"m2"})
    response = process_batch(sqs_event(6, groups=groups), handler, concurrency=concurrency)
    assert reported(response) == ["m2", "m4"]  # m2 failed, m4 comes after it in group a
    assert "m4" not in handler.ran
    assert sorted(handler.ran) == ["m0", "m1", "m2", "m3", "m5"]


def test_sqs_fifo_strict_stops_everything_after_the_first_failure() -> None:
    handler = Recorder(fail={"m2"})
    response = process_batch(sqs_event(6, groups=["a", "b", "a", "b", "a", "c"]), handler, fifo_strict=True)
    assert reported(response) == ["m2", "m3", "m4", "m5"]
    assert handler.ran == ["m0", "m1", "m2"]


@pytest.mark.parametrize("make", [kinesis_event, dynamodb_event])
def test_streams_stop_at_the_first_failure_and_report_the_rest(make: Any) -> None:
    event = make(["k1", "k2", "k1", "k2", "k3"])
    base = 1000 if make is kinesis_event else 2000
    handler = Recorder(fail={str(base + 1)})
    response = process_batch(event, handler)
    assert reported(response) == [str(base + n) for n in (1, 2, 3, 4)]
    assert handler.ran == [str(base), str(base + 1)]  # nothing processed that Lambda will resend anyway


@pytest.mark.parametrize("make", [kinesis_event, dynamodb_event])
def test_streams_continue_other_keys(make: Any) -> None:
    base = 1000 if make is kinesis_event else 2000
    handler = Recorder(fail={str(base + 1)})
    response = process_batch(make(["k1", "k2", "k1", "k2", "k3"]), handler, stream_continue_other_keys=True)
    assert reported(response) == [str(base + 1), str(base + 3)]  # k2's failure and what followed it in k2
    assert handler.ran == [str(base + n) for n in (0, 1, 2, 4)]


def test_kafka_stops_per_topic_partition() -> None:
    event = kafka_batch([(0, "a"), (0, "b"), (1, "a"), (0, "a"), (1, "c")])
    handler = Recorder(fail_positions={1})
    response = process_batch(event, handler)
    assert reported(response) == [{"partition": "t-0", "offset": 101}, {"partition": "t-0", "offset": 102}]
    assert {"partition": "t-1", "offset": 101} in handler.ran  # the other partition went on


def test_kafka_continue_other_keys_within_a_partition() -> None:
    event = kafka_batch([(0, "a"), (0, "b"), (0, "a"), (0, "b")])
    handler = Recorder(fail_positions={1})
    response = process_batch(event, handler, stream_continue_other_keys=True)
    assert reported(response) == [{"partition": "t-0", "offset": 101}, {"partition": "t-0", "offset": 103}]


def test_every_record_failed_returns_the_full_list() -> None:
    handler = Recorder(fail={f"m{i}" for i in range(3)})
    assert reported(process_batch(sqs_event(3), handler)) == ["m0", "m1", "m2"]


def test_raise_on_full_failure() -> None:
    with pytest.raises(BatchFailedError) as caught:
        process_batch(sqs_event(3), Recorder(fail={"m0", "m1", "m2"}), raise_on_full_failure=True)
    assert reported(caught.value.response) == ["m0", "m1", "m2"]  # type: ignore[arg-type]
    assert [str(e) for e in caught.value.errors] == ["fail m0", "fail m1", "fail m2"]
    # a partial failure still returns normally
    assert reported(process_batch(sqs_event(3), Recorder(fail={"m0"}), raise_on_full_failure=True)) == ["m0"]


def test_a_stream_that_stops_at_record_zero_is_a_full_failure() -> None:
    with pytest.raises(BatchFailedError) as caught:
        process_batch(kinesis_event(["a", "b"]), Recorder(fail={"1000"}), raise_on_full_failure=True)
    assert len(caught.value.errors) == 1  # one raised, one never started


def test_async_handlers_follow_the_same_rules() -> None:
    ran: list[str] = []

    async def handle(record: Any) -> None:
        await asyncio.sleep(0)
        ran.append(record.id)
        if record.id == "m2":
            raise ValueError("no")

    response = process_batch(sqs_event(6, groups=["a", "b", "a", "b", "a", "c"]), handle, concurrency=3)
    assert reported(response) == ["m2", "m4"] and "m4" not in ran


def test_results_as_values() -> None:
    result = run_batch(kinesis_event(["a", "b", "a"]), Recorder(fail={"1001"}))
    assert [r.status for r in result.results] == ["succeeded", "failed", "skipped"]
    assert [r.reported for r in result.results] == [False, True, True]
    assert [r.reason for r in result.results] == ["", "", "stopped"]
    assert (result.succeeded, result.failed, result.skipped, result.all_failed) == (1, 1, 1, False)
    assert [f.record.id for f in result.failures] == ["1001", "1002"]
    assert isinstance(result.failures[0].error, ValueError) and result.errors == [result.failures[0].error]
    assert result.kind == "kinesis" and result.event_source == "aws:kinesis" and result.elapsed_ms >= 0
    assert result.strategy.name == "fixed" and result.analysis is None
    assert "failed=1" in repr(result)
