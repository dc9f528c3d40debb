"""What fair queues cost the embedded queue's receive, before against after in one run.

    python bench/fair_queue_receive.py [--messages N] [--repeat R] [--synchronous FULL|NORMAL|OFF]

1. A queue without groups (target: after / before >= 0.95): drain it through
   ``QueueStore.receive`` and ``delete`` at batch sizes 1, 10 and 100. *Before* is
   the same loop as it ran before fair queues: a file without the ``messages_tenant``
   index and a store that never asks whether the queue has tenants (the plain
   statement, always). *After* is the code as it is. The two alternate, on fresh
   files of the same messages; the best rate and the median CPU per record of the
   runs are shown (CPU is the steadier figure on a shared machine, the more so with
   ``--synchronous OFF``, which leaves out the fsyncs), and the cost of the one
   extra statement a receive now runs (``HAS_TENANTS``) on its own.
2. For reference, what a queue with tenants pays: CPU per receive (of 10, and
   its delete) with the fair statement, against the plain statement on the same
   rows: one noisy tenant of N messages sent first and five quiet tenants of 20,
   then 1,000 tenants of 5 messages.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.queue_records import OutgoingMessage
from batchmap.sources.sqlite.queue_store import RECEIVE_STANDARD, QueueStore
from batchmap.sources.sqlite.queue_tenants import HAS_TENANTS

BATCH_SIZES = (1, 10, 100, 1000)


class PlainStore(QueueStore):
    """The receive as it was before fair queues: the plain statement, no question asked."""

    def _standard_receive(self, conn: object) -> str:
        return RECEIVE_STANDARD


def now_ms() -> int:
    return time.time_ns() // 1_000_000


SYNCHRONOUS = "FULL"
"""The files' durability level (``--synchronous``); the queue's default is FULL."""


def make(path: Path, groups: list[tuple[str | None, int]], *, before: bool) -> None:
    """A file holding queue ``q`` with the messages of ``groups`` (group, count), sent in that order."""
    db = Database(str(path), SYNCHRONOUS)
    try:
        if before:
            db.conn.execute("DROP INDEX messages_tenant")
        store = QueueStore(db, "q", now_ms=now_ms())
        for group, count in groups:
            for start in range(0, count, 1000):
                body = '{"n": %d, "payload": "' + "x" * 64 + '"}'
                store.send([OutgoingMessage(body % i, group) for i in range(start, min(count, start + 1000))],
                           now_ms())
    finally:
        db.close()


def drain(path: Path, batch_size: int, store_type: type[QueueStore],
          receives: int | None = None) -> tuple[int, float, float]:
    """Receive and delete until empty (or ``receives`` times): (records, seconds, CPU seconds of this thread)."""
    db = Database(str(path), SYNCHRONOUS)
    try:
        store = store_type(db, "q", now_ms=now_ms())
        done = calls = 0
        start, cpu = time.perf_counter(), time.thread_time()
        while receives is None or calls < receives:
            got = store.receive(batch_size, now_ms()).deliveries
            calls += 1
            if not got:
                break
            done += len(got)
            store.delete([d.handle for d in got])
        return done, time.perf_counter() - start, time.thread_time() - cpu
    finally:
        db.close()


def plain_queue(folder: Path, messages: int, repeat: int) -> dict[int, float]:
    print(f"1. a queue without groups, {messages} messages, synchronous={SYNCHRONOUS}: {repeat} runs a side, "
          "turns alternating; best rate, median CPU")
    print(f"{'batch':>6} {'before rec/s':>13} {'after rec/s':>12} {'ratio':>6} "
          f"{'CPU us/rec before':>18} {'after':>6} {'before/after':>13}")
    ratios: dict[int, float] = {}
    for batch_size in BATCH_SIZES:
        count = messages if batch_size > 1 else messages // 4
        rate = {"before": 0.0, "after": 0.0}
        cpus: dict[str, list[float]] = {"before": [], "after": []}
        for attempt in range(repeat):
            for label in ("before", "after") if attempt % 2 == 0 else ("after", "before"):
                path = folder / f"plain-{batch_size}-{attempt}-{label}.db"
                make(path, [(None, count)], before=label == "before")
                done, seconds, used = drain(path, batch_size, PlainStore if label == "before" else QueueStore)
                assert done == count, (label, done, count)
                rate[label] = max(rate[label], done / seconds)
                cpus[label].append(used / done * 1e6)
        cpu = {label: statistics.median(values) for label, values in cpus.items()}
        ratios[batch_size] = cpu["before"] / cpu["after"]
        print(f"{batch_size:>6} {rate['before']:>13,.0f} {rate['after']:>12,.0f} "
              f"{rate['after'] / rate['before']:>6.3f} {cpu['before']:>18.1f} {cpu['after']:>6.1f} "
              f"{ratios[batch_size]:>13.3f}")
    print(f"the tenants question alone: {probe_cost(folder):.1f} us of CPU per receive")
    return ratios


def probe_cost(folder: Path, calls: int = 20_000) -> float:
    """CPU microseconds of one ``HAS_TENANTS`` lookup on a queue without groups (what every receive adds)."""
    path = folder / "probe.db"
    make(path, [(None, 2000)], before=False)
    db = Database(str(path))
    try:
        cpu = time.thread_time()
        for _ in range(calls):
            db.conn.execute(HAS_TENANTS, (1,)).fetchone()
        return (time.thread_time() - cpu) / calls * 1e6
    finally:
        db.close()


def tenant_queue(folder: Path, noisy: int, repeat: int) -> None:
    print(f"2. queues with tenants: CPU us per receive of 10 and its delete, least of {repeat} (200 receives)")
    print(f"{'queue':>34} {'plain':>7} {'fair':>7} {'ratio':>6}")
    shapes: dict[str, Callable[[], list[tuple[str | None, int]]]] = {
        f"1 noisy of {noisy} + 5 quiet of 20": lambda: [("noisy", noisy)] + [(f"q{n}", 20) for n in range(5)],
        "1,000 tenants of 5": lambda: [(f"t{n}", 5) for n in range(1000)],
    }
    for name, groups in shapes.items():
        cpu = {"plain": float("inf"), "fair": float("inf")}
        for attempt in range(repeat):
            for label in cpu:
                path = folder / f"tenants-{len(groups())}-{attempt}-{label}.db"
                make(path, groups(), before=False)
                _, _, used = drain(path, 10, PlainStore if label == "plain" else QueueStore, receives=200)
                cpu[label] = min(cpu[label], used / 200 * 1e6)
        print(f"{name:>34} {cpu['plain']:>7.0f} {cpu['fair']:>7.0f} {cpu['fair'] / cpu['plain']:>6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=6)
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL", "OFF"), default="FULL")
    args = parser.parse_args()
    global SYNCHRONOUS
    SYNCHRONOUS = args.synchronous
    with tempfile.TemporaryDirectory() as folder:
        ratios = plain_queue(Path(folder), args.messages, args.repeat)
        tenant_queue(Path(folder), args.messages, args.repeat)
    print("without groups, CPU per record before / after: "
          + ", ".join(f"batch {size} {ratio:.3f}" for size, ratio in ratios.items()) + " (target >= 0.95)")


if __name__ == "__main__":
    main()
