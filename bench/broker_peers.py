"""Records/s through the engine against FastStream's batch subscribers and raw client loops, per broker.

    python bench/broker_peers.py [--sources redis,nats] [--messages N] [--rounds R]

Each side drains a queue of its own, filled with the same messages by batchmap's
producer, 100 records per batch, the trivial handler over them:

* engine: ``Engine.run(until_idle=True)``, in-process invoker, as
  ``source_throughput.py`` runs it (the process set up as ``batchmap run``).
* faststream: FastStream's batch subscriber on the same consumer group /
  durable, settling what batchmap settles. Redis: ``StreamSub(batch=True,
  max_records=100)``, the handler calls ``msg.ack()`` (XACK) then
  ``msg.delete()`` (XDEL), as batchmap acknowledges and deletes an entry when
  its group is the stream's only reader. NATS: ``PullSub(batch_size=100,
  batch=True)``, ``ack()`` per message (FastStream's batch ack).
* raw asyncio: the client library by hand (``source_throughput_loops``):
  XREADGROUP 100 + one XACK/XDEL pipeline; ``fetch(100)`` + ``ack()`` each.
* raw sync (Redis only): redis-py's blocking client, the same commands.

batchmap checks each receipt before it settles (a Lua script: the entry must
still be pending under the delivery count received, so a stale receipt deletes
nothing); the peers acknowledge blindly. That check is part of batchmap's cost.

Rounds are interleaved (every side once per round, the order rotating); the
table shows the median steady rate (records settled between 10% and 90%) and
the median over rounds of engine / side. Targets: >= 1.0 of FastStream, >= 0.8
of the raw asyncio loop. Needs Redis and NATS on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import source_throughput_loops as loops
from source_throughput import Case, SettleClock, engine_rate

BATCH = 100
Drain = Callable[[str, int, SettleClock], Awaitable[None]]


async def faststream_redis(name: str, count: int, marks: SettleClock) -> None:
    """FastStream's batch stream subscriber: XREADGROUP 100, handler, XACK, XDEL."""
    from faststream.redis import RedisBroker, RedisStreamMessage, StreamSub

    broker = RedisBroker(loops.REDIS, logger=None)
    done = asyncio.Event()

    @broker.subscriber(stream=StreamSub(name, group="batchmap", consumer="fs", batch=True, max_records=BATCH))
    async def handler(body: list[Any], msg: RedisStreamMessage) -> None:
        loops.handle(body)
        await msg.ack()
        await msg.delete()
        marks.deleted(len(body))
        if marks.done >= count:
            done.set()

    await _run_broker(broker, done)


async def faststream_nats(name: str, count: int, marks: SettleClock) -> None:
    """FastStream's batch pull subscriber on the stream's durable: fetch 100, handler, ``ack()`` each."""
    from faststream.nats import JStream, NatsBroker, NatsMessage, PullSub

    stream = name.replace("-", "_")
    broker = NatsBroker(loops.NATS, logger=None)
    done = asyncio.Event()

    @broker.subscriber(stream, stream=JStream(stream, declare=False), durable="batchmap",
                       pull_sub=PullSub(batch_size=BATCH, batch=True, timeout=1.0))
    async def handler(body: list[Any], msg: NatsMessage) -> None:
        loops.handle(body)
        await msg.ack()
        marks.deleted(len(body))
        if marks.done >= count:
            done.set()

    await _run_broker(broker, done)


async def _run_broker(broker: Any, done: asyncio.Event) -> None:
    await broker.start()
    try:
        await asyncio.wait_for(done.wait(), 300)
    finally:
        await broker.stop()


async def redis_sync(name: str, count: int, marks: SettleClock) -> None:
    """redis-py's blocking client: XREADGROUP 100, handler, XACK + XDEL in one pipeline."""
    import redis

    client = redis.Redis.from_url(loops.REDIS)
    try:
        client.xgroup_create(name, "plain", id="0")
        while marks.done < count:
            reply: Any = client.xreadgroup("plain", "c1", {name: ">"}, count=BATCH, block=1000)
            entries = [entry for _, found in reply or [] for entry in found]
            loops.handle(entries)
            ids = [entry_id for entry_id, _ in entries]
            if ids:
                with client.pipeline(transaction=False) as pipe:
                    pipe.xack(name, "plain", *ids)
                    pipe.xdel(name, *ids)
                    pipe.execute()
                marks.deleted(len(ids))
    finally:
        client.close()


SIDES: dict[str, dict[str, Drain]] = {
    "redis": {"faststream": faststream_redis, "raw asyncio": loops.redis_plain, "raw sync": redis_sync},
    "nats": {"faststream": faststream_nats, "raw asyncio": loops.nats_plain},
}
CASES = {
    "redis": Case("redis", loops.redis_fill, loops.redis_uri, loops.redis_plain, loops.redis_cleanup),
    "nats": Case("nats", loops.nats_fill, loops.nats_uri, loops.nats_plain, loops.nats_cleanup),
}


async def side_rate(drain: Drain, name: str, count: int) -> float:
    clock = SettleClock()
    await drain(name, count, clock)
    assert clock.done >= count, (clock.done, count)
    return clock.steady_rate(count)


async def one_run(source: str, side: str, count: int, round_no: int) -> float:
    case = CASES[source]
    name = f"peers-{source}-{side.replace(' ', '')}-{round_no}-{time.monotonic_ns() % 10**8}"
    await case.fill(name, count)
    try:
        if side == "engine":
            return (await engine_rate(case, name, count))[0]
        return await side_rate(SIDES[source][side], name, count)
    finally:
        await case.cleanup(name)


async def measure(source: str, count: int, rounds: int) -> dict[str, list[float]]:
    """Every side once per round, the order rotating, so drift in the machine's speed hits all alike."""
    sides = ["engine", *SIDES[source]]
    rates: dict[str, list[float]] = {side: [] for side in sides}
    for round_no in range(rounds):
        shift = round_no % len(sides)
        for side in sides[shift:] + sides[:shift]:
            rates[side].append(await one_run(source, side, count, round_no))
    return rates


def print_table(source: str, count: int, rates: dict[str, list[float]]) -> None:
    engine = rates["engine"]
    print(f"{source}: {count:,} messages, {len(engine)} interleaved rounds, median steady records/s")
    print(f"  {'side':<12} {'rec/s':>9}  {'engine / side (median of rounds)':>34}")
    for side, found in rates.items():
        ratios = [e / s for e, s in zip(engine, found, strict=True)]
        print(f"  {side:<12} {statistics.median(found):>9,.0f}  {statistics.median(ratios):>34.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sources", default="redis,nats")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    loops.quiet_logs()
    with contextlib.suppress(Exception):
        import logging

        logging.getLogger("faststream").setLevel(logging.ERROR)
    for source in (s.strip() for s in args.sources.split(",") if s.strip()):
        if source not in SIDES:
            raise SystemExit(f"unknown source {source!r}; known: {', '.join(SIDES)}")
        print_table(source, args.messages, asyncio.run(measure(source, args.messages, args.rounds)))
    print("targets: engine / faststream >= 1.0, engine / raw asyncio >= 0.8")


if __name__ == "__main__":
    main()
