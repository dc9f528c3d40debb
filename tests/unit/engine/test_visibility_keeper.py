"""The visibility keeper's schedule on a fake clock: when it extends, what in one call, and what it lets go.

The source here only records the calls (and fails when told to); the keeper
against every real queue is in tests/faults/test_visibility*.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from batchmap.clock import FakeClock
from batchmap.config import EventSourceMapping
from batchmap.engine.visibility import VisibilityKeeper, newest_copies, short_visibility_warning
from batchmap.errors import SettleError, SourceError
from batchmap.sources.base import Delivery, QueueTraits

TIMEOUT_S = 10.0


@dataclass
class RecordingQueue:
    """A queue that notes each extension; ``refuse`` names receipts that died, ``down`` fails whole calls."""

    arn: str = "arn:aws:sqs:local:000000000000:q"
    visibility_timeout_s: float = TIMEOUT_S
    traits: QueueTraits = field(default_factory=lambda: QueueTraits(extends_visibility=True))
    fifo: bool = False
    calls: list[tuple[list[str], float]] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    down: bool = False
    gone: bool = False
    during_call: list[Delivery] = field(default_factory=list)
    keeper: VisibilityKeeper | None = None

    async def extend_visibility(self, deliveries: Sequence[Delivery], timeout_s: float) -> None:
        self.calls.append(([d.id for d in deliveries], timeout_s))
        if self.keeper is not None and self.during_call:
            self.keeper.let_go(self.during_call)  # the lane settles these while the call is out
        if self.down:
            raise SourceError("connection refused", transient=True)
        if self.gone:
            raise SourceError("QueueDoesNotExist")
        failed = {d.id: "ReceiptHandleIsInvalid" for d in deliveries if d.id in self.refuse}
        if failed:
            raise SettleError("ChangeMessageVisibility", failed, len(deliveries) - len(failed))


def delivery(message_id: str, handle: str | None = None) -> Delivery:
    return Delivery({"messageId": message_id}, message_id, None, "", 10, 0, handle=handle or f"h-{message_id}")


def keeper(queue: RecordingQueue, clock: FakeClock) -> VisibilityKeeper:
    kept = VisibilityKeeper(queue, clock)  # type: ignore[arg-type]
    queue.keeper = kept
    return kept


def test_held_messages_are_extended_at_half_the_timeout_in_one_call() -> None:
    clock, queue = FakeClock(), RecordingQueue()
    kept = keeper(queue, clock)
    kept.hold([delivery("a"), delivery("b")])
    clock.advance(2)
    kept.hold([delivery("c")])  # due 2 s after the others: close enough to go in the same call
    assert asyncio.run(kept.extend_due()) == pytest.approx(TIMEOUT_S / 2)
    assert queue.calls == []  # nothing due yet: the keeper sleeps until the first is due

    clock.advance(TIMEOUT_S / 2 - 2)
    assert asyncio.run(kept.extend_due()) == pytest.approx(TIMEOUT_S)  # next round, half a timeout on
    assert queue.calls == [(["a", "b", "c"], TIMEOUT_S)]


def test_messages_let_go_are_not_extended_any_more() -> None:
    clock, queue = FakeClock(), RecordingQueue()
    kept = keeper(queue, clock)
    kept.hold([delivery("a"), delivery("b")])
    kept.let_go([delivery("a"), delivery("unknown")])
    clock.advance(TIMEOUT_S / 2)
    asyncio.run(kept.extend_due())
    kept.let_go([delivery("b")])
    clock.advance(TIMEOUT_S / 2)
    assert asyncio.run(kept.extend_due()) is None
    assert queue.calls == [(["b"], TIMEOUT_S)]
    assert len(kept) == 0


def test_a_message_let_go_while_its_extension_is_out_is_not_held_again() -> None:
    clock, queue = FakeClock(), RecordingQueue()
    kept = keeper(queue, clock)
    kept.hold([delivery("a"), delivery("b")])
    queue.during_call = [delivery("a")]
    clock.advance(TIMEOUT_S / 2)
    asyncio.run(kept.extend_due())
    assert len(kept) == 1
    clock.advance(TIMEOUT_S / 2)
    asyncio.run(kept.extend_due())
    assert queue.calls[-1] == (["b"], TIMEOUT_S)


def test_a_dead_receipt_is_a_warning_naming_it_and_is_not_extended_again(caplog: pytest.LogCaptureFixture) -> None:
    clock, queue = FakeClock(), RecordingQueue(refuse={"b"})
    kept = keeper(queue, clock)
    kept.hold([delivery("a"), delivery("b"), delivery("c")])
    clock.advance(TIMEOUT_S / 2)
    with caplog.at_level(logging.WARNING, logger="batchmap.engine"):
        asyncio.run(kept.extend_due())
    [warning] = [r.getMessage() for r in caplog.records]
    assert "1 held message(s) can no longer be kept hidden (ReceiptHandleIsInvalid): b" in warning
    assert queue.arn in warning
    clock.advance(TIMEOUT_S / 2)
    asyncio.run(kept.extend_due())
    assert queue.calls[-1] == (["a", "c"], TIMEOUT_S)  # the others were extended, and are again


def test_a_failed_call_is_tried_again_soon_and_said_once(caplog: pytest.LogCaptureFixture) -> None:
    clock, queue = FakeClock(), RecordingQueue(down=True)
    kept = keeper(queue, clock)
    kept.hold([delivery("a")])
    clock.advance(TIMEOUT_S / 2)
    with caplog.at_level(logging.WARNING, logger="batchmap.engine"):
        retry_at = asyncio.run(kept.extend_due())
        assert retry_at == pytest.approx(clock.now() + TIMEOUT_S / 10)
        clock.advance(TIMEOUT_S / 10)
        asyncio.run(kept.extend_due())
    assert len(queue.calls) == 2 and len(kept) == 1  # still held, tried again
    assert len([r for r in caplog.records if "could not extend" in r.getMessage()]) == 1
    queue.down = False
    clock.advance(TIMEOUT_S / 10)
    assert asyncio.run(kept.extend_due()) == pytest.approx(clock.now() + TIMEOUT_S / 2)


def test_a_fatal_error_ends_the_extensions_instead_of_retrying() -> None:
    clock, queue = FakeClock(), RecordingQueue(gone=True)
    kept = keeper(queue, clock)
    kept.hold([delivery("a")])
    clock.advance(TIMEOUT_S / 2)
    with pytest.raises(SourceError, match="QueueDoesNotExist"):
        asyncio.run(kept.extend_due())


def test_a_source_that_cannot_extend_holds_nothing() -> None:
    clock = FakeClock()
    queue = RecordingQueue(traits=QueueTraits())
    kept = keeper(queue, clock)
    kept.hold([delivery("a")])
    assert not kept.enabled and len(kept) == 0
    clock.advance(TIMEOUT_S)
    assert asyncio.run(kept.extend_due()) is None and queue.calls == []


def test_the_running_keeper_extends_on_the_real_clock_and_stops_on_close() -> None:
    from batchmap.clock import SystemClock

    queue = RecordingQueue(visibility_timeout_s=0.2)

    async def scenario() -> None:
        kept = keeper(queue, SystemClock())  # type: ignore[arg-type]
        errors: list[BaseException] = []
        kept.start(on_error=errors.append)
        await asyncio.sleep(0.05)
        kept.hold([delivery("a")])  # wakes the idle keeper
        await asyncio.sleep(0.35)
        await kept.close()
        calls = len(queue.calls)
        await asyncio.sleep(0.15)
        assert len(queue.calls) == calls >= 2 and not errors

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_an_unexpected_error_ends_the_keeper_and_is_raised_by_close() -> None:
    from batchmap.clock import SystemClock

    queue = RecordingQueue(visibility_timeout_s=0.1)

    async def broken(deliveries: Sequence[Delivery], timeout_s: float) -> None:
        raise RuntimeError("a bug")

    queue.extend_visibility = broken  # type: ignore[method-assign]

    async def scenario() -> list[BaseException]:
        kept = keeper(queue, SystemClock())  # type: ignore[arg-type]
        errors: list[BaseException] = []
        kept.start(on_error=errors.append)
        kept.hold([delivery("a")])
        await asyncio.sleep(0.2)
        with pytest.raises(RuntimeError, match="a bug"):
            await kept.close()
        return errors

    errors = asyncio.run(asyncio.wait_for(scenario(), 5))
    assert [str(e) for e in errors] == ["a bug"]  # the runner is told at once, not only at the end


def test_a_batch_keeps_the_newest_copy_of_a_message_received_twice() -> None:
    old, other, new = delivery("a", "h1"), delivery("b"), delivery("a", "h2")
    kept, older = newest_copies([old, other, new])
    assert [d.handle for d in kept] == ["h-b", "h2"] and older == [old]
    unique = [old, other]
    assert newest_copies(unique) == (unique, [])


def test_one_copy_each_lets_the_older_copy_go(caplog: pytest.LogCaptureFixture) -> None:
    clock, queue = FakeClock(), RecordingQueue()
    kept = keeper(queue, clock)
    old, new = delivery("a", "h1"), delivery("a", "h2")
    kept.hold([old])
    kept.hold([new])
    with caplog.at_level(logging.WARNING, logger="batchmap.engine"):
        assert kept.one_copy_each([old, new]) == [new]
    assert len(kept) == 1 and "received again while held" in caplog.records[0].getMessage()


def test_the_start_up_warning_names_the_queue_its_timeout_and_the_advice() -> None:
    mapping = EventSourceMapping(source="sqlite:///q.db?queue=q", function="app:handler", batch_size=100,
                                 maximum_batching_window_in_seconds=6)
    resolved = mapping.resolve("sqs")
    short = RecordingQueue(visibility_timeout_s=30)  # 6 x 3 s + 6 s = 24 s: enough
    assert short_visibility_warning(short, resolved) is None  # type: ignore[arg-type]
    short.visibility_timeout_s = 12
    warning = short_visibility_warning(short, resolved)  # type: ignore[arg-type]
    assert warning is not None and "\n" not in warning
    assert warning.startswith(f"queue {short.arn}: VisibilityTimeout 12 s is below AWS's advised minimum of 24 s")
    assert "6 x function timeout 3 s + batching window 6 s" in warning
