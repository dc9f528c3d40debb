"""Kits for the queue sources: the embedded queue, SQS on moto, Redis Streams, RabbitMQ, NATS, PostgreSQL.

Each creates a uniquely named queue with the visibility timeout asked for and,
with ``max_receive_count``, the broker's own dead-letter queue (SQS redrive
policy, a dead-letter stream, a quorum queue's delivery limit, a dead-letter
subject, a dead-letter table), and deletes them after the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from contract_services import AWS_ACCOUNT, AWS_REGION, HOST, Moto, require
from contract_target import Kit, Message, Target, bodies

from batchmap.sources.base import Producer
from batchmap.sources.registry import SourceOptions, open_source
from batchmap.sources.sqlite import admin


async def _produce(uri: str, options: SourceOptions, texts: list[str], **send: Any) -> None:
    source = await open_source(uri, options)
    try:
        assert isinstance(source, Producer)
        await source.send(texts, **send)
    finally:
        await source.close()


class SqliteQueueKit(Kit):
    fixture = "sqlite_queue"
    title = "embedded queue (`sqlite:///…?queue=`)"
    scheme = "sqlite"
    name = "sqlite-queue"
    keyed = True  # FIFO queues

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        suffix = ".fifo" if fifo else ""
        db = self.tmp / "contract-queues.db"
        uri = f"sqlite:///{db}?queue={name}{suffix}"
        attributes = {"VisibilityTimeout": str(int(visibility_timeout_s))}
        if fifo:
            attributes |= {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
        dlq_uri = None
        if max_receive_count is not None:
            dlq_uri = f"sqlite:///{db}?queue={name}-dlq{suffix}"
            admin.create_queue(dlq_uri, {k: v for k, v in attributes.items() if k != "VisibilityTimeout"})
            policy = {"deadLetterTargetArn": admin.inspect(dlq_uri).arn, "maxReceiveCount": max_receive_count}
            attributes["RedrivePolicy"] = json.dumps(policy)
        admin.create_queue(uri, attributes)
        return Target(self, name, uri, self.tmp, dlq_uri=dlq_uri, fifo=fifo,
                      visibility_timeout_s=visibility_timeout_s)

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        admin.send(target.uri, bodies(messages), message_group_id=key if target.fifo else None)


class SqsKit(Kit):
    """SQS on moto. Not ``keyed``, though it has FIFO queues: moto does not lock a FIFO queue between
    concurrent receives (services.md §1), so one group can reach two receivers at once there, which real
    SQS never does. The SQS source's FIFO order is tested in tests/integration/aws, one receiver at a time."""

    fixture = "sqs"
    title = "SQS"
    scheme = "sqs"
    name = "sqs"
    kept_visibility_s = 2.0  # moto keeps whole seconds, and under load an extension due after 0.5 s may come late

    def __init__(self, tmp: Any, moto: Moto) -> None:
        super().__init__(tmp)
        self.moto = moto
        self.client = moto.client("sqs")
        self.options = SourceOptions(endpoint_url=moto.url, region=AWS_REGION)

    @classmethod
    def open(cls, tmp: Path, request: pytest.FixtureRequest) -> Kit:
        return cls(tmp, request.getfixturevalue("moto"))

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        sqs: Any = self.client
        suffix = ".fifo" if fifo else ""
        attributes = {"VisibilityTimeout": str(int(visibility_timeout_s))}
        if fifo:
            attributes |= {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
        dlq_uri = None
        if max_receive_count is not None:
            dlq_name = f"{name}-dlq{suffix}"
            sqs.create_queue(QueueName=dlq_name, Attributes={k: v for k, v in attributes.items()
                                                             if k != "VisibilityTimeout"})
            dlq_uri = self.arn(dlq_name)
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_uri,
                                                      "maxReceiveCount": max_receive_count})
        sqs.create_queue(QueueName=name + suffix, Attributes=attributes)
        return Target(self, name, self.arn(name + suffix), self.tmp, options=self.options, dlq_uri=dlq_uri,
                      fifo=fifo, visibility_timeout_s=visibility_timeout_s)

    @staticmethod
    def arn(name: str) -> str:
        return f"arn:aws:sqs:{AWS_REGION}:{AWS_ACCOUNT}:{name}"

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        """``SendMessageBatch`` with boto3, ten at a time, in order."""
        sqs: Any = self.client
        url = sqs.get_queue_url(QueueName=target.uri.rsplit(":", 1)[-1])["QueueUrl"]
        texts = bodies(messages)
        for start in range(0, len(texts), 10):
            entries = [{"Id": str(i), "MessageBody": text} for i, text in enumerate(texts[start:start + 10])]
            if target.fifo:
                for entry in entries:
                    entry["MessageGroupId"] = key or "default"
            response = sqs.send_message_batch(QueueUrl=url, Entries=entries)
            assert not response.get("Failed"), response["Failed"]

    def cleanup(self) -> None:
        sqs: Any = self.client
        for target in self.created:
            for name in (target.uri, target.dlq_uri):
                if name is not None:
                    with contextlib.suppress(Exception):
                        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name.rsplit(":", 1)[-1])["QueueUrl"])


class RedisKit(Kit):
    fixture = "redis"
    title = "Redis Streams"
    scheme = "redis"
    name = "redis"

    @classmethod
    def open(cls, tmp: Path, request: pytest.FixtureRequest) -> Kit:
        return cls(tmp, require("redis"))

    def __init__(self, tmp: Any, port: int) -> None:
        super().__init__(tmp)
        self.base = f"redis://{HOST}:{port}/0"

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        uri = f"{self.base}?stream={name}&visibility_timeout={visibility_timeout_s:g}"
        dlq_uri = None
        if max_receive_count is not None:
            uri += f"&max_receive_count={max_receive_count}"
            dlq_uri = f"{self.base}?stream={name}:dlq&group=contract-peek"
        return Target(self, name, uri, self.tmp, dlq_uri=dlq_uri, visibility_timeout_s=visibility_timeout_s)

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        asyncio.run(_produce(target.uri, target.options, bodies(messages)))

    def cleanup(self) -> None:
        import redis

        client = redis.Redis.from_url(self.base)
        with contextlib.closing(client):
            for target in self.created:
                client.delete(target.name, f"{target.name}:dlq")


class RabbitMQKit(Kit):
    fixture = "rabbitmq"
    receives_in_order = False  # a quorum queue's redeliveries and prefetch interleave
    competing_query = "&prefetch=10"  # one consumer would otherwise hold the whole window
    title = "RabbitMQ"
    scheme = "amqp"
    name = "rabbitmq"

    @classmethod
    def open(cls, tmp: Path, request: pytest.FixtureRequest) -> Kit:
        return cls(tmp, require("rabbitmq"))

    def __init__(self, tmp: Any, port: int) -> None:
        super().__init__(tmp)
        self.base = f"amqp://guest:guest@{HOST}:{port}/%2F"

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        uri = f"{self.base}?queue={name}&visibility_timeout={visibility_timeout_s:g}"
        dlq_uri = None
        if max_receive_count is not None:
            uri += f"&max_receive_count={max_receive_count}"
            dlq_uri = f"{self.base}?queue={name}.dlq"
        return Target(self, name, uri, self.tmp, dlq_uri=dlq_uri, visibility_timeout_s=visibility_timeout_s)

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        asyncio.run(_produce(target.uri, target.options, bodies(messages)))

    def cleanup(self) -> None:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self.base))
        try:
            channel = connection.channel()
            for target in self.created:
                for queue in (target.name, f"{target.name}.dlq"):
                    channel.queue_delete(queue)
        finally:
            connection.close()


class NatsKit(Kit):
    fixture = "nats"
    title = "NATS JetStream"
    scheme = "nats"
    name = "nats"
    given_back_shows_in_flight = True

    @classmethod
    def open(cls, tmp: Path, request: pytest.FixtureRequest) -> Kit:
        return cls(tmp, require("nats"))

    def __init__(self, tmp: Any, port: int) -> None:
        super().__init__(tmp)
        self.base = f"nats://{HOST}:{port}"

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        uri = f"{self.base}?stream={name}&ack_wait={visibility_timeout_s:g}"
        dlq_uri = None
        if max_receive_count is not None:
            uri += f"&max_deliver={max_receive_count}&dead_letter_subject={name}.dlq"
            dlq_uri = f"{self.base}?stream={name}_DLQ&subject={name}.dlq&durable=peek"
        return Target(self, name, uri, self.tmp, dlq_uri=dlq_uri, visibility_timeout_s=visibility_timeout_s)

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        asyncio.run(_produce(target.uri, target.options, bodies(messages)))

    def cleanup(self) -> None:
        asyncio.run(self._delete_streams())

    async def _delete_streams(self) -> None:
        import nats

        nc = await nats.connect(self.base)
        try:
            js = nc.jetstream()
            for target in self.created:
                for stream in (target.name, f"{target.name}_DLQ"):
                    with contextlib.suppress(nats.js.errors.NotFoundError):
                        await js.delete_stream(stream)
        finally:
            await nc.close()


class PostgresKit(Kit):
    fixture = "postgres"
    title = "PostgreSQL"
    scheme = "postgresql"
    name = "postgres"

    @classmethod
    def open(cls, tmp: Path, request: pytest.FixtureRequest) -> Kit:
        return cls(tmp, require("postgres"))

    def __init__(self, tmp: Any, port: int) -> None:
        super().__init__(tmp)
        self.dsn = f"postgresql://postgres@{HOST}:{port}/test"

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        uri = f"{self.dsn}?queue={name}&visibility_timeout={visibility_timeout_s:g}"
        dlq_uri = None
        if max_receive_count is not None:
            uri += f"&max_receive_count={max_receive_count}"
            dlq_uri = f"{self.dsn}?queue={name}_dlq"
        return Target(self, name, uri, self.tmp, dlq_uri=dlq_uri, visibility_timeout_s=visibility_timeout_s)

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        asyncio.run(_produce(target.uri, target.options, bodies(messages)))

    def cleanup(self) -> None:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            for target in self.created:
                conn.execute(f'DROP TABLE IF EXISTS "{target.name}", "{target.name}_dlq"')


class MemoryQueueKit(Kit):
    """The in-memory twin (``memory://``): a queue of this process, with the embedded queue's rules."""

    fixture = "memory_queue"
    title = "in-memory queue (`memory://NAME`)"
    scheme = "memory"
    name = "memory-queue"
    keyed = True  # FIFO queues
    outlives_process = False

    def _create(self, name: str, *, visibility_timeout_s: float, max_receive_count: int | None, fifo: bool,
                shards: int) -> Target:
        suffix = ".fifo" if fifo else ""
        uri = f"memory://{name}{suffix}?visibility_timeout={visibility_timeout_s:g}"
        dlq_uri = None
        if max_receive_count is not None:
            uri += f"&max_receive_count={max_receive_count}"
            dlq_uri = f"memory://{name}-dlq{suffix}"
        return Target(self, name, uri, self.tmp, dlq_uri=dlq_uri, fifo=fifo,
                      visibility_timeout_s=visibility_timeout_s)

    def send(self, target: Target, messages: list[Message], key: str | None) -> None:
        group = (key or "default") if target.fifo else None
        asyncio.run(_produce(target.uri, target.options, bodies(messages), message_group_id=group))

    def cleanup(self) -> None:
        from batchmap.sources import memory

        for target in self.created:
            memory.forget(*(urlsplit(uri).netloc for uri in (target.uri, target.dlq_uri) if uri))
