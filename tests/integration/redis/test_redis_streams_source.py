"""The Redis Streams source against a real Redis on 127.0.0.1, through its public opener."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis
from outage_proxy import OutageProxy
from waiting import wait_out

from batchmap.errors import ConfigError, MissingExtraError, SourceError
from batchmap.sources.base import QueueSource
from batchmap.sources.registry import SourceOptions, open_source

T = TypeVar("T")
SQS_RECORD_KEYS = {
    "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
    "eventSource", "eventSourceARN", "awsRegion",
}


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=60))


async def opened(stream: str, query: str = "", port: int = 6379, consumer: str | None = None) -> Any:
    uri = f"redis://127.0.0.1:{port}/0?stream={stream}{query}"
    return await open_source(uri, SourceOptions(consumer_name=consumer))


def test_record_has_the_sqs_shape_and_keeps_redis_metadata(stream: str) -> None:
    async def scenario() -> None:
        source = await opened(stream, consumer="c1")
        assert isinstance(source, QueueSource)
        assert (source.shape, source.fifo, source.visibility_timeout_s) == ("sqs", False, 30.0)
        [entry_id] = await source.send(["héllo"], attributes={"tenant": "acme"})
        [d] = await source.receive(10, 1)
        await source.close()
        r = d.record
        assert set(r) == SQS_RECORD_KEYS
        assert (r["messageId"], d.id, r["body"]) == (entry_id, entry_id, "héllo")
        assert r["receiptHandle"] == d.handle
        assert r["md5OfBody"] == hashlib.md5("héllo".encode()).hexdigest()
        assert (r["eventSource"], r["eventSourceARN"]) == ("aws:sqs", f"redis://127.0.0.1:6379/0/{stream}")
        assert r["messageAttributes"] == {"tenant": {
            "stringValue": "acme", "stringListValues": [], "binaryListValues": [], "dataType": "String"}}
        attrs = r["attributes"]
        assert all(isinstance(v, str) for v in attrs.values())
        assert attrs["ApproximateReceiveCount"] == "1"
        assert attrs["SentTimestamp"] == entry_id.split("-")[0]
        assert (attrs["RedisStreamEntryId"], attrs["RedisConsumerGroup"], attrs["RedisConsumer"]) == (
            entry_id, "batchmap", "c1")
        assert d.arrival_ms == int(entry_id.split("-")[0]) and d.receive_count == 1

    run(scenario)


def test_bodies_and_fields_come_back_exactly_as_added(stream: str) -> None:
    """Entries waiting in the stream come through the read script's JSON reply: every character intact."""
    bodies = ['{"a": "q\\"uote", "path": "/x/y"}', "tab\tnew\nline\u0000nul", "ünï 😀 ✓", "", " " * 3000]

    async def scenario() -> None:
        source = await opened(stream)
        ids = await source.send(bodies)
        await source.send(["with fields"], attributes={"k\"ey": "v/\u00e9", "n": ""})
        got = await source.receive(10, 1)
        await source.close()
        assert [(d.id, d.record["body"]) for d in got[:-1]] == list(zip(ids, bodies, strict=True))
        assert got[-1].record["body"] == "with fields"
        assert {k: v["stringValue"] for k, v in got[-1].record["messageAttributes"].items()} == {
            "k\"ey": "v/\u00e9", "n": ""}
        assert [d.size for d in got] == [len(json.dumps(d.record, separators=(",", ":"))) for d in got]

    run(scenario)


def test_a_body_that_is_not_utf8_is_an_error_naming_its_entry(stream: str) -> None:
    client = redis.Redis(host="127.0.0.1", port=6379)
    bad = client.xadd(stream, {"body": b"ok \xff\xfe"}).decode()
    client.close()

    async def scenario() -> None:
        source = await opened(stream)
        try:
            with pytest.raises(SourceError, match=f"entry {bad}: body is not UTF-8 text"):
                await source.receive(10, 1)
        finally:
            await source.close()

    run(scenario)


def test_delete_removes_and_a_stale_receipt_deletes_nothing(stream: str) -> None:
    async def scenario() -> None:
        source = await opened(stream, "&visibility_timeout=1")
        await source.send(["a", "b"])
        a, b = await source.receive(10, 1)
        assert await source.delete([a]) == 1
        assert await source.delete([a]) == 0
        await asyncio.sleep(1.1)
        [b2] = await source.receive(10, 2)  # b came back; a did not
        assert (b2.id, b2.receive_count) == (b.id, 2)
        assert await source.delete([b]) == 0  # the first receipt is stale now
        assert await source.delete([b2]) == 1
        assert await source.backlog() == (await source.backlog()).__class__(0, 0, 0, 0)
        assert redis.Redis().xlen(stream) == 0  # the only group: entries are XDEL-ed too
        await source.close()

    run(scenario)


def test_a_malformed_receipt_is_refused_by_name_before_anything_is_settled(stream: str) -> None:
    async def scenario() -> None:
        source = await opened(stream)
        await source.send(["a", "b"])
        a, b = await source.receive(10, 1)
        for settle in (source.delete, source.release):
            with pytest.raises(ConfigError, match=r"receiptHandle.*'1-0/x'"):
                await settle([a, b._replace(handle="1-0/x")])
        assert await source.delete([a, b]) == 2  # neither was settled by the refused calls
        await source.close()

    run(scenario)


def test_release_makes_a_message_visible_again_with_the_count_going_up(stream: str) -> None:
    async def scenario() -> None:
        source = await opened(stream, "&visibility_timeout=30")
        await source.send(["x"])
        [d] = await source.receive(10, 1)
        assert await source.receive(10, 0) == []
        await source.release([d])
        [again] = await source.receive(10, 2)
        assert (again.id, again.receive_count, again.record["attributes"]["ApproximateReceiveCount"]) == (
            d.id, 2, "2")
        await source.release([again], delay_s=1.0)
        assert await source.receive(10, 0) == []
        backlog = await source.backlog()
        assert (backlog.visible, backlog.in_flight) == (0, 1)
        [third] = await source.receive(10, 5)
        assert third.receive_count == 3
        await source.close()

    run(scenario)


def test_redelivery_after_the_visibility_timeout_then_dead_letter(stream: str) -> None:
    async def scenario() -> None:
        source = await opened(stream, "&visibility_timeout=1&max_receive_count=2")
        await source.send(["poison"], attributes={"kind": "bad"})
        counts = []
        for _ in range(2):
            [d] = await source.receive(10, 3)
            counts.append(d.receive_count)
        assert counts == [1, 2]
        assert await source.receive(10, 2.5) == []  # third delivery: dead-lettered instead
        backlog = await source.backlog()
        assert (backlog.total, backlog.dead_lettered) == (0, 1)
        [(_, fields)] = redis.Redis().xrange(f"{stream}:dlq")
        assert fields[b"body"] == b"poison" and fields[b"kind"] == b"bad"
        assert fields[b"dlq.source_id"] == d.id.encode() and fields[b"dlq.receive_count"] == b"2"
        await source.close()

        dlq = await opened(f"{stream}:dlq")  # a dead-letter stream is a source like any other
        [dead] = await dlq.receive(10, 1)
        assert dead.record["body"] == "poison"
        assert dead.record["messageAttributes"]["dlq.source_id"]["stringValue"] == d.id
        await dlq.close()

    run(scenario)


def test_a_dead_consumers_messages_are_claimed_only_once_idle_and_then_name_the_claimant(stream: str) -> None:
    """Redis alone: a dead consumer's entries stay in its pending list until they have been idle for the
    visibility timeout (XAUTOCLAIM), and the claimed records name the consumer that took them over. (That
    they come back at all is the contract suite's.)"""
    async def scenario() -> None:
        dying = await opened(stream, "&visibility_timeout=1", consumer="dying")
        await dying.send(["1", "2", "3"])
        held = await dying.receive(10, 1)
        await dying.close()  # never deletes: as if the process were killed
        survivor = await opened(stream, "&visibility_timeout=1", consumer="survivor")
        assert await survivor.receive(10, 0) == []
        back = await survivor.receive(10, 3)  # all three went idle together
        assert sorted(d.id for d in back) == sorted(d.id for d in held)
        assert {d.record["attributes"]["RedisConsumer"] for d in back} == {"survivor"}
        assert await survivor.delete(back) == 3
        await survivor.close()

    run(scenario)


def test_an_outage_fails_calls_as_transient_and_loses_nothing(stream: str) -> None:
    """During an outage every call fails with a transient error (the engine waits it out); after it,
    new connections are made and the messages left in flight come back."""

    async def scenario() -> None:
        proxy = OutageProxy(6379)
        await proxy.up()
        source = await opened(stream, "&visibility_timeout=3", port=proxy.port)
        await source.send([str(i) for i in range(60)])
        done: set[str] = set()
        first = await source.receive(10, 1)
        await source.delete(first[:5])  # the other 5 are in flight when the broker goes away
        done |= {d.record["body"] for d in first[:5]}

        await proxy.down()
        for call in (lambda: source.receive(10, 1), lambda: source.delete(first[5:6]), source.backlog):
            with pytest.raises(SourceError) as failed:
                await call()
            assert failed.value.transient, failed.value
        blocked = asyncio.create_task(wait_out(lambda: source.receive(10, 1)))
        settle = asyncio.create_task(wait_out(lambda: source.delete(first[5:6])))
        await asyncio.sleep(1.0)
        assert not blocked.done() and not settle.done()  # waited out, not failed
        await proxy.up()
        assert await asyncio.wait_for(settle, 20) == 1
        done.add(first[5].record["body"])
        got = await asyncio.wait_for(blocked, 20)
        while got:
            assert await source.delete(got) == len(got)
            done |= {d.record["body"] for d in got}
            got = await source.receive(10, 4)
        assert done == {str(i) for i in range(60)}
        assert (await source.backlog()).total == 0
        await source.close()
        await proxy.down()

    run(scenario)


def test_a_killed_connection_fails_one_call_as_transient_and_is_replaced(stream: str) -> None:
    async def scenario() -> None:
        source = await opened(stream, consumer=f"kill-{stream}")
        await source.send(["a"])
        admin = redis.Redis()
        ours = [c for c in admin.client_list() if c["name"] == f"batchmap-kill-{stream}"]
        assert ours
        for c in ours:
            admin.client_kill_filter(_id=c["id"])
        [d] = await wait_out(lambda: source.receive(10, 2))
        assert await source.delete([d]) == 1
        await source.close()

    run(scenario)


def test_bad_credentials_are_a_fatal_error() -> None:
    async def scenario() -> None:
        source = await opened(f"cred{uuid.uuid4().hex[:8]}")
        source._r.connection_pool.connection_kwargs.update(username="nobody", password="wrong")  # rotated meanwhile
        await source._r.connection_pool.disconnect()
        source._r.connection_pool.reset()  # new connections, made with the new credentials
        with pytest.raises(SourceError) as failed:
            await source.receive(1, 0)
        assert not failed.value.transient and "AuthenticationError" in str(failed.value)
        await source.close()

    run(scenario)


def test_bad_uris_name_the_option(stream: str) -> None:
    async def scenario() -> None:
        with pytest.raises(ConfigError, match="stream"):
            await open_source("redis://127.0.0.1:6379/0")
        with pytest.raises(ConfigError, match=r"visibility_timeout.*'soon'"):
            await opened(stream, "&visibility_timeout=soon")
        with pytest.raises(ConfigError, match="max_recieve_count"):
            await opened(stream, "&max_recieve_count=3")
        source = await opened(stream)
        with pytest.raises(ConfigError, match="delay_s"):
            await source.send(["x"], delay_s=5)
        await source.close()

    run(scenario)


def test_a_missing_client_library_names_the_extra(monkeypatch: pytest.MonkeyPatch, redis_up: None) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'batchmap\[redis\]'"):
        asyncio.run(open_source("redis://127.0.0.1:6379/0?stream=s"))
