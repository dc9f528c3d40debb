"""Engine throughput on the embedded queue, against a plain loop, and batching-window accuracy.

    python bench/engine_throughput.py [--messages N] [--rounds R] [--synchronous FULL|NORMAL]
                                      [--batch-sizes 1,10,100,1000] [--window-samples N]

1. Records/s end to end (``Engine.run(until_idle=True)``: receive, batch, build
   the SQS event, invoke a handler that parses every JSON body in process,
   judge, delete) at each batch size, against ``bench/sqlite_plain_loop.py``'s
   raw loops at the same batch size and synchronous setting: the at-least-once
   loop (one transaction per batch: delete the previous batch, lease the next)
   and the at-most-once loop (one ``DELETE ... RETURNING`` per batch). Rounds
   are interleaved and each ratio is the median of the rounds' own ratios.
   Targets at batch size 100: >= 0.8 of the at-least-once loop, >= 0.5 of the
   at-most-once loop. The CPU time per record (all of the engine's threads;
   the loops have one) is shown too: the work each does.
2. Window accuracy: lone messages on an idle queue with a 1 s batching window,
   sent by a ``SqliteQueue`` producer in this process and then by one in another
   process; for each, the invocation's delay after the send committed, minus
   the window, p50 and p99 (and, as before, after the message's
   SentTimestamp, which also counts the send's own transaction). Target: p99
   <= 5 ms on a calm machine. ``--window-source stream`` measures the same on
   an embedded stream (one shard; the shard's read is woken by the put).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_handlers
from batchmap.config import EventSourceMapping, ScalingConfig
from batchmap.config.function import FunctionConfig
from batchmap.engine.scaling import DEFAULT_MAXIMUM_CONCURRENCY
from batchmap.engine.service import Engine
from batchmap.sources.sqlite import SqliteQueue, SqliteStream
from bench_process import as_batchmap_run
from sqlite_plain_loop import at_least_once_loop, at_most_once_loop, fill

BATCH_SIZES = (1, 10, 100, 1000)


def engine_rate(uri: str, batch_size: int, count: int, lanes: int | None) -> tuple[float, float]:
    """Records/s, and CPU microseconds per record over every thread of the process."""
    mapping = EventSourceMapping(
        source=uri, function=FunctionConfig("bench_handlers:parse_bodies", timeout_s=30), batch_size=batch_size,
        maximum_batching_window_in_seconds=0 if batch_size <= 10 else 1,
        scaling_config=ScalingConfig(maximum_concurrency=lanes) if lanes else None,
    )
    engine = Engine([mapping], invoker="inprocess")

    async def go() -> tuple[float, float]:
        await engine.prepare()
        with as_batchmap_run():
            start, cpu = time.perf_counter(), time.process_time()
            report = await engine.run(until_idle=True)
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        assert report.total("DeletedEventCount") == count, report.metrics
        return count / elapsed, cpu / count * 1e6

    return asyncio.run(go())


LOOPS: dict[str, Callable[[str, str, int, str], float]] = {
    "at-least-once": at_least_once_loop, "at-most-once": at_most_once_loop,
}


def loop_rate(label: str, path: Path, batch_size: int, count: int, synchronous: str) -> tuple[float, float]:
    """A raw loop's records/s and CPU microseconds per record (it runs on this thread alone)."""
    cpu = time.thread_time()
    rate = LOOPS[label](str(path), "bench", batch_size, synchronous)
    return rate, (time.thread_time() - cpu) / count * 1e6


def throughput(messages: int, rounds: int, lanes: int | None, synchronous: str,
               batch_sizes: Sequence[int]) -> dict[int, tuple[float, float]]:
    """Per batch size, the medians of engine / at-least-once loop and engine / at-most-once loop."""
    cap = lanes or DEFAULT_MAXIMUM_CONCURRENCY
    print(f"throughput: synchronous={synchronous}, median of {rounds} interleaved rounds (engine, then each "
          f"raw loop, on fresh copies of the same queue); engine with up to {cap} concurrent batches, in-process "
          "invoker; every handler parses each JSON body")
    print(f"{'batch':>6} {'engine rec/s':>13} {'at-least-once':>14} {'ratio':>6} {'at-most-once':>13} {'ratio':>6}"
          f" {'CPU us/rec: engine':>19} {'ALO':>5} {'AMO':>5}")
    ratios: dict[int, tuple[float, float]] = {}
    labels = ("engine", *LOOPS)
    with tempfile.TemporaryDirectory() as folder:
        for batch_size in batch_sizes:
            count = max(min(messages, batch_size * 200), 2000)
            rates: dict[str, list[float]] = {label: [] for label in labels}
            cpus: dict[str, list[float]] = {label: [] for label in labels}
            pairs: dict[str, list[float]] = {label: [] for label in LOOPS}
            for attempt in range(rounds):
                for label in labels:
                    path = Path(folder) / f"b{batch_size}-{attempt}-{label}.db"
                    uri = f"sqlite:///{path}?queue=bench&synchronous={synchronous}"
                    fill(uri, count)
                    if label == "engine":
                        rate, used = engine_rate(uri, batch_size, count, lanes)
                    else:
                        rate, used = loop_rate(label, path, batch_size, count, synchronous)
                    rates[label].append(rate)
                    cpus[label].append(used)
                for label in LOOPS:  # each round's own ratio: both sides saw the same moment of the machine
                    pairs[label].append(rates["engine"][-1] / rates[label][-1])
            med = {label: statistics.median(values) for label, values in rates.items()}
            cpu = {label: statistics.median(values) for label, values in cpus.items()}
            alo, amo = statistics.median(pairs["at-least-once"]), statistics.median(pairs["at-most-once"])
            ratios[batch_size] = (alo, amo)
            print(f"{batch_size:>6} {med['engine']:>13,.0f} {med['at-least-once']:>14,.0f} {alo:>6.2f}"
                  f" {med['at-most-once']:>13,.0f} {amo:>6.2f}"
                  f" {cpu['engine']:>19.1f} {cpu['at-least-once']:>5.1f} {cpu['at-most-once']:>5.1f}")
    return ratios


PRODUCER = """
import asyncio, sys, time
from batchmap.sources.sqlite import SqliteQueue, SqliteStream

async def main():
    producer = await (SqliteQueue if "?queue=" in sys.argv[1] else SqliteStream).open(sys.argv[1])
    for line in sys.stdin:
        await producer.send([line.strip()])
        print(time.time() * 1000, flush=True)
    await producer.close()

asyncio.run(main())
"""
"""Another process that sends one message per line it reads and prints when the send committed (ms)."""


def percentiles(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    return (ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
            ordered[-1])


def window_accuracy(samples: int, sender: str, synchronous: str, kind: str = "queue") -> tuple[float, float]:
    """p50 and p99 of the invocation's delay after the send committed, minus the window (``kind``: queue, stream)."""
    bench_handlers.LATENESS_MS.clear()
    bench_handlers.INVOKED_MS.clear()
    committed: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{folder}/w.db?{kind}=window&synchronous={synchronous}"
        mapping = EventSourceMapping(
            source=uri, function=FunctionConfig("bench_handlers:window_probe", timeout_s=5), batch_size=100,
            maximum_batching_window_in_seconds=bench_handlers.WINDOW_S,
            starting_position="TRIM_HORIZON" if kind == "stream" else None,
        )
        engine = Engine([mapping], invoker="inprocess")

        async def go() -> None:
            await engine.prepare()
            opener = SqliteQueue.open if kind == "queue" else SqliteStream.open
            producer = await opener(uri) if sender == "process" else None
            other = None
            if sender == "other-process":
                other = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", PRODUCER, uri, stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE)
            runner = asyncio.create_task(engine.run())
            await asyncio.sleep(0.5)
            for i in range(samples):
                if producer is not None:
                    await producer.send([f'{{"n": {i}}}'])
                    committed.append(time.time() * 1000)
                else:
                    assert other is not None and other.stdin is not None and other.stdout is not None
                    other.stdin.write(f'{{"n": {i}}}\n'.encode())
                    committed.append(float(await other.stdout.readline()))
                while len(bench_handlers.LATENESS_MS) <= i:
                    await asyncio.sleep(0.01)
                # The lane's window opened when that invocation completed (on_ready): once it has run out
                # empty, the lane is idle and the next message opens a window of its own.
                await asyncio.sleep(bench_handlers.WINDOW_S * 1.25)
            engine.stop()
            await runner
            if producer is not None:
                await producer.close()
            if other is not None and other.stdin is not None:
                other.stdin.close()
                await other.wait()

        asyncio.run(go())
    after_commit = [invoked - sent - bench_handlers.WINDOW_S * 1000
                    for invoked, sent in zip(bench_handlers.INVOKED_MS, committed, strict=True)]
    p50, p99, top = percentiles(after_commit)
    s50, s99, _ = percentiles(bench_handlers.LATENESS_MS)
    print(f"window accuracy ({kind}), synchronous={synchronous}, sent from "
          f"{'this process' if sender == 'process' else 'another process'}: window "
          f"{bench_handlers.WINDOW_S:g} s, {len(after_commit)} lone messages: invocation delay after the send "
          f"committed, minus the window: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {top:.1f} ms (target p99 <= 5 ms); "
          f"after SentTimestamp: p50 {s50:.1f} ms, p99 {s99:.1f} ms")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians are shown")
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL",
                        help="SQLite durability for the engine's queue and the raw loops alike (engine default FULL)")
    parser.add_argument("--batch-sizes", default="1,10,100,1000", help="comma-separated")
    parser.add_argument("--maximum-concurrency", type=int, default=None,
                        help="ScalingConfig.MaximumConcurrency (default: the engine's default)")
    parser.add_argument("--window-samples", type=int, default=20)
    parser.add_argument("--window-source", choices=("queue", "stream"), default="queue",
                        help="the embedded source the lone messages go to")
    parser.add_argument("--window-senders", default="process,other-process",
                        help="who sends the lone messages: this process (a SqliteQueue producer), another process")
    args = parser.parse_args()
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    if args.rounds > 0:
        ratios = throughput(args.messages, args.rounds, args.maximum_concurrency, args.synchronous, sizes)
        for size, (alo, amo) in ratios.items():
            if size == 100:
                print(f"engine at batch size 100: {alo:.2f} of the at-least-once loop (target >= 0.8), "
                      f"{amo:.2f} of the at-most-once loop (target >= 0.5)")
    if args.window_samples > 0:
        for sender in args.window_senders.split(","):
            window_accuracy(args.window_samples, sender, args.synchronous, args.window_source)


if __name__ == "__main__":
    main()
