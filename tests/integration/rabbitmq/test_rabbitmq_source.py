"""The RabbitMQ source against a real RabbitMQ on 127.0.0.1, through its public opener."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pika
import pytest
import rabbitmq_control
from waiting import wait_out

from batchmap.errors import ConfigError, MissingExtraError, SourceError
from batchmap.sources.base import QueueSource
from batchmap.sources.registry import SourceOptions, open_source

T = TypeVar("T")
URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
SQS_RECORD_KEYS = {
    "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
    "eventSource", "eventSourceARN", "awsRegion",
}


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=90))


async def opened(queue: str, query: str = "") -> Any:
    return await open_source(f"{URL}?queue={queue}{query}", SourceOptions())


def queue_arguments_accepted(queue: str, arguments: dict[str, Any]) -> bool:
    """Whether re-declaring ``queue`` with ``arguments`` matches what the broker has (406 if not)."""
    connection = pika.BlockingConnection(pika.URLParameters(URL))
    try:
        connection.channel().queue_declare(queue, durable=True, arguments=arguments)
        return True
    except pika.exceptions.ChannelClosedByBroker as exc:
        assert exc.reply_code == 406
        return False
    finally:
        connection.close()


def test_record_has_the_sqs_shape_and_keeps_amqp_metadata(queue: str) -> None:
    async def scenario() -> None:
        source = await opened(queue)
        assert isinstance(source, QueueSource)
        assert (source.shape, source.fifo, source.visibility_timeout_s) == ("sqs", False, 30.0)
        [mid] = await source.send(["héllo"], attributes={"tenant": "acme"})
        [d] = await source.receive(10, 2)
        await source.close()
        r = d.record
        assert set(r) == SQS_RECORD_KEYS
        assert (r["messageId"], d.id, r["body"]) == (mid, mid, "héllo")
        assert r["md5OfBody"] == hashlib.md5("héllo".encode()).hexdigest()
        assert (r["eventSource"], r["eventSourceARN"]) == ("aws:sqs", f"amqp://127.0.0.1:5672/%2F/{queue}")
        assert r["messageAttributes"]["tenant"]["stringValue"] == "acme"
        attrs = r["attributes"]
        assert all(isinstance(v, str) for v in attrs.values())
        assert (attrs["ApproximateReceiveCount"], attrs["RabbitMQDeliveryCount"]) == ("1", "0")
        assert (attrs["RabbitMQQueue"], attrs["RabbitMQRoutingKey"]) == (queue, queue)
        assert attrs["AmqpContentType"] == "text/plain"
        assert int(attrs["SentTimestamp"]) == d.arrival_ms > 0

    run(scenario)


def test_the_queue_is_a_durable_quorum_queue_with_a_delivery_limit(queue: str) -> None:
    async def scenario() -> None:
        source = await opened(queue, "&max_receive_count=4")
        await source.close()

    run(scenario)
    assert queue_arguments_accepted(queue, {
        "x-queue-type": "quorum", "x-delivery-limit": 3, "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": f"{queue}.dlq", "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish"})
    assert not queue_arguments_accepted(queue, {"x-queue-type": "classic"})


def test_delete_acks_and_a_late_ack_after_the_visibility_timeout_deletes_nothing(queue: str) -> None:
    async def scenario() -> None:
        source = await opened(queue, "&visibility_timeout=1")
        await source.send(["a", "b"])
        got = await source.receive(10, 2)
        a, b = sorted(got, key=lambda d: d.record["body"])
        assert await source.delete([a]) == 1
        assert await source.delete([a]) == 0
        await asyncio.sleep(1.2)  # b's visibility timeout runs out: back to the queue
        assert await source.delete([b]) == 0
        [b2] = await source.receive(10, 3)
        assert (b2.id, b2.receive_count) == (b.id, 2)
        assert await source.delete([b2]) == 1
        await source.close()
        checker = await opened(queue)
        assert (await checker.backlog()).total == 0
        await checker.close()

    run(scenario)


def test_release_requeues_now_or_after_a_delay(queue: str) -> None:
    async def scenario() -> None:
        source = await opened(queue)
        await source.send(["x"])
        [d] = await source.receive(10, 2)
        await source.release([d])
        [again] = await source.receive(10, 3)
        assert (again.id, again.receive_count, again.record["attributes"]["RabbitMQRedelivered"]) == (
            d.id, 2, "true")
        await source.release([again], delay_s=1.0)
        assert await source.receive(10, 0.2) == []
        assert (await source.backlog()).delayed == 1
        [third] = await source.receive(10, 5)
        assert third.receive_count == 3
        await source.close()

    run(scenario)


def test_the_broker_dead_letters_after_max_receive_count(queue: str) -> None:
    async def scenario() -> None:
        source = await opened(queue, "&visibility_timeout=1&max_receive_count=2")
        await source.send(["poison"], attributes={"kind": "bad"})
        [first] = await source.receive(10, 2)
        await source.release([first])
        [second] = await source.receive(10, 3)  # redelivered after the visibility timeout this time
        assert (first.receive_count, second.receive_count) == (1, 2)
        assert await source.receive(10, 2.5) == []
        backlog = await source.backlog()
        assert (backlog.visible, backlog.dead_lettered) == (0, 1)
        await source.close()

        dlq = await opened(f"{queue}.dlq")  # a dead-letter queue is a source like any other
        [dead] = await dlq.receive(10, 2)
        assert (dead.id, dead.record["body"]) == (first.id, "poison")
        assert dead.record["messageAttributes"]["kind"]["stringValue"] == "bad"
        assert "x-death" in dead.record["messageAttributes"]
        await dlq.close()

    run(scenario)


@pytest.mark.slow
@pytest.mark.restarts_broker
def test_a_broker_restart_mid_run_loses_nothing(queue: str) -> None:
    """stop_app/start_app: connections drop, in-flight messages return, the source reconnects."""
    rabbitmq_control.require()

    async def scenario() -> None:
        source = await opened(queue, "&visibility_timeout=60")
        await source.send([str(i) for i in range(50)])
        done: set[str] = set()
        first = await source.receive(10, 2)
        while len(first) < 6:  # a receive returns what has reached the client: 5 to delete, the rest held
            first += await source.receive(10 - len(first), 2)
        assert await source.delete(first[:5]) == 5
        done |= {d.record["body"] for d in first[:5]}
        await asyncio.to_thread(rabbitmq_control.away)
        try:
            with pytest.raises(SourceError) as failed:
                await source.backlog()
            assert failed.value.transient, failed.value
            blocked = asyncio.create_task(wait_out(lambda: source.receive(10, 1)))
            assert await source.delete(first[5:]) == 0  # acks cannot outlive their channel
            await asyncio.sleep(1.0)
            assert not blocked.done()  # waited out, not failed
        finally:
            await asyncio.to_thread(rabbitmq_control.back)
        got = await asyncio.wait_for(blocked, 60)  # may be empty: its 1 s wait ended during the outage
        for _ in range(30):
            assert await source.delete(got) == len(got)
            done |= {d.record["body"] for d in got}
            if len(done) == 50:
                break
            got = await source.receive(10, 2)
        assert done == {str(i) for i in range(50)}
        assert (await source.backlog()).total == 0
        await source.close()

    run(scenario)


def test_bad_uris_name_the_option(queue: str) -> None:
    async def scenario() -> None:
        with pytest.raises(ConfigError, match="queue"):
            await open_source(URL)
        with pytest.raises(ConfigError, match=r"prefetch.*'lots'"):
            await opened(queue, "&prefetch=lots")
        with pytest.raises(ConfigError, match="visibilty_timeout"):
            await opened(queue, "&visibilty_timeout=3")
        source = await opened(queue)
        with pytest.raises(ConfigError, match="delay_s"):
            await source.send(["x"], delay_s=5)
        await source.close()
        with pytest.raises(ConfigError, match="exists with other arguments"):
            await opened(queue, "&max_receive_count=3")  # the queue exists, without a delivery limit

    run(scenario)


def test_a_missing_client_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "aio_pika", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'batchmap\[rabbitmq\]'"):
        asyncio.run(open_source(f"{URL}?queue=q"))
