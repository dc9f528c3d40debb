"""What the handler toolkit costs, next to Powertools' BatchProcessor and a plain loop.

    .venv/bin/python bench/handler_overhead.py [--quick] [--io]

Prints, from one run:

1. per-record overhead of ``process_batch`` vs Powertools' ``BatchProcessor``
   (``process_partial_response``, the documented API, with a module-level
   processor) vs a plain ``for`` loop, on the same SQS events of 10, 100, 1,000
   and 10,000 records with a no-op record handler: the median time of a batch
   divided by its size, the ratios, and how each grows from 100 to 10,000;
2. 1,000 I/O-bound records of 1 ms each with ``concurrency=100``, sync
   (threads) and async, against the 10 ms physical limit (1,000 x 1 ms / 100),
   with the same work done by hand-written workers (threads from the same
   pool; coroutines on ``asyncio.run``'s default loop) in turns with it;
3. the cold import of ``batchmap.handler`` vs Powertools' batch module in fresh
   interpreters (median of several), and import plus a first 10-record batch;
4. the same as 1. with every tenth record failing (its handler raises), logging
   on: the root logger writes INFO and above to a file, as Lambda sends stdout to
   CloudWatch Logs; and the log bytes one batch of 10,000 failing records writes.

No assertion: the numbers depend on the machine. The targets are printed next
to them (overhead <= Powertools' at every size and flat from 100 to 10,000; the
I/O case within 1.3x of 10 ms; the import at most a fifth of Powertools'; with
10 % failures at most 1.5x Powertools').
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from batchmap.handler import process_batch
from batchmap.handler.pool import worker_pool
from batchmap.records import records_event, sqs_record

SIZES = (10, 100, 1_000, 10_000)
RECORDS_PER_POINT = 500_000
IO_RECORDS, IO_SLEEP_S, IO_CONCURRENCY = 1_000, 0.001, 100
POWERTOOLS = BatchProcessor(event_type=EventType.SQS)


def sqs_event(n: int) -> dict[str, Any]:
    return records_event([sqs_record(json.dumps({"order": i, "amount": "19.99"}), message_id=f"msg-{i:06d}",
                                     queue_arn="arn:aws:sqs:us-east-1:123456789012:orders") for i in range(n)])


def noop(record: Any) -> None:
    return None


def plain_loop(event: dict[str, Any]) -> dict[str, Any]:
    failures = []
    for record in event["Records"]:
        try:
            noop(record)
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


RUNNERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "plain loop": plain_loop,
    "powertools": lambda event: process_partial_response(event=event, record_handler=noop, processor=POWERTOOLS,
                                                         context=None),
    "batchmap": lambda event: process_batch(event, noop),
}


def overhead(quick: bool) -> dict[int, dict[str, float]]:
    """Median microseconds per record for each runner and size, runs interleaved to share any drift."""
    table: dict[int, dict[str, float]] = {}
    for n in SIZES:
        event = sqs_event(n)
        for run in RUNNERS.values():
            assert run(event)["batchItemFailures"] == []
            for _ in range(max(3, 2_000 // n)):  # warm up: caches, allocator, first-call costs
                run(event)
        repeats = max(31, (RECORDS_PER_POINT // (10 if quick else 1)) // n)
        times: dict[str, list[float]] = {name: [] for name in RUNNERS}
        for _ in range(repeats):
            for name, run in RUNNERS.items():
                start = time.perf_counter()
                run(event)
                times[name].append(time.perf_counter() - start)
        table[n] = {name: statistics.median(ts) / n * 1e6 for name, ts in times.items()}
        del event
        gc.collect()
    return table


def print_overhead(table: dict[int, dict[str, float]]) -> bool:
    print("1. Per-record overhead, SQS events, no-op handler (median µs per record)")
    print(f"   {'records':>8} {'plain loop':>11} {'powertools':>11} {'batchmap':>9} {'bm/pt':>7} {'bm/plain':>9}")
    ok = True
    for n, row in table.items():
        ratio = row["batchmap"] / row["powertools"]
        ok &= ratio <= 1.0
        print(f"   {n:>8,} {row['plain loop']:>11.3f} {row['powertools']:>11.3f} {row['batchmap']:>9.3f} "
              f"{ratio:>7.2f} {row['batchmap'] / row['plain loop']:>9.1f}")
    growth = {name: table[10_000][name] / table[100][name] for name in RUNNERS}
    print("   growth 100 -> 10,000 records (per-record cost at 10,000 / at 100): "
          + ", ".join(f"{name} {g:.2f}x" for name, g in growth.items()))
    flat = growth["batchmap"] <= 1.25
    print(f"   target: batchmap <= powertools at every size: {'met' if ok else 'MISSED'}; "
          f"flat from 100 to 10,000 (<= 1.25x): {'met' if flat else 'MISSED'}")
    return ok and flat


def sleepy(record: Any) -> None:
    time.sleep(IO_SLEEP_S)


async def sleepy_async(record: Any) -> None:
    await asyncio.sleep(IO_SLEEP_S)


def floor_threads(event: dict[str, Any]) -> None:
    """The same work on the same pooled threads with no scheduling at all: this machine's floor."""
    work = deque(event["Records"])

    def drain() -> None:
        while True:
            try:
                record = work.popleft()
            except IndexError:
                return
            sleepy(record)

    worker_pool().run(drain, IO_CONCURRENCY)


def floor_async(event: dict[str, Any]) -> None:
    work = deque(event["Records"])

    async def drain() -> None:
        while work:
            await sleepy_async(work.popleft())

    async def main() -> None:
        await asyncio.gather(*(drain() for _ in range(IO_CONCURRENCY)))

    asyncio.run(main())


def io_bound(quick: bool) -> dict[str, tuple[float, float, float]]:
    """(first run, median warm run, median hand-written floor) in ms for threads and asyncio."""
    event = sqs_event(IO_RECORDS)
    cases = {"sync, threads": (sleepy, floor_threads), "async, event loop": (sleepy_async, floor_async)}
    out = {}
    for label, (handler, floor) in cases.items():
        runs, floors = [], []
        for _ in range(5 if quick else 21):
            start = time.perf_counter()
            response = process_batch(event, handler, concurrency=IO_CONCURRENCY)
            runs.append((time.perf_counter() - start) * 1000)
            assert response == {"batchItemFailures": []}
            start = time.perf_counter()
            floor(event)
            floors.append((time.perf_counter() - start) * 1000)
        out[label] = (runs[0], statistics.median(runs[1:]), statistics.median(floors))
    return out


def print_io(results: dict[str, tuple[float, float, float]]) -> bool:
    limit = IO_RECORDS * IO_SLEEP_S * 1000 / IO_CONCURRENCY
    print(f"\n2. {IO_RECORDS:,} records x {IO_SLEEP_S * 1000:g} ms of I/O, concurrency={IO_CONCURRENCY} "
          f"(physical limit {limit:g} ms)")
    print(f"   {'handler':<18} {'first run':>10} {'warm median':>12} {'x limit':>8} {'hand-written floor':>19}")
    ok = True
    for label, (first, warm, floor) in results.items():
        ok &= warm <= 1.3 * limit
        print(f"   {label:<18} {first:>8.1f}ms {warm:>10.1f}ms {warm / limit:>7.2f}x {floor:>17.1f}ms")
    print(f"   target: within 1.3x of {limit:g} ms (warm): {'met' if ok else 'MISSED'}; the floor is the same sleeps "
          "on bare workers, i.e. what threads or asyncio's default loop cost here")
    return ok


IMPORTS = {
    "batchmap.handler": "from batchmap.handler import process_batch, batch_handler",
    "powertools batch": "from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, "
                        "process_partial_response",
}
FIRST_BATCH = {
    "batchmap.handler": "process_batch(event, lambda record: None)",
    "powertools batch": "process_partial_response(event=event, record_handler=lambda record: None, "
                        "processor=BatchProcessor(event_type=EventType.SQS), context=None)",
}


def cold(statement: str, then: str = "") -> float:
    """Milliseconds for ``statement`` (and ``then``) in a fresh interpreter, interpreter start-up excluded."""
    event = json.dumps(sqs_event(10))
    program = (f"import time\nstart = time.perf_counter()\n{statement}\n"
               + (f"event = {event}\n{then}\n" if then else "")
               + "print((time.perf_counter() - start) * 1000)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # let the .pyc caches exist
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, env=env)
    return float(out.stdout.strip().splitlines()[-1])


def imports(quick: bool) -> dict[str, tuple[float, float]]:
    for statement in IMPORTS.values():
        cold(statement)  # write bytecode caches first: a deployed package ships them
    repeats = 5 if quick else 11
    out = {}
    for name, statement in IMPORTS.items():
        out[name] = (statistics.median(cold(statement) for _ in range(repeats)),
                     statistics.median(cold(statement, FIRST_BATCH[name]) for _ in range(repeats)))
    return out


def print_imports(results: dict[str, tuple[float, float]]) -> bool:
    print("\n3. Cold start in a fresh interpreter (median; interpreter start-up excluded)")
    print(f"   {'module':<18} {'import':>9} {'import + first 10-record batch':>31}")
    for name, (imp, first) in results.items():
        print(f"   {name:<18} {imp:>7.1f}ms {first:>29.1f}ms")
    ratio = results["batchmap.handler"][0] / results["powertools batch"][0]
    ok = ratio <= 0.2
    print(f"   batchmap / powertools: import {ratio:.2f}, with first batch "
          f"{results['batchmap.handler'][1] / results['powertools batch'][1]:.2f}; "
          f"target <= 0.20: {'met' if ok else 'MISSED'}")
    return ok


FAILING_SIZES = (100, 1_000, 10_000)


def fail_every_tenth(record: Any) -> None:
    """Raises for every tenth record; works on Powertools' records (dicts' data classes) and batchmap's views."""
    message_id = record.message_id
    if message_id.endswith("0"):
        raise ValueError(f"cannot process {message_id}")


FAILING_RUNNERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "powertools": lambda event: process_partial_response(event=event, record_handler=fail_every_tenth,
                                                         processor=POWERTOOLS, context=None),
    "batchmap": lambda event: process_batch(event, fail_every_tenth),
}


def logging_to(path: str) -> logging.Handler:
    """INFO and above from every logger to ``path``, as Lambda's runtime sends them to CloudWatch Logs."""
    handler = logging.StreamHandler(open(path, "a"))  # noqa: SIM115  (closed by the caller)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def failing_overhead(quick: bool) -> tuple[dict[int, dict[str, float]], dict[str, int]]:
    """Median µs per record with 10 % failing, and the log bytes of one batch of 10,000 failing records."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "lambda.log")
        handler = logging_to(path)
        try:
            table: dict[int, dict[str, float]] = {}
            for n in FAILING_SIZES:
                event = sqs_event(n)
                for run in FAILING_RUNNERS.values():
                    assert len(run(event)["batchItemFailures"]) == n // 10
                    for _ in range(max(3, 2_000 // n)):
                        run(event)
                times: dict[str, list[float]] = {name: [] for name in FAILING_RUNNERS}
                for _ in range(max(15, (RECORDS_PER_POINT // (50 if quick else 5)) // n)):
                    for name, run in FAILING_RUNNERS.items():
                        start = time.perf_counter()
                        run(event)
                        times[name].append(time.perf_counter() - start)
                table[n] = {name: statistics.median(ts) / n * 1e6 for name, ts in times.items()}
            log_bytes = {}
            everything_fails = sqs_event(10_000)
            for record in everything_fails["Records"]:
                record["messageId"] += "0"
            for name, run in FAILING_RUNNERS.items():
                handler.flush()
                before = os.path.getsize(path)
                with contextlib.suppress(Exception):  # Powertools raises when every record failed
                    run(everything_fails)
                handler.flush()
                log_bytes[name] = os.path.getsize(path) - before
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
    return table, log_bytes


def print_failing(results: tuple[dict[int, dict[str, float]], dict[str, int]]) -> bool:
    table, log_bytes = results
    print("\n4. Every tenth record fails, logging on (INFO and above to a file): median µs per record")
    print(f"   {'records':>8} {'powertools':>11} {'batchmap':>9} {'bm/pt':>7}")
    ok = True
    for n, row in table.items():
        ratio = row["batchmap"] / row["powertools"]
        ok &= ratio <= 1.5
        print(f"   {n:>8,} {row['powertools']:>11.3f} {row['batchmap']:>9.3f} {ratio:>7.2f}")
    print("   log written by one batch of 10,000 failing records: "
          + ", ".join(f"{name} {size:,} bytes" for name, size in log_bytes.items()))
    print(f"   target: batchmap <= 1.5x powertools at every size: {'met' if ok else 'MISSED'}")
    return ok


def main() -> None:
    quick = "--quick" in sys.argv
    if "--io" in sys.argv:  # section 2 alone
        print(f"load average {os.getloadavg()[0]:.2f}")
        print_io(io_bound(quick))
        return
    print(f"batchmap handler overhead: Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{threading.active_count()} threads at start, load average {os.getloadavg()[0]:.2f}"
          f"{' (quick run)' if quick else ''}\n")
    met = [print_overhead(overhead(quick)), print_io(io_bound(quick)), print_imports(imports(quick)),
           print_failing(failing_overhead(quick))]
    print(f"\ntargets met: {sum(met)} of {len(met)}")


if __name__ == "__main__":
    main()
