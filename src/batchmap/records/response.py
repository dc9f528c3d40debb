"""The partial batch response: build it (in the function) and read it (in the engine).

Reading follows Lambda's rules (reference §2.4, §3.4, §4.4): a null or empty
response, or a null or empty ``batchItemFailures``, is a complete success; a
malformed list, an entry without ``itemIdentifier``, an empty or null
identifier, or one that names no record of the batch makes the whole batch a
failure. A response that is not a JSON object at all is treated as a failure
too (our reading: nothing can be lost by retrying).
"""

from __future__ import annotations

from batchmap.errors import EventError
from batchmap.records._value import Value, _set
from batchmap.records.event import scan_event

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, Literal

    from batchmap.records.event import Scan
    from batchmap.records.wire import ItemIdentifier, PartialBatchResponse

    ResponseStatus = Literal["success", "partial", "invalid"]


def batch_response(identifiers: Iterable[ItemIdentifier]) -> PartialBatchResponse:
    """``{"batchItemFailures": [{"itemIdentifier": ...}, ...]}`` in the order given."""
    return {"batchItemFailures": [{"itemIdentifier": identifier} for identifier in identifiers]}


class PartialResponse(Value):
    """What a function's response means for its batch.

    ``status`` is ``success`` (nothing to retry), ``partial`` (retry the records
    at ``failed``, positions in event order, ascending) or ``invalid`` (Lambda
    treats the whole batch as failed; ``error`` says why). For streams and
    Kafka, Lambda re-reads from the lowest failed position of each shard or
    partition; for SQS, exactly the listed messages return to the queue.
    """

    __slots__ = ("error", "failed", "status")

    status: ResponseStatus
    failed: tuple[int, ...]
    error: str

    def __init__(self, status: ResponseStatus, failed: tuple[int, ...] = (), error: str = "") -> None:
        _set(self, "status", status)
        _set(self, "failed", failed)
        _set(self, "error", error)


def read_partial_response(event: object, response: object) -> PartialResponse:
    """Interpret ``response`` (the function's decoded return value) against the ``event`` it got."""
    scan = scan_event(event)
    if response is None:
        return PartialResponse("success")
    if not isinstance(response, dict):
        return PartialResponse("invalid", error=f"response is not a JSON object: {type(response).__name__}")
    failures = response.get("batchItemFailures")
    if failures is None or failures == []:
        return PartialResponse("success")
    if not isinstance(failures, list):
        return PartialResponse("invalid", error=f"batchItemFailures is not a list: {failures!r}")
    try:
        positions = _positions(scan, failures)
    except EventError as exc:
        return PartialResponse("invalid", error=str(exc))
    return PartialResponse("partial", tuple(sorted(positions)))


def _positions(scan: Scan, failures: list[Any]) -> set[int]:
    index = _identifier_index(scan)
    positions: set[int] = set()
    for n, item in enumerate(failures):
        if not isinstance(item, dict) or "itemIdentifier" not in item:
            raise EventError(f"batchItemFailures[{n}]: no itemIdentifier in {item!r}")
        identifier = item["itemIdentifier"]
        key = _identifier_key(scan, identifier, n)
        position = index.get(key)
        if position is None:
            raise EventError(f"batchItemFailures[{n}]: {identifier!r} names no record of the batch")
        positions.add(position)
    return positions


def _identifier_key(scan: Scan, identifier: object, n: int) -> object:
    if scan.kind == "kafka":
        if (not isinstance(identifier, dict) or type(identifier.get("partition")) is not str
                or type(identifier.get("offset")) is not int):
            raise EventError(f"batchItemFailures[{n}]: a Kafka itemIdentifier is "
                             f'{{"partition": "<topic>-<partition>", "offset": <int>}}, got {identifier!r}')
        return (identifier["partition"], identifier["offset"])
    if type(identifier) is not str or not identifier:
        raise EventError(f"batchItemFailures[{n}]: itemIdentifier must be a non-empty string, "
                         f"got {identifier!r}")
    return identifier


def _identifier_index(scan: Scan) -> dict[object, int]:
    view = scan.view
    if scan.kind == "kafka":
        partitions = scan.partitions or []
        return {(partitions[i], raw["offset"]): i for i, raw in enumerate(scan.records)}
    return {view(raw).id: i for i, raw in enumerate(scan.records)}
