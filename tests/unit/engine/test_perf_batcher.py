"""``Batcher.add_many`` closes exactly the batches that ``add`` record by record would."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchmap.engine.batcher import EVENT_ENVELOPE_BYTES, Batch, Batcher, BatchPolicy

Polls = list[list[int]]


def shape(batches: list[Batch[int]]) -> list[tuple[tuple[int, ...], int, str, float, float]]:
    return [(b.items, b.payload_bytes, b.reason, b.opened_at, b.closed_at) for b in batches]


def replay(policy: BatchPolicy, polls: Polls, many: bool) -> list[Batch[int]]:
    """Feed polls of record sizes (one poll per tick); items are numbered in arrival order."""
    batcher: Batcher[int] = Batcher(policy, 0.0)
    closed: list[Batch[int]] = []
    number = 0
    for tick, sizes in enumerate(polls):
        now = float(tick)
        items = list(range(number, number + len(sizes)))
        number += len(sizes)
        if many:
            closed += batcher.add_many(items, sizes, now)
        else:
            for item, size in zip(items, sizes, strict=True):
                closed += batcher.add(item, size, now)
        window = batcher.poll(now + 0.5)
        if window is not None:
            closed.append(window)
        if tick % 3 == 2:
            batcher.ready(now + 0.75)
    leftover = batcher.flush(float(len(polls)))
    return closed + ([leftover] if leftover else [])


@settings(max_examples=300, deadline=None)
@given(
    batch_size=st.integers(1, 12),
    window_s=st.sampled_from([0.0, 0.5, 2.0]),
    window_start=st.sampled_from(["on_ready", "on_first_record"]),
    max_payload=st.integers(EVENT_ENVELOPE_BYTES + 5, EVENT_ENVELOPE_BYTES + 120),
    polls=st.lists(st.lists(st.integers(1, 60), max_size=15), max_size=12),
)
def test_add_many_closes_the_same_batches_as_add(
    batch_size: int, window_s: float, window_start: str, max_payload: int, polls: Polls
) -> None:
    policy = BatchPolicy(batch_size, window_s, window_start, max_payload)  # type: ignore[arg-type]
    assert shape(replay(policy, polls, many=True)) == shape(replay(policy, polls, many=False))


def test_a_poll_that_fits_goes_in_whole_and_closes_on_size() -> None:
    batcher: Batcher[str] = Batcher(BatchPolicy(4, 1.0), 0.0)
    assert batcher.add_many(["a", "b"], [10, 20], 0.1) == []
    assert batcher.payload_bytes == EVENT_ENVELOPE_BYTES + 10 + 2 + 20
    [batch] = batcher.add_many(["c", "d", "e"], [1, 1, 1], 0.2)
    assert batch.items == ("a", "b", "c", "d") and batch.reason == "size"
    assert len(batcher) == 1 and batcher.payload_bytes == EVENT_ENVELOPE_BYTES + 1


def test_sizes_must_match_items() -> None:
    batcher: Batcher[str] = Batcher(BatchPolicy(4), 0.0)
    with pytest.raises(ValueError, match="sizes: one size per item, got 1 sizes for 2 items"):
        batcher.add_many(["a", "b"], [1], 0.0)
