"""A shard of the embedded stream that caught up reads again when a record arrives, not after the poll interval."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import engine_handlers as h
import pytest

from batchmap.config import EventSourceMapping
from batchmap.config.function import FunctionConfig
from batchmap.engine import service
from batchmap.sources.sqlite import admin, commit_wait

POLL_INTERVAL_S = 3600.0
SIGNAL_BOUND_S = 60.0
"""A bound, not a timing: the shard's polls and the wait's own checks are an hour apart, so only a signal
(the doorbell, the WAL watch) can bring the read sooner."""


async def wait_until(condition: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")
        await asyncio.sleep(0.02)


def put_elsewhere(uri: str, data: dict[str, int]) -> None:
    """A put by another process: only the WAL watch (inotify) can tell this one."""
    body = json.dumps(data)
    program = f"from batchmap.sources.sqlite import admin; admin.send({uri!r}, [{body!r}], partition_key='k')"
    subprocess.run([sys.executable, "-c", program], check=True)


@pytest.mark.parametrize("writer", ["this process", "another process"])
def test_a_put_wakes_a_shard_that_caught_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writer: str) -> None:
    monkeypatch.setattr(commit_wait, "QUIET_CHECK_S", POLL_INTERVAL_S)
    monkeypatch.setattr(commit_wait, "POLL_MAX_S", POLL_INTERVAL_S)
    settings = service.run_settings
    monkeypatch.setattr(service, "run_settings",
                        lambda r, adaptive=None: replace(settings(r, adaptive), poll_interval_s=POLL_INTERVAL_S))
    uri = f"sqlite:///{tmp_path}/s.db?stream=woken"
    admin.create_stream(uri, 1)
    admin.send(uri, [json.dumps({"n": 0})], partition_key="k")
    mapping = EventSourceMapping(source=uri, function=FunctionConfig("engine_handlers:record", timeout_s=5),
                                 starting_position="TRIM_HORIZON", batch_size=1, uuid="woken")
    # Positions and leases in a file of their own: their writes must not wake the shard's wait on the stream's file.
    engine = service.Engine([mapping], invoker="inprocess", checkpoint_store_uri=f"sqlite:///{tmp_path}/positions.db")

    async def scenario() -> None:
        running = asyncio.create_task(engine.run())
        try:
            await wait_until(lambda: h.stream_data() == [{"n": 0}], "the first record", SIGNAL_BOUND_S)
            await asyncio.sleep(0.3)  # the shard read again, found nothing, and waits
            if writer == "this process":
                await asyncio.to_thread(admin.send, uri, [json.dumps({"n": 1})], partition_key="k")
            else:
                await asyncio.to_thread(put_elsewhere, uri, {"n": 1})
            await wait_until(lambda: h.stream_data() == [{"n": 0}, {"n": 1}], "the record put later",
                             SIGNAL_BOUND_S)
        finally:
            engine.stop()
            await running

    asyncio.run(scenario())
