"""Judge an invocation the way Lambda does: success, partial, or failure (pure policy).

AWS's rules (reference §2.4, §3.4, §3.6, §4.4, §9.6–9.7):

* A function error or a timeout fails the whole batch.
* Without ``ReportBatchItemFailures`` the response is not looked at (a returned
  ``batchItemFailures`` list is ignored): the batch succeeded.
* With it, success is a null response, an empty response, a response without
  ``batchItemFailures`` or with a null or empty list. A listed identifier makes
  the batch partial (even when every record is listed: the engine retries them).
* A malformed response fails the whole batch: undecodable JSON, an item whose
  ``itemIdentifier`` is missing (a wrongly named key), null or empty, or names a
  record that is not in the batch, a ``batchItemFailures`` that is not a list.
* Tumbling windows (Kinesis, DynamoDB): the response must carry ``state``.

Our readings where AWS is silent, chosen so a record is never dropped by accident:

* A response that is valid JSON but not an object (a string, a number, a list)
  fails the batch when partial responses are on: the ESM cannot read it as a
  partial batch response, which AWS calls "invalid". An empty string counts as
  an empty response (success).
* An identifier not in the batch fails stream and Kafka batches too (documented
  only for SQS; **unconfirmed** for streams, as emulators do).
* Extra keys beside ``itemIdentifier`` in an item are ignored; a top-level key
  that only differs in case from ``batchItemFailures`` is ignored as AWS does
  (so the batch succeeds) but reported in ``Outcome.warnings``.
* A stream identifier must be a string (sequence numbers are strings); a Kafka
  identifier is ``{"partition": "<topic>-<n>", "offset": <int>}``.

Invokers hand over a response body that is not valid JSON as ``bytes``: that is
how this module tells "invalid JSON" from a JSON string.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from batchmap.engine.invocation import Invocation
from batchmap.errors import ConfigError

OutcomeKind = Literal["success", "partial", "failure"]
FailureReason = Literal["FunctionError", "Timeout", "InvalidResponse", "MissingState"]
Shape = Literal["sqs", "kinesis", "dynamodb", "kafka"]

SHAPES: tuple[str, ...] = ("sqs", "kinesis", "dynamodb", "kafka")
UNHANDLED = "Unhandled"
"""``responseContext.functionError`` of an on-failure record after a function error or timeout."""

_ID_NAMES: dict[str, str] = {
    "sqs": "messageId",
    "kinesis": "sequence number",
    "dynamodb": "sequence number",
    "kafka": "topic-partition and offset",
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one invocation went, as Lambda judges it.

    ``failed_ids`` (partial only) are the reported identifiers, deduplicated and
    in batch order; ``failed_indexes`` their positions in the batch. For streams
    and Kafka ``rewind_index`` is the position of the lowest failed record: the
    engine re-reads from there. ``reason`` says why a batch failed (with
    ``error_type`` for a function error and ``detail`` in words); ``state`` is
    the tumbling-window state the function returned; ``function_error`` is what
    an on-failure record puts in ``responseContext.functionError``.
    """

    kind: OutcomeKind
    failed_ids: tuple[str, ...] = ()
    failed_indexes: tuple[int, ...] = ()
    rewind_index: int | None = None
    reason: FailureReason | None = None
    error_type: str | None = None
    detail: str = ""
    state: dict[str, Any] | None = None
    function_error: str | None = None
    duration_ms: float = 0.0
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every record of the batch succeeded."""
        return self.kind == "success"

    def rewind_offsets(self) -> dict[str, int]:
        """Kafka: the lowest failed offset of each topic-partition (where each partition resumes)."""
        lowest: dict[str, int] = {}
        for item_id in self.failed_ids:
            partition, offset = parse_kafka_item_id(item_id)
            if partition not in lowest or offset < lowest[partition]:
                lowest[partition] = offset
        return lowest


def kafka_item_id(partition: str, offset: int) -> str:
    """The batch id of a Kafka record: ``"<topic>-<partition>:<offset>"`` (``:`` never occurs in a topic)."""
    return f"{partition}:{offset}"


def parse_kafka_item_id(item_id: str) -> tuple[str, int]:
    """Split a Kafka batch id made by ``kafka_item_id`` back into (topic-partition, offset)."""
    partition, sep, offset = item_id.rpartition(":")
    if not sep or not partition or not offset.isdigit():
        raise ConfigError("Kafka item id", item_id, "'<topic>-<partition>:<offset>', from kafka_item_id()")
    return partition, int(offset)


def judge(
    invocation: Invocation,
    batch_ids: Sequence[str],
    *,
    shape: Shape | str,
    report_batch_item_failures: bool,
    tumbling_window: bool = False,
) -> Outcome:
    """The outcome of ``invocation`` for a batch whose item identifiers are ``batch_ids``, in order.

    For Kafka, ``batch_ids`` are made with ``kafka_item_id``.
    """
    if shape not in SHAPES:
        raise ConfigError("shape", shape, f"one of {', '.join(SHAPES)}")
    if tumbling_window and shape not in ("kinesis", "dynamodb"):
        raise ConfigError("TumblingWindowInSeconds", shape, "kinesis or dynamodb only")
    duration = invocation.duration_ms
    error = invocation.error or {}
    if invocation.status == "timeout":
        error_type = str(error.get("errorType") or "Sandbox.Timedout")
        return Outcome("failure", reason="Timeout", error_type=error_type, function_error=UNHANDLED,
                       detail="the function ran past its timeout", duration_ms=duration)
    if invocation.status == "error":
        error_type = str(error.get("errorType") or "Unhandled")
        message = str(error.get("errorMessage") or "")
        return Outcome("failure", reason="FunctionError", error_type=error_type, function_error=UNHANDLED,
                       detail=f"{error_type}: {message}" if message else error_type, duration_ms=duration)
    if not report_batch_item_failures and not tumbling_window:
        return Outcome("success", duration_ms=duration)
    return _judge_response(invocation.payload, batch_ids, shape, report_batch_item_failures,
                           tumbling_window, duration)


def _invalid(detail: str, duration: float) -> Outcome:
    return Outcome("failure", reason="InvalidResponse", detail=detail, duration_ms=duration)


def _judge_response(
    payload: Any, batch_ids: Sequence[str], shape: str, report: bool, tumbling: bool, duration: float
) -> Outcome:
    if isinstance(payload, bytes | bytearray):
        if not payload.strip():
            payload = None
        else:
            return _invalid(f"the response is not valid JSON: {bytes(payload[:80])!r}", duration)
    if payload is None or payload == "":
        payload = {}
    if not isinstance(payload, dict):
        return _invalid(f"the response is a JSON {_json_type(payload)}, not an object: {_clip(payload)}",
                        duration)
    state: dict[str, Any] | None = None
    if tumbling:
        raw_state = payload.get("state")
        if raw_state is None:
            return Outcome("failure", reason="MissingState", duration_ms=duration,
                           detail="a tumbling-window response must include 'state'")
        if not isinstance(raw_state, dict):
            return _invalid(f"state: must be a JSON object, got {_json_type(raw_state)} {_clip(raw_state)}",
                            duration)
        state = raw_state
    if not report:
        return Outcome("success", state=state, duration_ms=duration)
    return _judge_failures(payload, batch_ids, shape, state, duration)


def _judge_failures(
    payload: Mapping[str, Any], batch_ids: Sequence[str], shape: str, state: dict[str, Any] | None,
    duration: float,
) -> Outcome:
    warnings = _near_misses(payload)
    items = payload.get("batchItemFailures")
    if items is None or items == []:
        return Outcome("success", state=state, duration_ms=duration, warnings=warnings)
    if not isinstance(items, list):
        detail = f"batchItemFailures: must be a list, got {_json_type(items)} {_clip(items)}"
        return _invalid(detail, duration)
    positions: dict[str, int] = {}
    for index, item_id in enumerate(batch_ids):
        positions.setdefault(item_id, index)
    failed: set[int] = set()
    for n, item in enumerate(items):
        found = _identifier(item, n, shape)
        if isinstance(found, _Bad):
            return _invalid(found.detail, duration)
        if found not in positions:
            return _invalid(f"batchItemFailures[{n}].itemIdentifier: {found!r} is not the "
                            f"{_ID_NAMES[shape]} of a record in this batch", duration)
        failed.add(positions[found])
    indexes = tuple(sorted(failed))
    rewind = indexes[0] if shape != "sqs" else None
    return Outcome("partial", failed_ids=tuple(batch_ids[i] for i in indexes), failed_indexes=indexes,
                   rewind_index=rewind, state=state, duration_ms=duration, warnings=warnings)


@dataclass(frozen=True, slots=True)
class _Bad:
    """Why a ``batchItemFailures`` item is malformed."""

    detail: str


def _identifier(item: Any, n: int, shape: str) -> str | _Bad:
    """The batch id an item names, or what exactly is wrong with it."""
    where = f"batchItemFailures[{n}]"
    if not isinstance(item, dict):
        return _Bad(f"{where}: must be an object with 'itemIdentifier', got {_clip(item)}")
    if "itemIdentifier" not in item:
        keys = ", ".join(repr(k) for k in item) or "none"
        return _Bad(f"{where}: no 'itemIdentifier' key (keys: {keys})")
    value = item["itemIdentifier"]
    if value is None or value == "":
        return _Bad(f"{where}.itemIdentifier: must not be {'null' if value is None else 'empty'}")
    if shape == "kafka":
        return _kafka_identifier(value, where)
    if not isinstance(value, str):
        return _Bad(f"{where}.itemIdentifier: must be a string ({_ID_NAMES[shape]}), "
                    f"got {_json_type(value)} {_clip(value)}")
    return value


def _kafka_identifier(value: Any, where: str) -> str | _Bad:
    if not isinstance(value, dict):
        return _Bad(f"{where}.itemIdentifier: must be an object {{\"partition\", \"offset\"}}, "
                    f"got {_clip(value)}")
    partition = value.get("partition")
    offset = value.get("offset")
    if not isinstance(partition, str) or not partition:
        return _Bad(f"{where}.itemIdentifier.partition: must be '<topic>-<partition>', "
                    f"got {_clip(partition)}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        return _Bad(f"{where}.itemIdentifier.offset: must be a non-negative integer, "
                    f"got {_clip(offset)}")
    return kafka_item_id(partition, offset)


def _near_misses(payload: Mapping[str, Any]) -> tuple[str, ...]:
    """Keys that look like ``batchItemFailures`` but are not: AWS ignores them, a user would not want to."""
    return tuple(
        f"ignored key {key!r}: did you mean 'batchItemFailures'? (the batch counts as a success)"
        for key in payload
        if isinstance(key, str) and key != "batchItemFailures" and key.lower() == "batchitemfailures"
    )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _clip(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
