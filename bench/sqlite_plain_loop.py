"""The baseline for the engine benchmark: drain an embedded queue with its own SQL and no engine.

``plain_loop`` issues exactly the statements ``SqliteQueue.receive`` and
``SqliteQueue.delete`` issue (one UPDATE ... RETURNING per receive of N
messages, one DELETE statement per N handles) on a connection set up as the
queue sets one up, each in an IMMEDIATE transaction of its own, and hands each
batch of rows to a trivial handler. It builds no SQS records and makes no
thread hops: it is the ceiling the engine is measured against. (``SqliteQueue``
group-commits: a lane's delete and its next receive, and the receives of
concurrent lanes, share one transaction, so the engine commits less often
than this loop does; the statements are the same, apart from the one index
lookup a standard queue's receive makes first to see whether it holds message
groups, a fair queue: ``bench/fair_queue_receive.py`` measures that.)

``at_least_once_loop`` and ``at_most_once_loop`` are the limits issue 15 set
the engine against: raw sqlite3 on the same file, one transaction per batch.
The at-most-once loop deletes the batch as it reads it (``DELETE ...
RETURNING``: a crash after the commit loses the batch); the at-least-once loop,
in one transaction, deletes the batch it handled last and leases the next (the
queue's receive statement), so a crash loses nothing, and the last batch gets
a transaction of its own. Their handler parses every JSON body.

    python bench/sqlite_plain_loop.py [--messages N] [--repeat R] [--synchronous FULL|NORMAL]

prints records/s at batch sizes 1, 10, 100 and 1000 for the plain loop and,
for comparison, for draining through the public async ``SqliteQueue`` API.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from batchmap.sources.sqlite import SqliteQueue, queue_arn, send
from batchmap.sources.sqlite.database import Database
from batchmap.sources.sqlite.queue_records import deliveries
from batchmap.sources.sqlite.queue_store import DELETE, RECEIVE_FIFO, RECEIVE_STANDARD

BATCH_SIZES = (1, 10, 100, 1000)


def trivial_handler(rows: Sequence[object]) -> int:
    """Touch every record once, as a do-nothing Lambda handler would."""
    return sum(1 for _ in rows)


def plain_loop(db_path: str, queue_name: str, batch_size: int, synchronous: str = "FULL",
               build_records: bool = False) -> float:
    """Drain ``queue_name`` in ``db_path`` with the queue's own statements; returns records per second.

    With ``build_records`` the handler gets the SQS-shaped records the queue
    would deliver (built by the queue's own code), for a baseline that hands
    its handler the same event an engine would.
    """
    db = Database(db_path, synchronous)
    try:
        queue_id, fifo, attributes = db.conn.execute(
            "SELECT id, fifo, attributes FROM queues WHERE name = ?", (queue_name,)).fetchone()
        attrs = json.loads(attributes)
        visibility_ms = int(attrs["VisibilityTimeout"]) * 1000
        retention_ms = int(attrs["MessageRetentionPeriod"]) * 1000
        receive_sql = RECEIVE_FIFO if fifo else RECEIVE_STANDARD
        done = 0
        start = time.perf_counter()
        while True:
            now_ms = time.time_ns() // 1_000_000
            token = secrets.token_hex(8)
            with db.write() as conn:
                rows = conn.execute(receive_sql, {
                    "queue": queue_id, "now": now_ms, "until": now_ms + visibility_ms,
                    "cutoff": now_ms - retention_ms, "token": token, "limit": batch_size,
                }).fetchall()
            if not rows:
                break
            if build_records:
                done += trivial_handler(deliveries(rows, token, queue_arn(queue_name), bool(fifo)))
            else:
                done += trivial_handler(rows)
            with db.write() as conn:
                conn.execute(DELETE, (queue_id, token, json.dumps([row[0] for row in rows])))
        elapsed = time.perf_counter() - start
    finally:
        db.close()
    return done / elapsed if elapsed > 0 else 0.0


def parse_bodies(bodies: Sequence[str]) -> int:
    """The raw loops' handler: parse every JSON body, as the engine benchmark's handler does."""
    loads = json.loads
    for body in bodies:
        loads(body)
    return len(bodies)


AT_MOST_ONCE = ("DELETE FROM messages WHERE seq IN (SELECT seq FROM messages WHERE queue_id = :queue "
                "AND visible_ms <= :now ORDER BY visible_ms, seq LIMIT :limit) RETURNING seq, body")


def at_most_once_loop(db_path: str, queue_name: str, batch_size: int, synchronous: str = "FULL") -> float:
    """Records/s of a raw loop that takes each batch off the queue in one transaction, then handles it."""
    db = Database(db_path, synchronous)
    conn = db.conn
    try:
        queue_id = conn.execute("SELECT id FROM queues WHERE name = ?", (queue_name,)).fetchone()[0]
        done = 0
        start = time.perf_counter()
        while True:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute(AT_MOST_ONCE, {"queue": queue_id, "now": time.time_ns() // 1_000_000,
                                               "limit": batch_size}).fetchall()
            conn.execute("COMMIT")
            if not rows:
                break
            done += parse_bodies([row[1] for row in rows])
        elapsed = time.perf_counter() - start
    finally:
        db.close()
    return done / elapsed if elapsed > 0 else 0.0


def at_least_once_loop(db_path: str, queue_name: str, batch_size: int, synchronous: str = "FULL") -> float:
    """Records/s of a raw loop that, per transaction, deletes the batch it handled and leases the next."""
    db = Database(db_path, synchronous)
    conn = db.conn
    try:
        queue_id, attributes = conn.execute(
            "SELECT id, attributes FROM queues WHERE name = ?", (queue_name,)).fetchone()
        attrs = json.loads(attributes)
        visibility_ms = int(attrs["VisibilityTimeout"]) * 1000
        retention_ms = int(attrs["MessageRetentionPeriod"]) * 1000
        done = 0
        handled: tuple[str, str] | None = None  # (receipt token, JSON list of seqs) of the batch to delete
        start = time.perf_counter()
        while True:
            now_ms = time.time_ns() // 1_000_000
            token = secrets.token_hex(8)
            conn.execute("BEGIN IMMEDIATE")
            if handled is not None:
                conn.execute(DELETE, (queue_id, *handled))
            rows = conn.execute(RECEIVE_STANDARD, {
                "queue": queue_id, "now": now_ms, "until": now_ms + visibility_ms,
                "cutoff": now_ms - retention_ms, "token": token, "limit": batch_size,
            }).fetchall()
            conn.execute("COMMIT")
            if not rows:
                break
            done += parse_bodies([row[2] for row in rows])
            handled = (token, json.dumps([row[0] for row in rows]))
        elapsed = time.perf_counter() - start
    finally:
        db.close()
    return done / elapsed if elapsed > 0 else 0.0


def api_loop(uri: str, batch_size: int) -> float:
    """Drain through ``SqliteQueue.receive``/``delete`` (records built, thread hops included)."""

    async def drain() -> float:
        queue = await SqliteQueue.open(uri)
        done = 0
        start = time.perf_counter()
        while deliveries := await queue.receive(batch_size, 0):
            done += len(deliveries)
            await queue.delete(deliveries)
        elapsed = time.perf_counter() - start
        await queue.close()
        return done / elapsed if elapsed > 0 else 0.0

    return asyncio.run(drain())


def fill(uri: str, count: int) -> None:
    """Put ``count`` small JSON bodies in the queue, 1000 per transaction."""
    for start in range(0, count, 1000):
        send(uri, [json.dumps({"n": i, "payload": "x" * 64}) for i in range(start, min(count, start + 1000))])


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=20_000, help="messages per run at batch >= 100")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is shown")
    parser.add_argument("--synchronous", choices=("FULL", "NORMAL"), default="FULL",
                        help="SQLite durability level of the file (the URI's synchronous=)")
    args = parser.parse_args(argv)
    print(f"synchronous={args.synchronous}, best of {args.repeat}")
    print(f"{'batch':>6} {'plain loop rec/s':>17} {'SqliteQueue rec/s':>18} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as folder:
        for batch_size in BATCH_SIZES:
            count = max(min(args.messages, batch_size * 2000), 2000)
            best = {"plain": 0.0, "api": 0.0}
            for attempt in range(args.repeat):
                for label in best:  # alternate, so both see the same disk and machine load
                    path = Path(folder) / f"bench-{batch_size}-{attempt}-{label}.db"
                    uri = f"sqlite:///{path}?queue=bench&synchronous={args.synchronous}"
                    fill(uri, count)
                    rate = (plain_loop(str(path), "bench", batch_size, args.synchronous) if label == "plain"
                            else api_loop(uri, batch_size))
                    best[label] = max(best[label], rate)
            ratio = best["api"] / best["plain"]
            print(f"{batch_size:>6} {best['plain']:>17,.0f} {best['api']:>18,.0f} {ratio:>6.2f}")


if __name__ == "__main__":
    main()
