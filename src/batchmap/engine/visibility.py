"""Messages a queue mapping holds stay hidden for as long as it holds them.

A lane holds a message from its receive until it deletes or releases it: while
the batching window collects more and while the function runs, which together
may last longer than the queue's visibility timeout. A message whose timeout
ran out would be received again (by the same lane, into the same event, or by
another), processed twice, and with a redrive policy a message processed
successfully could even reach the dead-letter queue. So the runner registers
what it holds with a ``VisibilityKeeper``, which extends (ChangeMessageVisibility)
every held message at half the visibility timeout, one call for everything due,
and stops as soon as the message is let go.

A receipt that died meanwhile (the message was deleted, or received again
after its timeout ran out) is a warning naming the messages; an extension that
fails as a whole is tried again shortly. The keeper never deletes or releases
anything: settling stays with the lane.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from batchmap.clock import Clock
from batchmap.config import ResolvedMapping
from batchmap.errors import SettleError, SourceError
from batchmap.sources.base import Delivery, QueueSource, VisibilityExtender, visibility_extender

log = logging.getLogger("batchmap.engine")

EXTEND_AFTER = 0.5
"""Fraction of the visibility timeout after which a held message is extended (from receive or last extension)."""
GATHER = 0.25
"""Fraction of the timeout: messages due that much later are extended in the same call, so calls stay few."""
RETRY = 0.1
"""Fraction of the timeout to wait before trying again after an extension failed as a whole."""
MIN_WAIT_S = 0.02
SHOWN = 10
"""Message ids a warning lists at most."""


class VisibilityKeeper:
    """Extends the visibility of every message a queue runner holds, until it is let go.

    ``hold`` and ``let_go`` are cheap (a dict entry per message) and never wait;
    ``start`` runs the extensions in a task of their own; ``close`` stops them
    and raises what ended the task, if anything did. With a source that cannot
    extend (``SourceTraits.extends_visibility`` false) every call does nothing.
    """

    def __init__(self, source: QueueSource, clock: Clock) -> None:
        self.arn = source.arn
        self.timeout_s = float(source.visibility_timeout_s)
        extender = visibility_extender(source)
        self._source: VisibilityExtender | None = extender if self.timeout_s > 0 else None
        self._clock = clock
        self._held: dict[str, tuple[Delivery, float]] = {}  # receipt handle -> (delivery, when to extend)
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failures = 0

    @property
    def enabled(self) -> bool:
        """Whether this keeper extends anything (the source can, and has a visibility timeout)."""
        return self._source is not None

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, deliveries: Sequence[Delivery]) -> None:
        """Keep these just-received messages hidden until they are let go."""
        if self._source is None or not deliveries:
            return
        due = self._clock.now() + EXTEND_AFTER * self.timeout_s
        if not self._held:
            self._woken.set()
        held = self._held
        for delivery in deliveries:
            held[delivery.handle] = (delivery, due)

    def let_go(self, deliveries: Sequence[Delivery]) -> None:
        """Stop extending these (about to be deleted or released, or given up); unknown ones are ignored."""
        if self._source is None or not self._held:
            return
        pop = self._held.pop
        for delivery in deliveries:
            pop(delivery.handle, None)

    def one_copy_each(self, items: Sequence[Delivery]) -> Sequence[Delivery]:
        """A closing batch with one copy of each message: the newest receive; older copies are let go.

        A lane receives a message it holds again only if its visibility ran out
        (an extension came too late, or its receipt died); an event never carries
        it twice, and the older receipt, which settles nothing any more, is dropped.
        """
        kept, older = newest_copies(items)
        if older:
            self.let_go(older)
            log.warning("queue %s: %d message(s) were received again while held (their visibility ran out): "
                        "%s; the batch keeps the newest copy", self.arn, len(older),
                        ", ".join(sorted({d.id for d in older})[:SHOWN]))
        return kept

    def start(self, on_error: Callable[[BaseException], None]) -> None:
        """Run the extensions until ``close``; ``on_error`` is told if they end on an unexpected error."""
        if self._source is None or self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name=f"visibility-keeper {self.arn}")

        def done(task: asyncio.Task[None]) -> None:
            error = None if task.cancelled() else task.exception()
            if error is not None:
                on_error(error)

        self._task.add_done_callback(done)

    async def close(self) -> None:
        """Stop extending; raises the error that ended the extensions, if one did."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise

    async def _run(self) -> None:
        while True:
            wake = await self.extend_due()
            if wake is None:
                self._woken.clear()
                await self._woken.wait()
            else:
                await self._clock.sleep(max(MIN_WAIT_S, wake - self._clock.now()))

    async def extend_due(self) -> float | None:
        """Extend every held message that is due (or nearly); returns when the next one is due, if any."""
        source = self._source
        if source is None or not self._held:
            return None
        now = self._clock.now()
        horizon = now + GATHER * self.timeout_s
        due = [delivery for delivery, when in self._held.values() if when <= horizon]
        if due:
            next_due = now + EXTEND_AFTER * self.timeout_s
            try:
                await source.extend_visibility(due, self.timeout_s)
            except SettleError as exc:
                self._lost(due, exc)
            except SourceError as exc:
                if not exc.transient:
                    raise  # ends the keeper: the runner stops and ``close`` raises it
                self._failed(len(due), exc)
                next_due = self._clock.now() + max(MIN_WAIT_S, RETRY * self.timeout_s)
            else:
                self._failures = 0
            self._redate(due, next_due)
        return min((when for _, when in self._held.values()), default=None)

    def _redate(self, deliveries: list[Delivery], due: float) -> None:
        """The next extension of messages still held (not let go while the call was out)."""
        held = self._held
        for delivery in deliveries:
            if delivery.handle in held:
                held[delivery.handle] = (delivery, due)

    def _lost(self, extended: list[Delivery], exc: SettleError) -> None:
        """Receipts that died: stop extending them and say which; the lane still settles them as usual."""
        self._failures = 0
        lost = [d for d in extended if d.id in exc.failed and d.handle in self._held]
        self.let_go(lost)
        if lost:
            ids = [d.id for d in lost]
            shown = ", ".join(ids[:SHOWN]) + (f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else "")
            reason = exc.failed.get(ids[0], "")
            log.warning("queue %s: %d held message(s) can no longer be kept hidden (%s): %s; a copy received "
                        "elsewhere may be processed twice", self.arn, len(lost), reason, shown)

    def _failed(self, count: int, exc: SourceError) -> None:
        self._failures += 1
        report = log.warning if self._failures in (1, 10) or self._failures % 100 == 0 else log.debug
        report("queue %s: could not extend the visibility of %d held message(s) (%s); trying again (attempt %d)",
               self.arn, count, exc, self._failures)


def newest_copies(items: Sequence[Delivery]) -> tuple[Sequence[Delivery], list[Delivery]]:
    """One copy of each message in a batch: the newest receive, whose receipt is the one that settles it.

    A message is received twice only when its visibility ran out while held
    (an extension came too late or its receipt died); the older copies are
    returned apart, for the caller to let go without settling them.
    """
    if len({d.id for d in items}) == len(items):
        return items, []
    newest = {d.id: i for i, d in enumerate(items)}
    kept = [d for i, d in enumerate(items) if newest[d.id] == i]
    return kept, [d for i, d in enumerate(items) if newest[d.id] != i]


def short_visibility_warning(source: QueueSource, resolved: ResolvedMapping) -> str | None:
    """The start-up warning when the queue's visibility timeout is below AWS's advice, else ``None``."""
    visibility = float(source.visibility_timeout_s)
    advised = resolved.advised_visibility_timeout_s
    if visibility >= advised:
        return None
    tail = ("batchmap extends the visibility of the messages it holds, Lambda's poller needs the headroom"
            if source.traits.extends_visibility else "messages held longer come back and are processed twice")
    return (f"queue {source.arn}: VisibilityTimeout {visibility:g} s is below AWS's advised minimum of "
            f"{advised:g} s (6 x function timeout {resolved.function.timeout_s:g} s + batching window "
            f"{resolved.window_s:g} s); {tail}")
