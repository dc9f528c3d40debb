"""Where the engine's CPU goes per record on the embedded queue, and what its thread hand-offs cost.

    python bench/engine_cpu_split.py [--messages N] [--rounds R] [--batch-size B] [--synchronous FULL|NORMAL]

Issue 15 measures the engine against the at-least-once raw loop
(``bench/engine_throughput.py``). This script says why the engine reads what it
reads. Each round runs, on fresh copies of the same queue:

* ``threads``: the engine as ``engine_throughput.py`` runs it (the database on
  its own thread, the handler on the in-process invoker's thread);
* ``inline``: the same engine with the database calls and the handler calls run
  on the event loop's own thread, so it makes no thread hand-off at all. A
  measurement only: the engine never runs so (it would block the loop on SQLite
  and lose the invoker's timeout isolation);
* the at-least-once loop (one transaction per batch: delete the last batch, lease the next).

For each it prints records/s and the CPU microseconds per record over every
thread of the process, split by wrapping the functions that do each part with
``time.thread_time``: SQL (``QueueStore.settle_and_receive``: the receives and
deletes, commit included), records (building the SQS records of a receive),
handler (the handler function itself: it parses every JSON body), and the rest
(the event loop, batching, judging, handing work between threads). Medians of
the rounds. When no core is idle (other processes keep them busy), records/s
follow the CPU per record: the ratio of the two CPU figures is about the
ratio of the two rates.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import bench_handlers
import sqlite_plain_loop
from batchmap.engine.invokers import in_process
from batchmap.sources.sqlite import queue_store
from batchmap.sources.sqlite.database import Database
from engine_throughput import engine_rate
from sqlite_plain_loop import at_least_once_loop, fill

PARTS = ("SQL", "records", "handler")
SPENT: dict[str, float] = defaultdict(float)
"""CPU seconds per part in the current run, summed over the threads that did it."""


def timed(part: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, adding the CPU time of the thread that calls it to ``SPENT[part]``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[part] += time.thread_time() - started

    return wrapper


@contextmanager
def patched(target: object, name: str, value: object) -> Iterator[None]:
    saved = getattr(target, name)
    setattr(target, name, value)
    try:
        yield
    finally:
        setattr(target, name, saved)


def run_now(_: Database, call: Callable[[], None]) -> concurrent.futures.Future[None]:
    """``Database.submit`` for the inline run: the call runs on the calling thread, the event loop's."""
    done: concurrent.futures.Future[None] = concurrent.futures.Future()
    call()
    done.set_result(None)
    return done


def engine_split(uri: str, batch_size: int, count: int, inline: bool) -> tuple[float, dict[str, float]]:
    """The engine's records/s and CPU microseconds per record: the total and each part."""
    SPENT.clear()
    with (patched(queue_store.QueueStore, "settle_and_receive",
                  timed("SQL", queue_store.QueueStore.settle_and_receive)),
          patched(queue_store, "deliveries", timed("records", queue_store.deliveries)),
          patched(bench_handlers, "parse_bodies", timed("handler", bench_handlers.parse_bodies))):
        if inline:
            with (patched(Database, "submit", run_now),
                  patched(in_process._DaemonThreads, "submit", lambda _, job: job())):
                rate, total = engine_rate(uri, batch_size, count, None)
        else:
            rate, total = engine_rate(uri, batch_size, count, None)
    return rate, {"total": total, **{part: SPENT[part] / count * 1e6 for part in PARTS}}


def loop_split(path: Path, batch_size: int, count: int, synchronous: str) -> tuple[float, dict[str, float]]:
    """The at-least-once loop's records/s and CPU microseconds per record (one thread: the rest is SQL)."""
    SPENT.clear()
    with patched(sqlite_plain_loop, "parse_bodies", timed("handler", sqlite_plain_loop.parse_bodies)):
        started = time.thread_time()
        rate = at_least_once_loop(str(path), "bench", batch_size, synchronous)
        total = (time.thread_time() - started) / count * 1e6
    handler = SPENT["handler"] / count * 1e6
    return rate, {"total": total, "SQL": total - handler, "records": 0.0, "handler": handler}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; medians are shown")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="NORMAL",
                        help="SQLite durability for the engine's queue and the raw loop alike")
    args = parser.parse_args()
    labels = ("threads", "inline", "at-least-once")
    rates: dict[str, list[float]] = defaultdict(list)
    cpus: dict[str, dict[str, list[float]]] = {label: defaultdict(list) for label in labels}
    with tempfile.TemporaryDirectory() as folder:
        for attempt in range(args.rounds):
            for label in labels:
                path = Path(folder) / f"{attempt}-{label}.db"
                uri = f"sqlite:///{path}?queue=bench&synchronous={args.synchronous}"
                fill(uri, args.messages)
                if label == "at-least-once":
                    rate, split = loop_split(path, args.batch_size, args.messages, args.synchronous)
                else:
                    rate, split = engine_split(uri, args.batch_size, args.messages, label == "inline")
                rates[label].append(rate)
                for part, value in split.items():
                    cpus[label][part].append(value)
    base = statistics.median(rates["at-least-once"])
    print(f"batch {args.batch_size}, {args.messages} messages, synchronous={args.synchronous}, median of "
          f"{args.rounds} interleaved rounds; CPU us per record over every thread")
    print(f"{'run':>14} {'rec/s':>9} {'/ALO':>5} {'CPU':>5} {'SQL':>5} {'records':>8} {'handler':>8} {'rest':>5}")
    for label in labels:
        cpu = {part: statistics.median(values) for part, values in cpus[label].items()}
        rest = cpu["total"] - sum(cpu[part] for part in PARTS)
        rate = statistics.median(rates[label])
        records, rest_text = ("-", "-") if label == "at-least-once" else (f"{cpu['records']:.1f}", f"{rest:.1f}")
        print(f"{label:>14} {rate:>9,.0f} {rate / base:>5.2f} {cpu['total']:>5.1f} {cpu['SQL']:>5.1f}"
              f" {records:>8} {cpu['handler']:>8.1f} {rest_text:>5}")


if __name__ == "__main__":
    main()
