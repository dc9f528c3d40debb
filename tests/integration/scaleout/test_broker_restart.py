"""A broker restart mid-run: the engine (not only the source) rides it out and loses nothing.

Redis: the engine's connection goes through a loopback proxy that is taken
down and brought back (a real restart would empty this Redis, which has no
persistence). RabbitMQ: ``rabbitmqctl stop_app`` / ``start_app``, restored in
a ``finally``. In both, the engine keeps running through the outage, reconnects
by itself and processes every message; the only repeats are the batches it
had in flight each time the connection dropped (a broker that is still starting
may take a connection and drop it again: each drop the engine saw counts).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable

import contract_handlers as h
import pytest
import rabbitmq_control
from contract_support import engine_for, mapping, messages, wait_until
from contract_target import Kit, Target
from outage_proxy import OutageProxy

from batchmap.config import ScalingConfig

COUNT = 120
BATCH = 5
LANES = 2
Action = Callable[[], Awaitable[None]]


async def _through_an_outage(target: Target, uri: str, down: Action, up: Action, outage_s: float) -> None:
    """Run the engine on ``uri``; after a third of the messages, take the broker away for ``outage_s``."""
    settings = mapping(target, "ok", batch_size=BATCH, scaling_config=ScalingConfig(maximum_concurrency=LANES))
    engine = engine_for(target, dataclasses.replace(settings, source=uri))
    run = asyncio.create_task(engine.run())
    await wait_until(lambda: len(h.processed()) >= COUNT // 3, "a third of the messages")
    await down()
    try:
        await asyncio.sleep(outage_s)
        assert not run.done(), "the engine stopped during the outage"
    finally:
        await up()
    await wait_until(lambda: len(h.processed()) == COUNT, "every message after the outage", 90)
    await _drained(target)
    engine.stop()
    await asyncio.wait_for(run, 30)


async def _drained(target: Target, timeout_s: float = 60) -> None:
    """Wait until the queue holds nothing: an ack sent just before its connection died was lost, so the broker
    requeued that message and the engine processes it again (at least once), after every id was seen once."""
    deadline = time.monotonic() + timeout_s
    while (backlog := await asyncio.to_thread(target.backlog)).total:
        assert time.monotonic() < deadline, f"the queue still holds {backlog}"
        await asyncio.sleep(0.2)


def _check(target: Target, caplog: pytest.LogCaptureFixture) -> None:
    done = h.processed()
    assert sorted(done) == [m["id"] for m in messages(COUNT)]  # nothing lost
    lines = [r.getMessage() for r in caplog.records if r.name == "batchmap.engine"]
    drops = sum("waiting it out with backoff" in line or "failed again soon after" in line for line in lines)
    assert drops, lines  # the engine met the outage (else this test proves nothing)
    twice = [i for i, n in done.items() if n > 1]
    # only the batches in flight each time the connection dropped
    assert len(twice) <= LANES * BATCH * drops, (twice, lines)
    assert target.backlog().total == 0


def test_the_engine_rides_out_a_redis_outage(redis_kit: Kit, caplog: pytest.LogCaptureFixture) -> None:
    target = redis_kit.create(visibility_timeout_s=2)  # what was in flight at the drop is claimed again this late
    target.send(messages(COUNT))
    h.reset(sleep_s=0.05)

    async def scenario() -> None:
        outage = OutageProxy(6379)
        await outage.up()
        # the proxy drops every connection at once: within a second the engine fails several calls and backs off
        # (a longer outage only grows its jittered pauses towards 5 s, and with them the wait after it)
        await _through_an_outage(target, target.uri.replace(":6379/", f":{outage.port}/"), outage.down, outage.up,
                                 outage_s=1)
        await outage.down()

    with caplog.at_level(logging.INFO, logger="batchmap.engine"):
        asyncio.run(asyncio.wait_for(scenario(), 150))
    _check(target, caplog)


@pytest.mark.slow
@pytest.mark.restarts_broker
def test_the_engine_rides_out_a_rabbitmq_restart(rabbitmq_kit: Kit, caplog: pytest.LogCaptureFixture) -> None:
    rabbitmq_control.require()
    target = rabbitmq_kit.create(visibility_timeout_s=30)
    target.send(messages(COUNT))
    h.reset(sleep_s=0.05)

    async def down() -> None:
        await asyncio.to_thread(rabbitmq_control.away)

    async def up() -> None:
        await asyncio.to_thread(rabbitmq_control.back)

    with caplog.at_level(logging.INFO, logger="batchmap.engine"):
        asyncio.run(asyncio.wait_for(_through_an_outage(target, target.uri, down, up, outage_s=2), 180))
    _check(target, caplog)
