"""Adaptive batching on the embedded engine: settle time and invocations/s against the optimum.

Sends Poisson traffic at RATE records/s to a temporary embedded queue for DURATION
seconds (on one connection, what fell due in one transaction at most every 5 ms);
the in-process function sleeps 20 ms + 1 ms per record. Prints, per 10 s, the
invocations/s and the p99 latency (send to batch success, measured by the
function's end), and the controller's last plan; the optimum is the brute-force
figure of the shared-queue simulator (tests/unit/tuning/test_tuning_adaptive_optimum.py).

    .venv/bin/python bench/adaptive_engine.py RATE TARGET DURATION
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from batchmap.config import EventSourceMapping
from batchmap.config.function import FunctionConfig
from batchmap.engine.adaptive import AdaptiveConfig
from batchmap.engine.service import Engine
from batchmap.sources.sqlite import admin
from batchmap.tuning.validate import send_poisson

DONE: list[tuple[float, float]] = []  # (sent, finished) seconds since the epoch


async def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event["Records"]
    await asyncio.sleep(0.020 + 0.001 * len(records))
    now = time.time()
    DONE.extend((int(r["attributes"]["SentTimestamp"]) / 1000, now) for r in records)
    return {}


async def main(rate: float, target: float, duration: float) -> None:
    folder = Path(tempfile.mkdtemp())
    uri = f"sqlite:///{folder}/q.db?queue=load"
    admin.create_queue(uri)
    sys.modules["adaptive_bench_handler"] = sys.modules[__name__]
    mapping = EventSourceMapping(source=uri, function=FunctionConfig("adaptive_bench_handler:handler", timeout_s=30),
                                 batch_size=10)
    engine = Engine([mapping], invoker="inprocess", adaptive=AdaptiveConfig(target_s=target))
    running = asyncio.create_task(engine.run())
    start = await send_poisson(uri, rate, duration, json.dumps({"n": 1}), seed=1)
    await asyncio.sleep(3 * target + 1)
    engine.stop()
    await running
    sent = np.array([s for s, _ in DONE]) - start
    latency = np.array([f - s for s, f in DONE])
    finished = np.array([f for _, f in DONE]) - start
    batches = np.unique(finished)
    for t in range(0, int(duration), 10):
        inside = (sent >= t) & (sent < t + 10)
        count = ((batches >= t) & (batches < t + 10)).sum()
        if inside.any():
            p99 = np.percentile(latency[inside], 99)
            print(f"{t:3d}-{t + 10:3d} s: {count / 10:.2f} invocations/s, p99 {p99:.3f} s")


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)8.0f ms %(message)s")
    logging.getLogger("batchmap.engine").setLevel(logging.INFO)
    asyncio.run(main(float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])))
