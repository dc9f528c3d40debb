"""Records/s of 1, 2 and 4 ``batchmap run`` processes sharing one source.

    python bench/scale_out.py [--sources redis,rabbitmq,stream] [--processes 1,2,4] [--messages N] [--rounds R]

Sources: one Redis stream (one consumer group), one RabbitMQ queue, and one
embedded stream of 4 shards (the processes split the shards through their
leases in the stream's file). Each run fills the source with N messages, then
starts the processes together: ``batchmap run --until-idle``, batch size 100,
in-process invoker, a handler that touches every record and appends one line
per batch (time, records) to a shared file. The rate is taken from those lines
added up over all processes: records between 10% and 90% of N over the time
between, so start-up and the last stragglers do not count. Rounds interleave
the process counts; the table shows the median and each count's speed-up over
one process. Nothing here is parallel beyond the machine's cores (``nproc``):
Redis, RabbitMQ and the engines share them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import source_throughput_loops as loops
from batchmap.sources.sqlite import admin

BENCH = Path(__file__).parent
BATCH = 100
SHARDS = 4
DEFAULT_MESSAGES = {"redis": 60_000, "rabbitmq": 30_000, "stream": 120_000}


@dataclass(frozen=True)
class Source:
    """How to make a filled source named N (in a folder), its URI, its extra flags, and how to remove it."""

    name: str
    fill: Callable[[str, Path, int], str]
    flags: tuple[str, ...]
    cleanup: Callable[[str], None]


def redis_fill(name: str, folder: Path, count: int) -> str:
    asyncio.run(loops.redis_fill(name, count))
    return loops.redis_uri(name)


def rabbit_fill(name: str, folder: Path, count: int) -> str:
    asyncio.run(loops.rabbit_fill(name, count))
    return loops.rabbit_uri(name)


def stream_fill(name: str, folder: Path, count: int) -> str:
    uri = f"sqlite:///{folder / 'streams.db'}?stream={name}"
    admin.create_stream(uri, SHARDS)
    for start in range(0, count, 5000):
        admin.send(uri, [loops.BODY] * min(5000, count - start))  # a random partition key each: every shard
    return uri


SOURCES = {
    "redis": Source("redis", redis_fill, (), lambda n: asyncio.run(loops.redis_cleanup(n))),
    "rabbitmq": Source("rabbitmq", rabbit_fill, (), lambda n: asyncio.run(loops.rabbit_cleanup(n))),
    "stream": Source("stream", stream_fill, ("--starting-position", "TRIM_HORIZON", "--shard-lease-seconds", "3"),
                     lambda n: None),
}


def one_run(source: Source, processes: int, count: int, round_no: int) -> float:
    """Steady records/s of ``processes`` engines draining a fresh source of ``count`` messages."""
    name = f"scale-{source.name}-{processes}-{round_no}-{time.monotonic_ns() % 10**8}"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        uri = source.fill(name, folder, count)
        marks = folder / "marks"
        env = {**os.environ, "BENCH_MARKS": str(marks),
               "PYTHONPATH": os.pathsep.join([str(BENCH), os.environ.get("PYTHONPATH", "")])}
        command = [sys.executable, "-m", "batchmap", "run", "--source", uri, "--function", "bench_handlers:marking",
                   "--batch-size", str(BATCH), "--maximum-batching-window-in-seconds", "1", "--timeout", "30",
                   "--invoker", "inprocess", "--log-level", "ERROR", "--uuid", name, "--until-idle", *source.flags]
        try:
            engines = [subprocess.Popen(command, cwd=folder, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True) for _ in range(processes)]
            for engine in engines:
                _, errors = engine.communicate(timeout=600)
                if engine.returncode != 0:
                    raise SystemExit(f"{source.name}: an engine exited with {engine.returncode}: {errors[-2000:]}")
            return steady_rate(marks, count)
        finally:
            source.cleanup(name)


def steady_rate(marks: Path, count: int) -> float:
    """Records/s between the batches that took all processes together past 10% and 90% of ``count``."""
    lines = sorted((float(t), int(n)) for t, n in (line.split() for line in marks.read_text().splitlines()))
    done, points = 0, []
    for at, records in lines:
        done += records
        points.append((at, done))
    assert done >= count, f"{done} records handled, {count} sent"
    low_t, low_n = next(p for p in points if p[1] >= count * 0.1)
    high_t, high_n = next(p for p in points if p[1] >= count * 0.9)
    return (high_n - low_n) / (high_t - low_t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--sources", default="redis,rabbitmq,stream")
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--messages", type=int, help="messages per run (default: per source)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    print(f"nproc {os.cpu_count()}; batch size {BATCH}; {args.rounds} interleaved rounds; "
          "median steady records/s (10% to 90% handled), speed-up over the first count")
    for name in (s.strip() for s in args.sources.split(",") if s.strip()):
        if name not in SOURCES:
            raise SystemExit(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
        messages = args.messages or DEFAULT_MESSAGES[name]
        rates: dict[int, list[float]] = {n: [] for n in counts}
        for round_no in range(args.rounds):
            shift = round_no % len(counts)
            for n in counts[shift:] + counts[:shift]:
                rates[n].append(one_run(SOURCES[name], n, messages, round_no))
        base = statistics.median(rates[counts[0]])
        row = "  ".join(f"{n} proc {statistics.median(r):>8,.0f} ({statistics.median(r) / base:.2f}x)"
                        for n, r in rates.items())
        print(f"{name:<9} {messages:>8,} msgs  {row}")


if __name__ == "__main__":
    main()
