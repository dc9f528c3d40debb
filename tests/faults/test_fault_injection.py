"""Every call a queue lane or a shard worker makes to its source (or checkpoint store) fails in turn.

A transient failure is waited out: the run drains, every message is processed
(once: the retry comes long before any visibility timeout) and
``PollingErrorCount`` counts the failed calls. A fatal failure, or a bug (an
exception no source should raise), stops the engine within 5 s with
``MappingFailedError`` naming the mapping, its source and the cause. Nothing
hangs: each run is bounded by ``asyncio.timeout(5)``.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import fault_handlers
import faulty_source
import pytest
from faulty_source import ERRORS, Faulty, faulty_uri

from batchmap.config import DestinationConfig, EventSourceMapping, OnFailure
from batchmap.config.function import FunctionConfig
from batchmap.engine.service import Engine, RunReport
from batchmap.errors import MappingFailedError
from batchmap.sources.sqlite import admin
from batchmap.sources.sqlite.checkpoints import SqliteCheckpointStore

BUDGET_S = 5.0
MESSAGES = 30
FUNCTION = FunctionConfig(handler="fault_handlers:record", timeout_s=1)
SLOW_FUNCTION = FunctionConfig(handler="fault_handlers:record_slowly", timeout_s=1)

QUEUE_CALLS = {"receive": 2, "delete": 2, "backlog": 1}
"""What a queue lane (and its run loop) awaits on the source, and which call of it fails."""
STREAM_CALLS = {"shards": 1, "read": 2}
STORE_CALLS = {"get": 1, "put": 1, "acquire": 1, "renew": 1, "owners": 1, "release": 1}
"""What a shard worker (and its runner) awaits on the stream and on the checkpoint and lease store."""
CLEANUP = {"release"}
"""Store calls made only as the run ends (leases expire anyway): a source error there is a warning."""


def run(engine: Engine, *, until_idle: bool = True) -> RunReport:
    async def bounded() -> RunReport:
        async with asyncio.timeout(BUDGET_S):
            return await engine.run(until_idle=until_idle)

    return asyncio.run(bounded())


def messages() -> list[str]:
    return [json.dumps({"id": f"m{i:03d}"}) for i in range(MESSAGES)]


def expected() -> set[str]:
    return {f"m{i:03d}" for i in range(MESSAGES)}


def queue_uri(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path}/faults.db?queue=q{uuid.uuid4().hex[:8]}"
    admin.create_queue(uri, {"VisibilityTimeout": "10"})
    admin.send(uri, messages())
    return uri


def stream_uri(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path}/faults.db?stream=s{uuid.uuid4().hex[:8]}"
    admin.create_stream(uri, shard_count=2)
    admin.send(uri, messages())  # random partition keys: both shards get records
    return uri


def mapping(source: str, **settings: object) -> EventSourceMapping:
    settings.setdefault("batch_size", 5)
    settings.setdefault("function", FUNCTION)
    return EventSourceMapping(source=source, uuid=f"faults-{uuid.uuid4().hex[:8]}", **settings)


def drained(report: RunReport) -> None:
    assert set(fault_handlers.SEEN) == expected(), "messages lost"
    assert max(fault_handlers.SEEN.values()) == 1, "a retried call made a message go to the function twice"


def stopped_on(error: BaseException, caught: pytest.ExceptionInfo[MappingFailedError]) -> None:
    assert caught.value.cause is error
    assert str(error) in str(caught.value)


@pytest.mark.parametrize("kind", sorted(ERRORS))
@pytest.mark.parametrize("method", sorted(QUEUE_CALLS))
def test_a_queue_lane_recovers_from_a_transient_failure_and_stops_on_any_other(
    faulty_sources: None, tmp_path: Path, method: str, kind: str
) -> None:
    error = ERRORS[kind](method)
    uri = faulty_uri(queue_uri(tmp_path), method, QUEUE_CALLS[method], error, times=3 if kind == "transient" else 1)
    engine = Engine([mapping(uri)], invoker="inprocess")
    if kind == "transient":
        report = run(engine)
        drained(report)
        assert report.total("PollingErrorCount") == 3
        assert report.total("DeletedEventCount") == MESSAGES
    else:
        with pytest.raises(MappingFailedError) as caught:
            run(engine)
        stopped_on(error, caught)
    [wrapped] = faulty_source.OPENED.values()
    assert wrapped.raised == (3 if kind == "transient" else 1)


@pytest.mark.parametrize("kind", sorted(ERRORS))
def test_a_release_at_the_stop_that_fails_loses_nothing(faulty_sources: None, tmp_path: Path, kind: str) -> None:
    """Records gathered for a window when the run stops are released; if that fails they come back later."""
    inner = f"sqlite:///{tmp_path}/faults.db?queue=q{uuid.uuid4().hex[:8]}"
    admin.create_queue(inner, {"VisibilityTimeout": "1"})
    admin.send(inner, messages()[:3])
    error = ERRORS[kind]("release")
    engine = Engine([mapping(faulty_uri(inner, "release", 1, error), batch_size=100,
                             maximum_batching_window_in_seconds=30)], invoker="inprocess")

    async def stop_while_gathering() -> None:
        async with asyncio.timeout(BUDGET_S):
            running = asyncio.create_task(engine.run())
            while not engine.prepared or engine.prepared[0].recorder.snapshot()["PolledEventCount"] < 3:
                await asyncio.sleep(0.01)
            engine.stop()
            await running

    if kind == "transient":
        asyncio.run(stop_while_gathering())  # a warning: the messages come back after their visibility timeout
    else:
        with pytest.raises(MappingFailedError) as caught:
            asyncio.run(stop_while_gathering())
        stopped_on(error, caught)
    assert not fault_handlers.SEEN
    run(Engine([mapping(inner)], invoker="inprocess"))
    assert set(fault_handlers.SEEN) == {"m000", "m001", "m002"}


@pytest.mark.parametrize("kind", sorted(ERRORS))
@pytest.mark.parametrize(("where", "method"), [*(("stream", m) for m in STREAM_CALLS),
                                              *(("store", m) for m in STORE_CALLS)])
def test_a_shard_worker_recovers_from_a_transient_failure_and_stops_on_any_other(
    faulty_sources: None, tmp_path: Path, where: str, method: str, kind: str
) -> None:
    error = ERRORS[kind](method)
    times = 3 if kind == "transient" else 1
    uri = stream_uri(tmp_path)
    store = SqliteCheckpointStore(str(tmp_path / "checkpoints.db"))
    if where == "stream":
        uri = faulty_uri(uri, method, STREAM_CALLS[method], error, times)
        checkpoints: object = store
    else:
        checkpoints = Faulty(store, method, STORE_CALLS[method], error, times)
    # Renewals come every third of the lease: the run must last past the first, and the failing ones must end
    # well before the lease runs out (else the shard is lost and read again, which is right, but not this test).
    slow = {"function": SLOW_FUNCTION, "batch_size": 1} if method == "renew" else {}
    engine = Engine([mapping(uri, starting_position="TRIM_HORIZON", **slow)], invoker="inprocess",
                    checkpoint_store=checkpoints, shard_lease_s=3.0 if method == "renew" else 1.0)  # type: ignore[arg-type]
    try:
        if kind == "transient" or (kind == "fatal" and method in CLEANUP):
            drained(run(engine))
        else:
            with pytest.raises(MappingFailedError) as caught:
                run(engine)
            stopped_on(error, caught)
    finally:
        asyncio.run(store.close())
    wrapped = next(iter(faulty_source.OPENED.values())) if where == "stream" else checkpoints
    assert isinstance(wrapped, Faulty) and wrapped.raised == times


def test_an_on_failure_destination_that_fails_for_a_while_is_waited_out(faulty_sources: None, tmp_path: Path) -> None:
    """Records a slot discards wait for the destination (the shard does not move on), instead of being dropped."""
    failures = tmp_path / "failures.jsonl"
    destination = faulty_uri(failures.as_uri(), "send", 1, ERRORS["transient"]("send"), times=3)
    refusing = FunctionConfig(handler="fault_handlers:refuse", timeout_s=1)
    engine = Engine([mapping(stream_uri(tmp_path), starting_position="TRIM_HORIZON", function=refusing,
                             maximum_retry_attempts=0,
                             destination_config=DestinationConfig(on_failure=OnFailure(destination=destination)))],
                    invoker="inprocess")
    report = run(engine)
    assert set(fault_handlers.SEEN) == expected()
    assert report.total("DroppedEventCount") == 0 and report.total("DestinationDeliveryFailures") == 0
    assert report.total("OnFailureDestinationDeliveredEventCount") == MESSAGES
    assert report.total("PollingErrorCount") == 3
    named = [json.loads(line)["KinesisBatchInfo"] for line in failures.read_text().splitlines()]
    assert sum(info["batchSize"] for info in named) == MESSAGES
