"""Record and event builders produce exactly what parse_event (and Lambda) expect."""

from __future__ import annotations

import pytest

from batchmap.errors import ConfigError
from batchmap.records import (
    build_event,
    dynamodb_record,
    kafka_event,
    kafka_record,
    kinesis_record,
    parse_event,
    records_event,
    sqs_record,
)


def test_sqs_records_standard_and_fifo() -> None:
    standard = sqs_record("hello", message_id="m1", receive_count=2, sent_timestamp_ms=1000)
    assert standard["attributes"] == {"ApproximateReceiveCount": "2", "SentTimestamp": "1000",
                                      "SenderId": standard["attributes"]["SenderId"],
                                      "ApproximateFirstReceiveTimestamp": "1000"}
    assert standard["md5OfBody"] == "5d41402abc4b2a76b9719d911017c592"
    fifo = sqs_record("x", message_group_id="g", deduplication_id="d", sequence_number="7")
    batch = parse_event(records_event([fifo, sqs_record("y", message_group_id="h")]))
    assert batch.is_fifo and [r.key for r in batch] == ["g", "h"]
    assert fifo["eventSourceARN"].endswith(".fifo") and fifo["attributes"]["SequenceNumber"] == "7"


def test_kinesis_and_dynamodb_records() -> None:
    kinesis = parse_event(records_event([kinesis_record(b"\x01\x02", partition_key="k", sequence_number="5",
                                                        shard_id="shardId-000000000003")]))
    assert kinesis[0].id == "5" and kinesis[0].data == b"\x01\x02" and kinesis[0].shard_id == "shardId-000000000003"
    dynamo = dynamodb_record("MODIFY", {"pk": "a"}, sequence_number="9", new_image={"pk": "a", "v": 2},
                             old_image={"pk": "a", "v": 1}, view_type="NEW_IMAGE")
    record = parse_event(records_event([dynamo]))[0]
    assert record.json() == {"pk": "a", "v": 2} and "OldImage" not in dynamo["dynamodb"]
    assert dynamo["dynamodb"]["SizeBytes"] > 0


def test_kafka_event_groups_by_topic_partition_keeping_order() -> None:
    records = [kafka_record("t", 1, 10, b"a"), kafka_record("t", 0, 5, "b", key="k", headers=[("h", "v")]),
               kafka_record("t", 1, 11, None)]
    event = kafka_event(records, event_source_arn="arn:aws:kafka:us-east-1:123456789012:cluster/c/1")
    assert list(event["records"]) == ["t-1", "t-0"]
    assert [r["offset"] for r in event["records"]["t-1"]] == [10, 11]
    batch = parse_event(event)
    assert [r.id for r in batch] == [{"partition": "t-1", "offset": 10}, {"partition": "t-1", "offset": 11},
                                     {"partition": "t-0", "offset": 5}]
    assert batch[2].headers == [("h", b"v")] and batch[2].key_bytes == b"k" and batch[1].value is None
    self_managed = kafka_event(records, event_source="SelfManagedKafka")
    assert "eventSourceArn" not in self_managed and parse_event(self_managed).event_source == "SelfManagedKafka"


def test_build_event_per_kind() -> None:
    assert parse_event(build_event("sqs", [sqs_record("x")])).kind == "sqs"
    kafka = build_event("kafka", [kafka_record("t", 0, 1, b"v")], bootstrap_servers="b:9092")
    assert parse_event(kafka).kind == "kafka" and kafka["bootstrapServers"] == "b:9092"
    with pytest.raises(ConfigError) as caught:
        build_event("sns", [])  # type: ignore[arg-type]
    assert caught.value.parameter == "kind"
    with pytest.raises(ConfigError):
        build_event("sqs", [sqs_record("x")], bootstrap_servers="b:9092")
