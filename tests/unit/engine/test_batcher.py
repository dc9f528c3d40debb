"""The batch-closing policy: size, window (per source clock rule) and the 6 MB payload."""

from __future__ import annotations

from batchmap.engine.batcher import EVENT_ENVELOPE_BYTES, Batcher, BatchPolicy


def test_closes_on_size_before_the_window() -> None:
    b: Batcher[int] = Batcher(BatchPolicy(batch_size=3, window_s=10), now=0.0)
    assert b.add(1, 10, 0.1) == []
    assert b.add(2, 10, 0.2) == []
    closed = b.add(3, 10, 0.3)
    assert [c.items for c in closed] == [(1, 2, 3)]
    assert closed[0].reason == "size"
    assert len(b) == 0


def test_window_opens_when_the_lane_is_ready_not_at_the_first_record() -> None:
    b: Batcher[str] = Batcher(BatchPolicy(batch_size=100, window_s=2, window_start="on_ready"), now=0.0)
    b.add("a", 5, 1.5)
    assert b.due() == 2.0
    assert b.poll(1.99) is None
    batch = b.poll(2.0)
    assert batch is not None and batch.items == ("a",) and batch.reason == "window"


def test_an_expired_empty_window_leaves_the_lane_idle_until_the_next_record() -> None:
    b: Batcher[str] = Batcher(BatchPolicy(batch_size=100, window_s=2, window_start="on_ready"), now=0.0)
    b.add("late", 5, 7.0)
    assert b.due() == 9.0


def test_kafka_window_starts_at_the_first_record() -> None:
    b: Batcher[str] = Batcher(BatchPolicy(batch_size=100, window_s=0.5, window_start="on_first_record"), now=0.0)
    b.ready(0.0)
    b.add("a", 5, 3.0)
    assert b.due() == 3.5


def test_ready_reopens_the_window_after_an_invocation() -> None:
    b: Batcher[str] = Batcher(BatchPolicy(batch_size=2, window_s=1), now=0.0)
    b.add("a", 1, 0.1)
    b.add("b", 1, 0.2)
    b.ready(5.0)
    b.add("c", 1, 5.5)
    assert b.due() == 6.0


def test_zero_window_sends_what_one_poll_returned() -> None:
    b: Batcher[int] = Batcher(BatchPolicy(batch_size=10, window_s=0), now=0.0)
    for i in range(3):
        b.add(i, 1, 1.0)
    batch = b.poll(1.0)
    assert batch is not None and batch.items == (0, 1, 2)


def test_payload_limit_closes_the_batch_before_the_record_that_would_pass_it() -> None:
    policy = BatchPolicy(batch_size=100, window_s=5, max_payload_bytes=EVENT_ENVELOPE_BYTES + 100)
    b: Batcher[str] = Batcher(policy, now=0.0)
    assert b.add("a", 60, 0.0) == []
    closed = b.add("b", 60, 0.1)
    assert [(c.items, c.reason) for c in closed] == [(("a",), "payload")]
    assert len(b) == 1 and b.payload_bytes == EVENT_ENVELOPE_BYTES + 60


def test_a_record_that_cannot_fit_alone_is_detected() -> None:
    policy = BatchPolicy(batch_size=10)
    assert policy.fits_alone(1024)
    assert not policy.fits_alone(6 * 1024 * 1024)


def test_flush_returns_the_collected_records_once() -> None:
    b: Batcher[int] = Batcher(BatchPolicy(batch_size=10, window_s=5), now=0.0)
    assert b.flush(1.0) is None
    b.add(1, 1, 0.5)
    batch = b.flush(1.0)
    assert batch is not None and batch.items == (1,) and batch.reason == "flush"
    assert b.flush(1.0) is None
