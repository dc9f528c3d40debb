"""Two engine processes on one stream: shard leases in a shared store (or Kafka's consumer group).

A shard has one owner at a time, and each engine takes its fair share of the
shards (Kafka's group coordinator balances partitions the same way). When an
owner is killed, its leases run out (``--shard-lease-seconds``, short here) and
the other engine takes its shards over from the last checkpoint: nothing is
lost, and only what the dead engine processed after its last checkpoint write
is processed again.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
from contract_services import require
from contract_support import counts, messages
from contract_target import Kit, Target
from scaleout_support import BATCH, by_pid, finish, kill, repeats, start_two, stop, wait_until

COUNT = 200
SHARDS = 2
UNSETTLED_BATCHES = 4
"""Per shard: the batch in flight and those done since the last checkpoint write (every 0.2 s)."""


@pytest.fixture(params=("sqlite_stream", "kinesis", "kafka"))
def stream(request: pytest.FixtureRequest) -> tuple[Kit, list[str]]:
    """A stream kit and the flags that share its checkpoints: the stream's own file, Redis, the Kafka group."""
    kit: Kit = request.getfixturevalue(f"{request.param}_kit")
    flags = ["--batch-size", str(BATCH), "--timeout", "2", "--shard-lease-seconds", "3"]
    if request.param == "kinesis":
        flags += ["--checkpoint-store", f"redis://127.0.0.1:{require('redis')}/0"]
        request.addfinalizer(lambda: _forget_redis_checkpoints(kit))
    return kit, flags


def _forget_redis_checkpoints(kit: Kit) -> None:
    import redis

    client = redis.Redis(port=require("redis"))
    with contextlib.closing(client):
        for target in kit.created:
            keys = list(client.scan_iter(match=f"batchmap:{{contract-{target.name}}}:*"))
            if keys:
                client.delete(*keys)


def _fill(kit: Kit) -> Target:
    target = kit.create(shards=SHARDS)
    target.send(messages(COUNT))  # each message its own partition key: spread over both shards
    return target


def test_when_the_engine_owning_the_shards_dies_the_other_takes_them_over(
    stream: tuple[Kit, list[str]], tmp_path: Path
) -> None:
    kit, flags = stream
    target = _fill(kit)
    log = tmp_path / "processed.log"
    engines = start_two(target, log, *flags, sleep_s=0.1)
    try:
        wait_until(lambda: len(counts(log)) >= 4 * BATCH, "work under way", engines)
        shares = by_pid(log)
        doomed = max(engines, key=lambda e: len(shares.get(e.pid, ())))
        survivor = next(e for e in engines if e is not doomed)
        kill(doomed)
        wait_until(lambda: len(counts(log)) == COUNT, "every record, after the takeover", (survivor,), 120)
        stop(survivor)
    finally:
        for engine in engines:
            if engine.poll() is None:
                engine.kill()
    done = by_pid(log)
    twice = repeats(log)
    assert twice <= done[doomed.pid]  # repeats are the dead engine's work after its last checkpoint
    assert len(twice) <= SHARDS * UNSETTLED_BATCHES * BATCH, sorted(twice)


def test_two_engines_on_one_kafka_group_split_the_partitions(kafka_kit: Kit, tmp_path: Path) -> None:
    """Records keep coming until both engines have had some (the second one's join and the rebalance take a
    while, and one engine alone could drain a fixed backlog first); each record is processed once."""
    target = kafka_kit.create(shards=SHARDS)
    log = tmp_path / "processed.log"
    engines = start_two(target, log, "--batch-size", str(BATCH), "--timeout", "2", sleep_s=0.05)
    sent: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while len(by_pid(log)) < len(engines):
            assert time.monotonic() < deadline, f"one engine did all the work: {sorted(by_pid(log))}"
            chunk = messages(2 * BATCH, prefix=f"c{len(sent) // (2 * BATCH):03d}-")
            target.send(chunk)
            sent.extend(m["id"] for m in chunk)
            wait_until(lambda: len(counts(log)) >= len(sent) - 4 * BATCH, "the backlog to shrink", engines)
        wait_until(lambda: len(counts(log)) == len(sent), "every record", engines, 120)
        stop(*engines)
    finally:
        for engine in engines:
            if engine.poll() is None:
                engine.kill()
    assert sorted(counts(log)) == sorted(sent)
    assert set(counts(log).values()) == {1}  # a rebalance hands over committed positions: nothing twice
    assert set(by_pid(log)) == {e.pid for e in engines}


def test_two_engines_draining_a_stream_together_process_each_record_once(
    stream: tuple[Kit, list[str]], tmp_path: Path
) -> None:
    """Leases keep a shard to one engine; the shared checkpoints tell the next owner where to start."""
    kit, flags = stream
    target = _fill(kit)
    log = tmp_path / "processed.log"
    first, second = start_two(target, log, *flags, "--until-idle", sleep_s=0.02)
    finish(first, second)
    assert sorted(counts(log)) == [m["id"] for m in messages(COUNT)] and set(counts(log).values()) == {1}
