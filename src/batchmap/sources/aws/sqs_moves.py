"""Moving messages out of an SQS dead-letter queue with ReceiveMessage, SendMessageBatch and DeleteMessageBatch.

SQS has its own ``StartMessageMoveTask``, but moto (which the tests run on) does
not implement it, and batchmap's tasks must look the same on every source, so
batchmap moves the messages itself. Where each came from: the message's
``DeadLetterQueueSourceArn`` attribute where SQS sets it, else the one queue
whose redrive policy names this queue (``ListDeadLetterSourceQueues``).

A copy is sent (and SQS has answered for it) before the original is deleted.
On a FIFO queue the copy keeps the group and its deduplication id is the
original's message id, so a copy sent again after a crash, within SQS's
5-minute window, is dropped; on a standard queue such a repeat is a duplicate,
which SQS's at-least-once delivery allows anyway.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from batchmap.errors import BrokerError, ConfigError
from batchmap.sources.aws.arn import Arn
from batchmap.sources.aws.client import AwsClient
from batchmap.sources.base import Delivery

EXAMPLE_ARN = "arn:aws:sqs:us-east-1:123456789012:my-queue"


async def origins(client: AwsClient, url: str, deliveries: Sequence[Delivery]) -> list[str | None]:
    """Each message's source queue ARN: its own attribute, else this queue's only source queue."""
    fallback: str | None = None
    if any("DeadLetterQueueSourceArn" not in d.record["attributes"] for d in deliveries):
        response = await client.call("list_dead_letter_source_queues", QueueUrl=url)
        urls = response.get("queueUrls", [])
        if len(urls) == 1:
            attributes = await client.call("get_queue_attributes", QueueUrl=urls[0], AttributeNames=["QueueArn"])
            fallback = attributes["Attributes"]["QueueArn"]
    return [d.record["attributes"].get("DeadLetterQueueSourceArn", fallback) for d in deliveries]


async def destination_url(client: AwsClient, source_arn: str, destination: str) -> tuple[str, bool]:
    """The URL of the destination queue and whether it is FIFO; a queue that is not there is a ``ConfigError``."""
    arn = Arn.parse(destination, "sqs", EXAMPLE_ARN, field="--destination-arn")
    if str(arn) == source_arn:
        raise ConfigError("--destination-arn", destination, "a queue other than the source queue")
    try:
        url = (await client.call("get_queue_url", QueueName=arn.resource,
                                 QueueOwnerAWSAccountId=arn.account))["QueueUrl"]
    except BrokerError as exc:
        raise ConfigError("--destination-arn", destination, f"an existing queue ({exc.code})") from exc
    return str(url), arn.resource.endswith(".fifo")


async def copy_to(client: AwsClient, url: str, fifo: bool,
                  deliveries: Sequence[Delivery]) -> tuple[list[Delivery], dict[str, str]]:
    """Send a copy of each message to ``url``, 10 per call: the ones SQS accepted, and why others were not."""
    sent: list[Delivery] = []
    failed: dict[str, str] = {}
    for start in range(0, len(deliveries), 10):
        chunk = list(deliveries[start:start + 10])
        entries = [_entry(str(i), d, fifo) for i, d in enumerate(chunk)]
        response = await client.call("send_message_batch", QueueUrl=url, Entries=entries)
        sent += [chunk[int(ok["Id"])] for ok in response.get("Successful", [])]
        failed |= {chunk[int(bad["Id"])].id: f"{bad.get('Code')}: {bad.get('Message', '')}"
                   for bad in response.get("Failed", [])}
    return sent, failed


def _entry(entry_id: str, delivery: Delivery, fifo: bool) -> dict[str, Any]:
    record = delivery.record
    entry: dict[str, Any] = {"Id": entry_id, "MessageBody": record["body"]}
    attributes = {name: _api_attribute(value) for name, value in record["messageAttributes"].items()}
    if attributes:
        entry["MessageAttributes"] = attributes
    if fifo:
        entry["MessageGroupId"] = record["attributes"].get("MessageGroupId", "redrive")
        entry["MessageDeduplicationId"] = record["messageId"]
    elif "MessageGroupId" in record["attributes"]:  # a fair queue's tenant stays with its message
        entry["MessageGroupId"] = record["attributes"]["MessageGroupId"]
    return entry


def _api_attribute(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"DataType": value["dataType"]}
    if value.get("stringValue") is not None:
        out["StringValue"] = value["stringValue"]
    if value.get("binaryValue") is not None:
        out["BinaryValue"] = base64.b64decode(value["binaryValue"])
    return out
