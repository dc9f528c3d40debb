"""The partial batch response: build it (in the function) and read it (the one reader, for the engine too).

``read_response`` decides what a function's response means for its batch;
``batchmap.engine``'s ``judge`` and the public ``read_partial_response`` both
call it. AWS's rules (reference §2.4, §3.4, §4.4):

* Success: a null or empty response, a response without ``batchItemFailures``,
  or with a null or empty list. Without ``ReportBatchItemFailures`` the list is
  not read at all (a returned list is ignored: success).
* Complete failure ("invalid"): invalid JSON, an item whose ``itemIdentifier``
  is missing (a wrongly named key), null or empty, an identifier that names no
  record of the batch, a ``batchItemFailures`` that is not a list.
* Otherwise "partial": the listed records are retried. For streams and Kafka,
  Lambda re-reads from the lowest listed position of each shard or partition.
* Kafka identifiers are ``{"partition": "<topic>-<partition>", "offset": <int>}``;
  every other source's identifier is a string (message id, sequence number).

Our readings where AWS is silent, chosen so a record is never dropped by accident:

* Invalid JSON arrives as ``bytes`` (invokers hand over a body they could not
  decode that way): that is how "invalid JSON" differs from a JSON string. Blank
  bytes and an empty string count as an empty response (success).
* A response that is valid JSON but not an object (a string, a number, a list)
  fails the batch: it cannot be read as a partial batch response.
* An identifier not in the batch fails stream and Kafka batches too (documented
  only for SQS; **unconfirmed** for streams, as emulators do).
* Extra keys beside ``itemIdentifier`` in an item are ignored; a top-level key
  that only differs in case from ``batchItemFailures`` is ignored as AWS does
  (so the batch succeeds) but reported in ``warnings``.
* A Kafka offset must be a non-negative integer (not a boolean): ``envelope.is_offset``, the
  rule the event's records are held to too, so a response batchmap builds always reads back.
"""

from __future__ import annotations

from batchmap.records._describe import clip, json_type
from batchmap.records.envelope import is_offset
from batchmap.records.event import scan_event
from batchmap.records.shapes import BY_KIND, kafka_item_id
from batchmap.records.value import Value, set_field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any, Literal

    from batchmap.records.wire import ItemIdentifier, PartialBatchResponse

    ResponseStatus = Literal["success", "partial", "invalid"]



def batch_response(identifiers: Iterable[ItemIdentifier]) -> PartialBatchResponse:
    """``{"batchItemFailures": [{"itemIdentifier": ...}, ...]}`` in the order given."""
    return {"batchItemFailures": [{"itemIdentifier": identifier} for identifier in identifiers]}


class PartialResponse(Value):
    """What a function's response means for its batch.

    ``status`` is ``success`` (nothing to retry), ``partial`` (retry the records
    at ``failed``, positions in event order, ascending) or ``invalid`` (Lambda
    treats the whole batch as failed; ``error`` says why). ``warnings`` name keys
    that look like ``batchItemFailures`` but are not; ``state`` is the response's
    ``state`` member as returned (tumbling windows), ``None`` when there is none.
    """

    __slots__ = ("error", "failed", "state", "status", "warnings")

    status: ResponseStatus
    failed: tuple[int, ...]
    error: str
    warnings: tuple[str, ...]
    state: Any

    def __init__(self, status: ResponseStatus, failed: tuple[int, ...] = (), error: str = "", *,
                 warnings: tuple[str, ...] = (), state: Any = None) -> None:
        set_field(self, "status", status)
        set_field(self, "failed", failed)
        set_field(self, "error", error)
        set_field(self, "warnings", warnings)
        set_field(self, "state", state)


_SUCCESS = PartialResponse("success")


class _Invalid(Exception):
    """Why a response fails its batch (internal: becomes ``PartialResponse("invalid", error=...)``)."""


def read_response(response: object, kind: str, identifiers: Sequence[str] | Callable[[], Sequence[str]], *,
                  report_batch_item_failures: bool = True) -> PartialResponse:
    """What ``response`` (the function's decoded return value) means for a batch of ``kind``.

    ``identifiers`` are the batch's identifiers in event order (Kafka's made by
    ``kafka_item_id``), or a function returning them: they are needed only when
    the response lists failures. With ``report_batch_item_failures=False`` only
    the response's shape and ``state`` are read, as Lambda does.
    """
    try:
        document = _document(response)
        warnings = _near_misses(document)
        state = document.get("state")
        failures = document.get("batchItemFailures") if report_batch_item_failures else None
        if failures is None or failures == []:
            return _SUCCESS if not warnings and state is None else PartialResponse(
                "success", warnings=warnings, state=state)
        if not isinstance(failures, list):
            raise _Invalid(f"batchItemFailures: must be a list, got {json_type(failures)} {clip(failures)}")
        failed = _positions(failures, kind, identifiers() if callable(identifiers) else identifiers)
    except _Invalid as invalid:
        return PartialResponse("invalid", error=str(invalid))
    return PartialResponse("partial", failed, warnings=warnings, state=state)


def _document(response: object) -> dict[str, Any]:
    """The response as a JSON object: ``{}`` for an empty one; ``_Invalid`` for anything else."""
    if isinstance(response, bytes | bytearray):
        if response.strip():
            raise _Invalid(f"the response is not valid JSON: {bytes(response[:80])!r}")
        return {}
    if response is None or response == "":
        return {}
    if not isinstance(response, dict):
        raise _Invalid(f"the response is a JSON {json_type(response)}, not an object: {clip(response)}")
    return response


def _positions(failures: list[Any], kind: str, identifiers: Sequence[str]) -> tuple[int, ...]:
    """The positions the listed failures name, ascending, each once."""
    positions: dict[str, int] = {}
    for index, identifier in enumerate(identifiers):
        positions.setdefault(identifier, index)  # a repeated identifier stands for its first record
    failed: set[int] = set()
    for n, item in enumerate(failures):
        found = _identifier(item, n, kind)
        position = positions.get(found)
        if position is None:
            what = _id_name(kind)
            raise _Invalid(f"batchItemFailures[{n}].itemIdentifier: {clip(found)} is not the {what} "
                           "of a record in this batch")
        failed.add(position)
    return tuple(sorted(failed))


def _identifier(item: Any, n: int, kind: str) -> str:
    """The identifier string an item names (Kafka's through ``kafka_item_id``)."""
    where = f"batchItemFailures[{n}]"
    if not isinstance(item, dict):
        raise _Invalid(f"{where}: must be an object with 'itemIdentifier', got {clip(item)}")
    if "itemIdentifier" not in item:
        keys = ", ".join(clip(k) for k in list(item)[:8]) or "none"
        raise _Invalid(f"{where}: no 'itemIdentifier' key (keys: {keys})")
    value = item["itemIdentifier"]
    if value is None or value == "":
        raise _Invalid(f"{where}.itemIdentifier: must not be {'null' if value is None else 'empty'}")
    if kind == "kafka":
        return _kafka_identifier(value, where)
    if not isinstance(value, str):
        raise _Invalid(f"{where}.itemIdentifier: must be a string ({_id_name(kind)}), "
                       f"got {json_type(value)} {clip(value)}")
    return value


def _id_name(kind: str) -> str:
    """What a ``kind``'s ``itemIdentifier`` is, in words."""
    shape = BY_KIND.get(kind)
    return shape.id_name if shape is not None else "identifier"


def _kafka_identifier(value: Any, where: str) -> str:
    if not isinstance(value, dict):
        raise _Invalid(f'{where}.itemIdentifier: must be an object {{"partition", "offset"}}, got {clip(value)}')
    partition = value.get("partition")
    offset = value.get("offset")
    if not isinstance(partition, str) or not partition:
        raise _Invalid(f"{where}.itemIdentifier.partition: must be '<topic>-<partition>', got {clip(partition)}")
    if not is_offset(offset):
        raise _Invalid(f"{where}.itemIdentifier.offset: must be a non-negative integer, got {clip(offset)}")
    return kafka_item_id(partition, offset)


def _near_misses(document: dict[str, Any]) -> tuple[str, ...]:
    """Keys that look like ``batchItemFailures`` but are not: AWS ignores them, a user would not want to."""
    if "batchItemFailures" in document and len(document) == 1:
        return ()
    return tuple(
        f"ignored key {clip(key)}: did you mean 'batchItemFailures'? (the batch counts as a success)"
        for key in document
        if isinstance(key, str) and key != "batchItemFailures" and key.lower() == "batchitemfailures"
    )


def read_partial_response(event: object, response: object) -> PartialResponse:
    """Interpret ``response`` (the function's decoded return value) against the ``event`` it got.

    Raises ``EventError`` when ``event`` is not a batch event or one of its
    records has no identifier; a malformed record that has one is fine.
    """
    scan = scan_event(event, strict=False)

    def identifiers() -> list[str]:
        return [_as_string(scan.identifier(i)) for i in range(len(scan.records))]

    return read_response(response, scan.kind, identifiers)


def _as_string(identifier: ItemIdentifier) -> str:
    if isinstance(identifier, str):
        return identifier
    return kafka_item_id(identifier["partition"], identifier["offset"])
