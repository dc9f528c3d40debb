"""Several engines in one consumer group: partitions are split, a leaving or dead member loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import kafka_handlers
import pytest
from kafka_support import committed, produce, record_values, run, source_uri, wait_for

from batchmap.config import EventSourceMapping
from batchmap.engine.service import Engine
from batchmap.sources.kafka import KafkaSource

HERE = Path(__file__).parent
SRC = HERE.parents[2] / "src"


@pytest.fixture(autouse=True)
def clean_handlers() -> Iterator[None]:
    kafka_handlers.reset()
    yield
    kafka_handlers.reset()


def assignment(engine: Engine) -> list[str]:
    if not engine.prepared:
        return []
    source = engine.prepared[0].source
    assert isinstance(source, KafkaSource)
    return source.assignment()


def partitions_seen(name: str) -> set[str]:
    return {key for event in kafka_handlers.EVENTS[name] for key in event["records"]}


def produce_spread(broker: str, topic: str, prefix: str, count: int, partitions: int) -> None:
    for i in range(count):
        produce(broker, topic, [(None, f"{prefix}{i}".encode())], partition=i % partitions)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["cooperative-sticky", "range"])
def test_two_engines_split_the_partitions_and_one_takes_over_when_the_other_leaves(
    kafka_broker: str, new_topic: Callable[..., str], group: str, strategy: str
) -> None:
    """Incremental (cooperative) and eager (range) rebalancing both hand partitions over cleanly."""
    topic = new_topic(partitions=4)
    uri = source_uri(kafka_broker, topic, group, f"&partition.assignment.strategy={strategy}")

    def mapping(function: str) -> EventSourceMapping:
        return EventSourceMapping(source=uri, function=f"kafka_handlers:{function}", batch_size=5,
                                  maximum_batching_window_in_seconds=0, starting_position="TRIM_HORIZON")

    def seen() -> list[str]:
        return record_values(kafka_handlers.EVENTS["a"]) + record_values(kafka_handlers.EVENTS["b"])

    async def scenario() -> tuple[list[str], list[str]]:
        a = Engine([mapping("record_a")], invoker="inprocess")
        b = Engine([mapping("record_b")], invoker="inprocess")
        task_a = asyncio.create_task(a.run())
        await wait_for(lambda: len(assignment(a)) == 4, what="engine a to own every partition")
        task_b = asyncio.create_task(b.run())
        await wait_for(lambda: bool(assignment(b)) and len(assignment(a)) + len(assignment(b)) == 4,
                       what="the group to split the partitions")
        split = (assignment(a), assignment(b))
        await asyncio.to_thread(produce_spread, kafka_broker, topic, "one-", 40, 4)
        await wait_for(lambda: len(seen()) >= 40, what="the first 40 records")

        a.stop()
        await task_a
        await wait_for(lambda: len(assignment(b)) == 4, what="engine b to take every partition over")
        await asyncio.to_thread(produce_spread, kafka_broker, topic, "two-", 20, 4)
        await wait_for(lambda: len(seen()) >= 60, what="the next 20 records")
        b.stop()
        await task_b
        return split

    owned_a, owned_b = run(scenario)
    assert not set(owned_a) & set(owned_b) and len(owned_a) + len(owned_b) == 4
    assert partitions_seen("a") == set(owned_a)
    assert partitions_seen("b") == set(owned_b) | set(owned_a)
    counts = Counter(record_values(kafka_handlers.EVENTS["a"]) + record_values(kafka_handlers.EVENTS["b"]))
    assert sorted(counts) == sorted([f"one-{i}" for i in range(40)] + [f"two-{i}" for i in range(20)])
    assert set(counts.values()) == {1}  # handed over with every processed offset committed: nothing twice


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["cooperative-sticky", "range"])
def test_a_member_joining_mid_stream_gets_partitions_without_redoing_work(
    kafka_broker: str, new_topic: Callable[..., str], group: str, strategy: str
) -> None:
    """A rebalance while batches are in flight waits for their commits before handing partitions over.

    Records keep coming while engine b joins; once b has processed some, the
    stream stops and both engines drain it. Nothing may be done twice.
    """
    topic = new_topic(partitions=2)
    uri = source_uri(kafka_broker, topic, group, f"&partition.assignment.strategy={strategy}")
    kafka_handlers.SLEEP_S = 0.02
    sent: list[str] = []

    def mapping(function: str) -> EventSourceMapping:
        return EventSourceMapping(source=uri, function=f"kafka_handlers:{function}", batch_size=4,
                                  maximum_batching_window_in_seconds=0, starting_position="TRIM_HORIZON")

    def seen() -> list[str]:
        return record_values(kafka_handlers.EVENTS["a"]) + record_values(kafka_handlers.EVENTS["b"])

    async def feed(until: asyncio.Event) -> None:
        while not until.is_set():
            batch = [f"m{len(sent) + i}" for i in range(8)]
            for i, value in enumerate(batch):
                await asyncio.to_thread(produce, kafka_broker, topic, [(None, value.encode())],
                                        partition=i % 2)
            sent.extend(batch)
            await asyncio.sleep(0.05)

    async def scenario() -> None:
        a = Engine([mapping("record_a")], invoker="inprocess")
        b = Engine([mapping("record_b")], invoker="inprocess")
        enough = asyncio.Event()
        feeder = asyncio.create_task(feed(enough))
        task_a = asyncio.create_task(a.run())
        await wait_for(lambda: len(seen()) >= 16, what="engine a to be under way")
        task_b = asyncio.create_task(b.run())
        await wait_for(lambda: len(kafka_handlers.EVENTS["b"]) >= 3, timeout_s=60, what="engine b to join in")
        enough.set()
        await feeder
        await wait_for(lambda: set(seen()) >= set(sent), timeout_s=60, what="every record")
        a.stop()
        b.stop()
        await asyncio.gather(task_a, task_b)

    run(scenario)
    counts = Counter(seen())
    assert sorted(counts) == sorted(sent)
    assert [value for value, n in counts.items() if n > 1] == []


@pytest.mark.slow
def test_a_killed_member_loses_nothing(
    kafka_broker: str, new_topic: Callable[..., str], group: str, tmp_path: Path
) -> None:
    """An engine in another process is killed with SIGKILL mid-run; the survivor reads on from its commits."""
    topic = new_topic(partitions=2)
    uri = source_uri(kafka_broker, topic, group)
    out = tmp_path / "killed.txt"
    out.touch()
    env = {**os.environ, "KAFKA_TEST_OUT": str(out), "KAFKA_TEST_SLEEP": "0.05",
           "PYTHONPATH": os.pathsep.join([str(HERE), str(SRC), os.environ.get("PYTHONPATH", "")])}
    produce_spread(kafka_broker, topic, "m", 200, 2)
    process = subprocess.Popen([sys.executable, str(HERE / "engine_process.py"), uri], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run(lambda: wait_for(lambda: len(committed(kafka_broker, group, topic, 2)) == 2, timeout_s=60,
                             what="the process to commit on both partitions"))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    done_by_killed = out.read_text().splitlines()
    assert len(done_by_killed) < 200, "the killed engine finished before it was killed"
    at_kill = committed(kafka_broker, group, topic, 2)

    survivor = EventSourceMapping(source=uri, function="kafka_handlers:record", batch_size=20,
                                  starting_position="TRIM_HORIZON")

    async def survive() -> None:
        engine = Engine([survivor], invoker="inprocess")
        task = asyncio.create_task(engine.run())
        # The dead member holds its partitions until its session times out; then they come here.
        await wait_for(lambda: set(done_by_killed) | set(record_values(kafka_handlers.EVENTS["record"]))
                       >= {f"m{i}" for i in range(200)}, timeout_s=60, what="every record")
        engine.stop()
        await task

    run(survive)
    survived = record_values(kafka_handlers.EVENTS["record"])
    assert set(done_by_killed) | set(survived) == {f"m{i}" for i in range(200)}
    assert len(survived) == len(set(survived))
    # The survivor starts each partition exactly at the dead member's last commit (m<i> is offset
    # i // 2 of partition i % 2): only what was done after that commit is done again.
    assert set(survived) == {f"m{i}" for i in range(200) if i // 2 >= at_kill[i % 2]}
