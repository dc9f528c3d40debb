"""What a failure means for the rest of the batch, per source (the issue's rules 2–5).

Two per-record labels drive everything:

* the **stop unit**: after a record fails, no record of its unit is started.
  SQS standard has none (failures are isolated); FIFO stops the message group
  (or the whole batch with ``fifo_strict``, AWS's own rule); Kinesis and
  DynamoDB Streams stop the batch (one shard), or only the failed partition key
  / item with ``stream_continue_other_keys``; Kafka stops the topic-partition
  (or only the key within it).
* the **lane**: records of one lane run one at a time, in order, whatever the
  concurrency (FIFO group, partition key, item keys, Kafka partition+key).

And one rule for the response: SQS drops exactly the listed messages from the
retry, so it reports exactly the records that failed or never ran; streams and
Kafka re-read from the lowest reported sequence number or offset, so each stop
unit reports every record from its first failed or unstarted one onward.
"""

from __future__ import annotations

from batchmap.errors import RecordError
from batchmap.handler.result import OK

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Hashable

    from batchmap.records.event import Scan


class Ordering:
    """Stop units and lanes of one batch (``None`` when the source has no such notion)."""

    __slots__ = ("lanes", "rewind", "units")

    def __init__(self, units: list[Hashable] | None, lanes: list[Hashable | None] | None,
                 rewind: bool) -> None:
        self.units = units
        self.lanes = lanes
        self.rewind = rewind


def plan_ordering(scan: Scan, *, fifo_strict: bool, continue_other_keys: bool, lanes: bool) -> Ordering:
    """Label every record of ``scan``; ``lanes=False`` skips the lane labels (sequential runs)."""
    records = scan.records
    n = len(records)
    if scan.kind == "sqs":
        if not scan.is_fifo:
            return Ordering(None, None, rewind=False)
        groups: list[Hashable] = list(scan.groups())
        return Ordering([0] * n if fifo_strict else groups, groups if lanes else None, rewind=False)
    if scan.kind == "kafka":
        partitions: list[Hashable] = list(scan.partitions or ())
        if not (continue_other_keys or lanes):
            return Ordering(partitions, None, rewind=True)
        keys = [r.get("key") if isinstance(r, dict) else None for r in records]
        keyed: list[Hashable] = list(zip(partitions, keys, strict=True))
        kafka_lanes = [lane if key is not None else None for lane, key in zip(keyed, keys, strict=True)]
        units = keyed if continue_other_keys else partitions
        return Ordering(units, kafka_lanes if lanes else None, rewind=True)
    if not (continue_other_keys or lanes):
        return Ordering([0] * n, None, rewind=True)
    keys = _stream_keys(scan)
    return Ordering(keys if continue_other_keys else [0] * n, list(keys) if lanes else None, rewind=True)


def _stream_keys(scan: Scan) -> list[Hashable]:
    """Partition keys (Kinesis) or item keys (DynamoDB); ``RecordError`` for a record without one."""
    view = scan.view
    keys: list[Hashable] = []
    for position, raw in enumerate(scan.records):
        try:
            keys.append(view(raw).key)
        except (KeyError, TypeError, AttributeError):
            field = "kinesis.partitionKey" if scan.kind == "kinesis" else "dynamodb.Keys"
            raise RecordError(f"{field}: missing; it is the record's ordering key", index=position,
                              field=field) from None
    return keys


def reported_positions(outcomes: list[object], ordering: Ordering) -> list[int]:
    """Positions Lambda must deliver again, ascending: nothing more, nothing less."""
    n = len(outcomes)
    if outcomes.count(OK) == n:
        return []
    if not ordering.rewind:
        return [i for i, outcome in enumerate(outcomes) if outcome is not OK]
    units = ordering.units
    assert units is not None
    first: dict[Hashable, int] = {}
    for i, outcome in enumerate(outcomes):
        if outcome is not OK and units[i] not in first:
            first[units[i]] = i
    start = min(first.values())
    return [i for i in range(start, n) if first.get(units[i], n) <= i]
