"""Engine throughput on the embedded queue, against a plain loop, and batching-window accuracy.

    python bench/engine_throughput.py [--messages N] [--repeat R] [--window-samples N]

1. Records/s end to end (``Engine.run(until_idle=True)``: receive, batch, build
   the SQS event, invoke a trivial handler in process, judge, delete) at batch
   sizes 1, 10, 100 and 1,000, against ``bench/sqlite_plain_loop.py``'s plain
   loop doing the same SQLite reads and deletes at the same batch size with no
   engine (and, for reference, the same loop building the SQS records too).
   Target: engine / plain loop >= 0.7 at batch size 100. Wall-clock figures
   move with the machine's load, so the CPU time per record (all of the
   engine's threads; the plain loop has one) is shown too: the work each does.
2. Window accuracy: lone messages on an idle queue with a batching window;
   for each, the invocation's delay after the message was sent minus the
   window, p50 and p99. Target: p99 <= 20 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_handlers
from batchmap.config import EventSourceMapping, ScalingConfig
from batchmap.config.function import FunctionConfig
from batchmap.engine.scaling import DEFAULT_MAXIMUM_CONCURRENCY
from batchmap.engine.service import Engine
from batchmap.sources.sqlite import send
from bench_process import as_batchmap_run
from sqlite_plain_loop import fill, plain_loop

BATCH_SIZES = (1, 10, 100, 1000)


def engine_rate(uri: str, batch_size: int, count: int, lanes: int | None) -> tuple[float, float]:
    """Records/s, and CPU microseconds per record over every thread of the process."""
    mapping = EventSourceMapping(
        source=uri, function=FunctionConfig("bench_handlers:trivial", timeout_s=30), batch_size=batch_size,
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


def plain_rate(path: Path, batch_size: int, count: int, build_records: bool) -> tuple[float, float]:
    """The plain loop's records/s and CPU microseconds per record (it runs on this thread alone)."""
    cpu = time.thread_time()
    rate = plain_loop(str(path), "bench", batch_size, build_records=build_records)
    return rate, (time.thread_time() - cpu) / count * 1e6


def throughput(messages: int, repeat: int, lanes: int | None) -> dict[int, float]:
    cap = lanes or DEFAULT_MAXIMUM_CONCURRENCY
    print(f"throughput: best of {repeat}; engine with up to {cap} concurrent batches, in-process invoker; "
          "CPU us/record: least of the runs")
    print(f"{'batch':>6} {'engine rec/s':>13} {'plain loop':>11} {'ratio':>6} {'loop+records':>13} {'ratio':>6}"
          f" {'CPU us/rec: engine':>19} {'plain':>6} {'+records':>9}")
    ratios: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        for batch_size in BATCH_SIZES:
            count = max(min(messages, batch_size * 200), 2000)
            best = {"engine": 0.0, "plain": 0.0, "records": 0.0}
            cpu = {label: float("inf") for label in best}
            for attempt in range(repeat):
                for label in best:
                    path = Path(folder) / f"b{batch_size}-{attempt}-{label}.db"
                    uri = f"sqlite:///{path}?queue=bench"
                    fill(uri, count)
                    if label == "engine":
                        rate, used = engine_rate(uri, batch_size, count, lanes)
                    else:
                        rate, used = plain_rate(path, batch_size, count, build_records=label == "records")
                    best[label] = max(best[label], rate)
                    cpu[label] = min(cpu[label], used)
            ratios[batch_size] = best["engine"] / best["plain"]
            print(f"{batch_size:>6} {best['engine']:>13,.0f} {best['plain']:>11,.0f} {ratios[batch_size]:>6.2f}"
                  f" {best['records']:>13,.0f} {best['engine'] / best['records']:>6.2f}"
                  f" {cpu['engine']:>19.1f} {cpu['plain']:>6.1f} {cpu['records']:>9.1f}")
    return ratios


def window_accuracy(samples: int) -> tuple[float, float]:
    bench_handlers.LATENESS_MS.clear()
    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{folder}/w.db?queue=window"
        mapping = EventSourceMapping(
            source=uri, function=FunctionConfig("bench_handlers:window_probe", timeout_s=5), batch_size=100,
            maximum_batching_window_in_seconds=bench_handlers.WINDOW_S,
        )
        engine = Engine([mapping], invoker="inprocess")

        async def go() -> None:
            await engine.prepare()
            runner = asyncio.create_task(engine.run())
            await asyncio.sleep(0.5)
            for i in range(samples):
                await asyncio.to_thread(send, uri, [f'{{"n": {i}}}'])
                while len(bench_handlers.LATENESS_MS) <= i:
                    await asyncio.sleep(0.01)
                # The lane's window opened when that invocation completed (on_ready): once it has run out
                # empty, the lane is idle and the next message opens a window of its own.
                await asyncio.sleep(bench_handlers.WINDOW_S * 1.25)
            engine.stop()
            await runner

        asyncio.run(go())
    ordered = sorted(bench_handlers.LATENESS_MS)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    print(f"window accuracy: window {bench_handlers.WINDOW_S:g} s, {len(ordered)} lone messages: "
          f"invocation delay minus the window p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms "
          "(target p99 <= 20 ms)")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--maximum-concurrency", type=int, default=None,
                        help="ScalingConfig.MaximumConcurrency (default: the engine's default)")
    parser.add_argument("--window-samples", type=int, default=20)
    args = parser.parse_args()
    ratios = throughput(args.messages, args.repeat, args.maximum_concurrency)
    print(f"engine / plain loop at batch size 100: {ratios[100]:.2f} (target >= 0.7)")
    window_accuracy(args.window_samples)


if __name__ == "__main__":
    main()
