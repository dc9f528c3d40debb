"""The quick end of a drain: it must still wait for delayed and in-flight messages, and a stop strands nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import engine_handlers as h
import pytest
from engine_support import drain

from batchmap.config import EventSourceMapping
from batchmap.config.function import FunctionConfig
from batchmap.engine.service import Engine
from batchmap.sources.sqlite import SqliteQueue, admin


def queue(tmp_path: Path, **attributes: str) -> str:
    uri = f"sqlite:///{tmp_path}/drain.db?queue=q"
    admin.create_queue(uri, attributes)
    return uri


def mapping(uri: str, **settings: object) -> EventSourceMapping:
    function = FunctionConfig(handler="engine_handlers:record", timeout_s=1.0)
    return EventSourceMapping(source=uri, function=function, **settings)  # type: ignore[arg-type]


def test_a_drain_waits_for_delayed_messages(tmp_path: Path) -> None:
    uri = queue(tmp_path)
    admin.send(uri, [json.dumps({"n": i}) for i in range(5)])
    admin.send(uri, [json.dumps({"n": 5})], delay_s=1)
    report = drain(mapping(uri, batch_size=10))
    assert sorted(b["n"] for b in h.bodies()) == list(range(6))
    assert report.total("DeletedEventCount") == 6 and admin.inspect(uri).total == 0


def test_a_drain_waits_for_messages_another_consumer_left_in_flight(tmp_path: Path) -> None:
    uri = queue(tmp_path, VisibilityTimeout="1")
    admin.send(uri, [json.dumps({"n": i}) for i in range(3)])

    async def crashed_consumer() -> None:  # receives and never deletes, as a killed engine would
        source = await SqliteQueue.open(uri)
        assert len(await source.receive(2, 0)) == 2
        await source.close()

    asyncio.run(crashed_consumer())
    report = drain(mapping(uri, batch_size=10))
    assert sorted(b["n"] for b in h.bodies()) == [0, 1, 2]
    assert report.total("DeletedEventCount") == 3 and admin.inspect(uri).total == 0


def test_a_receive_cancelled_while_the_database_works_gives_its_messages_back(tmp_path: Path) -> None:
    uri = queue(tmp_path)
    admin.send(uri, [json.dumps({"n": i}) for i in range(5)])

    async def scenario() -> None:
        source = await SqliteQueue.open(uri)
        assert source.receive_cancel_safe
        receiving = asyncio.ensure_future(source.receive(10, 5.0))
        await asyncio.sleep(0)  # the receive is now waiting for the database thread
        receiving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await receiving
        backlog = await source.backlog()
        assert (backlog.visible, backlog.in_flight) == (5, 0)
        assert len(await source.receive(10, 0)) == 5  # visible at once, not after the visibility timeout
        await source.close()

    asyncio.run(scenario())


def test_a_stop_during_long_polls_strands_nothing(tmp_path: Path) -> None:
    uri = queue(tmp_path)
    engine = Engine([mapping(uri, batch_size=10)], invoker="inprocess")

    async def scenario() -> None:
        run = asyncio.create_task(engine.run())
        await asyncio.sleep(0.3)  # the lanes are in their (1 s) long polls on the empty queue
        engine.stop()
        await asyncio.wait_for(run, 30)
        admin.send(uri, [json.dumps({"n": 1})])

    asyncio.run(scenario())
    assert h.EVENTS == []
    backlog = admin.inspect(uri)
    assert (backlog.visible, backlog.in_flight) == (1, 0)
