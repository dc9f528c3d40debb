"""Malformed records in process_batch: the same verdict at every concurrency, never a crash.

A malformed record that has its identifier fails without running (reported,
logged, stopping its unit like any failure); one without an identifier fails
the whole call with RecordError before any record runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from handler_support import kafka_batch, kinesis_event, reported, sqs_event

from batchmap.errors import RecordError
from batchmap.handler import process_batch, run_batch

EVENTS = Path(__file__).resolve().parents[2] / "events"
CONCURRENCY = [1, 4, "auto"]


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


@pytest.mark.parametrize("concurrency", CONCURRENCY)
def test_mixed_sources_fail_the_call_at_every_concurrency(concurrency: Any) -> None:
    with pytest.raises(RecordError) as caught:
        process_batch(load("malformed_mixed_sources.json"), lambda r: None, concurrency=concurrency)
    assert (caught.value.index, caught.value.field) == (1, "eventSource")
    assert "cannot be reported" in str(caught.value) and "messageId" in str(caught.value)


@pytest.mark.parametrize("concurrency", CONCURRENCY)
def test_a_kafka_key_that_is_not_text_fails_its_record(concurrency: Any) -> None:
    event = kafka_batch([(0, "a"), (0, "b"), (1, "c")])
    event["records"]["t-0"][1]["key"] = {"a": 1}
    ran: list[int] = []
    response = process_batch(event, lambda r: ran.append(r.offset), concurrency=concurrency,
                             stream_continue_other_keys=True)
    assert reported(response) == [{"partition": "t-0", "offset": 101}]
    assert sorted(ran) == [100, 100]  # t-0 offset 100 and t-1 offset 100; the malformed record never ran


@pytest.mark.parametrize("concurrency", CONCURRENCY)
def test_a_fifo_message_without_a_group_fails_alone(concurrency: Any) -> None:
    event = sqs_event(4, groups=["g1", "g2", "g1", "g2"])
    del event["Records"][1]["attributes"]["MessageGroupId"]
    result = run_batch(event, lambda r: None, concurrency=concurrency)
    assert reported(result.response) == ["m1"]
    assert result.failures[0].error.field == "attributes.MessageGroupId"  # type: ignore[union-attr]


@pytest.mark.parametrize("concurrency", CONCURRENCY)
@pytest.mark.parametrize("other_keys", [False, True])
def test_a_stream_record_without_a_partition_key_stops_what_its_failure_stops(concurrency: Any,
                                                                                other_keys: bool) -> None:
    event = kinesis_event(["a", "b", "a", "b"])
    del event["Records"][1]["kinesis"]["partitionKey"]
    response = process_batch(event, lambda r: None, concurrency=concurrency,
                             stream_continue_other_keys=other_keys)
    # alone in its key: with other keys going on only it comes back; otherwise the shard rewinds to it
    assert reported(response) == (["1001"] if other_keys else ["1001", "1002", "1003"])


@pytest.mark.parametrize("concurrency", CONCURRENCY)
def test_a_dynamodb_record_without_a_size_fails(concurrency: Any) -> None:
    event = load("dynamodb.json")
    event["Records"][2]["dynamodb"]["SizeBytes"] = "abc"
    response = process_batch(event, lambda r: None, concurrency=concurrency, stream_continue_other_keys=True)
    assert reported(response) == ["4421584500000000017450439093"]


def test_a_lone_surrogate_body_runs_under_auto() -> None:
    event = sqs_event(3)
    event["Records"][1]["body"] = "\ud800"
    assert reported(process_batch(event, lambda r: r.size, concurrency="auto")) == []


def test_a_payload_that_does_not_decode_fails_only_the_record_that_reads_it() -> None:
    event = kinesis_event(["a", "b"])
    event["Records"][0]["kinesis"]["data"] = "!!not base64!!"
    assert reported(process_batch(event, lambda r: r.key)) == []  # nobody read the payload
    result = run_batch(event, lambda r: r.json(), stream_continue_other_keys=True)
    assert reported(result.response) == ["1000"]
    assert result.failures[0].error.field == "kinesis.data"  # type: ignore[union-attr]
