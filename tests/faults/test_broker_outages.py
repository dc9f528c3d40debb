"""A broker outage mid-run, for every broker source: the engine waits it out and drains, nothing lost.

The engine reaches its broker through a loopback proxy (tests/support/outage_proxy.py)
that is cut for a few seconds and restored: from the client's side, exactly a
broker that went away (connections reset, new ones refused) and came back with
its data. The engine must keep running through the outage, log it once when it
starts and once when it ends, count the failed calls (``PollingErrorCount``), and
afterwards process every message; repeats are only what was in flight when the
connection dropped. Kafka runs on a Tansu broker of its own that tells clients to
connect through the proxy; its consumer fetches ahead, so half the messages are
produced after the outage and must come through the reconnected consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import contract_handlers as h
import pytest
from contract_queue_kits import NatsKit, PostgresKit, RabbitMQKit, RedisKit, SqsKit
from contract_services import Moto, require
from contract_stream_kits import KafkaKit
from contract_support import engine_for, mapping, messages, wait_until
from contract_target import Target
from emulators import free_port, tansu_broker
from fault_support import figure
from outage_proxy import OutageProxy

from batchmap.config import ScalingConfig
from batchmap.sources.base import QueueSource
from batchmap.sources.registry import open_source

COUNT = 60
BATCH = 5
LANES = 2
OUTAGE_S = 2.5
BROKERS = ("redis", "rabbitmq", "nats", "postgres", "sqs", "kafka")


@dataclasses.dataclass
class Proxied:
    """A fresh queue or topic whose engine goes through ``proxy``; ``target`` is what the engine is given."""

    target: Target
    proxy: OutageProxy


def through(target: Target, port: int, proxy: OutageProxy) -> Proxied:
    """``target`` with its broker port replaced by the proxy's, in the URI or the endpoint."""
    if target.options.endpoint_url:
        options = dataclasses.replace(target.options,
                                      endpoint_url=target.options.endpoint_url.replace(f":{port}", f":{proxy.port}"))
        return Proxied(dataclasses.replace(target, options=options), proxy)
    return Proxied(dataclasses.replace(target, uri=target.uri.replace(f":{port}", f":{proxy.port}")), proxy)


@contextlib.asynccontextmanager
async def proxied(broker: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Proxied]:
    """A fresh queue (or topic) on ``broker`` and a proxy in front of it, up."""
    if broker == "kafka":
        async with kafka_through_a_proxy(tmp_path) as found:
            yield found
        return
    if broker == "sqs":
        moto: Moto = request.getfixturevalue("moto")
        kit: SqsKit | RedisKit | RabbitMQKit | NatsKit | PostgresKit = SqsKit(tmp_path, moto)
        port = int(moto.url.rsplit(":", 1)[1])
    else:
        port = require(broker)
        kit = {"redis": RedisKit, "rabbitmq": RabbitMQKit, "nats": NatsKit, "postgres": PostgresKit}[broker](
            tmp_path, port)
    proxy = OutageProxy(port)
    await proxy.up()
    try:
        target = await asyncio.to_thread(kit.create, visibility_timeout_s=3)
        await asyncio.to_thread(target.send, messages(COUNT))
        yield through(target, port, proxy)
    finally:
        await proxy.down()
        await asyncio.to_thread(kit.cleanup)


@contextlib.asynccontextmanager
async def kafka_through_a_proxy(tmp_path: Path) -> AsyncIterator[Proxied]:
    """A Tansu broker of its own that advertises the proxy's port, so every connection goes through it."""
    port = free_port()
    with tansu_broker(tmp_path / "tansu.log", advertised_port=port) as broker:
        proxy = OutageProxy(int(broker.rsplit(":", 1)[1]))
        proxy.port = port
        await proxy.up()
        kit = KafkaKit(tmp_path, f"127.0.0.1:{port}")
        try:
            target = await asyncio.to_thread(kit.create, shards=2)
            await asyncio.to_thread(target.send, messages(COUNT)[:COUNT // 2])
            yield Proxied(target, proxy)
        finally:
            await proxy.down()  # the broker and its topics go with it


@pytest.fixture
def outage_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.WARNING, logger="batchmap.engine"):
        yield caplog


@pytest.mark.parametrize("broker", BROKERS)
def test_the_engine_waits_out_a_broker_outage_and_loses_nothing(
    broker: str, tmp_path: Path, request: pytest.FixtureRequest, outage_log: pytest.LogCaptureFixture
) -> None:
    h.reset(sleep_s=0.02)

    async def scenario() -> dict[str, float]:
        async with proxied(broker, tmp_path, request) as found:
            stream = found.target.kind == "stream"
            lanes = {} if stream else {"scaling_config": ScalingConfig(maximum_concurrency=LANES)}
            settings = mapping(found.target, "ok", batch_size=BATCH, **lanes)
            engine = engine_for(found.target, settings)
            run = asyncio.create_task(engine.run())
            try:
                await wait_until(lambda: len(h.processed()) >= COUNT // 3, "a third of the messages")
                await found.proxy.down()
                await asyncio.sleep(OUTAGE_S)
                assert not run.done(), f"the engine stopped during the outage: {run.exception()!r}"
                done_before = len(h.processed())
                await found.proxy.up()
                restored = time.monotonic()
                if stream:  # the consumer fetched the rest before the outage: the rest must come through it
                    await asyncio.to_thread(found.target.send, messages(COUNT)[COUNT // 2:])
                await wait_until(lambda: len(h.processed()) > done_before or len(h.processed()) == COUNT,
                                 "the first message after the outage", 30)
                first_s = time.monotonic() - restored
                await wait_until(lambda: len(h.processed()) == COUNT, "every message after the outage", 60)
                all_s = time.monotonic() - restored
                await drained(found.target)
            finally:
                engine.stop()
                report = await asyncio.wait_for(run, 30)
            return {"first_s": first_s, "all_s": all_s, "errors": report.total("PollingErrorCount")}

    figures = asyncio.run(asyncio.wait_for(scenario(), 150))
    done = h.processed()
    assert sorted(done) == [m["id"] for m in messages(COUNT)]  # nothing lost
    duplicated = sum(n - 1 for n in done.values())
    figure(f"{OUTAGE_S:g} s outage, {broker}", messages=COUNT, lost=0, duplicated=duplicated,
           recovered_s=f"{figures['first_s']:.1f}", drained_s=f"{figures['all_s']:.1f}",
           polling_errors=int(figures["errors"]))
    assert figures["errors"] > 0, "the outage never reached the engine: nothing was tested"
    lines = [r.getMessage() for r in outage_log.records if r.name == "batchmap.engine"]
    began = [line for line in lines if "waiting it out with backoff" in line]
    ended = [line for line in lines if "available again after" in line]
    assert 1 <= len(began) <= 2 and ended, lines  # once per outage, not once per failed call


async def drained(target: Target, timeout_s: float = 30) -> None:
    """Queues: wait until a fresh connection sees nothing visible, in flight or delayed (messages whose
    acknowledgement was lost with the connection come back and are processed again first)."""
    if target.kind == "stream":
        return
    deadline = time.monotonic() + timeout_s
    while True:
        source = await open_source(target.uri, target.options)
        try:
            assert isinstance(source, QueueSource)
            backlog = await source.backlog()
        finally:
            await source.close()
        if backlog.total == 0:
            return
        assert time.monotonic() < deadline, f"the queue still holds {backlog} after {timeout_s:g} s"
        await asyncio.sleep(0.2)
