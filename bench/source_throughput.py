"""Records/s through the engine against a plain loop with the same client library, per broker source.

    python bench/source_throughput.py [--sources redis,rabbitmq,nats,sqs] [--messages N] [--repeat R]

For Redis Streams, RabbitMQ, NATS JetStream and SQS on a moto server (started
here on a free loopback port), each run fills a fresh queue, then drains it:

* engine: ``Engine.run(until_idle=True)`` with BatchSize 100 (and the one
  second window SQS requires above 10), the in-process invoker and a trivial
  handler: receive, build the SQS event, invoke, judge, delete; the process
  set up as ``batchmap run`` sets it up (``prepare_heap``).
* plain loop: the same client library receiving 100 at a time, the same
  trivial handler over the messages, then acknowledging / deleting the 100 the
  way that library's users write it (XACK+XDEL in one pipeline, ``ack()`` per
  message, DeleteMessageBatch per 10), one batch after another.

Rates are steady state: records settled between 10% and 90% of the queue, so
neither the engine's start-up nor the last partial batch waiting out its
window counts. The target is engine / plain >= 0.8. moto serves SQS at a few
hundred requests/s and slows as a queue grows, so its figure measures moto
more than either loop; keep its queue shallow (``--sqs-messages``).
Needs Redis, RabbitMQ and NATS on 127.0.0.1 (``make services``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import source_throughput_loops as loops
from batchmap.config import EventSourceMapping
from batchmap.config.function import FunctionConfig
from batchmap.engine.service import Engine
from batchmap.metrics.hook import MetricsHook
from batchmap.sources.registry import SourceOptions
from bench_process import as_batchmap_run

BATCH = 100
DEFAULT_MESSAGES = {"redis": 20_000, "rabbitmq": 10_000, "nats": 20_000, "sqs": 500}


class SettleClock(MetricsHook):
    """When each count of records was settled: the engine tells it through the ``deleted`` hook."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, int]] = []
        self.done = 0

    def deleted(self, records: int) -> None:
        self.done += records
        self.marks.append((time.perf_counter(), self.done))

    def steady_rate(self, total: int) -> float:
        """Records/s between the marks where 10% and 90% of ``total`` were settled."""
        low_t, low_n = next((t, n) for t, n in self.marks if n >= total * 0.1)
        high_t, high_n = next((t, n) for t, n in self.marks if n >= total * 0.9)
        return (high_n - low_n) / (high_t - low_t) if high_t > low_t else float("nan")


@dataclass(frozen=True)
class Case:
    """One broker: how to fill a queue named N, its engine URI, and the plain loop draining it."""

    name: str
    fill: Callable[[str, int], Awaitable[None]]
    uri: Callable[[str], str]
    plain: Callable[[str, int, SettleClock], Awaitable[None]]
    cleanup: Callable[[str], Awaitable[None]]
    options: SourceOptions = field(default_factory=SourceOptions)


async def engine_rate(case: Case, name: str, count: int) -> tuple[float, float]:
    """Steady-state and end-to-end records/s of the engine draining ``name``."""
    clock = SettleClock()
    mapping = EventSourceMapping(source=case.uri(name), batch_size=BATCH, maximum_batching_window_in_seconds=1,
                                 function=FunctionConfig("bench_handlers:trivial", timeout_s=10))
    engine = Engine([mapping], invoker="inprocess", source_options=case.options, hooks=[clock])
    await engine.prepare()
    with as_batchmap_run():
        start = time.perf_counter()
        report = await engine.run(until_idle=True)
        elapsed = time.perf_counter() - start
    deleted = report.total("DeletedEventCount")
    # At least once: moto's ReceiveMessage has no lock, so concurrent receives now and then get the same message.
    assert deleted >= count, report.metrics
    if deleted > count:
        print(f"{case.name}: {deleted - count} messages were delivered twice (the broker's at-least-once)")
    return clock.steady_rate(count), count / elapsed


async def plain_rate(case: Case, name: str, count: int) -> tuple[float, float]:
    clock = SettleClock()
    start = time.perf_counter()
    await case.plain(name, count, clock)
    elapsed = time.perf_counter() - start
    assert clock.done == count, (clock.done, count)
    return clock.steady_rate(count), count / elapsed


async def measure(case: Case, count: int, repeat: int) -> dict[str, Any]:
    """Best of ``repeat`` for the engine and the plain loop, each on a queue of its own, run in turns.

    The machine's speed drifts between runs, so the ratio of each engine run to the
    plain run right after it is kept too: their median says what the best rates
    might owe to one lucky run.
    """
    best = {"engine": (0.0, 0.0), "plain": (0.0, 0.0)}
    pairs: list[float] = []
    for attempt in range(repeat):
        steady = {}
        for label, drain in (("engine", engine_rate), ("plain", plain_rate)):
            name = f"bench-{case.name}-{label}-{attempt}-{time.monotonic_ns() % 10**8}"
            await case.fill(name, count)
            try:
                rates = await drain(case, name, count)
            finally:
                await case.cleanup(name)
            best[label] = max(best[label], rates)
            steady[label] = rates[0]
        pairs.append(steady["engine"] / steady["plain"])
    return {**best, "pairs": pairs}


def cases(moto_url: str | None) -> dict[str, Case]:
    found = {
        "redis": Case("redis", loops.redis_fill, loops.redis_uri, loops.redis_plain, loops.redis_cleanup),
        "rabbitmq": Case("rabbitmq", loops.rabbit_fill, loops.rabbit_uri, loops.rabbit_plain, loops.rabbit_cleanup),
        "nats": Case("nats", loops.nats_fill, loops.nats_uri, loops.nats_plain, loops.nats_cleanup),
    }
    if moto_url is not None:
        sqs = loops.Sqs(moto_url)
        found["sqs"] = Case("sqs", sqs.fill, sqs.uri, sqs.plain, sqs.cleanup,
                            SourceOptions(endpoint_url=moto_url, region=loops.REGION))
    return found


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    """``moto_server`` in a process of its own, so it does not share this one's GIL with either loop.

    Dummy credentials go into the environment: nothing here can reach real AWS.
    """
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=loops.REGION)
    port = loops.free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    loops.wait_for_port(port, server)
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sources", default="redis,rabbitmq,nats,sqs")
    parser.add_argument("--messages", type=int, help="messages per run for Redis, RabbitMQ and NATS")
    parser.add_argument("--sqs-messages", type=int, default=DEFAULT_MESSAGES["sqs"])
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    wanted = [s.strip() for s in args.sources.split(",") if s.strip()]
    loops.quiet_logs()
    server, url = start_moto() if "sqs" in wanted else (None, None)
    try:
        rows = run_all(cases(url), wanted, args)
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
    print_table(rows, args.repeat)


def run_all(known: dict[str, Case], wanted: list[str], args: Any) -> list[tuple[str, int, dict[str, Any]]]:
    rows = []
    for name in wanted:
        if name not in known:
            raise SystemExit(f"unknown source {name!r}; known: {', '.join(known)}")
        count = args.sqs_messages if name == "sqs" else args.messages or DEFAULT_MESSAGES[name]
        rows.append((name, count, asyncio.run(measure(known[name], count, args.repeat))))
    return rows


def print_table(rows: list[tuple[str, int, dict[str, Any]]], repeat: int) -> None:
    print(f"batch size {BATCH}, trivial handler, in-process invoker; best of {repeat}; "
          "steady state = records/s between 10% and 90% settled (end to end in brackets)")
    print(f"{'source':<10} {'messages':>8} {'engine rec/s':>20} {'plain loop rec/s':>20} {'ratio':>6}"
          f" {'median of pairs':>16}")
    for name, count, best in rows:
        (engine, engine_all), (plain, plain_all) = best["engine"], best["plain"]
        print(f"{name:<10} {count:>8,} {engine:>10,.0f} ({engine_all:>7,.0f}) {plain:>10,.0f} ({plain_all:>7,.0f})"
              f" {engine / plain:>6.2f} {statistics.median(best['pairs']):>16.2f}")
    print("target: engine / plain loop >= 0.8 (steady state)")


if __name__ == "__main__":
    main()
