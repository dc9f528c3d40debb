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
from batchmap.sources.sqlite import admin


def run_with_steady_traffic(tmp_path: Path, adaptive: AdaptiveConfig | None) -> list[float]:
    uri = f"sqlite:///{tmp_path}/a{adaptive is not None}.db?queue=steady"
    admin.create_queue(uri)
    mapping = EventSourceMapping(source=uri, function=FunctionConfig("engine_handlers:latency", timeout_s=5),
                                 batch_size=500, maximum_batching_window_in_seconds=2)
    engine = Engine([mapping], invoker="inprocess", adaptive=adaptive)

    async def go() -> None:
        running = asyncio.create_task(engine.run())
        for i in range(200):  # 40 messages per second for 5 s
            await asyncio.to_thread(admin.send, uri, [json.dumps({"i": i})])
            await asyncio.sleep(0.025)
        while len(h.LATENCIES) < 200:  # the last window closes (2 s at most, fixed), then its batch runs
            await asyncio.sleep(0.05)
        engine.stop()
        await running

    h.LATENCIES.clear()
    asyncio.run(asyncio.wait_for(go(), 60))
    return list(h.LATENCIES)


def test_the_window_adapts_to_hold_the_latency_target(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fixed = run_with_steady_traffic(tmp_path, None)
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="batchmap.engine"):
        adapted = run_with_steady_traffic(tmp_path, AdaptiveConfig(target_s=0.4, statistic="p99"))
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("adaptive batching:")]
    plans = [s for s in said if not s.endswith("scaled lane(s)")]  # before its first plan the scaler still moves
    assert plans and all(p.endswith(" 1 lane(s)") for p in plans), said  # 40/s needs one lane: it owns that
    assert time.monotonic() - started < 60
    assert len(fixed) == len(adapted) == 200
    # With the configured 2 s window most messages wait about a second; adapted, the last quarter holds the target.
    late = sorted(adapted[150:])
    assert statistics.mean(fixed) > 0.8
    assert late[int(0.9 * (len(late) - 1))] < 0.6
