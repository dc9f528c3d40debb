"""The engine's one retry helper: which errors it waits out, how long it pauses, what it logs and counts."""

from __future__ import annotations

import asyncio
import logging

import pytest

from batchmap.clock import FakeClock
from batchmap.engine.backoff import Backoff
from batchmap.errors import SourceError
from batchmap.metrics import MetricsRecorder


def backoff(recorder: MetricsRecorder, jitter: float = 1.0, **limits: float) -> Backoff:
    return Backoff("sqlite:///q.db?queue=q", recorder, asyncio.Event(), jitter=lambda: jitter, **limits)


def test_pauses_grow_exponentially_to_the_cap_and_are_drawn_below_it() -> None:
    recorder = MetricsRecorder()
    full = backoff(recorder, initial_s=0.1, max_s=1.0)
    error = SourceError("locked", transient=True)
    assert [full.failed("receive", error) for _ in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    assert backoff(recorder, jitter=0.25, initial_s=0.1).failed("receive", error) == pytest.approx(0.025)
    assert recorder.snapshot()["PollingErrorCount"] == 7


def test_an_outage_logs_one_line_when_it_starts_and_one_when_it_ends(caplog: pytest.LogCaptureFixture) -> None:
    recorder = MetricsRecorder()
    outage = backoff(recorder, jitter=0.0)
    calls = iter([SourceError("database is locked", transient=True)] * 4 + [None])

    async def locked() -> str:
        error = next(calls)
        if error is not None:
            raise error
        return "done"

    with caplog.at_level(logging.WARNING, logger="batchmap.engine"):
        assert asyncio.run(outage.call(locked, "receive")) == "done"
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert "receive failed (database is locked); waiting it out with backoff" in lines[0]
    assert "available again after" in lines[1] and "(4 failed calls)" in lines[1]
    assert recorder.snapshot()["PollingErrorCount"] == 4
    assert not outage.active


def test_a_failure_soon_after_coming_back_continues_the_outage_in_the_log(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    flapping = Backoff("kafka://127.0.0.1:9092/t", MetricsRecorder(), asyncio.Event(), clock=clock)
    error = SourceError("Connect failed", transient=True)
    with caplog.at_level(logging.INFO, logger="batchmap.engine"):
        flapping.failed("reading shard t-0", error)
        clock.advance(0.4)
        flapping.recovered()  # one connection came back, another has not yet
        clock.advance(1.0)
        flapping.failed("reading shard t-1", error)
        clock.advance(2.0)
        flapping.recovered()
        clock.advance(60.0)
        flapping.failed("reading shard t-0", error)  # a new outage, long after
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [("waiting it out" in w, "available again" in w) for w in warnings] == [
        (True, False), (False, True), (False, True), (True, False)], warnings
    assert "failed again soon after coming back" in warnings[2] and "soon after" not in warnings[1]
    [info] = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert "reading shard t-1 failed again soon after it came back" in info


def test_a_fatal_error_or_a_bug_is_raised_at_once() -> None:
    outage = backoff(MetricsRecorder())

    async def refused() -> None:
        raise SourceError("permission denied")

    async def broken() -> None:
        raise OverflowError("int too large")

    with pytest.raises(SourceError, match="permission denied"):
        asyncio.run(outage.call(refused, "delete"))
    with pytest.raises(OverflowError):
        asyncio.run(outage.call(broken, "read"))
    assert not outage.active


def test_a_stop_ends_the_waiting_with_the_last_transient_error() -> None:
    async def scenario() -> None:
        stop = asyncio.Event()
        outage = Backoff("q", MetricsRecorder(), stop, jitter=lambda: 1.0, initial_s=30.0, max_s=30.0)

        async def down() -> None:
            raise SourceError("connection refused", transient=True)

        waiting = asyncio.create_task(outage.call(down, "delete"))
        await asyncio.sleep(0.05)
        stop.set()
        with pytest.raises(SourceError, match="connection refused") as caught:
            await asyncio.wait_for(waiting, 1.0)  # not the 30 s pause
        assert caught.value.transient

    asyncio.run(scenario())
