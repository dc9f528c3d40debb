"""The NATS JetStream source against a real nats-server on 127.0.0.1, through its public opener."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from outage_proxy import OutageProxy
from waiting import wait_out

from batchmap.errors import ConfigError, MissingExtraError, SourceError
from batchmap.sources.base import QueueSource
from batchmap.sources.registry import SourceOptions, open_source

T = TypeVar("T")
URL = "nats://127.0.0.1:4222"
SQS_RECORD_KEYS = {
    "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
    "eventSource", "eventSourceARN", "awsRegion",
}


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=60))


async def opened(stream: str, query: str = "") -> Any:
    return await open_source(f"{URL}?stream={stream}{query}", SourceOptions())


def test_record_has_the_sqs_shape_and_keeps_nats_metadata(stream: str) -> None:
    async def scenario() -> None:
        source = await opened(stream, "&subject=orders.new")
        assert isinstance(source, QueueSource)
        assert (source.shape, source.fifo, source.visibility_timeout_s) == ("sqs", False, 30.0)
        [seq] = await source.send(["héllo"], attributes={"tenant": "acme"})
        [d] = await source.receive(10, 2)
        await source.close()
        r = d.record
        assert set(r) == SQS_RECORD_KEYS
        assert (r["messageId"], d.id, r["body"]) == (seq, seq, "héllo")
        assert r["md5OfBody"] == hashlib.md5("héllo".encode()).hexdigest()
        assert (r["eventSource"], r["eventSourceARN"]) == ("aws:sqs", f"nats://127.0.0.1:4222/{stream}/batchmap")
        assert r["messageAttributes"]["tenant"]["stringValue"] == "acme"
        attrs = r["attributes"]
        assert all(isinstance(v, str) for v in attrs.values())
        assert attrs["ApproximateReceiveCount"] == "1"
        assert (attrs["NatsStream"], attrs["NatsSubject"], attrs["NatsStreamSequence"]) == (
            stream, "orders.new", seq)
        assert int(attrs["SentTimestamp"]) == d.arrival_ms > 0

    run(scenario)


def test_the_late_end_of_an_earlier_pull_request_does_not_end_a_long_poll(stream: str) -> None:
    """The server ends a pull request with a status sent to its reply subject; one that comes late
    (after its poll gave up) must not cut the next poll short."""
    import nats

    async def scenario() -> None:
        source = await opened(stream)
        assert await source.receive(10, 0.1) == []  # requests 1 and 2 of the source's inbox
        poll = asyncio.create_task(source.receive(10, 5))
        await asyncio.sleep(0.3)
        other = await nats.connect(URL)
        await other.publish(f"{source._puller.inbox}.2", b"", headers={"Status": "408", "Description": "late"})
        await other.flush()
        await asyncio.sleep(0.3)
        assert not poll.done()
        await source.send(["after"])
        got = await asyncio.wait_for(poll, 5)
        await other.close()
        assert [d.record["body"] for d in got] == ["after"]
        await source.close()

    run(scenario)


def test_delete_acks_and_the_message_is_gone(stream: str) -> None:
    async def scenario() -> None:
        source = await opened(stream, "&ack_wait=1")
        await source.send(["a", "b"])
        a, b = await source.receive(10, 2)
        assert await source.delete([a]) == 1
        await asyncio.sleep(1.2)
        [b2] = await source.receive(10, 3)  # b came back after ack_wait; a did not
        assert (b2.id, b2.receive_count) == (b.id, 2)
        assert await source.delete([b2]) == 1
        assert (await source.backlog()).total == 0
        assert await source.receive(10, 1.5) == []
        await source.close()

    run(scenario)


def test_release_naks_now_or_after_a_delay(stream: str) -> None:
    async def scenario() -> None:
        source = await opened(stream)
        await source.send(["x"])
        [d] = await source.receive(10, 2)
        await source.release([d])
        [again] = await source.receive(10, 3)
        assert (again.id, again.receive_count) == (d.id, 2)
        await source.release([again], delay_s=1.0)
        assert await source.receive(10, 0.3) == []
        [third] = await source.receive(10, 5)
        assert third.receive_count == 3
        await source.close()

    run(scenario)


def test_exhausted_messages_go_to_the_dead_letter_subject(stream: str) -> None:
    async def scenario() -> None:
        query = f"&ack_wait=1&max_deliver=2&dead_letter_subject={stream}.dead"
        source = await opened(stream, query)
        await source.send(["poison"], attributes={"kind": "bad"})
        [first] = await source.receive(10, 2)
        await source.release([first])
        [second] = await source.receive(10, 3)  # this one is left to run out its ack_wait
        assert (first.receive_count, second.receive_count) == (1, 2)
        assert await source.receive(10, 2.5) == []
        backlog = await source.backlog()
        assert (backlog.visible, backlog.dead_lettered) == (0, 1)
        await source.close()

        dlq = await opened(f"{stream}_DLQ", f"&subject={stream}.dead")  # a source like any other
        [dead] = await dlq.receive(10, 2)
        attrs = dead.record["messageAttributes"]
        assert dead.record["body"] == "poison" and attrs["kind"]["stringValue"] == "bad"
        assert attrs["Batchmap-Source-Sequence"]["stringValue"] == first.id
        assert attrs["Batchmap-Receive-Count"]["stringValue"] == "2"
        await dlq.close()

    run(scenario)


def test_publishing_with_a_deduplication_id_stores_the_message_once(stream: str) -> None:
    async def scenario() -> None:
        source = await opened(stream)
        first = await source.send(["once"], deduplication_id="order-42")
        again = await source.send(["once"], deduplication_id="order-42")
        assert first == again
        got = await source.receive(10, 1)
        assert [d.record["messageAttributes"]["Nats-Msg-Id"]["stringValue"] for d in got] == ["order-42"]
        await source.close()

    run(scenario)


def test_bad_uris_name_the_option(stream: str) -> None:
    async def scenario() -> None:
        with pytest.raises(ConfigError, match="stream"):
            await open_source(URL)
        with pytest.raises(ConfigError, match=r"ack_wait.*'long'"):
            await opened(stream, "&ack_wait=long")
        with pytest.raises(ConfigError, match="needs max_deliver"):
            await opened(stream, f"&dead_letter_subject={stream}.dead")
        source = await opened(stream, "&ack_wait=5")
        await source.close()
        with pytest.raises(ConfigError, match="already exists with ack_wait"):
            await opened(stream, "&ack_wait=9")

    run(scenario)


def test_a_missing_client_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nats", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'batchmap\[nats\]'"):
        asyncio.run(open_source(f"{URL}?stream=s"))


def test_an_outage_fails_calls_as_transient_and_loses_nothing(stream: str) -> None:
    """nats-py reconnects by itself; meanwhile receives and acks fail with a transient error (the engine
    waits it out), and what was in flight comes back after ack_wait."""

    async def scenario() -> None:
        proxy = OutageProxy(4222)
        await proxy.up()
        source = await open_source(f"nats://127.0.0.1:{proxy.port}?stream={stream}&ack_wait=3", SourceOptions())
        await source.send([str(i) for i in range(40)])
        first = await source.receive(10, 2)
        assert await source.delete(first[:5]) == 5
        done = {d.record["body"] for d in first[:5]}

        await proxy.down()
        with pytest.raises(SourceError) as failed:
            await source.backlog()
        assert failed.value.transient, failed.value
        settle = asyncio.create_task(wait_out(lambda: source.delete(first[5:6])))
        await asyncio.sleep(0.5)
        assert not settle.done()  # waiting for the server, not failing
        await proxy.up()
        assert await asyncio.wait_for(settle, 30) == 1
        done.add(first[5].record["body"])
        for _ in range(40):
            got = await wait_out(lambda: source.receive(10, 1))
            assert await source.delete(got) == len(got)
            done |= {d.record["body"] for d in got}
            if len(done) == 40:
                break
        assert done == {str(i) for i in range(40)}  # the 4 left in flight came back after ack_wait
        await source.close()
        await proxy.down()

    run(scenario)


def test_close_gives_back_what_a_late_pull_reply_delivered(stream: str) -> None:
    """Under load a pull request's reply can come after its poll gave up: the messages wait for the next poll.

    At close there is none: they are given back (delivered again at once), not left in flight for ack_wait.
    """
    import json

    async def scenario() -> None:
        source = await opened(stream)
        await source.send(["a", "b", "c"])
        puller = source._puller
        # a request whose poll is gone: its reply lands in the puller, which holds it for a next poll
        await source._nc.publish(puller._subject, json.dumps({"batch": 3, "no_wait": True}).encode(),
                                 reply=f"{puller.inbox}.late")
        while len(puller._arrived) < 3:  # the outer 60 s bound ends a reply that never comes
            await asyncio.sleep(0.01)
        assert (await source.backlog()).in_flight == 3
        await source.close()
        other = await opened(stream)  # the consumer's ack wait is 30 s: only a -NAK makes them come back now
        try:
            got = await other.receive(10, 5)
            assert sorted(d.record["body"] for d in got) == ["a", "b", "c"]
            await other.delete(got)
        finally:
            await other.close()

    run(scenario)
