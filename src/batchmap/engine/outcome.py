"""Judge an invocation the way Lambda does: success, partial, or failure (pure policy).

AWS's rules (reference §2.4, §3.4, §3.6, §4.4, §9.6–9.7):

* A function error or a timeout fails the whole batch.
* Without ``ReportBatchItemFailures`` the response is not looked at: the batch succeeded.
* What the response says about the batch (success, the failed records, or a
  malformed response that fails the whole batch) is decided by
  ``batchmap.records.read_response``, the one reader the handler toolkit's
  ``read_partial_response`` uses too; its docstring states AWS's rules and our
  readings where AWS is silent. A partial response listing every record is still
  partial: the engine retries them.
* Tumbling windows (Kinesis, DynamoDB): the response must carry ``state``, a JSON object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from batchmap.engine.invocation import Invocation
from batchmap.errors import ConfigError
from batchmap.records import SourceKind, read_response
from batchmap.records.shapes import BY_KIND, KINDS, parse_kafka_item_id

OutcomeKind = Literal["success", "partial", "failure"]
FailureReason = Literal["FunctionError", "Timeout", "InvalidResponse", "MissingState"]
UNHANDLED = "Unhandled"
"""``responseContext.functionError`` of an on-failure record after a function error or timeout."""


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


def judge(
    invocation: Invocation,
    batch_ids: Sequence[str],
    *,
    shape: SourceKind | str,
    report_batch_item_failures: bool,
    tumbling_window: bool = False,
) -> Outcome:
    """The outcome of ``invocation`` for a batch whose item identifiers are ``batch_ids``, in order.

    For Kafka, ``batch_ids`` are made with ``batchmap.records.shapes.kafka_item_id``.
    """
    rules = BY_KIND.get(shape)
    if rules is None:
        raise ConfigError("shape", shape, f"one of {', '.join(KINDS)}")
    if tumbling_window and not rules.stream:
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
    return _judge_response(invocation.payload, batch_ids, shape, rules.rewinds, report_batch_item_failures,
                           tumbling_window, duration)


def _invalid(detail: str, duration: float) -> Outcome:
    return Outcome("failure", reason="InvalidResponse", detail=detail, duration_ms=duration)


def _judge_response(
    payload: Any, batch_ids: Sequence[str], shape: str, rewinds: bool, report: bool, tumbling: bool,
    duration: float,
) -> Outcome:
    reading = read_response(payload, shape, batch_ids, report_batch_item_failures=report)
    if reading.status == "invalid":
        return _invalid(reading.error, duration)
    state: dict[str, Any] | None = None
    if tumbling:
        raw_state = reading.state
        if raw_state is None:
            return Outcome("failure", reason="MissingState", duration_ms=duration,
                           detail="a tumbling-window response must include 'state'")
        if not isinstance(raw_state, dict):
            return _invalid(f"state: must be a JSON object, got {repr(raw_state)[:80]}", duration)
        state = raw_state
    if reading.status == "success":
        return Outcome("success", state=state, duration_ms=duration, warnings=reading.warnings)
    indexes = reading.failed
    rewind = indexes[0] if rewinds else None
    return Outcome("partial", failed_ids=tuple(batch_ids[i] for i in indexes), failed_indexes=indexes,
                   rewind_index=rewind, state=state, duration_ms=duration, warnings=reading.warnings)
