"""The plain loops ``source_throughput.py`` measures the engine against, and how each queue is filled.

Each plain loop is what a user of the client library writes without batchmap:
receive 100, run the same trivial handler over them, acknowledge or delete
them, repeat until the queue is drained. Queues are filled with batchmap's own
producers (the same messages for both loops), SQS with SendMessageBatch.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import subprocess
import time
from typing import Any, Protocol

import bench_handlers
from batchmap.sources.base import Producer
from batchmap.sources.registry import SourceOptions, open_source

BATCH = 100
REDIS = "redis://127.0.0.1:6379/0"
AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"
NATS = "nats://127.0.0.1:4222"
REGION = "us-east-1"
ACCOUNT = "123456789012"
BODY = json.dumps({"order": 1, "item": "widget", "quantity": 3})


class Marks(Protocol):
    done: int

    def deleted(self, records: int) -> None: ...


def handle(records: list[Any]) -> None:
    """The engine's trivial handler, given an event of the received records."""
    bench_handlers.trivial({"Records": records}, None)


def quiet_logs() -> None:
    logging.getLogger("batchmap").setLevel(logging.ERROR)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


async def produce(uri: str, count: int, options: SourceOptions | None = None) -> None:
    """Fill a queue through batchmap's producer for it, 1,000 messages per send."""
    source = await open_source(uri, options)
    try:
        assert isinstance(source, Producer)
        for start in range(0, count, 1000):
            await source.send([BODY] * min(1000, count - start))
    finally:
        await source.close()


# -- Redis Streams ------------------------------------------------------------------------------------------


def redis_uri(name: str) -> str:
    return f"{REDIS}?stream={name}"


async def redis_fill(name: str, count: int) -> None:
    await produce(redis_uri(name), count)


async def redis_plain(name: str, count: int, marks: Marks) -> None:
    """XREADGROUP 100, handle, XACK and XDEL them in one pipeline."""
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS)
    try:
        await client.xgroup_create(name, "plain", id="0")
        while marks.done < count:
            reply: Any = await client.xreadgroup("plain", "c1", {name: ">"}, count=BATCH, block=1000)
            entries = [entry for _, found in reply or [] for entry in found]
            handle(entries)
            ids = [entry_id for entry_id, _ in entries]
            if ids:
                async with client.pipeline(transaction=False) as pipe:
                    pipe.xack(name, "plain", *ids)
                    pipe.xdel(name, *ids)
                    await pipe.execute()
                marks.deleted(len(ids))
    finally:
        await client.aclose()


async def redis_cleanup(name: str) -> None:
    import redis.asyncio

    client = redis.asyncio.Redis.from_url(REDIS)
    await client.delete(name)
    await client.aclose()


# -- RabbitMQ -----------------------------------------------------------------------------------------------


def rabbit_uri(name: str) -> str:
    return f"{AMQP}?queue={name}"


async def rabbit_fill(name: str, count: int) -> None:
    await produce(rabbit_uri(name), count)


async def rabbit_plain(name: str, count: int, marks: Marks) -> None:
    """Consume with prefetch 100, take what has arrived (up to 100), handle, ``ack()`` each."""
    import aio_pika

    connection = await aio_pika.connect(AMQP)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=BATCH)
        queue = await channel.get_queue(name)
        arrived: asyncio.Queue[Any] = asyncio.Queue()
        await queue.consume(arrived.put)
        while marks.done < count:
            batch = [await arrived.get()]
            while len(batch) < BATCH and not arrived.empty():
                batch.append(arrived.get_nowait())
            handle(batch)
            for message in batch:
                await message.ack()
            marks.deleted(len(batch))
    finally:
        await connection.close()


async def rabbit_cleanup(name: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(AMQP)
    channel = await connection.channel()
    await channel.queue_delete(name)
    await connection.close()


# -- NATS JetStream -----------------------------------------------------------------------------------------


def nats_uri(name: str) -> str:
    return f"{NATS}?stream={name.replace('-', '_')}"


async def nats_fill(name: str, count: int) -> None:
    await produce(nats_uri(name), count)


async def nats_plain(name: str, count: int, marks: Marks) -> None:
    """The stream's durable pull consumer (the filling source made it): fetch 100, handle, ``ack()`` each."""
    import nats

    connection = await nats.connect(NATS)
    try:
        js = connection.jetstream()
        subscription = await js.pull_subscribe_bind(durable="batchmap", stream=name.replace("-", "_"))
        while marks.done < count:
            with contextlib.suppress(nats.errors.TimeoutError):
                messages = await subscription.fetch(BATCH, timeout=1)
                handle(messages)
                for message in messages:
                    await message.ack()
                marks.deleted(len(messages))
    finally:
        await connection.close()


async def nats_cleanup(name: str) -> None:
    import nats

    connection = await nats.connect(NATS)
    with contextlib.suppress(nats.js.errors.NotFoundError):
        await connection.jetstream().delete_stream(name.replace("-", "_"))
    await connection.close()


# -- SQS on moto --------------------------------------------------------------------------------------------


class Sqs:
    """SQS through boto3 on a moto server: ReceiveMessage 10 x 10, DeleteMessageBatch 10 x 10."""

    def __init__(self, endpoint_url: str) -> None:
        import boto3

        self.client = boto3.client("sqs", endpoint_url=endpoint_url, region_name=REGION,
                                   aws_access_key_id="testing", aws_secret_access_key="testing")

    def uri(self, name: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"

    def _url(self, name: str) -> str:
        return str(self.client.get_queue_url(QueueName=name)["QueueUrl"])

    async def fill(self, name: str, count: int) -> None:
        url = self.client.create_queue(QueueName=name)["QueueUrl"]
        for start in range(0, count, 10):
            entries = [{"Id": str(i), "MessageBody": BODY} for i in range(min(10, count - start))]
            self.client.send_message_batch(QueueUrl=url, Entries=entries)

    async def plain(self, name: str, count: int, marks: Marks) -> None:
        url = self._url(name)
        while marks.done < count:
            messages: list[dict[str, Any]] = []
            while len(messages) < BATCH:
                got = self.client.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0 if messages else 1,
                    MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"],
                ).get("Messages", [])
                messages += got
                if len(got) < 10:
                    break
            handle(messages)
            for start in range(0, len(messages), 10):
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                           for i, m in enumerate(messages[start:start + 10])]
                self.client.delete_message_batch(QueueUrl=url, Entries=entries)
            marks.deleted(len(messages))

    async def cleanup(self, name: str) -> None:
        self.client.delete_queue(QueueUrl=self._url(name))
