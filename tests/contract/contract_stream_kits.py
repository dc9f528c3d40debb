"""Kits for the stream sources: the embedded stream, Kinesis and DynamoDB Streams on moto, Kafka on Tansu.

Streams have no dead-letter queue: failures go to the mapping's on-failure
destination (``Target.failures_path``, a JSON-lines file) once retries are
exhausted. Ordering keys are partition keys (Kinesis, the embedded stream,
Kafka message keys) or the item's key (DynamoDB: every change to one item).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from contract_services import AWS_ACCOUNT, AWS_REGION, Moto
from contract_target import Kit, Message, Target, bodies

from batchmap.sources.base import Producer
from batchmap.sources.registry import SourceOptions, open_source
from batchmap.sources.sqlite import admin

KAFKA_GROUP_SETTINGS = "session.timeout.ms=1000&heartbeat.interval.ms=200&fetch.wait.max.ms=100"
"""Tansu answers a group join after about half the session timeout, and holds a fetch at the end of a partition
for ``fetch.wait.max.ms`` (500 ms by default) before the consumer learns it is caught up, which every drain waits
for: keep both short (as tests/integration/kafka/kafka_support.py's GROUP_SETTINGS do)."""


class SqliteStreamKit(Kit):
    fixture = "sqlite_stream"
    title = "embedded stream (`sqlite:///…?stream=`)"
    scheme = "sqlite"
    sharded = True
    name = "sqlite-stream"
    kind = "stream"
    shape = "kinesis"
    keyed = True

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        uri = f"sqlite:///{self.tmp}/contract-streams.db?stream={name}"
        admin.create_stream(uri, shards)
        return Target(self, name, uri, self.tmp, shards=shards)

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        for message in messages:
            admin.send(target.uri, bodies([message]), partition_key=key or message["id"])


class KinesisKit(Kit):
    fixture = "kinesis"
    title = "Kinesis Data Streams"
    scheme = "kinesis"
    sharded = True
    name = "kinesis"
    kind = "stream"
    shape = "kinesis"
    keyed = True

    def __init__(self, tmp: Any, moto: Moto) -> None:
        super().__init__(tmp)
        self.moto = moto
        self.client: Any = moto.client("kinesis")
        self.options = SourceOptions(endpoint_url=moto.url, region=AWS_REGION)

    @classmethod
    def open(cls, tmp: Path, request: pytest.FixtureRequest) -> Kit:
        return cls(tmp, request.getfixturevalue("moto"))

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        kinesis: Any = self.client
        kinesis.create_stream(StreamName=name, ShardCount=shards)
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})
        arn = f"arn:aws:kinesis:{AWS_REGION}:{AWS_ACCOUNT}:stream/{name}"
        return Target(self, name, arn, self.tmp, options=self.options, shards=shards)

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        """``PutRecord`` with boto3, one at a time, so the order of one key is the order sent."""
        for message, text in zip(messages, bodies(messages), strict=True):
            self.client.put_record(StreamName=target.name, Data=text.encode(), PartitionKey=key or message["id"])

    def cleanup(self) -> None:
        kinesis: Any = self.client
        for target in self.created:
            kinesis.delete_stream(StreamName=target.name, EnforceConsumerDeletion=True)


class DynamoDBKit(Kit):
    """A table with a NEW_AND_OLD_IMAGES stream; a message is a put of item ``pk`` (the key, else its id)."""

    fixture = "dynamodb"
    title = "DynamoDB Streams"
    scheme = "dynamodb"
    name = "dynamodb"
    kind = "stream"
    shape = "dynamodb"
    keyed = True

    def __init__(self, tmp: Any, moto: Moto) -> None:
        super().__init__(tmp)
        self.moto = moto
        self.client: Any = None
        self.options = SourceOptions(endpoint_url=moto.url, region=AWS_REGION)

    @classmethod
    def open(cls, tmp: Path, request: pytest.FixtureRequest) -> Kit:
        return cls(tmp, request.getfixturevalue("moto"))

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        table = self._client().create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        arn = str(table["TableDescription"]["LatestStreamArn"])
        return Target(self, name, arn, self.tmp, options=self.options)

    def _client(self) -> Any:
        if self.client is None:
            self.client = self.moto.client("dynamodb")
        return self.client

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        client = self._client()
        for message in messages:
            item = {"pk": {"S": key or message["id"]}, "doc": {"S": json.dumps(message)}}
            if "kind" in message:
                item["kind"] = {"S": message["kind"]}
            client.put_item(TableName=target.name, Item=item)

    def cleanup(self) -> None:
        client = self._client()
        for target in self.created:
            client.delete_table(TableName=target.name)


class KafkaKit(Kit):
    """A topic with ``shards`` partitions and a consumer group of its own; one produce request per message.

    One message per request keeps Tansu's high watermark right (it is wrong after
    a multi-record batch), which the source needs to tell a caught-up partition.
    """

    fixture = "kafka"
    title = "Kafka"
    scheme = "kafka"
    sharded = True
    name = "kafka"
    kind = "stream"
    shape = "kafka"
    keyed = True

    def __init__(self, tmp: Any, broker: str) -> None:
        super().__init__(tmp)
        self.broker = broker

    @classmethod
    def open(cls, tmp: Path, request: pytest.FixtureRequest) -> Kit:
        return cls(tmp, request.getfixturevalue("kafka_broker"))

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin_client = AdminClient({"bootstrap.servers": self.broker})
        for future in admin_client.create_topics([NewTopic(name, shards, 1)]).values():
            future.result(10)
        uri = f"kafka://{self.broker}/{name}?group=g-{name}&{KAFKA_GROUP_SETTINGS}"
        return Target(self, name, uri, self.tmp, shards=shards)

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        from confluent_kafka import Producer as KafkaProducer

        producer = KafkaProducer({"bootstrap.servers": self.broker, "linger.ms": 0})
        for message, text in zip(messages, bodies(messages), strict=True):
            producer.produce(target.name, key=(key or message["id"]).encode(), value=text.encode())
            assert producer.flush(10) == 0

    def cleanup(self) -> None:
        from confluent_kafka.admin import AdminClient

        if self.created:
            admin_client = AdminClient({"bootstrap.servers": self.broker})
            for future in admin_client.delete_topics([t.name for t in self.created]).values():
                future.result(10)


class MemoryStreamKit(Kit):
    """The in-memory twin (``memory-stream://``): a Kinesis-shaped stream of this process."""

    fixture = "memory_stream"
    title = "in-memory stream (`memory-stream://NAME?shards=N`)"
    scheme = "memory-stream"
    name = "memory-stream"
    kind = "stream"
    shape = "kinesis"
    keyed = True
    sharded = True
    outlives_process = False

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        return Target(self, name, f"memory-stream://{name}?shards={shards}", self.tmp, shards=shards)

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        asyncio.run(self._put(target, messages, key))

    @staticmethod
    async def _put(target: Target, messages: list[Message], key: str | None) -> None:
        source = await open_source(target.uri, target.options)
        assert isinstance(source, Producer)
        for message, text in zip(messages, bodies(messages), strict=True):
            await source.send([text], partition_key=key or message["id"])

    def cleanup(self) -> None:
        from batchmap.sources import memory

        memory.forget(*(target.name for target in self.created))
