"""Resident memory per in-flight record on the embedded queue: batch 10,000, 1 KB bodies.

    python bench/inflight_memory.py [--rounds 3] [--records 10000] [--body-bytes 1024]

Each round runs in a fresh interpreter (so the allocator starts empty): it fills
an embedded queue with ``--records`` messages of ``--body-bytes`` of JSON,
prepares an engine with BatchSize = ``--records`` and the in-process invoker, as
``batchmap run`` does, reads the process's resident set (``/proc/self/statm``),
drains the queue, and has the handler read the resident set again while the
whole batch is in flight (received, held, built into one event). The growth
divided by the records is the memory per in-flight record; the ratio to the body
size is printed (target: at most 3x the payload). Median of the rounds. Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

PEAK: list[int] = []


def resident_bytes() -> int:
    """This process's resident set size (``/proc/self/statm``, second field, in pages)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def hold(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The handler: the resident set while the batch is in flight."""
    PEAK.append(resident_bytes())
    return {}


def child(records: int, body_bytes: int) -> None:
    """One measurement in this (fresh) interpreter; prints the bytes per in-flight record."""
    from batchmap.config import EventSourceMapping
    from batchmap.config.function import FunctionConfig
    from batchmap.engine.service import Engine
    from batchmap.sources.sqlite import send
    from bench_process import as_batchmap_run

    pad = "x" * (body_bytes - len(json.dumps({"n": 0, "pad": ""})) - 5)
    with tempfile.TemporaryDirectory() as folder:
        uri = f"sqlite:///{folder}/m.db?queue=memory"
        for start in range(0, records, 1000):
            send(uri, [json.dumps({"n": n, "pad": pad[: len(pad) + 5 - len(str(n))]})
                       for n in range(start, min(records, start + 1000))])
        mapping = EventSourceMapping(source=uri, function=FunctionConfig("inflight_memory:hold", timeout_s=20),
                                     batch_size=records, maximum_batching_window_in_seconds=5)
        engine = Engine([mapping], invoker="inprocess")

        async def go() -> int:
            await engine.prepare()
            with as_batchmap_run():
                before = resident_bytes()
                report = await engine.run(until_idle=True)
            assert report.total("DeletedEventCount") == records, report.metrics
            return before

        before = asyncio.run(go())
    import inflight_memory  # the handler's module: under __main__ this file is another module object

    peak = inflight_memory.PEAK
    print(json.dumps({"per_record": (max(peak) - before) / records, "batches": len(peak)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--body-bytes", type=int, default=1024)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.records, args.body_bytes)
        return
    per_record = []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, __file__, "--child", "--records", str(args.records),
                              "--body-bytes", str(args.body_bytes)], capture_output=True, text=True, check=True)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        per_record.append(figures["per_record"])
        print(f"  round: {figures['per_record']:,.0f} bytes per in-flight record ({figures['batches']} batch(es))")
    median = statistics.median(per_record)
    print(f"resident memory per in-flight record, batch {args.records:,}, {args.body_bytes:,}-byte bodies: "
          f"median {median:,.0f} bytes = {median / args.body_bytes:.2f}x the payload (target <= 3x)")


if __name__ == "__main__":
    main()
