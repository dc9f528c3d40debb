"""Contract: per-key order where the source has keys, and FilterCriteria."""

from __future__ import annotations

import itertools
from typing import Any

import contract_handlers as h
from contract_support import drain, mapping, messages
from contract_target import Kit

from batchmap.config import ScalingConfig

KEYS = ("a", "b", "c", "d")  # Kafka's default partitioner puts a, b, c on one of two partitions, d on the other
PER_KEY = 8


def test_each_key_keeps_its_order_and_has_one_batch_in_flight(keyed_kit: Kit) -> None:
    """FIFO message groups, partition keys and DynamoDB items: in order, never in two batches at once."""
    target = keyed_kit.create(fifo=True, shards=2 if keyed_kit.sharded else 1)
    for key in KEYS:
        target.send([{"id": f"{key}{i:02d}", "key": key} for i in range(PER_KEY)], key=key)
    settings: dict[str, Any] = {"batch_size": 3}
    if target.kind == "queue":
        settings["scaling_config"] = ScalingConfig(maximum_concurrency=3)
    elif keyed_kit.shape != "kafka":
        settings["parallelization_factor"] = 3  # Kafka parallelises by partition only
    h.reset(sleep_s=0.05)
    drain(target, mapping(target, "ok", **settings))
    assert set(h.processed().values()) == {1} and len(h.processed()) == len(KEYS) * PER_KEY
    order = h.first_deliveries()
    for key in KEYS:
        assert [i for i in order if i[0] == key] == [f"{key}{i:02d}" for i in range(PER_KEY)]
        spans = sorted((c.started, c.ended) for c in h.CALLS if key in c.keys)
        assert all(end <= start for (_, end), (start, _) in itertools.pairwise(spans)), spans
    if keyed_kit.shape != "kafka":  # Kafka: whether two partitions overlap is up to the broker's fetches
        assert h.ACTIVE["max"] >= 2  # batches did run side by side: the order is kept, not a side effect


def test_filtered_out_records_never_reach_the_function_and_are_not_read_again(any_kit: Kit) -> None:
    target = any_kit.create()
    target.send([{**m, "kind": "keep" if n % 2 == 0 else "drop"} for n, m in enumerate(messages(6))])
    filtered = mapping(target, "ok", filter_criteria=target.filter_criteria())
    report = drain(target, filtered)
    assert sorted(h.processed()) == ["m000", "m002", "m004"]
    assert set(h.processed().values()) == {1}
    assert report.total("FilteredOutEventCount") == 3
    if target.kind == "queue":
        assert target.backlog().total == 0  # deleted, as Lambda deletes filtered-out SQS messages
    else:
        h.reset()
        drain(target, filtered)
        assert h.CALLS == []  # the checkpoint moved past them
