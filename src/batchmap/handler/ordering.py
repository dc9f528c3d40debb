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

UNREADABLE: Hashable = object()
"""Stands for a key that is missing or malformed (``.key`` raises ``RecordError`` if the handler reads it).
Such a record is ordered with nothing: it runs in no lane, and is a stop unit of its own."""


class Ordering:
    """Stop units and lanes of one batch (``None`` when the source has no such notion)."""

    __slots__ = ("lanes", "rewind", "units")

    def __init__(self, units: list[Hashable] | None, lanes: list[Hashable | None] | None,
                 rewind: bool) -> None:
        self.units = units
        self.lanes = lanes
        self.rewind = rewind


def plan_ordering(scan: Scan, *, fifo_strict: bool, continue_other_keys: bool, lanes: bool) -> Ordering:
    """Label every record of ``scan``; ``lanes=False`` skips the lane labels (sequential runs).

    Never raises: a record whose key cannot be read gets a unit of its own and no lane, whatever
    the options and the concurrency, so the verdict on the batch does not depend on them.
    """
    records = scan.records
    n = len(records)
    if scan.kind == "sqs":
        if not scan.is_fifo:
            return Ordering(None, None, rewind=False)
        groups: list[Hashable] = [UNREADABLE if group is None else group for group in scan.groups()]
        return Ordering([0] * n if fifo_strict else _own_units(groups), _lanes(groups) if lanes else None,
                        rewind=False)
    if scan.kind == "kafka":
        partitions: list[Hashable] = list(scan.partitions or ())
        if not (continue_other_keys or lanes):
            return Ordering(partitions, None, rewind=True)
        keys = [_kafka_key(raw) for raw in records]
        keyed: list[Hashable] = [UNREADABLE if key is UNREADABLE else (partition, key)
                                 for partition, key in zip(partitions, keys, strict=True)]
        kafka_lanes = [None if key is None else lane for lane, key in zip(keyed, keys, strict=True)]
        units = _own_units(keyed) if continue_other_keys else partitions
        return Ordering(units, _lanes(kafka_lanes) if lanes else None, rewind=True)
    if not (continue_other_keys or lanes):
        return Ordering([0] * n, None, rewind=True)
    keys = _stream_keys(scan)
    return Ordering(_own_units(keys) if continue_other_keys else [0] * n, _lanes(keys) if lanes else None,
                    rewind=True)


def _kafka_key(raw: object) -> Hashable | None:
    key = raw.get("key") if type(raw) is dict else UNREADABLE
    return key if key is None or type(key) is str else UNREADABLE


def _stream_keys(scan: Scan) -> list[Hashable]:
    """Partition keys (Kinesis) or item keys (DynamoDB); ``UNREADABLE`` for a record without one."""
    view = scan.view
    keys: list[Hashable] = []
    for raw in scan.records:
        try:
            keys.append(view(raw).key)
        except RecordError:
            keys.append(UNREADABLE)
    return keys


def _own_units(keys: list[Hashable]) -> list[Hashable]:
    """``keys`` as stop units, each ``UNREADABLE`` one made a unit of its own."""
    if UNREADABLE not in keys:
        return keys
    return [("unreadable", i) if key is UNREADABLE else key for i, key in enumerate(keys)]


def _lanes(keys: list[Hashable | None]) -> list[Hashable | None]:
    """``keys`` as lanes, an ``UNREADABLE`` one in no lane."""
    if UNREADABLE not in keys:
        return keys
    return [None if key is UNREADABLE else key for key in keys]


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
