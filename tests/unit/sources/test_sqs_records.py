"""SQS-shaped records of the broker sources: Lambda's shape, and a size that equals the JSON's."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchmap.sources._broker import SqsRecords

texts = st.text(max_size=40)
"""Any text: quotes, backslashes, control characters, non-ASCII, surrogates' neighbours."""


def json_size(record: dict[str, object]) -> int:
    return len(json.dumps(record, separators=(",", ":")))


@settings(max_examples=300, deadline=None)
@given(
    message_id=texts, receipt_handle=texts, body=st.text(max_size=400), sender_id=texts,
    receive_count=st.integers(0, 10**6), sent_ms=st.integers(0, 2**45), first_ms=st.integers(0, 2**45),
    constant=st.dictionaries(st.text(min_size=1, max_size=12).map(lambda s: "C" + s), texts, max_size=3),
    native=st.dictionaries(st.text(min_size=1, max_size=12).map(lambda s: "N" + s), texts, max_size=4),
    message_attributes=st.dictionaries(texts, texts, max_size=4),
)
def test_size_is_the_records_json_size(
    message_id: str, receipt_handle: str, body: str, sender_id: str, receive_count: int, sent_ms: int,
    first_ms: int, constant: dict[str, str], native: dict[str, str], message_attributes: dict[str, str],
) -> None:
    records = SqsRecords(arn="redis://127.0.0.1:6379/0/orders", region="local", constant=constant)
    d = records.delivery(
        message_id=message_id, receipt_handle=receipt_handle, body=body, receive_count=receive_count,
        sent_ms=sent_ms, first_receive_ms=first_ms, sender_id=sender_id, native=native or None,
        message_attributes=message_attributes or None,
    )
    assert d.size == json_size(d.record)


def test_record_is_lambdas_sqs_record_with_the_brokers_metadata() -> None:
    records = SqsRecords(arn="nats://127.0.0.1:4222/ORDERS/batchmap", region="eu-west-1",
                         constant={"NatsStream": "ORDERS"})
    d = records.delivery(message_id="42", receipt_handle="$JS.ACK.x", body='{"id": 1}', receive_count=2,
                         sent_ms=1_700_000_000_000, first_receive_ms=1_700_000_000_500,
                         native={"NatsStreamSequence": "42"}, message_attributes={"trace": "abc"})
    assert d.record == {
        "messageId": "42",
        "receiptHandle": "$JS.ACK.x",
        "body": '{"id": 1}',
        "attributes": {
            "ApproximateReceiveCount": "2", "SentTimestamp": "1700000000000", "SenderId": "",
            "ApproximateFirstReceiveTimestamp": "1700000000500", "NatsStream": "ORDERS",
            "NatsStreamSequence": "42",
        },
        "messageAttributes": {"trace": {"stringValue": "abc", "stringListValues": [], "binaryListValues": [],
                                        "dataType": "String"}},
        "md5OfBody": hashlib.md5(b'{"id": 1}').hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": "nats://127.0.0.1:4222/ORDERS/batchmap",
        "awsRegion": "eu-west-1",
    }
    assert (d.id, d.handle, d.receive_count, d.arrival_ms, d.key, d.shard) == (
        "42", "$JS.ACK.x", 2, 1_700_000_000_000, None, "")
    assert d.size == json_size(d.record)


def test_metadata_may_not_replace_sqs_attributes() -> None:
    with pytest.raises(ValueError, match="SentTimestamp"):
        SqsRecords(arn="a", region="r", constant={"SentTimestamp": "1"})
    records = SqsRecords(arn="a", region="r", constant={"RedisStream": "s"})
    with pytest.raises(ValueError, match="RedisStream"):
        records.delivery(message_id="1", receipt_handle="h", body="", receive_count=1, sent_ms=0,
                         first_receive_ms=0, native={"RedisStream": "other"})
