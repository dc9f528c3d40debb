"""Malformed records: parse_event names the first problem; every view property raises RecordError naming the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from batchmap.errors import EventError, RecordError, UnknownEventSourceError
from batchmap.records import (
    DynamoDBRecord,
    KafkaRecord,
    KinesisRecord,
    SQSRecord,
    decode_item,
    dynamodb_record,
    kafka_record,
    kinesis_record,
    parse_event,
    sqs_record,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_an_unhashable_event_source_is_an_unknown_source() -> None:
    with pytest.raises(UnknownEventSourceError) as caught:
        parse_event({"Records": [{"eventSource": ["aws:sqs"], "messageId": "m"}]})
    assert caught.value.event_source == ["aws:sqs"] and caught.value.where == "Records[0].eventSource"


@pytest.mark.parametrize(("event", "error"), [
    ({"Records": [None]}, "record 0: expected an object, got null"),
    ({"eventSource": "aws:kafka", "records": {"t-0": "x"}}, "records['t-0']: expected a list, got string"),
    ({"eventSource": {"a": 1}}, "unknown event source {'a': 1}"),
    ({"Records": "x" * 100_000}, "Records: expected a list, got string 'xxxx"),
])
def test_event_level_problems_are_event_errors_with_short_messages(event: Any, error: str) -> None:
    with pytest.raises(EventError, match=error.replace("[", r"\[").replace("(", r"\(")) as caught:
        parse_event(event)
    assert len(str(caught.value)) < 300


def sqs(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = dict(sqs_record('{"a": 1}', message_id="m1"))
    raw.update(changes)
    return raw


@pytest.mark.parametrize(("raw", "member", "field"), [
    (sqs(attributes="x"), "key", "attributes"),
    (sqs(attributes={"MessageGroupId": 5}), "key", "attributes.MessageGroupId"),
    (sqs(attributes={"ApproximateReceiveCount": "many"}), "approximate_receive_count",
     "attributes.ApproximateReceiveCount"),
    (sqs(attributes={"SentTimestamp": [1]}), "sent_timestamp_ms", "attributes.SentTimestamp"),
    (sqs(body=None), "body", "body"),
    (sqs(body=None), "size", "body"),
    (sqs(body="not json"), "json", "body"),
    (sqs(body="[" * 100_000), "json", "body"),
    (sqs(messageId=""), "id", "messageId"),
    (sqs(messageAttributes=[]), "message_attributes", "messageAttributes"),
    (sqs(eventSourceARN=7), "event_source_arn", "eventSourceARN"),
])
def test_sqs_view_fields(raw: dict[str, Any], member: str, field: str) -> None:
    record = SQSRecord(raw)
    with pytest.raises(RecordError) as caught:
        value = getattr(record, member)
        if member == "json":
            value()
    assert caught.value.field == field and len(str(caught.value)) < 300
    assert isinstance(caught.value, ValueError)


def test_a_lone_surrogate_body_has_a_size() -> None:
    assert SQSRecord(sqs(body="a\ud800b")).size == 5  # one byte each for a and b, three for the surrogate


def kinesis(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(json.dumps(kinesis_record(b"{}", partition_key="k", sequence_number="1")))
    raw["kinesis"].update(changes)
    return raw


@pytest.mark.parametrize(("raw", "member", "field"), [
    (kinesis(data="!!"), "data", "kinesis.data"),
    (kinesis(data="YQ"), "json", "kinesis.data"),
    (kinesis(data="/w=="), "json", "kinesis.data"),  # base64 of a byte that is not UTF-8
    (kinesis(data=None), "size", "kinesis.data"),
    (kinesis(partitionKey=None), "key", "kinesis.partitionKey"),
    (kinesis(approximateArrivalTimestamp="soon"), "approximate_arrival_timestamp",
     "kinesis.approximateArrivalTimestamp"),
    ({"kinesis": "x"}, "id", "kinesis"),
    ([], "id", "kinesis"),
])
def test_kinesis_view_fields(raw: Any, member: str, field: str) -> None:
    with pytest.raises(RecordError) as caught:
        value = getattr(KinesisRecord(raw), member)
        if member == "json":
            value()
    assert caught.value.field == field


def dynamodb(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(json.dumps(dynamodb_record("INSERT", {"k": 1}, sequence_number="1",
                                                                new_image={"k": 1})))
    raw["dynamodb"].update(changes)
    return raw


@pytest.mark.parametrize(("raw", "member", "field"), [
    (dynamodb(SizeBytes="abc"), "size", "dynamodb.SizeBytes"),
    (dynamodb(SizeBytes=None), "size", "dynamodb.SizeBytes"),
    (dynamodb(SizeBytes=-1), "size", "dynamodb.SizeBytes"),
    (dynamodb(Keys="k"), "key", "dynamodb.Keys"),
    (dynamodb(Keys="k"), "keys", "dynamodb.Keys"),
    (dynamodb(NewImage={"k": {"N": "x"}}), "json", "dynamodb.NewImage.k"),
    (dynamodb(ApproximateCreationDateTime=[]), "approximate_creation_time", "dynamodb.ApproximateCreationDateTime"),
    ({**dynamodb(), "userIdentity": "x"}, "is_ttl_delete", "userIdentity"),
])
def test_dynamodb_view_fields(raw: dict[str, Any], member: str, field: str) -> None:
    with pytest.raises(RecordError) as caught:
        value = getattr(DynamoDBRecord(raw), member)
        if member == "json":
            value()
    assert caught.value.field == field


def test_runaway_nesting_in_typed_json_is_a_record_error() -> None:
    value: Any = {"S": "x"}
    for _ in range(5000):
        value = {"L": [value]}
    with pytest.raises(RecordError, match="nested too deeply"):
        decode_item({"a": value})


def kafka(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = dict(kafka_record("t", 0, 5, b"{}", key=b"k"))
    raw.update(changes)
    return raw


@pytest.mark.parametrize(("raw", "member", "field"), [
    (kafka(key={"a": 1}), "key", "key"),
    (kafka(key="!!"), "key_bytes", "key"),
    (kafka(value=7), "size", "value"),
    (kafka(value="YQ"), "value", "value"),
    (kafka(partition="0"), "id", "partition"),
    (kafka(offset=True), "offset", "offset"),
    (kafka(headers=[{"h": 300}]), "headers", "headers[0].h"),
    (kafka(headers=[{"h": "text"}]), "header", "headers[0].h"),
    (kafka(headers=[["h"]]), "headers", "headers[0]"),
    (kafka(timestamp="now"), "timestamp_ms", "timestamp"),
])
def test_kafka_view_fields(raw: dict[str, Any], member: str, field: str) -> None:
    with pytest.raises(RecordError) as caught:
        value = getattr(KafkaRecord(raw), member)
        if member == "header":
            value("h")
    assert caught.value.field == field


def test_a_header_given_as_a_number_is_not_read_as_that_many_zero_bytes() -> None:
    with pytest.raises(RecordError):
        KafkaRecord(kafka(headers=[{"h": 10**12}])).headers  # noqa: B018


def test_repr_of_a_malformed_view_does_not_raise() -> None:
    assert "malformed" in repr(SQSRecord({"body": "x"}))


def test_a_negative_kafka_offset_is_malformed_everywhere() -> None:
    raw = kafka(offset=-1)
    with pytest.raises(RecordError) as caught:
        KafkaRecord(raw).offset  # noqa: B018
    assert caught.value.field == "offset"
    event = {"eventSource": "aws:kafka", "records": {"t-0": [kafka(offset=4), raw]}}
    with pytest.raises(RecordError) as caught:
        parse_event(event)
    assert (caught.value.index, caught.value.field) == (1, "offset")


def test_huge_names_and_values_are_cut_in_errors() -> None:
    event = {"eventSource": "aws:kafka", "records": {"t-0": [{"topic": "x" * 300_000, "partition": 0, "offset": 1}]}}
    with pytest.raises(RecordError) as caught:
        parse_event(event)
    assert len(str(caught.value)) < 300
    with pytest.raises(RecordError) as caught:
        decode_item({"a" * 100_000: {"N": "x"}})
    assert len(str(caught.value)) < 300 and len(caught.value.field or "") < 100
