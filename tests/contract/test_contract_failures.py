"""Contract: partial failure, redelivery, dead-lettering (queues) and rewind, retries, on-failure (streams)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import contract_handlers as h
from contract_support import drain, mapping, messages
from contract_target import Kit

from batchmap.config import DestinationConfig, OnFailure

PARTIAL: dict[str, Any] = {"function_response_types": ["ReportBatchItemFailures"]}
BATCH_INFO = {"kinesis": "KinesisBatchInfo", "dynamodb": "DDBStreamBatchInfo", "kafka": "KafkaBatchInfo"}


def deliveries() -> dict[str, list[int]]:
    """Each message's delivery numbers (receive counts on queues), in invocation order."""
    found: defaultdict[str, list[int]] = defaultdict(list)
    for call in sorted(h.CALLS, key=lambda c: c.started):
        for message_id, number in zip(call.ids, call.deliveries, strict=True):
            found[message_id].append(number)
    return dict(found)


# -- queues ------------------------------------------------------------------------------------------------


def test_a_partial_failure_redelivers_only_the_reported_messages(queue_kit: Kit) -> None:
    target = queue_kit.create(visibility_timeout_s=1)
    batch = messages(6)
    batch[1]["fail"] = batch[4]["fail"] = 2  # reported failed on receives 1 and 2, fine on the third
    target.send(batch)
    report = drain(target, mapping(target, "partial", batch_size=10, **PARTIAL))
    seen = deliveries()
    assert seen["m001"] == seen["m004"] == [1, 2, 3]  # back after the visibility timeout, counted by the broker
    assert all(seen[m["id"]] == [1] for m in batch if "fail" not in m)  # the others were deleted at once
    assert report.total("DeletedEventCount") == 6
    assert target.backlog().total == 0


def test_a_message_that_keeps_failing_goes_to_the_dead_letter_queue(queue_kit: Kit) -> None:
    target = queue_kit.create(visibility_timeout_s=1, max_receive_count=2)
    poison = {"id": "poison", "poison": True}
    target.send([poison, *messages(3)])
    drain(target, mapping(target, "raising", batch_size=1))
    seen = deliveries()
    assert seen["poison"] == [1, 2]  # maxReceiveCount receives, then the broker moves it
    assert all(seen[f"m{i:03d}"] == [1] for i in range(3))
    assert [m["id"] for m in target.dead_letters()] == ["poison"]
    backlog = target.backlog()
    assert (backlog.visible, backlog.in_flight, backlog.delayed) == (0, 0, 0)


# -- streams -----------------------------------------------------------------------------------------------


def test_a_partial_failure_rewinds_to_the_lowest_failed_record(stream_kit: Kit) -> None:
    target = stream_kit.create()
    batch = messages(6)
    batch[2]["fail"] = 1
    target.send(batch, key="k")  # one key: one shard, in order
    drain(target, mapping(target, "partial", batch_size=6, maximum_batching_window_in_seconds=1, **PARTIAL))
    ids = [i for call in sorted(h.CALLS, key=lambda c: c.started) for i in call.ids]
    # Records before the failed one are checkpointed; it and everything after it come again, in order.
    assert ids == [f"m{i:03d}" for i in (0, 1, 2, 3, 4, 5, 2, 3, 4, 5)], ids


def test_a_failing_batch_is_retried_then_sent_to_the_on_failure_destination(stream_kit: Kit) -> None:
    target = stream_kit.create()
    target.send([{"id": "poison", "poison": True}, *messages(4)], key="k")
    destination = DestinationConfig(OnFailure(target.failures_path.as_uri()))
    # The window only makes sure the first batch takes all three (they were all sent before): the last batch,
    # two records, waits it out.
    report = drain(target, mapping(target, "raising", batch_size=3, maximum_batching_window_in_seconds=0.25,
                                   maximum_retry_attempts=1, destination_config=destination))
    calls = [list(call.ids) for call in sorted(h.CALLS, key=lambda c: c.started)]
    first = ["poison", "m000", "m001"]
    assert calls == [first, first, ["m002", "m003"]], calls  # tried, retried once, discarded; the shard moves on
    [record] = target.on_failure_records()
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record[BATCH_INFO[stream_kit.shape]]["batchSize"] == 3
    assert report.total("OnFailureDestinationDeliveredEventCount") == 3
