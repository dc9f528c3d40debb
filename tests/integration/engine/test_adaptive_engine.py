"""Adaptive batching in the engine: the window shrinks until the latency target holds."""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import time
from pathlib import Path

import engine_handlers as h
import pytest

from batchmap.config import EventSourceMapping
from batchmap.config.function import FunctionConfig
from batchmap.engine.adaptive import AdaptiveConfig
from batchmap.engine.service import Engine
from batchmap.sources.sqlite import admin, arn_of


async def steady_traffic(tmp_path: Path, name: str, adaptive: AdaptiveConfig | None) -> list[float]:
    """Latencies of 200 messages sent at 40 per second to a fresh queue that an engine (``adaptive`` or not) runs."""
    uri = f"sqlite:///{tmp_path}/{name}.db?queue={name}"
    admin.create_queue(uri)
    mapping = EventSourceMapping(source=uri, function=FunctionConfig("engine_handlers:latency", timeout_s=5),
                                 batch_size=500, maximum_batching_window_in_seconds=2)
    engine = Engine([mapping], invoker="inprocess", adaptive=adaptive)
    running = asyncio.create_task(engine.run())
    for i in range(200):  # 40 messages per second for 5 s
        await asyncio.to_thread(admin.send, uri, [json.dumps({"i": i})])
        await asyncio.sleep(0.025)
    while len(h.LATENCIES.get(arn_of(uri), ())) < 200:  # the last window closes (2 s at most, fixed), then it runs
        await asyncio.sleep(0.05)
    engine.stop()
    await running
    return list(h.LATENCIES[arn_of(uri)])


def test_the_window_adapts_to_hold_the_latency_target(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The fixed and the adaptive run go side by side, each on a queue and an engine of its own (half the wait):
    at 40 messages per second each, sharing the process's event loop and threads does not move their latencies."""

    async def both() -> tuple[list[float], list[float]]:
        return await asyncio.gather(steady_traffic(tmp_path, "fixed", None),
                                    steady_traffic(tmp_path, "adapted", AdaptiveConfig(target_s=0.4, statistic="p99")))

    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="batchmap.engine"):
        fixed, adapted = asyncio.run(asyncio.wait_for(both(), 60))
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("adaptive batching:")]
    plans = [s for s in said if not s.endswith("scaled lane(s)")]  # before its first plan the scaler still moves
    assert plans and all(p.endswith(" 1 lane(s)") for p in plans), said  # 40/s needs one lane: it owns that
    assert time.monotonic() - started < 60
    assert len(fixed) == len(adapted) == 200
    # With the configured 2 s window most messages wait about a second; adapted, the last quarter holds the target.
    late = sorted(adapted[150:])
    assert statistics.mean(fixed) > 0.8
    assert late[int(0.9 * (len(late) - 1))] < 0.6
