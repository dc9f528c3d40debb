"""Worker entry points for the multi-process tests (importable by spawned children).

Each worker opens its own connection to the shared file, does its part through
the public API, and writes what it saw to a JSON file the test then checks.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from typing import Any

from batchmap.sources.sqlite import SqliteCheckpointStore, SqliteQueue, SqliteStream


def produce(uri: str, prefix: str, count: int, batch: int, group_count: int) -> None:
    """Send ``count`` bodies ``{prefix}-{i}`` in batches; FIFO queues get ``group_count`` groups."""

    async def main() -> None:
        queue = await SqliteQueue.open(uri)
        for start in range(0, count, batch):
            bodies = [f"{prefix}-{i}" for i in range(start, min(count, start + batch))]
            if queue.fifo:
                for body in bodies:
                    index = int(body.rsplit("-", 1)[1])
                    await queue.send([body], message_group_id=f"g{index % group_count}",
                                     deduplication_id=body)
            else:
                await queue.send(bodies)
        await queue.close()

    asyncio.run(main())


def consume(uri: str, out_path: str, done_flag: str, batch: int) -> None:
    """Receive and delete until the producers are done and the queue is empty; log every batch."""

    async def main() -> None:
        queue = await SqliteQueue.open(uri)
        log: list[dict[str, Any]] = []
        while True:
            got = await queue.receive(batch, wait_s=0.05)
            received_ns = time.monotonic_ns()
            if got:
                bodies = [d.record["body"] for d in got]
                groups = sorted({d.key for d in got if d.key is not None})
                before_delete_ns = time.monotonic_ns()
                deleted = await queue.delete(got)
                log.append({"bodies": bodies, "groups": groups, "received_ns": received_ns,
                            "before_delete_ns": before_delete_ns, "deleted": deleted,
                            "counts": [d.receive_count for d in got]})
            elif os.path.exists(done_flag) and (await queue.backlog()).total == 0:
                break
        await queue.close()
        with open(out_path, "w") as f:
            json.dump(log, f)

    asyncio.run(main())


def hold_then_hang(uri: str, count: int, ready_path: str) -> None:
    """Receive ``count`` messages, say so, then hang until killed (they must come back)."""

    async def main() -> None:
        queue = await SqliteQueue.open(uri)
        held = 0
        while held < count:
            held += len(await queue.receive(count - held, wait_s=1))
        with open(ready_path, "w") as f:
            f.write(str(held))
        await asyncio.sleep(3600)

    asyncio.run(main())


def send_forever(uri: str, batch: int) -> None:
    """Send batches ``b{n}-{i}`` until killed: each batch must land whole or not at all."""

    async def main() -> None:
        queue = await SqliteQueue.open(uri)
        n = 0
        while True:
            await queue.send([f"b{n}-{i}" for i in range(batch)])
            n += 1

    asyncio.run(main())


def put_records(uri: str, producer: str, count: int, keys: int) -> None:
    """Put ``count`` records ``{producer}:{i}`` over ``keys`` partition keys, one call each."""

    async def main() -> None:
        stream = await SqliteStream.open(uri)
        for i in range(count):
            await stream.put_record(f"{producer}:{i}", f"key-{i % keys}")
        await stream.close()

    asyncio.run(main())


def race_for_leases(db_path: str, owner: str, shards: int, out_path: str) -> None:
    """Try to take every shard's lease once; record which ones this owner won."""

    async def main() -> None:
        store = SqliteCheckpointStore(db_path)
        won = [f"s{i}" for i in range(shards) if await store.acquire("mapping", f"s{i}", owner, ttl_s=60)]
        await store.close()
        with open(out_path, "w") as f:
            json.dump(won, f)

    asyncio.run(main())
