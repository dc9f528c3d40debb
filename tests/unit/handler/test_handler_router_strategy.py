"""Rules 8 and 9: type routing, and concurrency="auto" with its analysis."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from handler_support import kinesis_event, reported, sqs_event

from batchmap.errors import ConfigError, HandlerError, UnknownRecordTypeError
from batchmap.handler import Router, run_batch


def test_router_dispatches_on_a_payload_field() -> None:
    router = Router("kind")
    seen: list[tuple[str, Any]] = []

    @router.route("a", "b")
    def letters(record: Any) -> None:
        seen.append(("letters", record.json()["i"]))

    router.add(3, lambda record: seen.append(("three", record.json()["i"])))
    payloads = [{"kind": "a", "i": 0}, {"kind": 3, "i": 1}, {"kind": "zzz", "i": 2}, {"i": 3}, {"kind": "b", "i": 4}]
    result = run_batch(sqs_event(5, payloads=payloads), router)
    assert seen == [("letters", 0), ("three", 1), ("letters", 4)]
    assert reported(result.response) == ["m2", "m3"]
    error = result.failures[0].error
    assert isinstance(error, UnknownRecordTypeError)
    assert (error.field, error.value, error.known) == ("kind", "zzz", ["a", "b", "3"])
    assert "kind='zzz'" in str(error)
    assert result.failures[1].error.value is None  # type: ignore[union-attr]


def test_router_dotted_path_default_and_misuse() -> None:
    router = Router("detail.type", default=lambda record: "default")
    router.add("x", lambda record: None)
    payloads = [{"detail": {"type": "x"}}, {"detail": {"type": "y"}}, {"detail": "flat"}]
    assert reported(run_batch(sqs_event(3, payloads=payloads), router).response) == []
    assert router.types == ["x"] and router.field == "detail.type" and "detail.type" in repr(router)
    with pytest.raises(ConfigError):
        router.add("x", lambda record: None)
    with pytest.raises(ConfigError):
        Router("")

    async def later(record: Any) -> None:
        return None

    with pytest.raises(HandlerError, match="all 'async def'"):
        router.add("z", later)


def test_async_router() -> None:
    router = Router()
    ran: list[int] = []

    @router.route("t")
    async def handle(record: Any) -> None:
        await asyncio.sleep(0)
        ran.append(record.json()["i"])

    payloads = [{"type": "t", "i": i} for i in range(4)]
    assert reported(run_batch(sqs_event(4, payloads=payloads), router, concurrency=2).response) == []
    assert router.is_async and sorted(ran) == [0, 1, 2, 3]


@pytest.mark.parametrize(("event", "name", "concurrency"), [
    (sqs_event(1), "sequential", 1),
    (sqs_event(5, groups=["g"] * 5), "sequential", 1),
    (sqs_event(3, sizes=[70_000] * 3), "sequential", 1),
    (sqs_event(8, sizes=[9_000] * 8), "moderate", 4),
    (sqs_event(40), "parallel", 16),
    (sqs_event(6), "parallel", 6),
    (kinesis_event(["a", "b", "a", "b", "c"]), "parallel", 3),
])
def test_auto_strategy_rules(event: dict[str, Any], name: str, concurrency: int) -> None:
    result = run_batch(event, lambda record: None, concurrency="auto")
    assert (result.strategy.name, result.strategy.concurrency) == (name, concurrency), result.strategy.reason
    assert result.analysis is not None and result.analysis.count == len(event["Records"])


def test_auto_analysis_counts_types_sizes_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    router = Router()
    for kind in ("a", "b", "c", "d"):
        router.add(kind, lambda record: None)
    payloads = [{"type": "abcd"[i % 4], "n": i} for i in range(20)]
    with caplog.at_level(logging.INFO, logger="batchmap.handler"):
        result = run_batch(sqs_event(20, payloads=payloads), router, concurrency="auto")
    analysis = result.analysis
    assert analysis is not None
    assert dict(analysis.types) == {"a": 5, "b": 5, "c": 5, "d": 5}
    bodies = [json.dumps(p) for p in payloads]
    assert analysis.total_bytes == sum(len(b) for b in bodies) and analysis.max_bytes == max(len(b) for b in bodies)
    assert analysis.lanes is None and not analysis.is_async
    assert result.strategy.name == "moderate" and "4 record types" in result.strategy.reason
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
    logged = [line for line in lines if line["message"] == "batch strategy"]
    assert logged and logged[0]["strategy"] == "moderate" and logged[0]["analysis"]["count"] == 20


def test_auto_async_cap_is_higher() -> None:
    async def handle(record: Any) -> None:
        return None

    result = run_batch(sqs_event(100), handle, concurrency="auto")
    assert (result.strategy.name, result.strategy.concurrency) == ("parallel", 64)
