"""The engine on the in-memory stream: AWS's Kinesis mapping rules end to end (Python API, in-process).

These test the engine's semantics, so they run on the twin (``memory-stream://``); the contract
suite runs the same behaviours on every real stream, the embedded one included.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import engine_handlers as h
import pytest
from engine_support import drain

from batchmap.config import DestinationConfig, EventSourceMapping, OnFailure
from batchmap.config.function import FunctionConfig
from batchmap.engine.destinations import DESTINATION_OPENERS
from batchmap.sources import memory
from batchmap.sources.registry import SourceOptions, open_source


@pytest.fixture(autouse=True)
def fresh_streams() -> Iterator[None]:
    """Each test starts with no memory streams (one worker runs its tests one at a time)."""
    memory.forget()
    yield
    memory.forget()


def stream(tmp_path: Path, shards: int = 1) -> str:
    uri = f"memory-stream://events?shards={shards}"
    asyncio.run(open_source(uri))  # created now, with that many shards
    return uri


async def _put(uri: str, texts: list[str], key: str) -> None:
    source = await open_source(uri)
    assert isinstance(source, memory.MemoryStream)
    await source.send(texts, partition_key=key)


def put(uri: str, *items: dict[str, object], key: str = "k") -> None:
    asyncio.run(_put(uri, [json.dumps(i) for i in items], key))


async def _checkpoints(uri: str, mapping_id: str) -> dict[str, str]:
    source = await open_source(uri)
    assert isinstance(source, memory.MemoryStream)
    store = source.checkpoint_store()
    found = {shard.id: await store.get(mapping_id, shard.id) for shard in await source.shards()}
    return {shard: sequence for shard, sequence in found.items() if sequence is not None}


def mapping(uri: str, function: str, **settings: object) -> EventSourceMapping:
    settings.setdefault("starting_position", "TRIM_HORIZON")
    handler = FunctionConfig(handler=f"engine_handlers:{function}", timeout_s=2)
    return EventSourceMapping(source=uri, function=handler, uuid="m1", **settings)  # type: ignore[arg-type]


def test_reads_every_shard_in_order_and_checkpoints(tmp_path: Path) -> None:
    uri = stream(tmp_path, shards=2)
    for key in ("a", "b", "c", "d"):
        put(uri, *({"k": key, "i": i} for i in range(10)), key=key)
    report = drain(mapping(uri, "record", batch_size=7))
    data = h.stream_data()
    assert len(data) == 40
    for key in ("a", "b", "c", "d"):
        assert [d["i"] for d in data if d["k"] == key] == list(range(10))
    rec = h.EVENTS[0]["Records"][0]
    assert rec["eventSource"] == "aws:kinesis" and rec["eventID"].startswith("shardId-")
    assert rec["eventSourceARN"] == "arn:aws:kinesis:local:000000000000:stream/events"
    assert all(len({r["eventID"].split(":")[0] for r in e["Records"]}) == 1 for e in h.EVENTS)  # one shard per batch
    assert report.total("InvokedEventCount") == 40
    ages = [m["IteratorAge"] for m in report.metrics.values()]
    assert all(age["Maximum"] is not None and age["Maximum"] >= 0 for age in ages)
    h.reset()
    drain(mapping(uri, "record"))
    assert h.EVENTS == []  # resumed after the checkpoint: nothing new
    checkpoints = asyncio.run(_checkpoints(uri, "m1"))
    assert len(checkpoints) == 2


def test_latest_skips_what_was_there_before(tmp_path: Path) -> None:
    uri = stream(tmp_path)
    put(uri, {"i": 1})
    drain(mapping(uri, "record", starting_position="LATEST"))
    assert h.EVENTS == []


def test_partial_failure_rewinds_to_the_lowest_failed_record(tmp_path: Path) -> None:
    uri = stream(tmp_path)
    put(uri, {"i": 0}, {"i": 1}, {"i": 2, "poison": True}, {"i": 3})
    drain(mapping(uri, "stream_report_poison", function_response_types=["ReportBatchItemFailures"]))
    seen = [d["i"] for d in h.stream_data()]
    assert seen == [0, 1, 2, 3, 2, 3, 2, 3]  # 0 and 1 never again; 2 and what follows re-sent until it succeeds


def test_retries_exhausted_discards_to_the_on_failure_destination(tmp_path: Path) -> None:
    uri = stream(tmp_path)
    put(uri, {"i": 0, "poison": True}, {"i": 1})
    put(uri, {"i": 2})
    failures = tmp_path / "failures.jsonl"
    report = drain(mapping(uri, "stream_raise_on_poison", batch_size=2, maximum_retry_attempts=1,
                           destination_config=DestinationConfig(OnFailure(f"file://{failures}"))))
    (line,) = failures.read_text().splitlines()
    record = json.loads(line)
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    info = record["KinesisBatchInfo"]
    assert info["batchSize"] == 2 and info["streamArn"].endswith("stream/events")
    assert [d["i"] for d in h.stream_data()] == [0, 1, 0, 1, 2]
    assert report.total("OnFailureDestinationDeliveredEventCount") == 2
    assert report.total("DroppedEventCount") == 0


def test_bisect_isolates_the_poison_record(tmp_path: Path) -> None:
    uri = stream(tmp_path)
    put(uri, *({"i": i, "poison": i == 5} for i in range(8)))
    report = drain(mapping(uri, "stream_raise_on_poison", batch_size=8, maximum_retry_attempts=0,
                           bisect_batch_on_function_error=True))
    succeeded = [d["i"] for e in h.EVENTS for d in [h._data(r) for r in e["Records"]] if len(e["Records"]) and
                 not any(h._data(r).get("poison") for r in e["Records"])]
    assert sorted(succeeded) == [0, 1, 2, 3, 4, 6, 7]
    assert report.total("DroppedEventCount") == 1


def test_parallelization_factor_keeps_order_per_partition_key(tmp_path: Path) -> None:
    uri = stream(tmp_path)
    for i in range(20):
        for key in ("a", "b", "c", "d", "e", "f"):
            put(uri, {"k": key, "i": i}, key=key)
    drain(mapping(uri, "stream_slow_keys", batch_size=5, parallelization_factor=4))
    data = h.stream_data()
    for key in "abcdef":
        assert [d["i"] for d in data if d["k"] == key] == list(range(20))
    assert h.ACTIVE["max"] >= 2


def test_tumbling_windows_pass_state_and_end_with_a_final_invoke(tmp_path: Path) -> None:
    uri = stream(tmp_path)
    put(uri, *({"i": i} for i in range(5)))
    drain(mapping(uri, "tumbling_count", batch_size=2, tumbling_window_in_seconds=1))
    windows: dict[str, list[dict[str, object]]] = {}
    for event in h.EVENTS:
        windows.setdefault(event["window"]["start"], []).append(event)
    assert sum(len(e["Records"]) for e in h.EVENTS) == 5
    for events in windows.values():
        *regular, final = events
        assert final["isFinalInvokeForWindow"] is True and final["Records"] == []
        assert not any(e["isFinalInvokeForWindow"] for e in regular)
        sent = 0
        for event in regular:  # each invocation gets the state the previous one returned
            assert event["state"].get("count", 0) == sent
            sent += len(event["Records"])
        assert final["state"]["count"] == sent
    assert all(set(e) >= {"window", "state", "shardId", "eventSourceARN", "isWindowTerminatedEarly"} for e in h.EVENTS)


class ClosingDestination:
    """A plug-in destination that keeps its records and says whether the engine closed it."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.records: list[dict[str, object]] = []
        self.closed = 0

    async def send(self, record: dict[str, object]) -> None:
        self.records.append(record)

    async def close(self) -> None:
        self.closed += 1


def test_the_engine_closes_the_on_failure_destination_when_the_run_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[ClosingDestination] = []

    async def open_closing(uri: str, options: SourceOptions) -> ClosingDestination:
        opened.append(ClosingDestination(uri))
        return opened[-1]

    monkeypatch.setitem(DESTINATION_OPENERS, "closing", open_closing)
    uri = stream(tmp_path)
    put(uri, {"i": 0, "poison": True})
    drain(mapping(uri, "stream_raise_on_poison", batch_size=1, maximum_retry_attempts=0,
                  destination_config=DestinationConfig(OnFailure("closing://failures"))))
    (destination,) = opened
    assert [r["requestContext"]["condition"] for r in destination.records] == ["RetryAttemptsExhausted"]  # type: ignore[index]
    assert destination.closed == 1


def test_a_checkpoint_store_the_engine_opened_from_its_uri_is_closed_with_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from batchmap.engine import service
    from batchmap.sources.sqlite.checkpoints import SqliteCheckpointStore

    closed: list[str] = []

    class Recorded(SqliteCheckpointStore):
        async def close(self) -> None:
            closed.append("closed")
            await super().close()

    async def open_recorded(uri: str) -> SqliteCheckpointStore:
        return Recorded(uri)

    monkeypatch.setattr(service, "open_checkpoint_store", open_recorded)
    uri = stream(tmp_path)
    put(uri, {"i": 0})
    drain(mapping(uri, "stream_raise_on_poison"), checkpoint_store_uri=str(tmp_path / "checkpoints.db"))
    assert closed == ["closed"]
    given = Recorded(str(tmp_path / "given.db"))
    drain(mapping(uri, "stream_raise_on_poison"), checkpoint_store=given)
    assert closed == ["closed"], "a store the caller gave is the caller's to close"
    asyncio.run(given.close())
