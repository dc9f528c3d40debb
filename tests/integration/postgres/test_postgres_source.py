"""The PostgreSQL source against a real PostgreSQL on 127.0.0.1, through its public opener."""

from __future__ import annotations

import asyncio
import hashlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
import pytest
from queue_checks import receive_up_to_n_then_long_poll
from waiting import wait_out

from batchmap.errors import ConfigError, MissingExtraError, SourceError
from batchmap.sources.base import QueueSource
from batchmap.sources.registry import SourceOptions, open_source

T = TypeVar("T")
DSN = "postgresql://postgres@127.0.0.1:5432/test"
SQS_RECORD_KEYS = {
    "messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
    "eventSource", "eventSourceARN", "awsRegion",
}


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=60))


async def opened(queue: str, query: str = "") -> Any:
    return await open_source(f"{DSN}?queue={queue}{query}", SourceOptions())


def sql(query: str) -> list[Any]:
    with psycopg.connect(DSN, autocommit=True) as conn:
        cur = conn.execute(query)
        return cur.fetchall() if cur.description else []


def test_record_has_the_sqs_shape_and_keeps_the_row_id(queue: str) -> None:
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
        assert (r["eventSource"], r["eventSourceARN"]) == ("aws:sqs", f"postgresql://127.0.0.1:5432/test/{queue}")
        assert r["messageAttributes"]["tenant"]["stringValue"] == "acme"
        attrs = r["attributes"]
        assert all(isinstance(v, str) for v in attrs.values())
        assert attrs["ApproximateReceiveCount"] == "1"
        [(row_id,)] = sql(f'SELECT id FROM "{queue}"')
        assert (attrs["PostgresRowId"], attrs["PostgresTable"]) == (str(row_id), f"public.{queue}")
        assert int(attrs["SentTimestamp"]) == d.arrival_ms > 0

    run(scenario)


def test_rows_inserted_by_plain_sql_are_messages_too(queue: str) -> None:
    async def scenario() -> None:
        source = await opened(queue)
        sql(f"""INSERT INTO "{queue}" (body, attributes) VALUES ('from sql', '{{"n": 1}}')""")
        [d] = await source.receive(10, 2)
        assert d.record["body"] == "from sql"
        assert d.record["messageAttributes"]["n"]["stringValue"] == "1"
        await source.close()

    run(scenario)


def test_receive_takes_up_to_n_and_a_long_poll_wakes_on_notify(queue: str) -> None:
    async def scenario() -> None:
        async def insert_late() -> None:  # another client: the trigger notifies
            sql(f"""INSERT INTO "{queue}" (body) VALUES ('late')""")

        await receive_up_to_n_then_long_poll(await opened(queue), send_late=insert_late)

    run(scenario)


def test_delete_needs_the_current_lease(queue: str) -> None:
    async def scenario() -> None:
        source = await opened(queue, "&visibility_timeout=1")
        await source.send(["a", "b"])
        a, b = await source.receive(10, 2)
        assert await source.delete([a]) == 1
        assert await source.delete([a]) == 0
        [b2] = await source.receive(10, 3)  # b's lease ran out; it came back with a new lease
        assert (b2.id, b2.receive_count) == (b.id, 2)
        assert await source.delete([b]) == 0  # a stale consumer cannot delete it
        assert await source.delete([b2]) == 1
        assert (await source.backlog()).total == 0
        assert sql(f'SELECT count(*) FROM "{queue}"') == [(0,)]
        await source.close()

    run(scenario)


def test_release_now_or_after_a_delay_ends_the_lease(queue: str) -> None:
    async def scenario() -> None:
        source = await opened(queue)
        await source.send(["x"])
        [d] = await source.receive(10, 2)
        await source.release([d])
        assert await source.delete([d]) == 0
        [again] = await source.receive(10, 3)
        assert (again.id, again.receive_count) == (d.id, 2)
        await source.release([again], delay_s=1.0)
        assert await source.receive(10, 0) == []
        assert (await source.backlog()).delayed == 1
        [third] = await source.receive(10, 5)  # the long poll wakes when the delay ends
        assert third.receive_count == 3
        await source.close()

    run(scenario)


def test_dead_letter_after_max_receive_count(queue: str) -> None:
    async def scenario() -> None:
        source = await opened(queue, "&visibility_timeout=1&max_receive_count=2")
        await source.send(["poison"], attributes={"kind": "bad"})
        [first] = await source.receive(10, 2)
        [second] = await source.receive(10, 3)
        assert (first.receive_count, second.receive_count) == (1, 2)
        assert await source.receive(10, 2.5) == []
        backlog = await source.backlog()
        assert (backlog.total, backlog.dead_lettered) == (0, 1)
        await source.close()

        dlq = await opened(f"{queue}_dlq")  # the dead-letter table is a queue like any other
        [dead] = await dlq.receive(10, 1)
        attrs = dead.record["messageAttributes"]
        assert (dead.id, dead.record["body"], dead.receive_count) == (first.id, "poison", 1)
        assert attrs["kind"]["stringValue"] == "bad" and attrs["dlq.receive_count"]["stringValue"] == "2"
        await dlq.close()

    run(scenario)


def test_terminated_connections_are_replaced_and_nothing_is_lost(queue: str) -> None:
    async def scenario() -> None:
        app = f"bm-{queue}"
        source = await opened(queue, f"&application_name={app}")
        await source.send([str(i) for i in range(20)])
        first = await source.receive(5, 2)
        await asyncio.sleep(0.5)  # the listener connects in the background
        killed = sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{app}'")
        assert len(killed) == 2  # the work connection and the listener
        with pytest.raises(SourceError) as failed:  # the call that meets the dead connection: transient
            await source.delete(first)
        assert failed.value.transient, failed.value
        assert await wait_out(lambda: source.delete(first)) == 5  # the next one reconnects
        done = {d.record["body"] for d in first}
        while got := await source.receive(10, 0.5):
            assert await source.delete(got) == len(got)
            done |= {d.record["body"] for d in got}
        assert done == {str(i) for i in range(20)}

        poll = asyncio.create_task(source.receive(10, 45))  # the listener is back: NOTIFY still wakes
        await asyncio.sleep(0.5)
        sql(f"""INSERT INTO "{queue}" (body) VALUES ('after')""")
        assert [d.record["body"] for d in await asyncio.wait_for(poll, 20)] == ["after"]
        await source.close()

    run(scenario)


def test_a_dropped_table_is_a_fatal_error_naming_it(queue: str) -> None:
    async def scenario() -> None:
        source = await opened(queue)
        sql(f'DROP TABLE "{queue}" CASCADE')
        with pytest.raises(SourceError) as failed:
            await source.receive(1, 0)
        assert not failed.value.transient and queue in str(failed.value), failed.value
        await source.close()

    run(scenario)


def test_bad_uris_name_the_option(queue: str) -> None:
    async def scenario() -> None:
        with pytest.raises(ConfigError, match="queue"):
            await open_source(DSN)
        with pytest.raises(ConfigError, match=r"queue.*'bad name'"):
            await opened("bad name")
        with pytest.raises(ConfigError, match=r"max_receive_count.*'0'"):
            await opened(queue, "&max_receive_count=0")
        with pytest.raises(ConfigError, match="visibility"):
            await opened(queue, "&visibility=3")
        source = await opened(queue)
        with pytest.raises(ConfigError, match="message_group_id"):
            await source.send(["x"], message_group_id="g")
        await source.close()

    run(scenario)


def test_a_missing_client_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'batchmap\[postgres\]'"):
        asyncio.run(open_source(f"{DSN}?queue=q"))
