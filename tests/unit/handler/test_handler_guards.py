"""Rules 10 and 11: the Lambda deadline and the memory budget, against the real clock and real RSS."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from typing import Any

import pytest
from handler_support import LambdaContext, kinesis_event, reported, sqs_event

from batchmap.errors import ConfigError
from batchmap.handler import MemoryBudget, memory, process_batch, run_batch
from batchmap.handler.memory import resident_bytes

MB = 1024 * 1024


def test_no_record_starts_when_the_deadline_margin_is_already_reached() -> None:
    ran: list[str] = []
    result = run_batch(sqs_event(5), lambda record: ran.append(record.id), LambdaContext(timeout_ms=500),
                       deadline_margin_ms=1000)
    assert ran == [] and reported(result.response) == [f"m{i}" for i in range(5)]
    assert {r.reason for r in result.results} == {"deadline"}


@pytest.mark.parametrize("concurrency", [1, 3])
def test_records_stop_starting_at_the_margin_and_the_rest_are_reported(concurrency: int) -> None:
    ran: list[str] = []
    lock = threading.Lock()

    def slow(record: Any) -> None:
        with lock:
            ran.append(record.id)
        time.sleep(0.03)

    context = LambdaContext(timeout_ms=1000 + 300)  # 300 ms to go; the batch needs 600 ms or more
    result = run_batch(sqs_event(60), slow, context, deadline_margin_ms=1000, concurrency=concurrency)
    not_run = sorted(set(f"m{i}" for i in range(60)) - set(ran), key=lambda i: int(i[1:]))
    assert ran and not_run  # some records ran, the batch stopped before the end
    assert sorted(reported(result.response), key=lambda i: int(i[1:])) == not_run
    assert all(r.reason == "deadline" for r in result.failures)


def test_deadline_margin_none_ignores_the_context() -> None:
    assert reported(process_batch(sqs_event(3), lambda r: None, LambdaContext(timeout_ms=10),
                                  deadline_margin_ms=None)) == []


def test_stream_deadline_reports_the_suffix() -> None:
    result = run_batch(kinesis_event(["a", "b", "c"]), lambda r: None, LambdaContext(timeout_ms=0))
    assert reported(result.response) == ["1000", "1001", "1002"]


def test_hard_memory_limit_stops_before_the_process_is_killed() -> None:
    """The handler holds 64 MiB from the third record on; the hard limit sits 32 MiB above the start."""
    held: list[bytes] = []
    ran: list[str] = []
    hard_at = resident_bytes() + 32 * MB
    budget = MemoryBudget(limit_mb=hard_at / 0.9 / MB, check_interval_ms=0)

    def hungry(record: Any) -> None:
        ran.append(record.id)
        if record.id == "m2":
            held.append(b"x" * (64 * MB))

    result = run_batch(sqs_event(10), hungry, memory=budget)
    held.clear()
    assert ran == ["m0", "m1", "m2"]
    assert reported(result.response) == [f"m{i}" for i in range(3, 10)]
    assert {r.reason for r in result.failures} == {"memory"}


def test_memory_limit_comes_from_the_context() -> None:
    tiny = LambdaContext(timeout_ms=60_000, memory_limit_in_mb=1)  # far below this process's RSS
    result = run_batch(sqs_event(3), lambda r: None, tiny, memory=MemoryBudget(check_interval_ms=0))
    assert {r.reason for r in result.failures} == {"memory"} and len(result.failures) == 3
    assert reported(process_batch(sqs_event(3), lambda r: None, tiny, memory=None)) == []


def test_a_shared_process_context_sets_no_limit_unless_one_is_given() -> None:
    shared = LambdaContext(timeout_ms=60_000, memory_limit_in_mb=1)
    shared.shared_process = True  # type: ignore[attr-defined]  # the engine's in-process invoker says so
    assert reported(process_batch(sqs_event(3), lambda r: None, shared, memory=MemoryBudget(check_interval_ms=0))) == []
    given = MemoryBudget(limit_mb=1, check_interval_ms=0)
    assert {r.reason for r in run_batch(sqs_event(3), lambda r: None, shared, memory=given).failures} == {"memory"}


def test_soft_threshold_lowers_concurrency_and_drops_tracebacks() -> None:
    rss = resident_bytes()
    budget = MemoryBudget(limit_mb=rss / 0.5 / MB, soft=0.3, hard=0.99, check_interval_ms=0)  # soft < RSS < hard
    lock = threading.Lock()
    flight = {"now": 0, "most": 0}

    def handle(record: Any) -> None:
        with lock:
            flight["now"] += 1
            flight["most"] = max(flight["most"], flight["now"])
        time.sleep(0.002)
        with lock:
            flight["now"] -= 1
        if record.id == "m0":
            raise ValueError("keep my traceback?")

    result = run_batch(sqs_event(24), handle, concurrency=8, memory=budget)
    assert reported(result.response) == ["m0"]
    assert flight["most"] <= 4  # halved at the very first check, before any record started
    assert result.errors[0].__traceback__ is None


def _sync_record(record: Any) -> None:
    time.sleep(0.005)


async def _async_record(record: Any) -> None:
    await asyncio.sleep(0.005)


@pytest.mark.parametrize(("handle", "concurrency"), [(_sync_record, 1), (_sync_record, 4), (_async_record, 4)])
def test_a_slow_collection_under_lasting_pressure_is_not_repeated_before_every_record(
        monkeypatch: pytest.MonkeyPatch, handle: Any, concurrency: int) -> None:
    """A heap whose collection outlasts the 0.25 s between pressure signals would be collected before every
    record if the pace were per signal; relief collects at most a tenth of the process's time."""
    collections: list[float] = []

    def slow_collect(generation: int = 2) -> int:
        collections.append(time.monotonic())
        time.sleep(0.3)
        return 0

    monkeypatch.setattr(gc, "collect", slow_collect)
    monkeypatch.setattr(memory._Pace, "next_at", 0.0)
    budget = MemoryBudget(limit_mb=100, soft=0.5, hard=0.9, check_interval_ms=0, probe=lambda: 60 * MB)
    result = run_batch(sqs_event(40), handle, concurrency=concurrency, memory=budget)
    assert reported(result.response) == []
    assert len(collections) == 1  # the next one may come 2.7 s after it ended: the batch is over by then


@pytest.mark.parametrize(("kwargs", "parameter"), [
    ({"limit_mb": 0}, "limit_mb"), ({"soft": 0.9, "hard": 0.8}, "soft"),
    ({"check_interval_ms": -1}, "check_interval_ms"),
])
def test_budget_validation(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(ConfigError) as caught:
        MemoryBudget(**kwargs)
    assert caught.value.parameter == parameter
