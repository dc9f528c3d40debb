"""Amazon DynamoDB Streams as a ``StreamSource``, through boto3's ``dynamodbstreams`` client.

Records are exactly what Lambda delivers (reference §9.4): ``eventVersion``
"1.1", typed attribute values (binary ones in base64),
``ApproximateCreationDateTime`` in epoch seconds, and ``userIdentity`` on
deletes made by TTL. A record's ``key`` is its item's ``Keys`` as canonical
JSON, so the engine keeps per-item order when it parallelises a shard.

DynamoDB Streams accept only ``TRIM_HORIZON`` and ``LATEST`` as starting
positions (plus the sequence-number positions the engine resumes from).
"""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime
from typing import Any

from batchmap.errors import ConfigError
from batchmap.records import SourceKind
from batchmap.sources.aws.arn import Arn, client_region
from batchmap.sources.aws.client import open_client
from batchmap.sources.aws.shards import ShardedStream, ShardInfo, shard_info
from batchmap.sources.base import Delivery, Position
from batchmap.sources.registry import SourceOptions

EXAMPLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/my-table/stream/2024-01-01T00:00:00.000"
IMAGE_KEYS = ("Keys", "NewImage", "OldImage")


def typed_json(value: Any) -> Any:
    """DynamoDB typed values as JSON: bytes (``B``, ``BS``) in base64, everything else as is."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dict):
        return {name: typed_json(item) for name, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [typed_json(item) for item in value]
    return value


def _epoch_seconds(value: Any) -> int:
    """ApproximateCreationDateTime is epoch seconds, rounded down (boto3 hands us a datetime)."""
    if isinstance(value, datetime):
        return math.floor(value.timestamp())
    return math.floor(float(value))


def dynamodb_record(raw: dict[str, Any], *, arn: str, region: str) -> dict[str, Any]:
    """The Lambda DynamoDB record for one GetRecords result."""
    stream = raw["dynamodb"]
    body: dict[str, Any] = {key: typed_json(stream[key]) for key in IMAGE_KEYS if key in stream}
    body["ApproximateCreationDateTime"] = _epoch_seconds(stream["ApproximateCreationDateTime"])
    body["SequenceNumber"] = stream["SequenceNumber"]
    body["SizeBytes"] = stream["SizeBytes"]
    body["StreamViewType"] = stream["StreamViewType"]
    record: dict[str, Any] = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": body,
        "eventSourceARN": arn,
    }
    if raw.get("userIdentity"):
        identity = raw["userIdentity"]
        record["userIdentity"] = {"type": identity["Type"], "principalId": identity["PrincipalId"]}
    return record


def item_key(keys: dict[str, Any]) -> str:
    """A stable string for an item's primary key: same item, same key, whatever the attribute order."""
    return json.dumps(keys, sort_keys=True, separators=(",", ":"))


class DynamoDBStream(ShardedStream):
    """One DynamoDB table stream."""

    shape: SourceKind = "dynamodb"
    positions = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
    max_limit = 1_000

    async def _list_shards(self) -> list[ShardInfo]:
        raw: list[dict[str, Any]] = []
        params: dict[str, Any] = {"StreamArn": self.arn}
        while True:
            description = (await self._client.call("describe_stream", **params))["StreamDescription"]
            raw.extend(description.get("Shards", []))
            last = description.get("LastEvaluatedShardId")
            if not last:
                return [shard_info(entry) for entry in raw]
            params["ExclusiveStartShardId"] = last

    async def _get_iterator(self, shard_id: str, position: Position) -> str:
        params: dict[str, Any] = {"StreamArn": self.arn, "ShardId": shard_id, "ShardIteratorType": position.type}
        if position.sequence_number is not None and position.type.endswith("SEQUENCE_NUMBER"):
            params["SequenceNumber"] = position.sequence_number
        response = await self._client.call("get_shard_iterator", **params)
        return str(response["ShardIterator"])

    def _delivery(self, raw: dict[str, Any], shard_id: str) -> Delivery:
        record = dynamodb_record(raw, arn=self.arn, region=self.region)
        created = raw["dynamodb"]["ApproximateCreationDateTime"]
        arrival_ms = int(created.timestamp() * 1000) if isinstance(created, datetime) else int(float(created) * 1000)
        return Delivery(
            record=record,
            id=record["dynamodb"]["SequenceNumber"],
            key=item_key(record["dynamodb"]["Keys"]),
            shard=shard_id,
            size=len(json.dumps(record, separators=(",", ":"))),
            arrival_ms=arrival_ms,
        )


def table_stream_arn(uri: str) -> Arn:
    """``arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL``; a table ARN alone is not a stream."""
    arn = Arn.parse(uri, "dynamodb", EXAMPLE_ARN)
    parts = arn.resource.split("/")
    if len(parts) != 4 or parts[0] != "table" or parts[2] != "stream" or not parts[1] or not parts[3]:
        raise ConfigError(
            "EventSourceArn", uri, f"a DynamoDB stream ARN like {EXAMPLE_ARN} (the table's LatestStreamArn)"
        )
    return arn


async def open_source(uri: str, options: SourceOptions) -> DynamoDBStream:
    """Open the table stream an ``arn:aws:dynamodb:...:table/NAME/stream/LABEL`` names."""
    arn = table_stream_arn(uri)
    region = client_region(arn, options.region)
    client = await open_client("dynamodbstreams", "dynamodb", region=region, endpoint_url=options.endpoint_url)
    stream = DynamoDBStream(client, str(arn), region)
    try:
        await stream.shards()
    except BaseException:
        client.close()
        raise
    return stream
