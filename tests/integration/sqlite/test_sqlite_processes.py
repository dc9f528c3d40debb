"""Several real processes on one embedded database file: nothing lost, nothing delivered twice at once.

Workers run in spawned processes (see sqlite_process_workers.py) and report
what they saw through JSON files; the assertions are on those reports.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing
import os
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlite_process_workers as workers

from batchmap.sources.base import Position
from batchmap.sources.sqlite import SqliteQueue, SqliteStream, create_queue, create_stream, inspect

SPAWN = multiprocessing.get_context("spawn")


def start(target: Any, *args: Any) -> Any:
    process = SPAWN.Process(target=target, args=args, daemon=True)
    process.start()
    return process


def join_all(processes: list[Any], timeout_s: float = 120) -> None:
    for process in processes:
        process.join(timeout_s)
        assert process.exitcode == 0, f"{process.name} exited with {process.exitcode}"


def run_producers_and_consumers(tmp_path: Path, uri: str, producers: int, per_producer: int,
                                consumers: int, batch: int, groups: int = 0) -> list[dict[str, Any]]:
    done = str(tmp_path / "producers-done")
    logs = [str(tmp_path / f"consumer-{i}.json") for i in range(consumers)]
    readers = [start(workers.consume, uri, path, done, batch) for path in logs]
    writers = [start(workers.produce, uri, f"p{p}", per_producer, 37, groups) for p in range(producers)]
    join_all(writers)
    Path(done).touch()
    join_all(readers)
    entries: list[dict[str, Any]] = []
    busy = 0
    for path in logs:
        log = json.loads(Path(path).read_text())
        busy += bool(log)
        entries += log
    assert busy >= 2, "the consumers did not actually work concurrently"
    return entries


def test_many_producers_and_consumers_deliver_each_message_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/shared.db?queue=work"
    create_queue(uri)
    entries = run_producers_and_consumers(tmp_path, uri, producers=3, per_producer=700, consumers=3, batch=25)
    received = Counter(body for entry in entries for body in entry["bodies"])
    expected = {f"p{p}-{i}" for p in range(3) for i in range(700)}
    assert set(received) == expected  # nothing lost
    assert max(received.values()) == 1  # nothing delivered twice (visibility never ran out)
    assert sum(entry["deleted"] for entry in entries) == len(expected)
    assert inspect(uri).total == 0  # type: ignore[union-attr]


def test_fifo_groups_stay_ordered_and_never_in_two_batches_at_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/shared.db?queue=orders.fifo"
    create_queue(uri, {"FifoQueue": "true"})
    entries = run_producers_and_consumers(tmp_path, uri, producers=2, per_producer=300, consumers=3, batch=7,
                                          groups=6)
    entries.sort(key=lambda entry: entry["received_ns"])
    holder_until: dict[str, int] = {}
    order: dict[str, list[str]] = {}
    for entry in entries:
        for group in entry["groups"]:
            # A batch can only hold a group after the previous batch holding it asked for its delete.
            assert holder_until.get(group, -1) < entry["received_ns"], f"group {group} in two batches"
            holder_until[group] = entry["before_delete_ns"]
        for body in entry["bodies"]:
            producer, index = body.rsplit("-", 1)
            order.setdefault(f"{producer}/g{int(index) % 6}", []).append(body)
    assert sum(len(v) for v in order.values()) == 600
    for bodies in order.values():
        assert bodies == sorted(bodies, key=lambda b: int(b.rsplit("-", 1)[1]))


def test_messages_held_by_a_killed_consumer_come_back_after_the_visibility_timeout(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/shared.db?queue=work"
    create_queue(uri, {"VisibilityTimeout": "1"})
    sent = set(asyncio.run(_send(uri, [f"m{i}" for i in range(50)])))
    ready = tmp_path / "holding"
    victim = start(workers.hold_then_hang, uri, 50, str(ready))
    _wait_for(ready)
    os.kill(victim.pid or 0, signal.SIGKILL)
    victim.join(10)
    assert victim.exitcode == -signal.SIGKILL

    async def recover() -> list[Any]:
        queue = await SqliteQueue.open(uri)
        got: list[Any] = []
        while len(got) < 50:
            batch = await queue.receive(50, wait_s=10)
            assert batch, "messages of the killed consumer never came back"
            got += batch
        await queue.delete(got)
        await queue.close()
        return got

    got = asyncio.run(recover())
    assert {d.id for d in got} == sent
    assert {d.receive_count for d in got} == {2}
    assert inspect(uri).total == 0  # type: ignore[union-attr]


def test_a_producer_killed_mid_send_leaves_whole_batches_only(tmp_path: Path) -> None:
    db_path = tmp_path / "shared.db"
    uri = f"sqlite:///{db_path}?queue=work"
    create_queue(uri)
    producer = start(workers.send_forever, uri, 100)
    deadline = time.monotonic() + 30
    while inspect(uri).total < 2000 and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.01)
    os.kill(producer.pid or 0, signal.SIGKILL)
    producer.join(10)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        bodies = [row[0] for row in conn.execute("SELECT body FROM messages")]
    batches = Counter(body.split("-")[0] for body in bodies)
    assert len(batches) >= 20
    assert set(batches.values()) == {100}


def test_stream_producers_in_parallel_keep_per_key_order(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/shared.db?stream=events"
    create_stream(uri, shard_count=3)
    join_all([start(workers.put_records, uri, f"p{p}", 300, 7) for p in range(3)])

    async def read_all() -> dict[str, list[Any]]:
        stream = await SqliteStream.open(uri)
        by_shard = {s.id: (await stream.read(s.id, Position("TRIM_HORIZON"), 10_000)).deliveries
                    for s in await stream.shards()}
        await stream.close()
        return by_shard

    by_shard = asyncio.run(read_all())
    assert sum(len(v) for v in by_shard.values()) == 900
    seen: dict[tuple[str, str], list[int]] = {}
    for shard, deliveries in by_shard.items():
        numbers = [int(d.id) for d in deliveries]
        assert numbers == sorted(set(numbers))  # strictly increasing within the shard
        for d in deliveries:
            assert d.shard == shard
            producer, index = base64.b64decode(d.record["kinesis"]["data"]).decode().split(":")
            seen.setdefault((producer, d.key or ""), []).append(int(index))
    for (_, key), indexes in seen.items():
        assert indexes == sorted(indexes)
        assert all(f"key-{i % 7}" == key for i in indexes)


def test_only_one_process_wins_each_lease(tmp_path: Path) -> None:
    db_path = str(tmp_path / "shared.db")
    create_stream(f"sqlite:///{db_path}?stream=events")
    outs = [str(tmp_path / f"owner-{i}.json") for i in range(4)]
    join_all([start(workers.race_for_leases, db_path, f"owner-{i}", 40, out) for i, out in enumerate(outs)])
    won = [shard for out in outs for shard in json.loads(Path(out).read_text())]
    assert sorted(won) == sorted(f"s{i}" for i in range(40))


async def _send(uri: str, bodies: list[str]) -> list[str]:
    queue = await SqliteQueue.open(uri)
    ids = await queue.send(bodies)
    await queue.close()
    return ids


def _wait_for(path: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.01)
