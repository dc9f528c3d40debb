"""The DynamoDB Streams source against a real moto server: INSERT / MODIFY / REMOVE shapes, positions."""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from batchmap.errors import ConfigError
from batchmap.sources.aws import DynamoDBStream
from batchmap.sources.aws.dynamodb import dynamodb_record
from batchmap.sources.base import Delivery, Position, StreamSource
from batchmap.sources.registry import SourceOptions, open_source

from .conftest import ACCOUNT, REGION, Moto

DYNAMODB_RECORD_KEYS = [
    "eventID", "eventName", "eventVersion", "eventSource", "awsRegion", "dynamodb", "eventSourceARN",
]
TRIM_HORIZON = Position("TRIM_HORIZON")


def make_table(moto: Moto, name: str, view: str = "NEW_AND_OLD_IMAGES") -> str:
    table = moto.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )
    return str(table["TableDescription"]["LatestStreamArn"])


def run_with(moto: Moto, stream_arn: str, body: Callable[[DynamoDBStream], Awaitable[None]]) -> None:
    async def main() -> None:
        stream = await open_source(stream_arn, SourceOptions(endpoint_url=moto.url))
        assert isinstance(stream, DynamoDBStream)
        try:
            await body(stream)
        finally:
            await stream.close()

    asyncio.run(main())


async def read_all(stream: DynamoDBStream, position: Position = TRIM_HORIZON) -> list[Delivery]:
    [shard] = await stream.shards()
    out: list[Delivery] = []
    for _ in range(50):
        read = await stream.read(shard.id, position, 100)
        out.extend(read.deliveries)
        position = read.next_position
        if not read.deliveries:
            return out
    raise AssertionError("the shard never stopped returning records")


def test_insert_modify_remove_are_exactly_lambda_dynamodb_records(moto: Moto) -> None:
    stream_arn = make_table(moto, "orders")
    db = moto.client("dynamodb")
    key = {"pk": {"S": "order-1"}, "sk": {"N": "101"}}
    db.put_item(TableName="orders", Item={**key, "Message": {"S": "New item!"}, "blob": {"B": b"\x00\x01"}})
    db.update_item(TableName="orders", Key=key, UpdateExpression="SET Message = :m",
                   ExpressionAttributeValues={":m": {"S": "This item has changed"}})
    db.delete_item(TableName="orders", Key=key)

    async def body(stream: DynamoDBStream) -> None:
        assert isinstance(stream, StreamSource)
        insert, modify, remove = await read_all(stream)
        for delivery in (insert, modify, remove):
            record = delivery.record
            assert list(record) == DYNAMODB_RECORD_KEYS
            assert (record["eventVersion"], record["eventSource"], record["awsRegion"]) == (
                "1.1", "aws:dynamodb", REGION)
            assert record["eventSourceARN"] == stream_arn
            assert record["dynamodb"]["Keys"] == key
            assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
            assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
            assert isinstance(record["dynamodb"]["SizeBytes"], int)
            assert delivery.id == record["dynamodb"]["SequenceNumber"]
            assert delivery.arrival_ms // 1000 == record["dynamodb"]["ApproximateCreationDateTime"]
            assert delivery.size == len(json.dumps(record, separators=(",", ":")))
            assert json.loads(json.dumps(record)) == record
        assert [d.record["eventName"] for d in (insert, modify, remove)] == ["INSERT", "MODIFY", "REMOVE"]
        assert list(insert.record["dynamodb"]) == [
            "Keys", "NewImage", "ApproximateCreationDateTime", "SequenceNumber", "SizeBytes", "StreamViewType"]
        assert insert.record["dynamodb"]["NewImage"] == {
            **key, "Message": {"S": "New item!"}, "blob": {"B": base64.b64encode(b"\x00\x01").decode()}}
        assert modify.record["dynamodb"]["OldImage"]["Message"] == {"S": "New item!"}
        assert modify.record["dynamodb"]["NewImage"]["Message"] == {"S": "This item has changed"}
        assert "NewImage" not in remove.record["dynamodb"]
        assert remove.record["dynamodb"]["OldImage"]["Message"] == {"S": "This item has changed"}
        assert int(insert.id) < int(modify.id) < int(remove.id)
        # One item, one key, so the engine keeps its changes in order when it parallelises the shard.
        assert insert.key == modify.key == remove.key == json.dumps(key, sort_keys=True, separators=(",", ":"))
        assert insert.shard == (await stream.shards())[0].id

    run_with(moto, stream_arn, body)


def test_item_keys_differ_per_item_and_ignore_attribute_order(moto: Moto) -> None:
    stream_arn = make_table(moto, "items")
    db = moto.client("dynamodb")
    db.put_item(TableName="items", Item={"pk": {"S": "a"}, "sk": {"N": "1"}})
    db.put_item(TableName="items", Item={"sk": {"N": "2"}, "pk": {"S": "a"}})
    db.put_item(TableName="items", Item={"sk": {"N": "1"}, "pk": {"S": "a"}, "v": {"S": "again"}})

    async def body(stream: DynamoDBStream) -> None:
        first, second, third = await read_all(stream)
        assert first.key != second.key
        assert first.key == third.key
        assert third.record["eventName"] == "MODIFY"

    run_with(moto, stream_arn, body)


def test_a_keys_only_stream_carries_no_images(moto: Moto) -> None:
    stream_arn = make_table(moto, "keys", view="KEYS_ONLY")
    moto.client("dynamodb").put_item(TableName="keys", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "v": {"S": "x"}})

    async def body(stream: DynamoDBStream) -> None:
        [delivery] = await read_all(stream)
        assert delivery.record["dynamodb"]["StreamViewType"] == "KEYS_ONLY"
        assert "NewImage" not in delivery.record["dynamodb"] and "OldImage" not in delivery.record["dynamodb"]

    run_with(moto, stream_arn, body)


def test_positions_trim_horizon_latest_and_resume_after_a_checkpoint(moto: Moto) -> None:
    stream_arn = make_table(moto, "events")
    db = moto.client("dynamodb")
    for i in range(4):
        db.put_item(TableName="events", Item={"pk": {"S": f"p{i}"}, "sk": {"N": "0"}})

    async def body(stream: DynamoDBStream) -> None:
        [shard] = await stream.shards()
        everything = await read_all(stream)
        assert len(everything) == 4
        resumed = await read_all(stream, Position("AFTER_SEQUENCE_NUMBER", sequence_number=everything[1].id))
        assert [d.id for d in resumed] == [d.id for d in everything[2:]]
        at = await read_all(stream, Position("AT_SEQUENCE_NUMBER", sequence_number=everything[1].id))
        assert [d.id for d in at] == [d.id for d in everything[1:]]
        latest = await stream.read(shard.id, Position("LATEST"), 100)
        assert latest.deliveries == [] and not latest.shard_ended
        await asyncio.to_thread(db.put_item, TableName="events", Item={"pk": {"S": "new"}, "sk": {"N": "0"}})
        later = await stream.read(shard.id, latest.next_position, 100)
        assert [d.record["dynamodb"]["Keys"]["pk"] for d in later.deliveries] == [{"S": "new"}]
        assert later.millis_behind_latest is None  # DynamoDB Streams do not report it
        with pytest.raises(ConfigError, match="StartingPosition"):
            await stream.read(shard.id, Position("AT_TIMESTAMP", timestamp=0.0), 10)

    run_with(moto, stream_arn, body)


def test_ttl_deletes_carry_the_service_identity() -> None:
    # moto does not expire items by TTL, so this checks the conversion with the shape the
    # DynamoDB Streams API documents for a TTL delete (its Record.userIdentity).
    raw: dict[str, Any] = {
        "eventID": "c81e728d9d4c2f636f067f89cc14862c",
        "eventName": "REMOVE",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-central-1",
        "dynamodb": {
            "ApproximateCreationDateTime": datetime.datetime(2015, 4, 9, 0, 0, 0, 900000, tzinfo=datetime.UTC),
            "Keys": {"Id": {"N": "101"}},
            "OldImage": {"Id": {"N": "101"}, "Blob": {"BS": [b"a", b"b"]}},
            "SequenceNumber": "4421584500000000017450439093",
            "SizeBytes": 38,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "userIdentity": {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"},
    }
    record = dynamodb_record(raw, arn="arn:aws:dynamodb:eu-central-1:123456789012:table/T/stream/L",
                             region="eu-central-1")
    assert record["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert record["dynamodb"]["ApproximateCreationDateTime"] == 1428537600  # rounded down to the second
    assert record["dynamodb"]["OldImage"]["Blob"] == {"BS": ["YQ==", "Yg=="]}


def test_opening_checks_the_stream_arn(moto: Moto) -> None:
    options = SourceOptions(endpoint_url=moto.url)

    async def body() -> None:
        with pytest.raises(ConfigError, match="LatestStreamArn"):
            await open_source(f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders", options)
        with pytest.raises(ConfigError, match="EventSourceArn"):
            await open_source(f"arn:aws:dynamodb:{REGION}:{ACCOUNT}", options)

    asyncio.run(body())
