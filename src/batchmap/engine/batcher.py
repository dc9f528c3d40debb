"""When a batch closes: pure policy, shared by the engine and the tuner's simulator.

AWS closes a batch on the first of: ``BatchSize`` records, the batching window
elapsed, or the payload about to pass 6 MB. Where the window clock starts
depends on the source (reference §1):

* ``on_ready`` (SQS, Kinesis, DynamoDB Streams): the window opens when the
  lane's previous invocation completes. If it expires with nothing collected,
  the lane idles and the next record opens a fresh window.
* ``on_first_record`` (Kafka, MQ): the window opens when the first record arrives.

A ``Batcher`` holds one lane's open batch. It never reads a clock: every call
is given ``now`` (monotonic seconds), so the same code runs live and simulated.
Its settings, ``BatchPolicy``, are a mapping's (``batchmap.config.batch_policy``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from batchmap.config.batch_policy import BatchPolicy
from batchmap.records.shapes import EVENT_ENVELOPE_BYTES

T = TypeVar("T")

CloseReason = Literal["size", "window", "payload", "flush"]


@dataclass(frozen=True, slots=True)
class Batch(Generic[T]):
    """A closed batch: its items in arrival order and why it closed."""

    items: tuple[T, ...]
    payload_bytes: int
    reason: CloseReason
    opened_at: float
    closed_at: float

    def __len__(self) -> int:
        return len(self.items)


class Batcher(Generic[T]):
    """Collects one lane's records and closes batches by size, window or payload."""

    def __init__(self, policy: BatchPolicy, now: float) -> None:
        self.policy = policy
        self._items: list[T] = []
        self._bytes = EVENT_ENVELOPE_BYTES
        self._window_opened: float | None = now if policy.window_start == "on_ready" else None

    def __len__(self) -> int:
        return len(self._items)

    @property
    def payload_bytes(self) -> int:
        """Bytes the event would have if the batch closed now."""
        return self._bytes

    def ready(self, now: float) -> None:
        """The lane's previous invocation completed: with ``on_ready`` the window opens now."""
        if self.policy.window_start == "on_ready" and not self._items:
            self._window_opened = now

    def due(self) -> float | None:
        """When the window closes (monotonic seconds), or ``None`` while no record waits."""
        if not self._items or self._window_opened is None:
            return None
        return self._window_opened + self.policy.window_s

    def add(self, item: T, size: int, now: float) -> list[Batch[T]]:
        """Add a record of ``size`` bytes; returns the batches this closes (zero, one or two).

        A record that would push the payload past the limit closes the current
        batch first and starts the next one. Callers must route records that do
        not ``fits_alone`` elsewhere: they can never be sent.
        """
        closed: list[Batch[T]] = []
        separator = 2 if self._items else 0
        if self._items and self._bytes + separator + size > self.policy.max_payload_bytes:
            closed.append(self._close("payload", now))
            separator = 0
        if not self._items:
            self._open_for_first_record(now)
        self._items.append(item)
        self._bytes += separator + size
        if len(self._items) >= self.policy.batch_size:
            closed.append(self._close("size", now))
        return closed

    def add_many(self, items: Sequence[T], sizes: Sequence[int], now: float) -> list[Batch[T]]:
        """``add`` each item in turn (``sizes[i]`` is the size of ``items[i]``): the same batches.

        One poll's records usually fit the open batch whole; then they go in
        with one list extend instead of a call per record.
        """
        count = len(items)
        if len(sizes) != count:
            raise ValueError(f"sizes: one size per item, got {len(sizes)} sizes for {count} items")
        if not count:
            return []
        held = len(self._items)
        added = sum(sizes) + 2 * (count if held else count - 1)
        if held + count <= self.policy.batch_size and self._bytes + added <= self.policy.max_payload_bytes:
            if not held:
                self._open_for_first_record(now)
            self._items.extend(items)
            self._bytes += added
            return [self._close("size", now)] if held + count == self.policy.batch_size else []
        closed: list[Batch[T]] = []
        for item, size in zip(items, sizes, strict=True):
            closed.extend(self.add(item, size, now))
        return closed

    def poll(self, now: float) -> Batch[T] | None:
        """Close the batch if its window has elapsed and it holds at least one record."""
        due = self.due()
        if due is not None and now >= due:
            return self._close("window", now)
        return None

    def flush(self, now: float) -> Batch[T] | None:
        """Close whatever is collected (shutdown, end of a drain)."""
        return self._close("flush", now) if self._items else None

    def _open_for_first_record(self, now: float) -> None:
        # An empty window that already expired left the lane idle: this record opens a fresh one.
        opened = self._window_opened
        expired = opened is not None and now > opened + self.policy.window_s
        if opened is None or expired or self.policy.window_start == "on_first_record":
            self._window_opened = now

    def _close(self, reason: CloseReason, now: float) -> Batch[T]:
        opened = self._window_opened if self._window_opened is not None else now
        batch = Batch(tuple(self._items), self._bytes, reason, opened, now)
        self._items = []
        self._bytes = EVENT_ENVELOPE_BYTES
        self._window_opened = None
        return batch
