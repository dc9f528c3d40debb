"""On-failure invocation records in AWS's exact shapes (reference §9.8)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchmap.engine.failure_record import (
    build_failure_record,
    iso_ms,
    iso_s,
    kafka_topic_failure_records,
    local_function_arn,
)
from batchmap.errors import ConfigError
from batchmap.sources.base import Delivery

STREAM_ARN = "arn:aws:kinesis:local:000000000000:stream/orders"
DDB_ARN = "arn:aws:dynamodb:local:000000000000:table/orders/stream/2019-11-14T00:04:06.388"
FUNCTION_ARN = "arn:aws:lambda:local:000000000000:function:worker"
NOW_MS = 1573691886021  # 2019-11-14T00:38:06.021Z


def kinesis_delivery(seq: str, arrival_ms: int, shard: str = "shardId-000000000001") -> Delivery:
    record = {
        "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "k", "sequenceNumber": seq,
                    "data": "e30=", "approximateArrivalTimestamp": arrival_ms / 1000},
        "eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": f"{shard}:{seq}",
        "eventName": "aws:kinesis:record", "awsRegion": "local", "eventSourceARN": STREAM_ARN,
    }
    return Delivery(record=record, id=seq, key="k", shard=shard, size=len(json.dumps(record)),
                    arrival_ms=arrival_ms)


def ddb_delivery(seq: str, arrival_s: int) -> Delivery:
    record = {
        "eventID": "c4ca4238", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
        "awsRegion": "local", "eventSourceARN": DDB_ARN,
        "dynamodb": {"Keys": {"Id": {"N": "1"}}, "ApproximateCreationDateTime": arrival_s,
                     "SequenceNumber": seq, "SizeBytes": 26, "StreamViewType": "KEYS_ONLY"},
    }
    return Delivery(record=record, id=seq, key="1", shard="shardId-00000001573689847184-864758bb",
                    size=len(json.dumps(record)), arrival_ms=arrival_s * 1000)


def kafka_delivery(topic: str, partition: int, offset: int, timestamp_ms: int) -> Delivery:
    record = {"topic": topic, "partition": partition, "offset": offset, "timestamp": timestamp_ms,
              "timestampType": "CREATE_TIME", "key": "a2V5", "value": "dmFsdWU=", "headers": []}
    return Delivery(record=record, id=f"{topic}-{partition}:{offset}", key="key",
                    shard=f"{topic}-{partition}", size=len(json.dumps(record)), arrival_ms=timestamp_ms)


def common(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "function_arn": FUNCTION_ARN, "condition": "RetryAttemptsExhausted", "approximate_invoke_count": 3,
        "request_id": "c9b8fa9f-5a7f-4a3c-af9c-0c604cde93a5", "now_ms": NOW_MS,
    }
    args.update(overrides)
    return args


def test_kinesis_record_matches_aws_shape_exactly() -> None:
    batch = [kinesis_delivery("4960118965842235937", 1573691884835),
             kinesis_delivery("4960118965842235938", 1573691885000),
             kinesis_delivery("4960118965842235939", 1573691885580)]
    record = build_failure_record("kinesis", batch, **common())
    assert record == {
        "requestContext": {
            "requestId": "c9b8fa9f-5a7f-4a3c-af9c-0c604cde93a5",
            "functionArn": FUNCTION_ARN,
            "condition": "RetryAttemptsExhausted",
            "approximateInvokeCount": 3,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": "2019-11-14T00:38:06.021Z",
        "KinesisBatchInfo": {
            "shardId": "shardId-000000000001",
            "startSequenceNumber": "4960118965842235937",
            "endSequenceNumber": "4960118965842235939",
            "approximateArrivalOfFirstRecord": "2019-11-14T00:38:04.835Z",
            "approximateArrivalOfLastRecord": "2019-11-14T00:38:05.580Z",
            "batchSize": 3,
            "streamArn": STREAM_ARN,
        },
    }
    json.dumps(record)  # the record is plain JSON


def test_dynamodb_record_uses_ddb_batch_info_and_whole_second_arrivals() -> None:
    batch = [ddb_delivery("800000000003126276362", 1573690399)]
    record = build_failure_record("dynamodb", batch, **common(condition="MaximumRecordAgeExceeded",
                                                               approximate_invoke_count=1))
    assert "KinesisBatchInfo" not in record
    assert record["requestContext"]["condition"] == "MaximumRecordAgeExceeded"
    assert record["DDBStreamBatchInfo"] == {
        "shardId": "shardId-00000001573689847184-864758bb",
        "startSequenceNumber": "800000000003126276362",
        "endSequenceNumber": "800000000003126276362",
        "approximateArrivalOfFirstRecord": "2019-11-14T00:13:19Z",
        "approximateArrivalOfLastRecord": "2019-11-14T00:13:19Z",
        "batchSize": 1,
        "streamArn": DDB_ARN,
    }


def test_explicit_shard_and_arn_override_what_the_records_carry() -> None:
    record = build_failure_record("kinesis", [kinesis_delivery("1", NOW_MS)], shard_id="shardId-9",
                                  source_arn="arn:aws:kinesis:local:000000000000:stream/other", **common())
    assert record["KinesisBatchInfo"]["shardId"] == "shardId-9"
    assert record["KinesisBatchInfo"]["streamArn"].endswith("stream/other")


def test_s3_style_payload_is_the_whole_event_as_an_escaped_json_string() -> None:
    batch = [kinesis_delivery("1", NOW_MS), kinesis_delivery("2", NOW_MS)]
    event = {"Records": [d.record for d in batch]}
    record = build_failure_record("kinesis", batch, event=event, **common())
    assert isinstance(record["payload"], str)
    assert json.loads(record["payload"]) == event
    assert '\\"Records\\"' in json.dumps(record)


def test_a_normal_return_has_no_function_error() -> None:
    record = build_failure_record("kinesis", [kinesis_delivery("1", NOW_MS)], **common(function_error=None))
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}


def test_kafka_record_groups_offsets_by_topic_partition() -> None:
    batch = [kafka_delivery("orders", 0, 15, 1573691884835), kafka_delivery("orders", 0, 17, 1573691885580),
             kafka_delivery("orders", 1, 4, 1573691885000)]
    record = build_failure_record(
        "kafka", batch, source_arn="arn:aws:kafka:local:000000000000:cluster/c/1",
        bootstrap_servers="127.0.0.1:9092", payload_size=2039, **common())
    assert record["KafkaBatchInfo"] == {
        "batchSize": 3,
        "eventSourceArn": "arn:aws:kafka:local:000000000000:cluster/c/1",
        "bootstrapServers": "127.0.0.1:9092",
        "payloadSize": 2039,
        "recordsInfo": {
            "orders-0": {"firstRecordOffset": "15", "lastRecordOffset": "17",
                         "firstRecordTimestamp": "2019-11-14T00:38:04.835Z",
                         "lastRecordTimestamp": "2019-11-14T00:38:05.580Z"},
            "orders-1": {"firstRecordOffset": "4", "lastRecordOffset": "4",
                         "firstRecordTimestamp": "2019-11-14T00:38:05.000Z",
                         "lastRecordTimestamp": "2019-11-14T00:38:05.000Z"},
        },
    }
    assert record["responseContext"]["functionError"] == "Unhandled"


def test_kafka_payload_size_defaults_to_the_event_bytes() -> None:
    batch = [kafka_delivery("t", 0, 1, NOW_MS)]
    event = {"eventSource": "SelfManagedKafka", "bootstrapServers": "127.0.0.1:9092",
             "records": {"t-0": [batch[0].record]}}
    record = build_failure_record("kafka", batch, bootstrap_servers="127.0.0.1:9092", event=event, **common())
    info = record["KafkaBatchInfo"]
    assert "eventSourceArn" not in info  # self-managed Kafka has no ARN
    assert info["payloadSize"] == len(json.dumps(event, separators=(",", ":")).encode())
    assert json.loads(record["payload"]) == event


def test_payload_size_condition_has_a_null_response_context() -> None:
    batch = [kafka_delivery("t", 0, 1, NOW_MS)]
    args = common(condition="MaximumPayloadSizeExceeded", approximate_invoke_count=0)
    record = build_failure_record("kafka", batch, bootstrap_servers="b:9092", **args)
    assert record["responseContext"] is None
    assert record["requestContext"]["approximateInvokeCount"] == 0


def test_kafka_topic_destination_gets_one_record_per_failed_record() -> None:
    batch = [kafka_delivery("orders", 0, 100, NOW_MS), kafka_delivery("orders", 1, 7, NOW_MS - 1000)]
    meta = {"eventSource": "aws:kafka", "eventSourceArn": "arn:aws:kafka:local:000000000000:cluster/c/1",
            "bootstrapServers": "127.0.0.1:9092"}
    out = kafka_topic_failure_records(batch, event_meta=meta, **common())
    assert len(out) == 2
    first = out[0]
    assert first["KafkaBatchInfo"]["batchSize"] == 1
    assert first["KafkaBatchInfo"]["recordInfo"] == {"offset": "100", "timestamp": "2019-11-14T00:38:06.021Z"}
    assert first["payload"] == {**meta, "records": {"orders-0": [batch[0].record]}}
    assert out[1]["payload"]["records"] == {"orders-1": [batch[1].record]}
    assert first["KafkaBatchInfo"]["payloadSize"] == len(json.dumps(first["payload"], separators=(",", ":")))


def test_sqs_has_no_on_failure_record() -> None:
    with pytest.raises(ConfigError, match="dead-letter queue"):
        build_failure_record("sqs", [kinesis_delivery("1", NOW_MS)], **common())


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"condition": "RecordAgeExpired"}, "condition"),
        ({"approximate_invoke_count": -1}, "approximateInvokeCount"),
        ({"approximate_invoke_count": True}, "approximateInvokeCount"),
    ],
)
def test_bad_arguments_name_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        build_failure_record("kinesis", [kinesis_delivery("1", NOW_MS)], **common(**overrides))


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ConfigError, match="records"):
        build_failure_record("kinesis", [], **common())


def test_a_kafka_record_without_offset_is_refused_by_name() -> None:
    bad = Delivery(record={"topic": "t", "partition": 0}, id="t-0:1", key=None, shard="t-0", size=10,
                   arrival_ms=NOW_MS)
    with pytest.raises(ConfigError, match="offset, timestamp"):
        build_failure_record("kafka", [bad], bootstrap_servers="b", **common())


def test_local_function_arn() -> None:
    assert local_function_arn("worker") == FUNCTION_ARN
    assert local_function_arn(FUNCTION_ARN) == FUNCTION_ARN
    with pytest.raises(ConfigError, match="FunctionName"):
        local_function_arn("module:handler")


def test_timestamps() -> None:
    assert iso_ms(0) == "1970-01-01T00:00:00.000Z"
    assert iso_ms(NOW_MS) == "2019-11-14T00:38:06.021Z"
    assert iso_s(NOW_MS) == "2019-11-14T00:38:06Z"
