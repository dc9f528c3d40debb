"""parse_event on the golden events: sources recognised, fields exposed, malformed events named."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from batchmap.errors import EventError, RecordError, UnknownEventSourceError
from batchmap.records import (
    DynamoDBRecord,
    KafkaRecord,
    KinesisRecord,
    SQSRecord,
    parse_event,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"
EXPECTED: dict[str, Any] = json.loads((EVENTS / "expected.json").read_text())


def load(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


GOLDEN = sorted(name for name, expect in EXPECTED.items() if not name.startswith("_") and "error" not in expect)
MALFORMED = sorted(name for name, expect in EXPECTED.items() if not name.startswith("_") and "error" in expect)


def test_every_event_file_has_an_expectation() -> None:
    files = sorted(p.name for p in EVENTS.glob("*.json") if p.name != "expected.json")
    assert files == sorted(GOLDEN + MALFORMED)


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_event_kind_count_and_identifiers(name: str) -> None:
    expect = EXPECTED[name]
    batch = parse_event(load(name))
    assert (batch.kind, batch.event_source, len(batch)) == (expect["kind"], expect["event_source"], expect["count"])
    ids = [record.id for record in batch]
    assert len({json.dumps(i, sort_keys=True) for i in ids}) == len(ids)
    for failing in expect["fail"]:
        assert failing in ids


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_event_names_what_is_wrong(name: str) -> None:
    expect = EXPECTED[name]
    with pytest.raises(EventError) as caught:
        parse_event(load(name))
    assert type(caught.value).__name__ == expect["error"]
    if "field" in expect:
        assert isinstance(caught.value, RecordError)
        assert (caught.value.index, caught.value.field) == (expect["index"], expect["field"])
        assert expect["field"] in str(caught.value) and f"record {expect['index']}" in str(caught.value)


def test_unknown_source_carries_the_value() -> None:
    with pytest.raises(UnknownEventSourceError) as caught:
        parse_event(load("malformed_unknown_source.json"))
    assert caught.value.event_source == "aws:s3"
    assert "aws:s3" in str(caught.value)


@pytest.mark.parametrize("event", [None, [], "Records", {"Records": []}, {"eventSource": "aws:kafka", "records": {}},
                                   {"eventSource": "aws:kafka", "records": []}, {"eventSource": "aws:sns"}])
def test_things_that_are_not_batch_events(event: object) -> None:
    with pytest.raises(EventError):
        parse_event(event)


def test_sqs_standard_fields() -> None:
    batch = parse_event(load("sqs_standard.json"))
    assert not batch.is_fifo
    first, second, third = batch[0], batch[1], batch[2]
    assert isinstance(first, SQSRecord)
    assert first.id == first.message_id == "059f36b4-87a3-44ab-83d2-661975830a7d"
    assert first.key is None and first.message_group_id is None and not first.is_fifo
    assert first.body == "Test message." and first.size == len("Test message.")
    assert first.sent_timestamp_ms == 1545082649183 and first.approximate_receive_count == 1
    assert first.event_source_arn == "arn:aws:sqs:us-east-2:123456789012:my-queue" and first.aws_region == "us-east-2"
    with pytest.raises(RecordError, match="body: not valid JSON") as caught:
        first.json()  # AWS's own example body is plain text
    assert isinstance(caught.value, ValueError) and caught.value.field == "body"
    assert second.json() == {"type": "order.created", "orderId": 1001, "total": "19.99"}
    assert second.json() is second.json()  # decoded once, cached on the view
    assert third.approximate_receive_count == 3
    assert third.message_attributes["tenant"]["stringValue"] == "acme"
    assert third.attributes["AWSTraceHeader"].startswith("Root=")
    assert first.raw is load("sqs_standard.json")["Records"][0] or first.raw == load("sqs_standard.json")["Records"][0]


def test_sqs_fifo_fields() -> None:
    batch = parse_event(load("sqs_fifo.json"))
    assert batch.is_fifo
    groups = [record.key for record in batch]
    assert groups == ["1", "2", "1", "2", "1", "2"]
    first = batch[0]
    assert isinstance(first, SQSRecord)
    assert first.is_fifo and first.message_deduplication_id == "1"
    assert first.sequence_number == "18849496460467696128"


def test_kinesis_fields() -> None:
    batch = parse_event(load("kinesis.json"))
    first = batch[0]
    assert isinstance(first, KinesisRecord)
    assert first.id == first.sequence_number == "49590338271490256608559692538361571095921575989136588898"
    assert first.key == first.partition_key == "1"
    assert first.data == b"Hello, this is a test." and first.size == len(b"Hello, this is a test.")
    assert first.shard_id == "shardId-000000000006"
    assert first.approximate_arrival_timestamp == 1545084650.987
    assert batch[1].json() == {"reading": 1, "sensor": "2"}
    assert [r.size for r in batch] == [len(r.data) for r in batch]  # computed without decoding


def test_dynamodb_fields_and_plain_values() -> None:
    batch = parse_event(load("dynamodb.json"))
    insert, modify, remove, typed = batch
    assert isinstance(insert, DynamoDBRecord)
    assert insert.id == "4421584500000000017450439091" and insert.event_name == "INSERT"
    assert insert.keys == {"Id": 101} and insert.json() == insert.new_image == {"Message": "New item!", "Id": 101}
    assert insert.old_image is None and insert.size == 26 and not insert.is_ttl_delete
    assert modify.old_image == {"Message": "New item!", "Id": 101}
    assert modify.new_image == {"Message": "This item has changed", "Id": 101}
    assert remove.new_image is None and remove.json() == {"Message": "expiring", "Id": 102, "ttl": 1428537000}
    assert remove.is_ttl_delete
    assert insert.key == modify.key != remove.key  # same item, same ordering key
    item = typed.json()
    assert item["Price"] == Decimal("19.99") and item["Big"] == 123456789012345678901234567890
    assert item["Active"] is True and item["Nothing"] is None and item["Blob"] == b"\x00\xffbin"
    assert item["Tags"] == {"blue", "red"} and item["Scores"] == {1, Decimal("2.5")} and item["Blobs"] == {b"a", b"b"}
    assert item["Items"] == ["x", 1, {"deep": False}]
    assert item["Address"] == {"city": "Berlin", "zip": "10115"}
    assert typed.stream_view_type == "NEW_IMAGE" and typed.approximate_creation_time == 1428537610.0


def test_kafka_fields() -> None:
    batch = parse_event(load("kafka_msk.json"))
    first = batch[0]
    assert isinstance(first, KafkaRecord)
    assert first.id == {"partition": "mytopic-0", "offset": 15}
    assert (first.topic, first.partition, first.offset, first.topic_partition) == ("mytopic", 0, 15, "mytopic-0")
    assert first.value == b"Hello, this is a test." and first.key == "abcDEFghiJKLmnoPQRstuVWXyz1234=="
    assert first.headers == [("headerKey", b"headerValue")] and first.header("headerKey") == b"headerValue"
    assert first.timestamp_ms == 1545084650987 and first.timestamp_type == "CREATE_TIME"
    second = batch[1]
    assert second.key_bytes == b"user-1" and second.json() == {"n": 16} and second.header("trace") == b"abc"
    tombstone = batch[4]
    assert tombstone.id == {"partition": "mytopic-1", "offset": 4}
    assert tombstone.value is None and tombstone.json() is None and tombstone.size == 0
    self_managed = parse_event(load("kafka_self_managed.json"))
    assert self_managed.event_source == "SelfManagedKafka" and self_managed[0].key is None


def test_tumbling_window_event_is_read_as_kinesis() -> None:
    batch = parse_event(load("kinesis_tumbling_window.json"))
    assert batch.kind == "kinesis" and len(batch) == 2


def test_views_are_read_only_and_compare_by_content() -> None:
    event = load("sqs_standard.json")
    one, again = parse_event(event)[0], parse_event(event)[0]
    assert one == again and one is not again
    with pytest.raises(AttributeError):
        one.raw = {}  # type: ignore[misc]
    with pytest.raises(AttributeError):
        parse_event(event).kind = "kinesis"  # type: ignore[misc]
    assert "SQSRecord(id='059f36b4" in repr(one)
