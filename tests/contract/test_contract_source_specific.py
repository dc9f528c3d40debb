"""Source-specific behaviour through the engine: what one broker does that the shared contract cannot ask of all."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import contract_handlers as h
from contract_support import drain, engine_for, logged, mapping, messages, start, wait_for_lines, wait_until
from contract_target import Kit


def test_sqs_fills_a_batch_over_ten_from_concurrent_receives(sqs_kit: Kit) -> None:
    """SQS hands out at most 10 per ReceiveMessage; a BatchSize of 25 is one invocation all the same."""
    target = sqs_kit.create()
    target.send(messages(25))
    drain(target, mapping(target, "ok", batch_size=25, maximum_batching_window_in_seconds=1))
    assert [len(call.ids) for call in h.CALLS] == [25]


def test_postgres_rows_inserted_with_plain_sql_reach_a_running_engine(postgres_kit: Kit) -> None:
    """Any client can enqueue with INSERT (the columns have defaults); ``attributes`` become message attributes."""
    import psycopg

    target = postgres_kit.create()
    dsn = target.uri.split("?")[0]

    async def scenario() -> None:
        engine = engine_for(target, mapping(target, "ok"))
        run = asyncio.create_task(engine.run())
        await asyncio.sleep(0.5)  # the engine is in a long poll on an empty table
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await conn.execute(f'INSERT INTO "{target.name}" (body, attributes) VALUES (%s, %s)',
                               (json.dumps({"id": "sql-1"}), json.dumps({"tenant": "acme"})))
        await wait_until(lambda: h.processed() == {"sql-1": 1}, "the inserted row")
        engine.stop()
        await run

    asyncio.run(asyncio.wait_for(scenario(), 60))
    [record] = h.RECORDS
    assert record["messageAttributes"]["tenant"]["stringValue"] == "acme"
    assert target.backlog().total == 0


def test_redis_entry_fields_arrive_as_message_attributes(redis_kit: Kit) -> None:
    """An entry added by any Redis client: field ``body`` is the body, the other fields message attributes."""
    import redis

    target = redis_kit.create()
    client = redis.Redis.from_url(target.uri.split("?")[0])
    client.xadd(target.name, {"body": json.dumps({"id": "r-1"}), "tenant": "acme"})
    client.close()
    drain(target, mapping(target, "ok"))
    [record] = h.RECORDS
    assert record["messageAttributes"] == {"tenant": {"stringValue": "acme", "stringListValues": [],
                                                      "binaryListValues": [], "dataType": "String"}}
    assert record["attributes"]["RedisStream"] == target.name


def test_rabbitmq_gives_a_killed_engines_messages_back_at_once(rabbitmq_kit: Kit, tmp_path: Path) -> None:
    """Its connection closes with the process: nothing waits for the visibility timeout."""
    target = rabbitmq_kit.create(visibility_timeout_s=600)
    target.send(messages(40))
    log = tmp_path / "processed.log"
    engine = start(target, log, "--batch-size", "5", sleep_s=0.1)
    try:
        wait_for_lines(log, 10, engine)
    finally:
        engine.kill()
        engine.wait(10)
    done = {message_id for message_id, _ in logged(log)}
    deadline = time.monotonic() + 10
    # Every message is acknowledged or visible again at once (a batch logged but not yet acknowledged at the
    # kill comes back too, so at least 40 - done are visible), and nothing waits for the visibility timeout.
    while (backlog := target.backlog()).in_flight or backlog.visible < 40 - len(done):
        assert time.monotonic() < deadline, f"the broker kept the killed engine's messages: {backlog}"
        time.sleep(0.1)
