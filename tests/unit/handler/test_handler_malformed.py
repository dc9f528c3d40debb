"""Malformed records in process_batch: the same verdict at every concurrency, never a crash.

A record without an identifier fails the whole call with RecordError before
any record runs. Any other malformed field fails the record that reads it
(RecordError naming the field, reported and logged like any failure); batchmap's
own reads (ordering keys, sizes for ``"auto"``) never fail a batch: a key it
cannot read orders the record with nothing.
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


def read_key(record: Any) -> None:
    record.key  # noqa: B018


@pytest.mark.parametrize("concurrency", CONCURRENCY)
@pytest.mark.parametrize("other_keys", [False, True])
def test_a_kafka_key_that_is_not_text_fails_the_record_that_reads_it(concurrency: Any, other_keys: bool) -> None:
    event = kafka_batch([(0, "a"), (0, "b"), (0, "a"), (1, "c")])
    event["records"]["t-0"][1]["key"] = {"a": 1}
    options: dict[str, Any] = {"concurrency": concurrency, "stream_continue_other_keys": other_keys}
    assert reported(process_batch(event, lambda r: r.offset, **options)) == []
    rest_of_t0 = [] if other_keys else [{"partition": "t-0", "offset": 102}]
    assert reported(process_batch(event, read_key, **options)) == [{"partition": "t-0", "offset": 101}, *rest_of_t0]


@pytest.mark.parametrize("concurrency", CONCURRENCY)
@pytest.mark.parametrize("fifo_strict", [False, True])
def test_a_fifo_message_without_a_group_is_ordered_with_nothing(concurrency: Any, fifo_strict: bool) -> None:
    event = sqs_event(4, groups=["g1", "g2", "g1", "g2"])
    del event["Records"][1]["attributes"]["MessageGroupId"]
    options: dict[str, Any] = {"concurrency": concurrency, "fifo_strict": fifo_strict}
    assert reported(process_batch(event, lambda r: None, **options)) == []
    assert reported(process_batch(event, lambda r: r.key, **options)) == []  # it reads as a standard message

    def fail_m1(record: Any) -> None:
        if record.id == "m1":
            raise ValueError("m1")

    # a unit of its own: its failure stops nothing else, unless fifo_strict stops the whole batch
    expected = ["m1", "m2", "m3"] if fifo_strict else ["m1"]
    assert reported(process_batch(event, fail_m1, concurrency=1, fifo_strict=fifo_strict)) == expected


@pytest.mark.parametrize("concurrency", CONCURRENCY)
@pytest.mark.parametrize("other_keys", [False, True])
def test_a_stream_record_without_a_partition_key_is_ordered_with_nothing(concurrency: Any, other_keys: bool) -> None:
    event = kinesis_event(["a", "b", "a", "b"])
    del event["Records"][1]["kinesis"]["partitionKey"]
    options: dict[str, Any] = {"concurrency": concurrency, "stream_continue_other_keys": other_keys}
    assert reported(process_batch(event, lambda r: None, **options)) == []
    # read, it fails: alone in its key, only it comes back with other keys going on; else the shard rewinds to it
    expected = ["1001"] if other_keys else ["1001", "1002", "1003"]
    assert reported(process_batch(event, read_key, concurrency=1, stream_continue_other_keys=other_keys)) == expected


@pytest.mark.parametrize("concurrency", CONCURRENCY)
def test_a_dynamodb_size_that_is_not_a_number(concurrency: Any) -> None:
    event = load("dynamodb.json")
    event["Records"][2]["dynamodb"]["SizeBytes"] = "abc"
    options: dict[str, Any] = {"concurrency": concurrency, "stream_continue_other_keys": True}
    assert reported(process_batch(event, lambda r: None, **options)) == []  # auto measured it as 0
    assert reported(process_batch(event, lambda r: r.size, **options)) == ["4421584500000000017450439093"]


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


@pytest.mark.parametrize("concurrency", CONCURRENCY)
def test_a_negative_kafka_offset_is_no_identifier(concurrency: Any) -> None:
    """The rule a response's offset is read by (a whole number >= 0) holds the event to it too: a record
    reported with offset -1 would make Lambda reject the whole response."""
    event = kafka_batch([(0, "a"), (0, "b")])
    event["records"]["t-0"][1]["offset"] = -1
    with pytest.raises(RecordError) as caught:
        process_batch(event, lambda r: 1 / 0, concurrency=concurrency)
    assert (caught.value.index, caught.value.field) == (1, "offset")
