"""Measure what the sliding window gains over chunked waves (the seed's Promise.all per chunk).

Both run the same batch of simulated downstream calls with the same
concurrency limit. Chunked waves start N records, wait for all N to finish,
then start the next N: one slow call stalls its whole wave. The sliding window
(``process_batch(concurrency=N)``) starts a record whenever a slot frees.

    python examples/parallel-processing/compare.py [--records 200] [--concurrency 10] [--slow-every 7]
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor

from batchmap.handler import process_batch
from batchmap.records import records_event, sqs_record


def build_batch(records: int, fast_ms: float, slow_ms: float, slow_every: int) -> dict[str, object]:
    """An SQS event whose records name their simulated latency: every ``slow_every``-th one is slow."""
    bodies = [{"id": i, "latency_ms": slow_ms if i % slow_every == 0 else fast_ms} for i in range(records)]
    return records_event(sqs_record(json.dumps(body)) for body in bodies)


def call(record_body: str) -> None:
    time.sleep(json.loads(record_body)["latency_ms"] / 1000)


def chunked_waves(event: dict[str, object], concurrency: int) -> float:
    """The seed's pattern: a wave of ``concurrency`` records, wait for all of them, next wave."""
    records = [record["body"] for record in event["Records"]]  # type: ignore[attr-defined]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for first in range(0, len(records), concurrency):
            list(pool.map(call, records[first:first + concurrency]))
    return time.perf_counter() - started


def sliding_window(event: dict[str, object], concurrency: int) -> float:
    started = time.perf_counter()
    response = process_batch(event, lambda record: call(record.body), concurrency=concurrency)
    assert response == {"batchItemFailures": []}
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--fast-ms", type=float, default=10.0)
    parser.add_argument("--slow-ms", type=float, default=100.0)
    parser.add_argument("--slow-every", type=int, default=7, help="one record in this many is slow")
    args = parser.parse_args()
    event = build_batch(args.records, args.fast_ms, args.slow_ms, args.slow_every)
    waves = chunked_waves(event, args.concurrency)
    window = sliding_window(event, args.concurrency)
    print(f"{args.records} records, concurrency {args.concurrency}, one in {args.slow_every} takes "
          f"{args.slow_ms:g} ms, the rest {args.fast_ms:g} ms")
    print(f"chunked waves:  {waves * 1000:8.1f} ms")
    print(f"sliding window: {window * 1000:8.1f} ms")
    print(f"the sliding window takes {window / waves:.2f}x the time of chunked waves "
          f"({waves / window:.2f}x faster)")


if __name__ == "__main__":
    main()
