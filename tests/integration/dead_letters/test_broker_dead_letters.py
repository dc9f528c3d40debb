"""The dead-letter commands on every broker with a dead-letter queue, through the command line.

Each test fills the broker's dead-letter queue the way a run does (messages received and given back
until the broker or the source dead-letters them), looks at them with ``receive-message``, moves them
back with ``start-message-move-task`` (no destination: back where they failed), checks
``list-message-move-tasks``, and reads the source queue: every body back once, its attributes kept,
its receive count starting again at 1, and the dead-letter queue empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from dead_letter_cli import cli, redrive_and_check
from services import require_port

from batchmap.sources.base import QueueSource
from batchmap.sources.registry import SourceOptions, open_source

BODIES = ["poison-1", "poison-2", "poison-3"]
ATTRIBUTES = {"tenant": "acme"}


async def _dead_letter(uri: str, count: int, options: SourceOptions | None = None, *, send: bool = True) -> None:
    """Send ``BODIES`` (with ``ATTRIBUTES``) and give every message back until the queue has dead-lettered
    ``count``."""
    source: Any = await open_source(uri, options)
    assert isinstance(source, QueueSource)
    try:
        if send:
            await source.send(BODIES, attributes=ATTRIBUTES)
        deadline = time.monotonic() + 30
        while (await source.backlog()).dead_lettered < count:
            assert time.monotonic() < deadline, await source.backlog()
            got = await source.receive(10, 0.5)
            if got:
                await source.release(got, 0.0)
    finally:
        await source.close()


async def _drain(uri: str, count: int, options: SourceOptions | None = None) -> list[dict[str, Any]]:
    """Receive and delete ``count`` messages (waiting up to 20 s); their records."""
    source = await open_source(uri, options)
    assert isinstance(source, QueueSource)
    records: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + 20
        while len(records) < count and time.monotonic() < deadline:
            got = await source.receive(10, 1.0)
            records += [d.record for d in got]
            await source.delete(got)
        extra = await source.receive(10, 0.5)
        records += [d.record for d in extra]
        await source.release(extra, 0.0)
        return records
    finally:
        await source.close()


def _check_moved_back(records: list[dict[str, Any]], *, attributes: bool = True) -> None:
    assert sorted(r["body"] for r in records) == BODIES, "each message back once"
    for record in records:
        assert record["attributes"]["ApproximateReceiveCount"] == "1", "the receive count starts again"
        if attributes:
            assert record["messageAttributes"]["tenant"]["stringValue"] == "acme"
        assert not any(name.startswith(("dlq.", "Batchmap-Source", "x-death")) for name in record["messageAttributes"])


def _look(capsys: pytest.CaptureFixture[str], dlq: str, *extra: str) -> None:
    """``receive-message`` on the dead-letter queue prints the AWS CLI's shape, then gives the messages back."""
    out = cli(capsys, "receive-message", "--source", dlq, "--max-number-of-messages", "10", "--wait-time-seconds",
              "2", "--attribute-names", "All", "--message-attribute-names", "All", "--visibility-timeout", "0",
              *extra)
    assert out is not None and out["Messages"], "the dead letters are there to look at"
    message = out["Messages"][0]
    assert {"MessageId", "ReceiptHandle", "MD5OfBody", "Body", "Attributes"} <= set(message)
    assert message["Body"] in BODIES and "ApproximateReceiveCount" in message["Attributes"]


# -- PostgreSQL -------------------------------------------------------------------------------

PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_queue() -> Iterator[str]:
    require_port("PostgreSQL", 5432)
    import psycopg

    name = f"bm_dlt_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP TABLE IF EXISTS "{name}", "{name}_dlq", "{name}_retry"')


@pytest.mark.service("postgres")
def test_postgres_dead_letters_move_back_in_one_statement(pg_queue: str, capsys: pytest.CaptureFixture[str]) -> None:
    source, dlq = f"{PG}?queue={pg_queue}", f"{PG}?queue={pg_queue}_dlq"
    asyncio.run(_dead_letter(f"{source}&max_receive_count=1&visibility_timeout=1", 3))
    _look(capsys, dlq)
    redrive_and_check(capsys, dlq, 3)
    _check_moved_back(asyncio.run(_drain(source, 3)))
    assert cli(capsys, "receive-message", "--source", dlq) is None


@pytest.mark.service("postgres")
def test_postgres_destination_must_be_an_existing_table_on_the_same_server(
        pg_queue: str, capsys: pytest.CaptureFixture[str]) -> None:
    from dead_letter_cli import error_of

    dlq = f"{PG}?queue={pg_queue}_dlq"
    asyncio.run(_dead_letter(f"{PG}?queue={pg_queue}&max_receive_count=1&visibility_timeout=1", 3))
    for bad, says in ((f"{PG}?queue={pg_queue}_retry", "an existing queue table"),
                      ("postgresql://postgres@127.0.0.2:5432/test?queue=x", "on the same server")):
        assert says in error_of(capsys, "start-message-move-task", "--source-arn", dlq, "--destination-arn", bad)
    assert cli(capsys, "list-message-move-tasks", "--source-arn", dlq) == {"Results": []}
    asyncio.run(_drain(f"{PG}?queue={pg_queue}_retry", 0))  # creates the table
    redrive_and_check(capsys, dlq, 3, "--destination-arn", f"{PG}?queue={pg_queue}_retry")
    _check_moved_back(asyncio.run(_drain(f"{PG}?queue={pg_queue}_retry", 3)))


# -- Redis Streams ----------------------------------------------------------------------------

REDIS = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_stream() -> Iterator[str]:
    require_port("Redis", 6379)
    import redis

    name = f"bm-dlt-{uuid.uuid4().hex[:10]}"
    yield name
    client = redis.Redis(host="127.0.0.1", port=6379)
    client.delete(name, f"{name}:dlq")
    client.close()


@pytest.mark.service("redis")
def test_redis_dead_letters_move_back_in_one_script(redis_stream: str, capsys: pytest.CaptureFixture[str]) -> None:
    source, dlq = f"{REDIS}?stream={redis_stream}", f"{REDIS}?stream={redis_stream}:dlq"
    asyncio.run(_dead_letter(f"{source}&max_receive_count=1&visibility_timeout=1", 3))
    _look(capsys, dlq)
    redrive_and_check(capsys, dlq, 3)
    _check_moved_back(asyncio.run(_drain(source, 3)))
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379)
    assert client.xlen(f"{redis_stream}:dlq") == 0, "moved, not copied"
    client.close()


# -- RabbitMQ ---------------------------------------------------------------------------------

AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture
def rabbit_queue() -> Iterator[str]:
    require_port("RabbitMQ", 5672)
    import pika

    name = f"bm-dlt-{uuid.uuid4().hex[:10]}"
    yield name
    connection = pika.BlockingConnection(pika.URLParameters(AMQP))
    channel = connection.channel()
    for queue in (name, f"{name}.dlq"):
        channel.queue_delete(queue)
    connection.close()


@pytest.mark.service("rabbitmq")
def test_rabbitmq_dead_letters_move_back_to_the_queue_in_x_death(rabbit_queue: str,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    source, dlq = f"{AMQP}?queue={rabbit_queue}", f"{AMQP}?queue={rabbit_queue}.dlq"
    asyncio.run(_dead_letter(f"{source}&max_receive_count=1", 3))
    _look(capsys, dlq)
    task = redrive_and_check(capsys, dlq, 3)
    assert "guest" not in str(task), "no credentials in what is printed or kept"
    _check_moved_back(asyncio.run(_drain(source, 3)))
    assert asyncio.run(_drain(dlq, 0)) == []


# -- NATS JetStream ---------------------------------------------------------------------------


@pytest.fixture
def nats_stream() -> Iterator[str]:
    require_port("NATS", 4222)
    name = f"bmdlt{uuid.uuid4().hex[:10]}"
    yield name

    async def delete() -> None:
        import nats

        nc = await nats.connect("nats://127.0.0.1:4222")
        for stream in (name, f"{name}_DLQ"):
            with contextlib.suppress(nats.js.errors.NotFoundError):
                await nc.jetstream().delete_stream(stream)
        await nc.close()

    asyncio.run(delete())


@pytest.mark.service("nats")
def test_nats_dead_letters_move_back_to_their_stream(nats_stream: str, capsys: pytest.CaptureFixture[str]) -> None:
    source = (f"nats://127.0.0.1:4222?stream={nats_stream}&max_deliver=1&ack_wait=1"
              f"&dead_letter_subject={nats_stream}.dead")
    dlq = f"nats://127.0.0.1:4222?stream={nats_stream}_DLQ&subject={nats_stream}.dead"
    asyncio.run(_dead_letter(source, 3))
    _look(capsys, dlq)
    redrive_and_check(capsys, dlq, 3)
    _check_moved_back(asyncio.run(_drain(source, 3)))
    assert cli(capsys, "receive-message", "--source", dlq, "--wait-time-seconds", "1") is None


# -- SQS (moto) -------------------------------------------------------------------------------


@pytest.fixture
def moto() -> Iterator[Any]:
    from emulators import moto_server

    with moto_server() as server:
        yield server


def test_sqs_dead_letters_move_back_with_send_and_delete(moto: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from emulators import AWS_ACCOUNT, AWS_REGION

    sqs = moto.client("sqs")
    dlq_url = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
    dlq_arn = f"arn:aws:sqs:{AWS_REGION}:{AWS_ACCOUNT}:orders-dlq"
    policy = f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "1"}}'
    sqs.create_queue(QueueName="orders", Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "0"})
    for body in BODIES:
        sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="orders")["QueueUrl"], MessageBody=body,
                         MessageAttributes={"tenant": {"DataType": "String", "StringValue": "acme"}},
                         MessageGroupId="acme")  # a fair queue's tenant: the move keeps it
    source_arn = f"arn:aws:sqs:{AWS_REGION}:{AWS_ACCOUNT}:orders"
    options = SourceOptions(endpoint_url=moto.url)
    asyncio.run(_dead_letter(source_arn, 3, options, send=False))
    endpoint = ("--endpoint-url", moto.url)
    _look(capsys, dlq_arn, *endpoint)
    redrive_and_check(capsys, dlq_arn, 3, *endpoint)
    moved = asyncio.run(_drain(source_arn, 3, options))
    _check_moved_back(moved)
    assert {record["attributes"].get("MessageGroupId") for record in moved} == {"acme"}
    assert int(sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]["ApproximateNumberOfMessages"]) == 0
