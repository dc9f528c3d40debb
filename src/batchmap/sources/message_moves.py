"""A message move task: SQS's dead-letter redrive, for every queue source that is a ``MessageMover``.

The task receives messages from the dead-letter queue a few at a time and has
the source move each to its destination: the queue named by the user, or else
the queue that dead-lettered it (``MessageMover.origins``). It moves at most the
messages the queue held when it started, visible or not (``ApproximateNumberOfMessagesToMove``),
so messages that fail again while it runs and come back are not chased for
ever, and it keeps to ``MaxNumberOfMessagesPerSecond`` when one is given.

A message is never lost: a move is atomic, or a confirmed copy before the
original goes, and a message the task received but did not move (its source is
unknown, the task was cancelled or stopped) is made visible again. Progress and
the outcome go to a ``MoveTaskLedger`` so ``list-message-move-tasks`` shows them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Protocol, TypeVar

from batchmap.clock import Clock, SystemClock
from batchmap.errors import BatchmapError, ConfigError
from batchmap.sources.base import Delivery, MessageMover, QueueSource
from batchmap.sources.sqlite.move_tasks import HEARTBEAT_S, MoveTask, MoveTaskLedger, Status

T = TypeVar("T")

BATCH = 10
"""Messages received and moved per step (SQS's largest receive)."""
EMPTY_RECEIVES = 3
"""Empty receives in a row after which the task ends even if the queue still counts messages (hidden by
another consumer's receive, say): the task must end; they stay in the queue for the next task."""
RECEIVE_WAIT_S = 1.0


class Retrier(Protocol):
    """Runs a source call, waiting out transient failures (``batchmap.engine.backoff.Backoff``)."""

    async def call(self, op: Callable[[], Awaitable[T]], what: str) -> T: ...


class MoveTaskRunner:
    """Runs one task to its end and records it; ``run`` returns the task as it ended."""

    def __init__(self, source: QueueSource, mover: MessageMover, ledger: MoveTaskLedger, task: MoveTask,
                 retry: Retrier, *, destination: str | None = None, clock: Clock | None = None) -> None:
        """``destination``: where every message goes (``None``: back where each came from); the task's
        ``destination_arn`` is the same without credentials, for showing."""
        self.source = source
        self.destination = destination
        self.mover = mover
        self.ledger = ledger
        self.task = task
        self.retry = retry
        self.clock: Clock = clock or SystemClock()
        self.moved = 0
        self.to_move: int | None = None
        self._started = self.clock.now()

    async def run(self) -> MoveTask:
        """Move until done, cancelled or failed; the ledger holds the outcome either way."""
        status: Status = "FAILED"
        failure: str | None = "stopped"
        try:
            status, failure = await self._loop()
        except BatchmapError as exc:
            failure = str(exc)
        except (asyncio.CancelledError, KeyboardInterrupt):
            status, failure = "CANCELLED", None
            raise
        finally:
            self.task = self.ledger.finish(self.task.handle, status, self.moved, failure, self.clock.wall_ms())
        return self.task

    async def _loop(self) -> tuple[Status, str | None]:
        self.to_move = (await self.retry.call(self.source.backlog, "backlog")).total
        self._write()
        empty = 0
        while self.moved < self.to_move:
            if self._write() == "CANCELLING":
                return "CANCELLED", None
            deliveries = await self.retry.call(lambda: self.source.receive(self._step(), RECEIVE_WAIT_S), "receive")
            if not deliveries:
                empty += 1
                if (await self.retry.call(self.source.backlog, "backlog")).total == 0 or empty >= EMPTY_RECEIVES:
                    break
                continue
            empty = 0
            await self._move(deliveries)
            await self._keep_rate()
        return "COMPLETED", None

    def _step(self) -> int:
        assert self.to_move is not None
        rate = self.task.max_per_second or BATCH
        return max(1, min(BATCH, rate, self.to_move - self.moved))

    async def _move(self, deliveries: list[Delivery]) -> None:
        """Move one received batch, grouped by destination; give back what cannot be moved."""
        targets = await self._targets(deliveries)
        unknown = [d for d, target in zip(deliveries, targets, strict=True) if target is None]
        if unknown:
            await self.retry.call(lambda: self.source.release(deliveries, 0.0), "release")
            raise ConfigError("--destination-arn", None, f"required here: message {unknown[0].id} has no "
                              "recorded source queue, so say where the messages go")
        groups: dict[str, list[Delivery]] = {}
        for delivery, target in zip(deliveries, targets, strict=True):
            groups.setdefault(str(target), []).append(delivery)
        for target, group in groups.items():
            try:
                self.moved += await self.retry.call(partial(self.mover.move, group, target), "move")
            except BaseException:
                await _give_back(self.source, group)
                raise

    async def _targets(self, deliveries: Sequence[Delivery]) -> list[str | None]:
        if self.destination is not None:
            return [self.destination] * len(deliveries)
        return await self.retry.call(lambda: self.mover.origins(deliveries), "origins")

    async def _keep_rate(self) -> None:
        rate = self.task.max_per_second
        if rate is None:
            return
        ahead = self._started + self.moved / rate - self.clock.now()
        while ahead > 0:  # sleep in slices, writing progress, so the task never looks stale
            await self.clock.sleep(min(ahead, HEARTBEAT_S))
            self._write()
            ahead = self._started + self.moved / rate - self.clock.now()

    def _write(self) -> Status:
        return self.ledger.progress(self.task.handle, self.moved, self.to_move, self.clock.wall_ms())


async def _give_back(source: QueueSource, deliveries: Sequence[Delivery]) -> None:
    """Make messages that were not moved visible again at once; if even that fails they come back anyway
    after the visibility timeout, so the original error is the one to report."""
    with contextlib.suppress(BatchmapError):
        await source.release(deliveries, 0.0)
