"""The embedded standard queue through its public API, on a real SQLite file.

Time-dependent rules (visibility, delay, retention, redrive) run on a FakeClock:
the queue reads wall time only through it, so advancing it is all it takes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging

import pytest

from batchmap.clock import FakeClock
from batchmap.errors import ConfigError
from batchmap.sources.base import Backlog, Producer, QueueSource
from batchmap.sources.sqlite import SqliteQueue, parse_attributes
from batchmap.sources.sqlite.queue_records import record_size


def open_queue(db_file: str, clock: FakeClock, name: str = "jobs", **attributes: str) -> SqliteQueue:
    attrs = parse_attributes(attributes, queue_name=name) if attributes else None
    return SqliteQueue(f"sqlite:///{db_file}?queue={name}", attributes=attrs, clock=clock)


def test_implements_the_source_and_producer_seams(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)
    assert isinstance(queue, QueueSource)
    assert isinstance(queue, Producer)
    assert queue.arn == "arn:aws:sqs:local:000000000000:jobs"
    assert queue.visibility_timeout_s == 30.0 and not queue.fifo
    asyncio.run(queue.close())


def test_records_are_exactly_sqs_shaped(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        [message_id] = await queue.send(['{"order": 1, "note": "caf\u00e9 \\"q\\""}'])
        clock.advance(0.005)
        [delivery] = await queue.receive(10, 0)
        record = delivery.record
        assert list(record) == ["messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                                "md5OfBody", "eventSource", "eventSourceARN", "awsRegion"]
        assert record["messageId"] == message_id == delivery.id
        assert record["body"] == '{"order": 1, "note": "caf\u00e9 \\"q\\""}'
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        assert record["attributes"] == {
            "ApproximateReceiveCount": "1", "SentTimestamp": str(clock.wall_ms() - 5),
            "SenderId": "000000000000", "ApproximateFirstReceiveTimestamp": str(clock.wall_ms()),
        }
        assert record["messageAttributes"] == {}
        assert (record["eventSource"], record["eventSourceARN"], record["awsRegion"]) == (
            "aws:sqs", "arn:aws:sqs:local:000000000000:jobs", "local")
        assert record["receiptHandle"] == delivery.handle
        assert delivery.key is None and delivery.shard == "" and delivery.receive_count == 1
        assert delivery.arrival_ms == clock.wall_ms() - 5
        assert delivery.size == record_size(record) == len(json.dumps(record, separators=(",", ":")))
        await queue.close()

    asyncio.run(scenario())


def test_a_message_group_on_a_standard_queue_is_shown_and_is_no_fifo_key(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        await queue.send(['tenant "a"'], message_group_id='tenant-"a"')
        [delivery] = await queue.receive(1, 0)
        assert delivery.record["attributes"]["MessageGroupId"] == 'tenant-"a"'
        assert delivery.key is None
        assert delivery.size == record_size(delivery.record)
        await queue.close()

    asyncio.run(scenario())


def test_message_attributes_reach_the_record(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        await queue.send_message("b", message_attributes={
            "kind": {"DataType": "String", "StringValue": "order"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        })
        [delivery] = await queue.receive(1, 0)
        assert delivery.record["messageAttributes"] == {
            "kind": {"stringValue": "order", "stringListValues": [], "binaryListValues": [],
                     "dataType": "String"},
            "blob": {"binaryValue": "AAE=", "stringListValues": [], "binaryListValues": [],
                     "dataType": "Binary"},
        }
        assert delivery.size == record_size(delivery.record)
        with pytest.raises(ConfigError, match="a number"):
            await queue.send_message("b", message_attributes={
                "n": {"DataType": "Number", "StringValue": "x"}})
        await queue.close()

    asyncio.run(scenario())


def test_visibility_timeout_hides_then_redelivers_with_a_higher_count(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock, VisibilityTimeout="10")

    async def scenario() -> None:
        await queue.send(["a"])
        [first] = await queue.receive(10, 0)
        first_receive = first.record["attributes"]["ApproximateFirstReceiveTimestamp"]
        clock.advance(9.9)
        assert await queue.receive(10, 0) == []
        assert await queue.backlog() == Backlog(visible=0, in_flight=1, delayed=0)
        clock.advance(0.1)
        [second] = await queue.receive(10, 0)
        assert second.id == first.id
        assert second.receive_count == 2
        assert second.record["attributes"]["ApproximateReceiveCount"] == "2"
        assert second.record["attributes"]["ApproximateFirstReceiveTimestamp"] == first_receive
        assert second.handle != first.handle
        await queue.close()

    asyncio.run(scenario())


def test_a_stale_receipt_handle_deletes_nothing(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock, VisibilityTimeout="1")

    async def scenario() -> None:
        await queue.send(["a"])
        [old] = await queue.receive(1, 0)
        clock.advance(1)
        [new] = await queue.receive(1, 0)
        assert await queue.delete([old]) == 0
        await queue.release([old], 0)  # nor can the old holder make it visible
        assert (await queue.backlog()).in_flight == 1
        assert await queue.delete([new]) == 1
        assert (await queue.backlog()).total == 0
        await queue.close()

    asyncio.run(scenario())


def test_release_is_change_message_visibility(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        await queue.send(["a", "b"])
        got = await queue.receive(10, 0)
        await queue.release(got[:1], 0)
        await queue.release(got[1:], 5)
        [again] = await queue.receive(10, 0)
        assert again.id == got[0].id and again.receive_count == 2
        clock.advance(5)
        [later] = await queue.receive(10, 0)
        assert later.id == got[1].id
        with pytest.raises(ConfigError, match="VisibilityTimeout"):
            await queue.release([later], 43_201)
        await queue.close()

    asyncio.run(scenario())


def test_per_message_and_queue_delay(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock, DelaySeconds="3")

    async def scenario() -> None:
        await queue.send(["queue-delay"])
        await queue.send(["no-delay"], delay_s=0)
        await queue.send(["long-delay"], delay_s=10)
        assert await queue.backlog() == Backlog(visible=1, in_flight=0, delayed=2)
        assert [d.record["body"] for d in await queue.receive(10, 0)] == ["no-delay"]
        clock.advance(3)
        assert [d.record["body"] for d in await queue.receive(10, 0)] == ["queue-delay"]
        clock.advance(7)
        assert [d.record["body"] for d in await queue.receive(10, 0)] == ["long-delay"]
        with pytest.raises(ConfigError, match="DelaySeconds"):
            await SqliteQueue.open(f"sqlite:///{db_file}?queue=other",
                                   attributes=parse_attributes({"DelaySeconds": "901"}, queue_name="other"))
        await queue.close()

    asyncio.run(scenario())


def test_redrive_moves_a_message_on_the_receive_after_max_receive_count(
    db_file: str, clock: FakeClock
) -> None:
    dlq = open_queue(db_file, clock, name="jobs-dlq")
    queue = open_queue(db_file, clock, VisibilityTimeout="1",
                       RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 2}))

    async def scenario() -> None:
        [message_id] = await queue.send(["poison"])
        sent = clock.wall_ms()
        for count in (1, 2):
            [delivery] = await queue.receive(10, 0)
            assert delivery.receive_count == count
            clock.advance(1)
        assert await queue.receive(10, 0) == []
        assert queue.dead_lettered == 1
        assert await queue.backlog() == Backlog(visible=0, in_flight=0, delayed=0, dead_lettered=1)
        [dead] = await dlq.receive(10, 0)
        assert dead.id == message_id and dead.record["body"] == "poison"
        assert dead.record["attributes"]["SentTimestamp"] == str(sent)
        assert dead.record["eventSourceARN"] == dlq.arn
        await queue.close()
        await dlq.close()

    asyncio.run(scenario())


def test_redrive_keeps_filling_the_batch(db_file: str, clock: FakeClock) -> None:
    dlq = open_queue(db_file, clock, name="dlq")
    queue = open_queue(db_file, clock, VisibilityTimeout="1",
                       RedrivePolicy=json.dumps({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": 1}))

    async def scenario() -> None:
        await queue.send(["old1", "old2"])
        await queue.receive(10, 0)
        clock.advance(1)
        await queue.send(["new1", "new2"])
        got = await queue.receive(2, 0)
        assert [d.record["body"] for d in got] == ["new1", "new2"]
        assert (await queue.backlog()).dead_lettered == 2
        await queue.close()
        await dlq.close()

    asyncio.run(scenario())


def test_redrive_target_must_exist_and_match_the_type(db_file: str, clock: FakeClock) -> None:
    with pytest.raises(ConfigError, match="create the dead-letter queue first"):
        open_queue(db_file, clock, RedrivePolicy='{"deadLetterTargetArn": '
                   '"arn:aws:sqs:local:000000000000:nope", "maxReceiveCount": 3}')
    open_queue(db_file, clock, name="d.fifo")
    with pytest.raises(ConfigError, match="a standard queue"):
        open_queue(db_file, clock, RedrivePolicy='{"deadLetterTargetArn": '
                   '"arn:aws:sqs:local:000000000000:d.fifo", "maxReceiveCount": 3}')
    with pytest.raises(ConfigError, match="embedded queue"):
        open_queue(db_file, clock, RedrivePolicy='{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:1:x",'
                                                 '"maxReceiveCount": 3}')


def test_retention_expires_messages(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock, MessageRetentionPeriod="60")

    async def scenario() -> None:
        await queue.send(["old"])
        clock.advance(30)
        await queue.send(["young"])
        clock.advance(30)
        assert [d.record["body"] for d in await queue.receive(10, 0)] == ["young"]
        assert await queue.backlog() == Backlog(visible=0, in_flight=1, delayed=0)
        await queue.close()

    asyncio.run(scenario())


def test_receive_returns_more_than_ten_in_send_order(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock)

    async def scenario() -> None:
        await queue.send([f"m{i}" for i in range(2500)])
        got = await queue.receive(2000, 0)
        assert [d.record["body"] for d in got] == [f"m{i}" for i in range(2000)]
        assert await queue.delete(got) == 2000
        assert await queue.backlog() == Backlog(visible=500, in_flight=0, delayed=0)
        assert await queue.purge() == 500
        assert (await queue.backlog()).total == 0
        await queue.close()

    asyncio.run(scenario())


def test_bad_messages_are_rejected_before_anything_is_sent(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock, MaximumMessageSize="1024")

    async def scenario() -> None:
        with pytest.raises(ConfigError, match="MaximumMessageSize=1024"):
            await queue.send(["ok", "x" * 1025])
        with pytest.raises(ConfigError, match="at least 1 character"):
            await queue.send([""])
        with pytest.raises(ConfigError, match="characters SQS allows"):
            await queue.send(["bell\x07"])
        with pytest.raises(ConfigError, match="only for streams"):
            await queue.send(["a"], partition_key="k")
        with pytest.raises(ConfigError, match="MessageDeduplicationId"):
            await queue.send(["a"], deduplication_id="d")
        assert (await queue.backlog()).total == 0
        await queue.close()

    asyncio.run(scenario())


def test_stored_attributes_win_and_conflicting_creation_fails(db_file: str, clock: FakeClock) -> None:
    open_queue(db_file, clock, VisibilityTimeout="7")
    reopened = SqliteQueue(f"sqlite:///{db_file}?queue=jobs", clock=clock)
    assert reopened.visibility_timeout_s == 7
    assert open_queue(db_file, clock, VisibilityTimeout="7").attributes.visibility_timeout_s == 7
    with pytest.raises(ConfigError, match="already exists with VisibilityTimeout='7'"):
        open_queue(db_file, clock, VisibilityTimeout="8")


def test_long_poll_wakes_when_visibility_runs_out(db_file: str, clock: FakeClock) -> None:
    queue = open_queue(db_file, clock, VisibilityTimeout="1")

    async def scenario() -> None:
        await queue.send(["a"])
        await queue.receive(1, 0)
        start = clock.now()
        [again] = await queue.receive(1, wait_s=3)
        assert again.receive_count == 2
        assert 1 <= clock.now() - start < 3
        start = clock.now()
        assert await queue.receive(1, wait_s=0.5) == []
        assert clock.now() - start >= 0.5
        await queue.close()

    asyncio.run(scenario())


def test_long_poll_wakes_on_a_send_from_another_connection(db_file: str, clock: FakeClock) -> None:
    consumer = open_queue(db_file, clock)
    producer = open_queue(db_file, clock)

    async def scenario() -> None:
        waiting = asyncio.create_task(consumer.receive(5, wait_s=100_000))
        await producer.send(["late"])
        [got] = await waiting
        assert got.record["body"] == "late"
        assert clock.now() < 100_000  # woken by the commit, not by the deadline
        await consumer.close()
        await producer.close()

    asyncio.run(scenario())


SIGNAL_BOUND_S = 60.0
"""A bound, not a timing: the long poll's own checks are an hour apart, so only a signal ends it sooner."""


def _only_signals_wake(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the long poll's own checks rarer than any test waits: only a signal can wake it in time."""
    from batchmap.sources.sqlite import commit_wait

    monkeypatch.setattr(commit_wait, "QUIET_CHECK_S", 3600.0)
    monkeypatch.setattr(commit_wait, "POLL_MAX_S", 3600.0)


@pytest.mark.parametrize("wal_watch", [True, False], ids=["wal-watch", "doorbell-only"])
def test_a_send_in_this_process_wakes_the_long_poll(db_file: str, monkeypatch: pytest.MonkeyPatch,
                                                     wal_watch: bool) -> None:
    """The module's ``send`` (its own connection, another thread) rings the file's doorbell on commit."""
    from batchmap.sources.sqlite import send
    from batchmap.sources.sqlite.wal_watch import WalWatch

    _only_signals_wake(monkeypatch)
    if not wal_watch:
        monkeypatch.setattr(WalWatch, "open", classmethod(lambda cls, path: None))
    uri = f"sqlite:///{db_file}?queue=rung"

    async def scenario() -> None:
        consumer = await SqliteQueue.open(uri)
        waiting = asyncio.create_task(consumer.receive(5, wait_s=3600))
        await asyncio.sleep(0.05)  # the receive is in its long poll
        await asyncio.to_thread(send, uri, ["late"])
        [got] = await asyncio.wait_for(waiting, SIGNAL_BOUND_S)
        assert got.record["body"] == "late"
        await consumer.close()

    asyncio.run(scenario())


def test_a_send_from_another_process_wakes_the_long_poll(db_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process's commit writes the WAL, which the WAL watch sees (Linux inotify)."""
    import subprocess
    import sys

    from batchmap.sources.sqlite.wal_watch import WalWatch

    watch = WalWatch.open(db_file)
    if watch is None:
        pytest.skip("no inotify on this platform: the long poll polls")
    watch.close()
    _only_signals_wake(monkeypatch)
    uri = f"sqlite:///{db_file}?queue=rung"
    program = f"from batchmap.sources.sqlite import send; send({uri!r}, ['from afar'])"

    async def scenario() -> None:
        consumer = await SqliteQueue.open(uri)
        waiting = asyncio.create_task(consumer.receive(5, wait_s=3600))
        await asyncio.sleep(0.05)
        await asyncio.to_thread(subprocess.run, [sys.executable, "-c", program], check=True)
        [got] = await asyncio.wait_for(waiting, SIGNAL_BOUND_S)
        assert got.record["body"] == "from afar"
        await consumer.close()

    asyncio.run(scenario())


class _ExhaustedInotify:
    """A libc whose inotify instances are used up (EMFILE), as when fs.inotify.max_user_instances is reached."""

    def inotify_init1(self, flags: int) -> int:
        import ctypes
        import errno

        ctypes.set_errno(errno.EMFILE)
        return -1


def test_without_inotify_instances_another_process_s_send_is_polled_for_and_said_once(
    db_file: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import subprocess
    import sys

    from batchmap.sources.sqlite import wal_watch

    monkeypatch.setattr(wal_watch, "_libc", lambda: _ExhaustedInotify())
    monkeypatch.setattr(wal_watch, "_WARNED", set())
    uri = f"sqlite:///{db_file}?queue=polled"
    program = f"from batchmap.sources.sqlite import send; send({uri!r}, ['from afar'])"

    async def scenario() -> None:
        consumers = [await SqliteQueue.open(uri) for _ in range(2)]
        waiting = [asyncio.create_task(c.receive(5, wait_s=3600)) for c in consumers]
        await asyncio.sleep(0.05)
        await asyncio.to_thread(subprocess.run, [sys.executable, "-c", program], check=True)
        done, pending = await asyncio.wait(waiting, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        (got,) = [d for task in done for d in task.result()]
        assert got.record["body"] == "from afar"
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for consumer in consumers:
            await consumer.close()

    with caplog.at_level(logging.WARNING, logger="batchmap.sources.sqlite"):
        asyncio.run(scenario())
    said = [r.getMessage() for r in caplog.records if "inotify" in r.getMessage()]
    assert len(said) == 1, said
    assert "Too many open files" in said[0] and "fs.inotify.max_user_instances" in said[0]
