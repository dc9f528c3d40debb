"""Stream retry policy: rewind on partial failure, bisect, retry quota, record age."""

from __future__ import annotations

from batchmap.engine.retry import (
    RECORD_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    RetryPolicy,
    Work,
    decide,
    split_expired,
)
from batchmap.sources.base import Delivery


def rec(seq: int, arrival_ms: int = 1_000_000) -> Delivery:
    return Delivery(record={}, id=str(seq), key="k", shard="s", size=10, arrival_ms=arrival_ms)


def batch(n: int) -> Work:
    return Work(tuple(rec(i) for i in range(n)))


def test_success_marks_every_record_done() -> None:
    step = decide(batch(3), "success", RetryPolicy(), now_ms=1_000_000)
    assert [d.id for d in step.done] == ["0", "1", "2"] and step.next == () and step.discard == ()


def test_partial_failure_rewinds_to_the_lowest_failed_record_and_counts_a_retry() -> None:
    step = decide(batch(5), "partial", RetryPolicy(), first_failed=2, now_ms=1_000_000)
    assert [d.id for d in step.done] == ["0", "1"]
    assert [d.id for d in step.next[0].records] == ["2", "3", "4"]
    assert step.next[0].retries_used == 1


def test_function_error_retries_the_whole_batch_until_the_quota_is_used() -> None:
    policy = RetryPolicy(maximum_retry_attempts=2)
    work = batch(2)
    for expected_retries in (1, 2):
        step = decide(work, "failure", policy, now_ms=1_000_000)
        (work,) = step.next
        assert work.retries_used == expected_retries
    final = decide(work, "failure", policy, now_ms=1_000_000)
    assert final.next == () and len(final.discard) == 2 and final.condition == RETRIES_EXHAUSTED


def test_zero_retries_discards_after_the_first_failure() -> None:
    step = decide(batch(1), "failure", RetryPolicy(maximum_retry_attempts=0), now_ms=1_000_000)
    assert step.condition == RETRIES_EXHAUSTED and len(step.discard) == 1


def test_bisect_splits_in_order_without_using_the_retry_quota() -> None:
    step = decide(batch(5), "failure", RetryPolicy(maximum_retry_attempts=0, bisect_batch_on_function_error=True),
                  now_ms=1_000_000)
    left, right = step.next
    assert [d.id for d in left.records] == ["0", "1"] and [d.id for d in right.records] == ["2", "3", "4"]
    assert left.retries_used == right.retries_used == 0


def test_bisect_isolates_a_poison_record() -> None:
    policy = RetryPolicy(maximum_retry_attempts=0, bisect_batch_on_function_error=True)
    pending = [batch(8)]
    done: list[str] = []
    dropped: list[str] = []
    while pending:
        work = pending.pop(0)
        poisoned = any(d.id == "5" for d in work.records)
        step = decide(work, "failure" if poisoned else "success", policy, now_ms=1_000_000)
        done += [d.id for d in step.done]
        dropped += [d.id for d in step.discard]
        pending[:0] = list(step.next)
    assert dropped == ["5"]
    assert done == ["0", "1", "2", "3", "4", "6", "7"]


def test_records_past_the_age_limit_are_discarded() -> None:
    policy = RetryPolicy(maximum_record_age_in_seconds=60)
    step = decide(Work((rec(1, arrival_ms=0),)), "failure", policy, now_ms=61_001)
    assert step.condition == RECORD_AGE_EXCEEDED and len(step.discard) == 1


def test_split_expired_separates_old_records_before_invoking() -> None:
    policy = RetryPolicy(maximum_record_age_in_seconds=60)
    work = Work((rec(1, arrival_ms=0), rec(2, arrival_ms=50_000)))
    kept, expired = split_expired(work, policy, now_ms=70_000)
    assert [d.id for d in kept.records] == ["2"] and [d.id for d in expired] == ["1"]
