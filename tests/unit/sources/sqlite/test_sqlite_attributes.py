"""Queue attributes: SQS's defaults, ranges, and errors naming attribute and value."""

from __future__ import annotations

import pytest

from batchmap.errors import ConfigError
from batchmap.sources.sqlite import QueueAttributes, RedrivePolicy, parse_attributes


def test_defaults_are_sqs_defaults() -> None:
    attrs = parse_attributes({}, queue_name="q")
    assert attrs == QueueAttributes()
    assert attrs.to_dict() == {
        "VisibilityTimeout": "30", "MessageRetentionPeriod": "345600", "DelaySeconds": "0",
        "ReceiveMessageWaitTimeSeconds": "0", "MaximumMessageSize": "1048576",
    }


def test_every_attribute_parses() -> None:
    attrs = parse_attributes({
        "VisibilityTimeout": "5", "MessageRetentionPeriod": "60", "DelaySeconds": "900",
        "ReceiveMessageWaitTimeSeconds": "20", "MaximumMessageSize": "1024", "FifoQueue": "true",
        "ContentBasedDeduplication": "true", "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId", "KmsMasterKeyId": "alias/aws/sqs",
        "RedrivePolicy": '{"deadLetterTargetArn": "arn:aws:sqs:local:000000000000:dlq.fifo", '
                         '"maxReceiveCount": "3"}',
    }, queue_name="q.fifo")
    assert attrs.visibility_timeout_s == 5 and attrs.delay_s == 900 and attrs.fifo
    assert attrs.redrive == RedrivePolicy("arn:aws:sqs:local:000000000000:dlq.fifo", 3)
    assert attrs.stored == {"KmsMasterKeyId": "alias/aws/sqs"}
    assert parse_attributes(attrs.to_dict(), queue_name="q.fifo") == attrs


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("VisibilityTimeout", "43201", "0 to 43200"),
        ("VisibilityTimeout", "-1", "0 to 43200"),
        ("MessageRetentionPeriod", "59", "60 to 1209600"),
        ("DelaySeconds", "901", "0 to 900"),
        ("ReceiveMessageWaitTimeSeconds", "21", "0 to 20"),
        ("MaximumMessageSize", "1023", "1024 to 1048576"),
        ("MaximumMessageSize", "big", "1024 to 1048576"),
        ("ContentBasedDeduplication", "true", "only valid on a FIFO queue"),
        ("FifoQueue", "true", "must end in .fifo"),
        ("Colour", "red", "known:"),
    ],
)
def test_out_of_range_values_name_attribute_and_value(name: str, value: str, allowed: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_attributes({name: value}, queue_name="q")
    message = str(caught.value)
    assert allowed in message
    assert name in message or value in message


@pytest.mark.parametrize(
    ("policy", "named"),
    [
        ("not json", "RedrivePolicy"),
        ('{"deadLetterTargetArn": "arn:aws:sqs:local:000000000000:d"}', "maxReceiveCount"),
        ('{"deadLetterTargetArn": "arn:aws:sqs:local:000000000000:d", "maxReceiveCount": 1001}',
         "maxReceiveCount"),
        ('{"maxReceiveCount": 5}', "deadLetterTargetArn"),
        ('{"deadLetterTargetArn": "x", "maxReceiveCount": 5, "extra": 1}', "extra"),
    ],
)
def test_bad_redrive_policies(policy: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_attributes({"RedrivePolicy": policy}, queue_name="q")


def test_fifo_name_implies_fifo_and_standard_name_rejects_it() -> None:
    assert parse_attributes({}, queue_name="orders.fifo").fifo
    with pytest.raises(ConfigError, match="FifoQueue"):
        parse_attributes({"FifoQueue": "false"}, queue_name="orders.fifo")
