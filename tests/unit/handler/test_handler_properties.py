"""Property: for any failures, keys, options and concurrency, the response is exactly what AWS needs.

The oracle models AWS, not batchmap: SQS re-delivers exactly the listed
messages; Kinesis and DynamoDB Streams re-read the shard from the lowest
listed sequence number; Kafka re-reads each topic-partition from its lowest
listed offset. The properties: every record that failed or never ran comes
back; the rewind points are exactly the first such records (nothing more is
re-sent than must be); SQS lists nothing else; no record runs twice.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from handler_support import dynamodb_event, kafka_batch, kinesis_event, sqs_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchmap.handler import process_batch
from batchmap.records import parse_event, read_partial_response

KINDS = ["sqs", "fifo", "kinesis", "dynamodb", "kafka"]


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    n = draw(st.integers(1, 24))
    keys = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=n, max_size=n))
    partitions = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    return {
        "kind": kind, "keys": keys, "partitions": partitions,
        "fail": draw(st.sets(st.integers(0, n - 1))),
        "concurrency": draw(st.sampled_from([1, 2, 3, 8])),
        "mode": draw(st.sampled_from(["sync", "async"])),
        "fifo_strict": draw(st.booleans()),
        "other_keys": draw(st.booleans()),
    }


def build(s: dict[str, Any]) -> dict[str, Any]:
    kind, keys = s["kind"], s["keys"]
    if kind == "sqs":
        return sqs_event(len(keys))
    if kind == "fifo":
        return sqs_event(len(keys), groups=keys)
    if kind == "kinesis":
        return kinesis_event(keys)
    if kind == "dynamodb":
        return dynamodb_event(keys)
    return kafka_batch([(p, k if k != "d" else None) for p, k in zip(s["partitions"], keys, strict=True)])


def redelivered(kind: str, batch: Any, listed: set[int]) -> set[int]:
    """What AWS delivers again for a valid response listing the records at ``listed``."""
    if not listed:
        return set()
    if kind in ("sqs", "fifo"):
        return set(listed)
    if kind in ("kinesis", "dynamodb"):
        return set(range(min(listed), len(batch)))
    again: set[int] = set()
    for tp in {batch[i].topic_partition for i in listed}:
        lowest = min(batch[i].offset for i in listed if batch[i].topic_partition == tp)
        again |= {i for i, r in enumerate(batch) if r.topic_partition == tp and r.offset >= lowest}
    return again


def first_per_unit(kind: str, batch: Any, positions: set[int], s: dict[str, Any]) -> set[int]:
    """The first position of ``positions`` in each unit AWS rewinds (shard, partition)."""
    if kind in ("kinesis", "dynamodb"):
        return {min(positions)} if positions else set()
    firsts: dict[str, int] = {}
    for i in sorted(positions):
        firsts.setdefault(batch[i].topic_partition, i)
    return set(firsts.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_response_is_exactly_what_aws_needs(s: dict[str, Any]) -> None:
    event = build(s)
    batch = parse_event(event)
    position = {json_id(r.id): i for i, r in enumerate(batch)}
    calls: list[int] = []
    lock = threading.Lock()

    def handle(record: Any) -> None:
        i = position[json_id(record.id)]
        with lock:
            calls.append(i)
        if i in s["fail"]:
            raise ValueError(f"record {i}")

    async def handle_async(record: Any) -> None:
        await asyncio.sleep(0)
        handle(record)

    response = process_batch(event, handle_async if s["mode"] == "async" else handle,
                             concurrency=s["concurrency"], fifo_strict=s["fifo_strict"],
                             stream_continue_other_keys=s["other_keys"])
    reading = read_partial_response(event, response)
    assert reading.status != "invalid", reading.error
    listed = set(reading.failed)
    ran = set(calls)
    assert len(calls) == len(ran), "a record ran twice"
    failed = ran & s["fail"]
    needed = failed | (set(range(len(batch))) - ran)  # failed, or never ran
    again = redelivered(s["kind"], batch, listed)
    assert needed <= again, f"lost: {sorted(needed - again)}"
    if s["kind"] in ("sqs", "fifo"):
        assert listed == needed
    else:
        assert first_per_unit(s["kind"], batch, listed, s) == first_per_unit(s["kind"], batch, needed, s)
    if s["kind"] == "sqs":
        assert ran == set(range(len(batch)))  # standard queues: failures never stop anything
    else:
        check_lanes(s, batch, calls)
    if s["concurrency"] == 1 and s["kind"] != "sqs":
        check_sequential_stops(s, batch, calls)


def check_lanes(s: dict[str, Any], batch: Any, calls: list[int]) -> None:
    """Records sharing an ordering key run in event order, and none runs after one of them failed."""
    lanes: dict[Any, list[int]] = {}
    for i in calls:
        record = batch[i]
        if record.key is not None:  # keyless Kafka records are not ordered
            lanes.setdefault((getattr(record, "topic_partition", ""), record.key), []).append(i)
    for lane, order in lanes.items():
        assert order == sorted(order), f"lane {lane} ran out of order: {order}"
        assert all(i not in s["fail"] for i in order[:-1]), f"lane {lane} went on after a failure: {order}"


def check_sequential_stops(s: dict[str, Any], batch: Any, calls: list[int]) -> None:
    """In order, a failure stops exactly its unit: nothing of it runs after the failure."""
    assert calls == sorted(calls)
    kind = s["kind"]
    for i, j in ((i, j) for i in calls if i in s["fail"] for j in calls if j > i):
        same_key = batch[i].key == batch[j].key
        if kind == "fifo":
            same_unit = s["fifo_strict"] or same_key
        elif kind == "kafka":
            same_unit = batch[i].topic_partition == batch[j].topic_partition and (not s["other_keys"] or same_key)
        else:
            same_unit = not s["other_keys"] or same_key
        assert not same_unit, f"record {j} ran after {i} failed in the same unit"


def json_id(identifier: Any) -> str:
    return identifier if isinstance(identifier, str) else f"{identifier['partition']}@{identifier['offset']}"
