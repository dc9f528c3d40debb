"""The engine on the in-memory queue: AWS's SQS mapping rules end to end (Python API, in-process).

These test the engine's semantics, so they run on the twin (``memory://``); the contract suite
runs the same behaviours on every real source, the embedded queue included.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import engine_handlers as h
import pytest
from engine_support import drain

from batchmap.config import EventSourceMapping, ScalingConfig
from batchmap.config.function import FunctionConfig
from batchmap.errors import ConfigError, FunctionLoadError
from batchmap.filters import FilterCriteria
from batchmap.sources import memory
from batchmap.sources.base import Backlog, QueueSource
from batchmap.sources.registry import open_source


@pytest.fixture(autouse=True)
def fresh_queues() -> Iterator[None]:
    """Each test starts with no memory queues (one worker runs its tests one at a time)."""
    memory.forget()
    yield
    memory.forget()


def queue(tmp_path: Path, name: str = "q", **settings: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in settings.items())
    uri = f"memory://{name}" + (f"?{query}" if query else "")
    asyncio.run(open_source(uri))  # created now, with these settings
    return uri


def with_dlq(tmp_path: Path, max_receive: int = 2, visibility: int = 1) -> tuple[str, str]:
    dlq = queue(tmp_path, "dlq")
    src = queue(tmp_path, "src", visibility_timeout=str(visibility), max_receive_count=str(max_receive),
                dead_letter_queue="dlq")
    return src, dlq


async def _send(uri: str, texts: list[str], group: str | None) -> None:
    source = await open_source(uri)
    assert isinstance(source, memory.MemoryQueue)
    await source.send(texts, message_group_id=group)


def send_texts(uri: str, texts: list[str], message_group_id: str | None = None) -> None:
    asyncio.run(_send(uri, texts, message_group_id))


def send(uri: str, *bodies: object) -> None:
    send_texts(uri, [json.dumps(b) for b in bodies])


async def _backlog(uri: str) -> Backlog:
    source = await open_source(uri)
    assert isinstance(source, QueueSource)
    return await source.backlog()


def inspect(uri: str) -> Backlog:
    """The queue's backlog, as ``admin.inspect`` gives the embedded queue's."""
    return asyncio.run(_backlog(uri))


def mapping(uri: str, function: str, timeout_s: float = 1.0, **settings: object) -> EventSourceMapping:
    handler = FunctionConfig(handler=f"engine_handlers:{function}", timeout_s=timeout_s)
    return EventSourceMapping(source=uri, function=handler, **settings)  # type: ignore[arg-type]


def test_success_deletes_every_message_and_events_have_the_sqs_shape(tmp_path: Path) -> None:
    uri = queue(tmp_path)
    send(uri, *({"n": i} for i in range(25)))
    report = drain(mapping(uri, "record", batch_size=10))
    assert sorted(b["n"] for b in h.bodies()) == list(range(25))
    assert all(len(e["Records"]) <= 10 for e in h.EVENTS)
    first = h.EVENTS[0]["Records"][0]
    assert first["eventSource"] == "aws:sqs" and first["eventSourceARN"] == "arn:aws:sqs:local:000000000000:q"
    expected = {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody", "awsRegion"}
    assert expected <= set(first)
    assert inspect(uri).total == 0
    assert report.total("DeletedEventCount") == 25 and report.total("PolledEventCount") == 25


def test_partial_failures_come_back_and_reach_the_dead_letter_queue(tmp_path: Path) -> None:
    src, dlq = with_dlq(tmp_path, max_receive=2)
    send(src, {"n": 1}, {"n": 2, "bad": True}, {"n": 3})
    report = drain(mapping(src, "report_bad", function_response_types=["ReportBatchItemFailures"], timeout_s=1))
    assert [b["n"] for b in h.bodies()].count(2) == 2  # received maxReceiveCount times
    assert [b["n"] for b in h.bodies()].count(1) == 1
    assert inspect(dlq).visible == 1 and inspect(src).total == 0
    assert report.total("DeletedEventCount") == 2


def test_a_function_error_deletes_nothing_so_the_whole_batch_is_retried(tmp_path: Path) -> None:
    src, dlq = with_dlq(tmp_path, max_receive=2)
    send(src, {"n": 1}, {"n": 2, "bad": True})
    drain(mapping(src, "raise_on_bad", batch_size=10, timeout_s=1))
    counts = [b["n"] for b in h.bodies()]
    assert counts.count(1) == 2 and counts.count(2) == 2  # good message retried with the bad one, as on AWS
    assert inspect(dlq).visible == 2


def test_without_report_batch_item_failures_a_returned_list_is_ignored(tmp_path: Path) -> None:
    src, dlq = with_dlq(tmp_path)
    send(src, {"n": 1, "bad": True})
    report = drain(mapping(src, "report_bad", timeout_s=1))
    assert len(h.bodies()) == 1 and inspect(dlq).visible == 0
    assert report.total("DeletedEventCount") == 1


def test_a_malformed_partial_response_fails_the_whole_batch(tmp_path: Path) -> None:
    src, dlq = with_dlq(tmp_path, max_receive=1)
    send(src, {"n": 1}, {"n": 2})
    drain(mapping(src, "unknown_id", function_response_types=["ReportBatchItemFailures"], timeout_s=1))
    assert inspect(dlq).visible == 2


def test_filtered_out_messages_are_deleted_without_an_invocation(tmp_path: Path) -> None:
    uri = queue(tmp_path)
    send(uri, {"kind": "keep", "n": 1}, {"kind": "drop", "n": 2}, {"kind": "keep", "n": 3})
    send_texts(uri, ["not json"])
    criteria = FilterCriteria.of({"body": {"kind": ["keep"]}})
    report = drain(mapping(uri, "record", filter_criteria=criteria))
    assert sorted(b["n"] for b in h.bodies()) == [1, 3]
    assert report.total("FilteredOutEventCount") == 2 and inspect(uri).total == 0


def test_fifo_groups_keep_order_and_are_never_in_two_batches_at_once(tmp_path: Path) -> None:
    uri = queue(tmp_path, "orders.fifo")
    for group in ("a", "b", "c"):
        for i in range(12):
            send_texts(uri, [json.dumps({"g": group, "i": i})], message_group_id=group)
    drain(mapping(uri, "slow_tracking", batch_size=5, scaling_config=ScalingConfig(maximum_concurrency=3)))
    for group in ("a", "b", "c"):
        assert [b["i"] for b in h.bodies() if b["g"] == group] == list(range(12))
        spans = sorted((s, e) for g, s, e in h.GROUP_SPANS if g == group)
        assert all(prev_end <= start for (_, prev_end), (start, _) in itertools.pairwise(spans))


def test_concurrent_batches_grow_with_the_backlog_and_respect_maximum_concurrency(tmp_path: Path) -> None:
    uri = queue(tmp_path)
    send(uri, *({"n": i} for i in range(300)))
    drain(mapping(uri, "slow_tracking", batch_size=5, scaling_config=ScalingConfig(maximum_concurrency=4)))
    assert len(h.bodies()) == 300
    assert 2 <= h.ACTIVE["max"] <= 4


def test_the_window_gathers_a_batch(tmp_path: Path) -> None:
    uri = queue(tmp_path)
    send(uri, {"n": 1}, {"n": 2}, {"n": 3})
    drain(mapping(uri, "record", batch_size=100, maximum_batching_window_in_seconds=1))
    assert [len(e["Records"]) for e in h.EVENTS] == [3]


def test_bad_settings_fail_before_anything_is_consumed(tmp_path: Path) -> None:
    uri = queue(tmp_path)
    send(uri, {"n": 1})
    with pytest.raises(ConfigError, match="MaximumBatchingWindowInSeconds"):
        drain(mapping(uri, "record", batch_size=100))
    with pytest.raises(ConfigError, match="StartingPosition"):
        drain(mapping(uri, "record", starting_position="LATEST"))
    with pytest.raises(FunctionLoadError):
        drain(EventSourceMapping(source=uri, function="engine_handlers:no_such_handler"))
    with pytest.raises(ConfigError, match="visibility timeout"):
        drain(mapping(uri, "record", timeout_s=60))
    assert inspect(uri).visible == 1 and h.EVENTS == []


def test_one_drained_mapping_does_not_stop_the_others(tmp_path: Path) -> None:
    quick, slow = queue(tmp_path, "quick"), queue(tmp_path, "slow")
    send(quick, {"n": 0})
    send(slow, *({"n": i} for i in range(1, 41)))
    drain(mapping(quick, "record"), mapping(slow, "slow_tracking", batch_size=2))
    assert sorted(b["n"] for b in h.bodies()) == list(range(41))
    assert inspect(slow).total == 0


def test_a_drain_on_approximate_counts_ends_only_on_two_empty_readings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQS reads each count at its own instant: a message whose visibility timeout ends between two reads is in
    neither, and one empty reading while it is in flight must not end the drain."""
    src, dlq = with_dlq(tmp_path, max_receive=2)
    send(src, {"n": 1, "bad": True})
    exact = memory.MemoryQueue.backlog
    misread: list[Backlog] = []

    async def approximate(self: memory.MemoryQueue) -> Backlog:
        backlog = await exact(self)
        if backlog.in_flight and not misread:  # the first reading with the message in flight misses it
            misread.append(backlog)
            return Backlog(visible=0, in_flight=0, delayed=0)
        return backlog

    monkeypatch.setattr(memory.MemoryQueue, "backlog", approximate)
    monkeypatch.setattr(memory.MemoryQueue, "traits", replace(memory.MemoryQueue.traits, approximate_backlog=True))
    drain(mapping(src, "report_bad", function_response_types=["ReportBatchItemFailures"]))
    assert misread, "the misreading never happened: the test tests nothing"
    assert [b["n"] for b in h.bodies()] == [1, 1]  # received maxReceiveCount times, then dead-lettered
    assert inspect(dlq).visible == 1 and inspect(src).total == 0
