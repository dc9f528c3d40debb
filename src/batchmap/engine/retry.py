"""What to do with a stream (or Kafka) batch after an invocation: pure policy.

AWS's rules (reference §3.3–3.4, §10.3), as decisions over values:

* success: the batch is done, checkpoint past it;
* partial (ReportBatchItemFailures): the records before the lowest failed
  one are done; the rest is retried, and the retry counts as an attempt;
* function error or timeout with ``BisectBatchOnFunctionError``: split the
  batch in two and process the halves in order, without consuming the retry
  quota, until the poison record is alone;
* otherwise retry the whole batch, counting attempts, until
  ``MaximumRetryAttempts`` is used up or the oldest record is older than
  ``MaximumRecordAgeInSeconds``: then discard it with an on-failure record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from batchmap.sources.base import Delivery

RETRIES_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "MaximumRecordAgeExceeded"
PAYLOAD_TOO_LARGE = "MaximumPayloadSizeExceeded"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The stream error-handling settings of a mapping (``-1`` means unlimited)."""

    maximum_retry_attempts: int = -1
    maximum_record_age_in_seconds: int = -1
    bisect_batch_on_function_error: bool = False

    def too_old(self, delivery: Delivery, now_ms: int) -> bool:
        """Whether a record has passed ``MaximumRecordAgeInSeconds``."""
        limit = self.maximum_record_age_in_seconds
        return limit >= 0 and now_ms - delivery.arrival_ms > limit * 1000

    def retries_left(self, retries_used: int) -> bool:
        """Whether another retry is allowed after ``retries_used`` retries."""
        limit = self.maximum_retry_attempts
        return limit < 0 or retries_used < limit


@dataclass(frozen=True, slots=True)
class Work:
    """A stream batch waiting to be invoked, with the retries it has used."""

    records: tuple[Delivery, ...]
    retries_used: int = 0
    invokes: int = 0


@dataclass(frozen=True, slots=True)
class Step:
    """The decision: records done, work to do next (in order), records to discard and why."""

    done: tuple[Delivery, ...] = ()
    next: tuple[Work, ...] = ()
    discard: tuple[Delivery, ...] = ()
    condition: str = ""


OutcomeKind = Literal["success", "partial", "failure"]


def split_expired(work: Work, policy: RetryPolicy, now_ms: int) -> tuple[Work, tuple[Delivery, ...]]:
    """Separate records already past the age limit: they are discarded without an invocation."""
    if policy.maximum_record_age_in_seconds < 0:
        return work, ()
    expired = tuple(d for d in work.records if policy.too_old(d, now_ms))
    if not expired:
        return work, ()
    kept = tuple(d for d in work.records if not policy.too_old(d, now_ms))
    return Work(kept, work.retries_used, work.invokes), expired


def decide(
    work: Work,
    kind: OutcomeKind,
    policy: RetryPolicy,
    *,
    first_failed: int | None = None,
    now_ms: int,
) -> Step:
    """The next step for ``work`` after an invocation whose outcome was ``kind``.

    ``first_failed`` is the index (in ``work.records``) of the lowest failed
    record of a partial response.
    """
    invoked = Work(work.records, work.retries_used, work.invokes + 1)
    if kind == "success":
        return Step(done=work.records)
    if kind == "partial":
        cut = first_failed or 0
        rest = Work(work.records[cut:], work.retries_used, invoked.invokes)
        return _retry_or_discard(rest, policy, now_ms, done=work.records[:cut])
    if policy.bisect_batch_on_function_error and len(work.records) > 1:
        half = len(work.records) // 2
        left = Work(work.records[:half], work.retries_used, invoked.invokes)
        right = Work(work.records[half:], work.retries_used, invoked.invokes)
        return Step(next=(left, right))
    return _retry_or_discard(invoked, policy, now_ms)


def _retry_or_discard(work: Work, policy: RetryPolicy, now_ms: int, done: tuple[Delivery, ...] = ()) -> Step:
    if any(policy.too_old(d, now_ms) for d in work.records):
        return Step(done=done, discard=work.records, condition=RECORD_AGE_EXCEEDED)
    if not policy.retries_left(work.retries_used):
        return Step(done=done, discard=work.records, condition=RETRIES_EXHAUSTED)
    return Step(done=done, next=(Work(work.records, work.retries_used + 1, work.invokes),))

