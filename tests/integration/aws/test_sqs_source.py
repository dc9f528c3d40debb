"""The SQS source against a real moto server: record shapes, polling, settling, FIFO, redrive.

Queues stay shallow (moto's cost per request grows with queue depth).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from batchmap.errors import BrokerError, ConfigError, SettleError, SourceError
from batchmap.sources.aws import SqsQueue
from batchmap.sources.base import Delivery, Producer, QueueSource
from batchmap.sources.registry import SourceOptions, open_source

from .conftest import ACCOUNT, REGION, Moto

SQS_RECORD_KEYS = [
    "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfMessageAttributes",
    "md5OfBody", "eventSource", "eventSourceARN", "awsRegion",
]


def arn(name: str) -> str:
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


def make_queue(moto: Moto, name: str, **attributes: str) -> str:
    if name.endswith(".fifo"):
        attributes.setdefault("FifoQueue", "true")
    return str(moto.client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def run_with(moto: Moto, name: str, body: Callable[[SqsQueue], Awaitable[None]], **extra: Any) -> None:
    async def main() -> None:
        queue = await open_source(arn(name), SourceOptions(endpoint_url=moto.url, extra=extra))
        assert isinstance(queue, SqsQueue)
        try:
            await body(queue)
        finally:
            await queue.close()

    asyncio.run(main())


async def drain(queue: SqsQueue, expected: int, batch: int = 10) -> list[Delivery]:
    got: list[Delivery] = []
    for _ in range(expected + 5):
        if len(got) >= expected:
            break
        got.extend(await queue.receive(batch, 1))
    return got


def test_records_are_exactly_lambda_sqs_records(moto: Moto) -> None:
    url = make_queue(moto, "orders")
    sent = moto.client("sqs").send_message(
        QueueUrl=url, MessageBody='{"order": 1}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "new"},
            "count": {"DataType": "Number.int", "StringValue": "3"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xffdata"},
        },
    )

    async def body(queue: SqsQueue) -> None:
        assert isinstance(queue, QueueSource) and isinstance(queue, Producer)
        [delivery] = await queue.receive(10, 1)
        record = delivery.record
        assert list(record) == SQS_RECORD_KEYS
        assert record["messageId"] == sent["MessageId"] == delivery.id
        assert record["receiptHandle"] == delivery.handle
        assert record["body"] == '{"order": 1}'
        assert record["md5OfBody"] == hashlib.md5(b'{"order": 1}').hexdigest()
        assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
        assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
            "aws:sqs", arn("orders"), REGION)
        attributes = record["attributes"]
        assert {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(
            attributes)
        assert all(isinstance(value, str) for value in attributes.values())
        assert attributes["ApproximateReceiveCount"] == "1"
        assert record["messageAttributes"] == {
            "kind": {"stringValue": "new", "stringListValues": [], "binaryListValues": [], "dataType": "String"},
            "count": {"stringValue": "3", "stringListValues": [], "binaryListValues": [], "dataType": "Number.int"},
            "blob": {"binaryValue": base64.b64encode(b"\x00\xffdata").decode(), "stringListValues": [],
                     "binaryListValues": [], "dataType": "Binary"},
        }
        assert delivery.key is None and delivery.shard == ""
        assert delivery.arrival_ms == int(attributes["SentTimestamp"])
        assert delivery.receive_count == 1
        assert delivery.size == len(json.dumps(record, separators=(",", ":")))
        assert queue.visibility_timeout_s == 30 and not queue.fifo

    run_with(moto, "orders", body)


def test_a_message_without_attributes_has_empty_attributes_and_null_md5(moto: Moto) -> None:
    make_queue(moto, "plain")

    async def body(queue: SqsQueue) -> None:
        await queue.send(["hello"])
        [delivery] = await queue.receive(1, 1)
        assert delivery.record["messageAttributes"] == {}
        assert delivery.record["md5OfMessageAttributes"] is None
        assert json.loads(json.dumps(delivery.record)) == delivery.record  # pure JSON, as Lambda sends

    run_with(moto, "plain", body)


def test_fifo_records_carry_group_dedup_and_sequence(moto: Moto) -> None:
    make_queue(moto, "jobs.fifo")

    async def body(queue: SqsQueue) -> None:
        assert queue.fifo
        await queue.send(["one"], message_group_id="g1", deduplication_id="d1")
        [delivery] = await queue.receive(10, 1)
        attributes = delivery.record["attributes"]
        assert attributes["MessageGroupId"] == "g1" == delivery.key
        assert attributes["MessageDeduplicationId"] == "d1"
        assert attributes["SequenceNumber"].isdigit()
        assert delivery.record["eventSourceARN"] == arn("jobs.fifo")

    run_with(moto, "jobs.fifo", body)


def test_long_poll_returns_as_soon_as_a_message_arrives(moto: Moto) -> None:
    url = make_queue(moto, "quiet")

    async def body(queue: SqsQueue) -> None:
        assert await queue.receive(10, 0) == []  # nothing there: a short poll returns empty
        poll = asyncio.create_task(queue.receive(10, 20))
        await asyncio.sleep(0.5)
        assert not poll.done()  # still long-polling an empty queue
        await asyncio.to_thread(moto.client("sqs").send_message, QueueUrl=url, MessageBody="wake up")
        # Asked to wait 20 s; it must come back with the message well before that.
        got = await asyncio.wait_for(poll, timeout=15)
        assert [d.record["body"] for d in got] == ["wake up"]

    run_with(moto, "quiet", body)


def test_a_large_receive_on_a_quiet_queue_returns_with_the_first_message(moto: Moto) -> None:
    url = make_queue(moto, "quiet-batch")

    async def body(queue: SqsQueue) -> None:
        poll = asyncio.create_task(queue.receive(50, 20))  # five receives at once
        await asyncio.sleep(0.5)
        await asyncio.to_thread(moto.client("sqs").send_message, QueueUrl=url, MessageBody="first")
        # Only one of the five long-polls: the others must not hold the batch for their full 20 s.
        got = await asyncio.wait_for(poll, timeout=15)
        assert [d.record["body"] for d in got] == ["first"]

    run_with(moto, "quiet-batch", body)


def test_a_receive_larger_than_10_runs_concurrent_receives(moto: Moto) -> None:
    make_queue(moto, "busy")
    active = 0
    peak = 0
    calls = 0
    lock = threading.Lock()

    def before(**_: Any) -> None:
        nonlocal active, peak, calls
        with lock:
            active += 1
            calls += 1
            peak = max(peak, active)

    def after(**_: Any) -> None:
        nonlocal active
        with lock:
            active -= 1

    async def body(queue: SqsQueue) -> None:
        await queue.send([f"m{i}" for i in range(45)])
        events = queue._client.raw.meta.events
        events.register("before-call.sqs.ReceiveMessage", before)
        events.register("after-call.sqs.ReceiveMessage", after)
        got = await queue.receive(45, 2)
        assert sorted(d.record["body"] for d in got) == sorted(f"m{i}" for i in range(45))
        assert len({d.id for d in got}) == 45
        assert calls >= 5  # SQS gives at most 10 per ReceiveMessage
        assert peak > 1  # and they ran at the same time

    run_with(moto, "busy", body)


def test_max_receivers_bounds_the_concurrent_receives(moto: Moto) -> None:
    make_queue(moto, "bounded")

    async def body(queue: SqsQueue) -> None:
        assert queue.max_receivers == 2
        await queue.send([f"m{i}" for i in range(50)])
        got = await queue.receive(50, 1)  # 2 receives per round, rounds while they come back full
        # every message once (the test server's receives are atomic, as SQS's are: tests/support/emulators.py)
        assert sorted(d.record["body"] for d in got) == sorted(f"m{i}" for i in range(50))

    run_with(moto, "bounded", body, max_receivers=2)


def test_delete_removes_messages_and_reports_failures(moto: Moto) -> None:
    make_queue(moto, "settle")

    async def body(queue: SqsQueue) -> None:
        await queue.send([f"m{i}" for i in range(15)])
        got = await drain(queue, 15)
        assert await queue.delete(got[:12]) == 12
        bogus = Delivery(record={}, id="not-a-message", key=None, shard="", size=0, arrival_ms=0, handle="bogus")
        with pytest.raises(SettleError) as failure:
            await queue.delete([*got[12:], bogus])
        assert failure.value.settled == 3
        assert list(failure.value.failed) == ["not-a-message"]
        assert "ReceiptHandleIsInvalid" in failure.value.failed["not-a-message"]
        backlog = await queue.backlog()
        assert (backlog.visible, backlog.in_flight, backlog.delayed) == (0, 0, 0)

    run_with(moto, "settle", body)


def test_deletes_at_the_same_time_all_take_effect(moto: Moto) -> None:
    """The engine's lanes delete their batches concurrently: each delete must stick. (moto rebuilt a queue's
    list of messages on every delete without a lock, so one of two deletes at once could undo the other:
    the message came back in flight, its delete reported done; tests/support/emulators.py locks it.)"""
    make_queue(moto, "settle-together", VisibilityTimeout="60")

    async def body(queue: SqsQueue) -> None:
        await queue.send([f"m{i}" for i in range(300)])
        got = await drain(queue, 300)
        assert len({d.id for d in got}) == 300
        batches = [got[i: i + 10] for i in range(0, 300, 10)]
        switching = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # threads take turns often: the server's threads meet mid-call
        try:
            assert await asyncio.gather(*(queue.delete(b) for b in batches)) == [10] * 30
        finally:
            sys.setswitchinterval(switching)
        backlog = await queue.backlog()
        assert (backlog.visible, backlog.in_flight, backlog.delayed) == (0, 0, 0)

    run_with(moto, "settle-together", body)


def test_release_makes_messages_visible_again_now_or_after_a_delay(moto: Moto) -> None:
    make_queue(moto, "retry", VisibilityTimeout="60")

    async def body(queue: SqsQueue) -> None:
        await queue.send(["a", "b"])
        first = await drain(queue, 2)
        assert await queue.receive(10, 0) == []  # in flight for 60 s
        await queue.release(first)
        again = await drain(queue, 2)
        assert sorted(d.record["body"] for d in again) == ["a", "b"]
        assert {d.receive_count for d in again} == {2}
        assert {d.handle for d in again}.isdisjoint({d.handle for d in first})
        await queue.release(again, delay_s=1)
        assert await queue.receive(10, 0) == []  # hidden for the delay
        later = await drain(queue, 2)
        assert {d.receive_count for d in later} == {3}
        with pytest.raises(SettleError, match="ChangeMessageVisibilityBatch"):
            await queue.release([Delivery(record={}, id="x", key=None, shard="", size=0, arrival_ms=0, handle="bogus")])

    run_with(moto, "retry", body)


def test_backlog_counts_visible_in_flight_and_delayed(moto: Moto) -> None:
    url = make_queue(moto, "depth")
    moto.client("sqs").send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)

    async def body(queue: SqsQueue) -> None:
        await queue.send(["x", "y", "z"])
        await queue.receive(1, 1)
        backlog = await queue.backlog()
        assert (backlog.visible, backlog.in_flight, backlog.delayed, backlog.dead_lettered) == (2, 1, 1, 0)
        assert backlog.total == 4

    run_with(moto, "depth", body)


def test_the_queue_redrive_policy_moves_exhausted_messages_to_the_dlq(moto: Moto) -> None:
    dlq_url = make_queue(moto, "orders-dlq")
    dlq_arn = moto.client("sqs").get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
    policy = json.dumps({"deadLetterTargetArn": dlq_arn["Attributes"]["QueueArn"], "maxReceiveCount": "2"})
    make_queue(moto, "orders", RedrivePolicy=policy)

    async def body(queue: SqsQueue) -> None:
        assert queue.info.max_receive_count == 2 and queue.info.dead_letter_url == dlq_url
        await queue.send(["poison", "fine"])
        first = await drain(queue, 2)
        assert sorted(d.record["body"] for d in first) == ["fine", "poison"]
        assert await queue.delete([d for d in first if d.record["body"] == "fine"]) == 1
        await queue.release([d for d in first if d.record["body"] == "poison"])  # the function failed on it
        [second] = await queue.receive(10, 1)
        assert (second.record["body"], second.receive_count) == ("poison", 2)
        await queue.release([second])  # failed again: maxReceiveCount reached
        # Third receive: SQS itself moves the poison message to the DLQ (Lambda never does).
        assert await queue.receive(10, 1) == []
        backlog = await queue.backlog()
        assert (backlog.total, backlog.dead_lettered) == (0, 1)
        dead = moto.client("sqs").receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1)["Messages"]
        assert [m["Body"] for m in dead] == ["poison"]

    run_with(moto, "orders", body)


def test_fifo_keeps_each_group_in_order_across_redelivery(moto: Moto) -> None:
    make_queue(moto, "groups.fifo", ContentBasedDeduplication="true", VisibilityTimeout="60")

    async def body(queue: SqsQueue) -> None:
        for i in range(4):
            await queue.send([f"a{i}"], message_group_id="A")
            await queue.send([f"b{i}"], message_group_id="B")
        first = await queue.receive(10, 1)
        by_group: dict[str, list[str]] = {}
        for delivery in first:
            by_group.setdefault(str(delivery.key), []).append(delivery.record["body"])
        assert by_group == {"A": ["a0", "a1", "a2", "a3"], "B": ["b0", "b1", "b2", "b3"]}
        await queue.release(first)
        # Redeliveries are received one at a time: moto (not batchmap) mixes up a group's order
        # when redelivered FIFO messages are received several per call (services.md §1).
        seen: dict[str, list[str]] = {}
        for _ in range(8):
            [delivery] = await queue.receive(1, 1)
            assert delivery.receive_count == 2
            seen.setdefault(str(delivery.key), []).append(delivery.record["body"])
            await queue.delete([delivery])
        assert seen == by_group

    run_with(moto, "groups.fifo", body)


def test_send_batches_keep_order_and_check_fifo_rules(moto: Moto) -> None:
    make_queue(moto, "out.fifo")
    make_queue(moto, "out")

    async def fifo(queue: SqsQueue) -> None:
        ids = await queue.send([f"m{i}" for i in range(23)], message_group_id="g")
        assert len(set(ids)) == 23
        got: list[Delivery] = []
        for _ in range(5):  # a FIFO group stays blocked while its messages are in flight: delete as we go
            batch = await queue.receive(10, 1)
            got.extend(batch)
            await queue.delete(batch)
        assert [d.record["body"] for d in got] == [f"m{i}" for i in range(23)]
        with pytest.raises(ConfigError, match="MessageGroupId"):
            await queue.send(["x"])
        with pytest.raises(ConfigError, match="DelaySeconds"):
            await queue.send(["x"], message_group_id="g", delay_s=5)

    async def standard(queue: SqsQueue) -> None:
        with pytest.raises(ConfigError, match="DelaySeconds"):
            await queue.send(["x"], delay_s=901)
        big = "x" * 200_000  # two of these do not fit one 256 KiB SendMessageBatch
        ids = await queue.send([big, big, "small"])
        assert len(ids) == 3
        assert sorted(len(d.record["body"]) for d in await drain(queue, 3)) == [5, 200_000, 200_000]

    run_with(moto, "out.fifo", fifo)
    run_with(moto, "out", standard)


def test_a_cancelled_receive_gives_back_what_its_polls_still_bring(moto: Moto) -> None:
    url = make_queue(moto, "stopping", VisibilityTimeout="60")

    async def body(queue: SqsQueue) -> None:
        poll = asyncio.create_task(queue.receive(10, 3))
        await asyncio.sleep(0.3)
        poll.cancel()  # the engine stops; the long poll is still running in its thread
        with pytest.raises(asyncio.CancelledError):
            await poll
        await asyncio.to_thread(moto.client("sqs").send_message, QueueUrl=url, MessageBody="late")
        await asyncio.sleep(3.5)  # let the abandoned poll finish: it received the message once
        # Without the release it would stay invisible for 60 s.
        [delivery] = await queue.receive(10, 5)
        assert delivery.record["body"] == "late"
        assert delivery.receive_count == 2

    run_with(moto, "stopping", body)


def test_opening_checks_the_arn_region_and_queue(moto: Moto) -> None:
    make_queue(moto, "exists")
    options = SourceOptions(endpoint_url=moto.url)

    async def body() -> None:
        with pytest.raises(ConfigError, match="EventSourceArn"):
            await open_source("arn:aws:sqs:us-east-1:123456789012", options)
        with pytest.raises(ConfigError, match="EventSourceArn"):
            await open_source("arn:aws:sqs::123456789012:exists", options)
        with pytest.raises(ConfigError, match="--region"):
            await open_source(arn("exists"), SourceOptions(endpoint_url=moto.url, region="eu-west-1"))
        with pytest.raises(ConfigError, match="max_receivers"):
            await open_source(arn("exists"), SourceOptions(endpoint_url=moto.url, extra={"max_receivers": 0}))
        with pytest.raises(SourceError, match="does not exist"):
            await open_source(arn("missing"), options)
        queue = await open_source(arn("exists"), SourceOptions(endpoint_url=moto.url, region=REGION))
        await queue.close()

    asyncio.run(body())


def test_a_broker_error_names_the_operation_and_code(moto: Moto) -> None:
    make_queue(moto, "gone")

    async def body(queue: SqsQueue) -> None:
        await asyncio.to_thread(moto.client("sqs").delete_queue, QueueUrl=queue.info.url)
        with pytest.raises(BrokerError) as failure:
            await queue.backlog()
        assert failure.value.operation == "get_queue_attributes"
        assert "NonExistentQueue" in failure.value.code or failure.value.code == "QueueDoesNotExist"

    run_with(moto, "gone", body)


def test_batchmap_send_passes_a_message_group_to_a_standard_queue(moto: Moto) -> None:
    """A fair queue's tenant: SQS orders by it server-side; batchmap only has to pass it and show it."""
    make_queue(moto, "tenants")
    sent = subprocess.run(
        [sys.executable, "-m", "batchmap", "send", "--source", arn("tenants"), "--endpoint-url", moto.url,
         "--region", REGION, "--message-group-id", "acme", "one", "two"],
        capture_output=True, text=True, timeout=120, check=False)
    assert sent.returncode == 0, sent.stderr

    async def body(queue: SqsQueue) -> None:
        assert not queue.fifo
        got = await drain(queue, 2)
        assert sorted(d.record["body"] for d in got) == ["one", "two"]
        assert {d.record["attributes"].get("MessageGroupId") for d in got} == {"acme"}
        assert {d.key for d in got} == {None}  # no FIFO ordering key on a standard queue

    run_with(moto, "tenants", body)
