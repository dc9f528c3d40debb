"""Records/s through the engine on the embedded SQLite queue against other SQLite-backed Python queues.

    python bench/embedded_peers.py [--messages N] [--rounds R]

Each side drains a fresh file of N small JSON messages, the trivial handler over
each batch of up to 100, and settles each message the way that library settles:

* engine: ``Engine.run(until_idle=True)`` on ``sqlite:///FILE?queue=bench``,
  batch size 100, in-process invoker (the process set up as ``batchmap run``):
  receive 100 under a visibility timeout, invoke, delete the 100.
* persist-queue: ``SQLiteAckQueue``: ``get()`` 100 times, then ``ack()`` each.
* litequeue: ``LiteQueue``: ``pop()`` 100 times (locks each), then ``done()`` each.
* huey: ``SqliteStorage`` (huey's task queue storage): ``dequeue()`` 100 times.
  It removes a message as it reads it: at most once, nothing to acknowledge.

The peers settle one message per SQLite statement; the engine receives and
deletes a batch per transaction. Rounds are interleaved (every side once per
round, the order rotating); the table shows median records/s end to end and the
median over rounds of engine / side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import bench_handlers
from batchmap.config import EventSourceMapping
from batchmap.config.function import FunctionConfig
from batchmap.engine.service import Engine
from batchmap.sources.sqlite import send
from bench_process import as_batchmap_run

BATCH = 100
BODY = json.dumps({"order": 1, "item": "widget", "quantity": 3})


def handle(batch: list[Any]) -> None:
    bench_handlers.trivial({"Records": batch}, None)


def engine_side(folder: Path, count: int) -> float:
    uri = f"sqlite:///{folder / 'engine.db'}?queue=bench"
    for start in range(0, count, 1000):
        send(uri, [BODY] * min(1000, count - start))
    mapping = EventSourceMapping(source=uri, batch_size=BATCH, maximum_batching_window_in_seconds=1,
                                 function=FunctionConfig("bench_handlers:trivial", timeout_s=30))
    engine = Engine([mapping], invoker="inprocess")

    async def drain() -> float:
        await engine.prepare()
        with as_batchmap_run():
            start = time.perf_counter()
            report = await engine.run(until_idle=True)
            elapsed = time.perf_counter() - start
        assert report.total("DeletedEventCount") == count, report.metrics
        return count / elapsed

    return asyncio.run(drain())


def persist_queue_side(folder: Path, count: int) -> float:
    from persistqueue import SQLiteAckQueue
    from persistqueue.exceptions import Empty

    queue = SQLiteAckQueue(str(folder / "persist"), multithreading=False, auto_commit=True)
    for _ in range(count):
        queue.put(BODY)
    done = 0
    start = time.perf_counter()
    while done < count:
        batch: list[Any] = []
        try:
            while len(batch) < BATCH:
                batch.append(queue.get(block=False, raw=True))
        except Empty:
            pass
        handle(batch)
        for item in batch:
            queue.ack(id=item["pqid"])
        done += len(batch)
    return count / (time.perf_counter() - start)


def litequeue_side(folder: Path, count: int) -> float:
    from litequeue import LiteQueue

    queue = LiteQueue(str(folder / "lite.db"))
    for _ in range(count):
        queue.put(BODY)
    done = 0
    start = time.perf_counter()
    while done < count:
        batch: list[Any] = []
        while len(batch) < BATCH and (message := queue.pop()) is not None:
            batch.append(message)
        handle(batch)
        for message in batch:
            queue.done(message.message_id)
        done += len(batch)
    queue.close()
    return count / (time.perf_counter() - start)


def huey_side(folder: Path, count: int) -> float:
    from huey.storage import SqliteStorage

    storage = SqliteStorage(name="bench", filename=str(folder / "huey.db"))
    for _ in range(count):
        storage.enqueue(BODY.encode())
    done = 0
    start = time.perf_counter()
    while done < count:
        batch: list[Any] = []
        while len(batch) < BATCH and (data := storage.dequeue()) is not None:
            batch.append(data)
        handle(batch)
        done += len(batch)
    return count / (time.perf_counter() - start)


SIDES: dict[str, Callable[[Path, int], float]] = {
    "engine": engine_side, "persist-queue": persist_queue_side, "litequeue": litequeue_side, "huey": huey_side,
}


def measure(count: int, rounds: int) -> dict[str, list[float]]:
    sides = list(SIDES)
    rates: dict[str, list[float]] = {side: [] for side in sides}
    for round_no in range(rounds):
        shift = round_no % len(sides)
        for side in sides[shift:] + sides[:shift]:
            with tempfile.TemporaryDirectory() as folder:
                rates[side].append(SIDES[side](Path(folder), count))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=10_000, help="the peers settle ~2,000 messages/s")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("batchmap").setLevel(logging.ERROR)
    rates = measure(args.messages, args.rounds)
    engine = rates["engine"]
    print(f"embedded: {args.messages:,} messages, batches of {BATCH}, {args.rounds} interleaved rounds, "
          "median records/s end to end")
    print(f"  {'side':<14} {'rec/s':>9}  {'engine / side (median of rounds)':>34}")
    for side, found in rates.items():
        ratios = [e / s for e, s in zip(engine, found, strict=True)]
        print(f"  {side:<14} {statistics.median(found):>9,.0f}  {statistics.median(ratios):>34.2f}")


if __name__ == "__main__":
    main()
