"""One mapping on a queue: pollers that batch, invoke and settle as Lambda does for SQS.

Each poller (a "lane") collects its own batch, invokes the function with it,
and waits for the outcome before collecting the next one, so the number of
lanes is the number of concurrent batches. The ``Scaler`` grows lanes while
polls come back full and shrinks them when the queue is quiet; with adaptive
batching the controller plans the lane count and the scaler holds it.

Settling follows reference §10.2: success deletes the batch; a valid partial
response deletes all but the reported messages; a failure deletes nothing, so
the messages reappear after the visibility timeout with a higher receive count
and the queue's redrive policy moves them to its dead-letter queue. Records
filtered out are deleted at once. A lane polls for its next batch while the
last one's delete is still going (the embedded queue commits both in one
transaction) and waits for that delete before it invokes again or stops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from typing import Any

from batchmap.clock import Clock
from batchmap.config.batch_policy import BatchPolicy
from batchmap.engine.adaptive import AdaptiveController, BatchObservation
from batchmap.engine.backoff import source_name
from batchmap.engine.batcher import Batch, Batcher
from batchmap.engine.outcome import Outcome, judge
from batchmap.engine.runtime import RunSettings, Runtime, accept_all, describe
from batchmap.engine.scaling import Scaler
from batchmap.engine.visibility import VisibilityKeeper
from batchmap.errors import SettleError, SourceError
from batchmap.records import build_event
from batchmap.sources.base import Delivery, QueueSource

log = logging.getLogger("batchmap.engine")

MAX_LONG_POLL_S = 20.0
DRAIN_POLL_S = 0.05
"""With --until-idle, empty polls are short so the end of the drain is seen at once."""
TICK_S = 0.05
"""How often the run loop fits lanes to the scaler when no empty poll wakes it sooner."""


class QueueRunner:
    """Runs one mapping against a ``QueueSource`` until stopped (or idle)."""

    def __init__(self, settings: RunSettings, source: QueueSource, runtime: Runtime) -> None:
        self.settings = settings
        self.source = source
        self.rt = runtime
        self.scaler = Scaler(settings.scaling, runtime.clock.now())
        self._lanes: dict[int, asyncio.Task[None]] = {}
        self._busy = 0
        self._empty_polls = 0
        self._empty_readings = 0  # backlog readings of zero in a row, with only empty polls between them
        self._readings_needed = 2 if source.traits.approximate_backlog else 1
        self._idle_wait = settings.idle_poll_s
        self.policy = settings.batch
        self._adaptive = Adaptation(settings) if settings.adaptive else None
        self._until_idle = False
        self._late: list[asyncio.Future[Any]] = []
        self._tick: asyncio.Future[None] | None = None
        self._pollers_shown = 0  # provisioned mode: the poller count last told to the hooks
        self._cancel_receives = source.traits.cancel_safe_receive
        self.backoff = runtime.backoff(source_name(source))
        self._next_backlog = 0.0  # after a failed backlog call, when to ask again
        self._keeper = VisibilityKeeper(source, runtime.clock)  # what the lanes hold stays hidden

    async def run(self, until_idle: bool = False) -> None:
        """Poll, batch, invoke and settle until ``runtime.stop`` is set (or the queue is empty).

        The lanes run in a task group: a lane that fails (an error waiting cannot
        fix, or a bug) cancels the others and this loop at once, and the error goes up.
        The visibility keeper outlives the lanes (it keeps what they hold hidden until
        they have settled it); an error it cannot wait out stops the lanes, and
        ``close`` raises it.
        """
        self._until_idle = until_idle
        if until_idle:
            self._idle_wait = min(self._idle_wait, DRAIN_POLL_S)
        stopped = asyncio.ensure_future(self.rt.stop.wait())
        self._keeper.start(on_error=lambda _: self.rt.stop.set())
        try:
            async with asyncio.TaskGroup() as lanes:
                try:
                    while not self.rt.stop.is_set():
                        self._fit_lanes(lanes)
                        if until_idle and await self._idle():
                            break
                        # An empty poll wakes the loop at once: the end of a drain is checked without waiting a tick.
                        self._tick = asyncio.get_running_loop().create_future()
                        await asyncio.wait((self._tick, stopped), timeout=TICK_S, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    self.rt.stop.set()  # the lanes settle what they hold and exit
        finally:
            stopped.cancel()
            await asyncio.gather(*self._late, return_exceptions=True)
            await self._keeper.close()

    def _fit_lanes(self, lanes: asyncio.TaskGroup) -> None:
        """Start lanes up to the scaler's target; lanes above it exit by themselves."""
        target = self.scaler.target
        if self.settings.scaling.provisioned and target != self._pollers_shown:
            self.rt.hooks.pollers(target)  # AWS's ProvisionedPollers
            self._pollers_shown = target
        for lane, task in list(self._lanes.items()):
            if task.done():
                if task.cancelled() or task.exception() is not None:
                    return  # the task group is stopping the run: start nothing more
                del self._lanes[lane]
        for lane in range(self.scaler.target):
            if lane not in self._lanes:
                self._lanes[lane] = lanes.create_task(self._lane(lane), name=f"lane-{lane}")

    async def _idle(self) -> bool:
        """True when no lane holds records and the queue has nothing visible, in flight or delayed.

        The queue is only asked once a poll came back empty since the last
        check, so a busy queue is not counted over and over while draining; a
        source in an outage is not idle, and is asked again after a backoff pause.
        A queue whose counts are approximate (``SourceTraits.approximate_backlog``)
        must read empty twice, with only empty polls between the readings.
        """
        if self._busy or not self._empty_polls or self.rt.clock.now() < self._next_backlog:
            return False
        self._empty_polls = 0
        try:
            backlog = await self.source.backlog()
        except SourceError as exc:
            if not exc.transient:
                raise
            self._next_backlog = self.rt.clock.now() + self.backoff.failed("backlog", exc)
            return False
        if self.backoff.active:
            self.backoff.recovered()
        if backlog.total or self._busy:
            self._empty_readings = 0
            return False
        self._empty_readings += 1
        return self._empty_readings >= self._readings_needed

    async def _lane(self, lane: int) -> None:
        clock = self.rt.clock
        batcher: Batcher[Delivery] = Batcher(self.settings.batch, clock.now())
        stopped = asyncio.ensure_future(self.rt.stop.wait())
        got = 1  # what this lane's last poll returned
        deleting: asyncio.Future[None] | None = None  # the last batch's delete, overlapping the next poll
        try:
            while not self.rt.stop.is_set() and lane < self.scaler.target:
                if deleting is not None and self.backoff.active:
                    await deleting  # the source is failing: settle before taking more, so nothing waits in hand
                    deleting = None
                closed, got = await self._collect(batcher, stopped, drain_now=self._until_idle and got > 0)
                for batch in closed:
                    if deleting is not None:
                        await deleting
                    deleting = await self._process(batch)
                    batcher.ready(clock.now())
                if not len(batcher) and batcher.policy is not self.policy:
                    batcher.policy = self.policy  # adaptive batching moved BatchSize or the window
        finally:
            stopped.cancel()
            if deleting is not None:
                await deleting
            leftover = batcher.flush(clock.now())
            if leftover is not None:
                await self._release(leftover.items)

    async def _receive(self, want: int, wait: float, stopped: asyncio.Future[Any]) -> list[Delivery]:
        """A receive that a stop does not have to wait out: what arrives after the stop is released."""
        receiving = asyncio.ensure_future(self.source.receive(want, wait))
        try:
            await asyncio.wait((receiving, stopped), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the lane itself is cancelled (another lane failed): leave no orphan
            self._leave_behind(receiving)
            raise
        if receiving.done():
            return receiving.result()
        self._leave_behind(receiving)
        return []

    def _leave_behind(self, receiving: asyncio.Future[list[Delivery]]) -> None:
        """Hand a receive the lane stops waiting for to ``_late``, which the run awaits before it ends."""
        if receiving.done() and (receiving.cancelled() or receiving.exception() is not None):
            self._late.append(receiving)  # it took nothing; its error (retrieved now) is the run's to report
        elif self._cancel_receives and not receiving.done():  # the source gives back what a cancelled receive took
            receiving.cancel()
            self._late.append(receiving)  # its error, if any, is retrieved there: never lost unobserved
        else:  # what it took (or takes) is released; a failure is logged
            self._late.append(asyncio.ensure_future(self._release_late(receiving)))

    async def _release_late(self, receiving: asyncio.Future[list[Delivery]]) -> None:
        try:
            late = await receiving
        except SourceError as exc:
            log.warning("%s: a receive left behind at the stop failed (%s); what it took comes back after the "
                        "visibility timeout", self.backoff.name, exc)
            return
        if late:
            await self._release(late)

    async def _poll(self, want: int, wait: float, stopped: asyncio.Future[Any], due: float | None) -> (
            list[Delivery] | None):
        """One receive; ``None`` when it failed transiently, after a backoff pause that ends by the batch's window.

        A lane in backoff never holds collected records past their window: the batch
        closes on time and goes to the function, which does not need the source.
        """
        try:
            deliveries = await self._receive(want, wait, stopped)
        except SourceError as exc:
            if not exc.transient:
                raise
            pause = self.backoff.failed("receive", exc)
            if due is not None:
                pause = min(pause, max(0.0, due - self.rt.clock.now()))
            await self.backoff.pause(pause)
            return None
        if self.backoff.active:
            self.backoff.recovered()
        return deliveries

    async def _collect(
        self, batcher: Batcher[Delivery], stopped: asyncio.Future[Any], drain_now: bool
    ) -> tuple[list[Batch[Delivery]], int]:
        """One receive: add what came to the batch; return the batches that closed and the records received.

        ``drain_now`` (draining, and the lane's last poll brought records): an
        empty lane asks without waiting, so the end of the drain is seen at once.
        """
        clock = self.rt.clock
        due = batcher.due()
        wait = self._idle_wait if due is None else max(0.0, min(due - clock.now(), MAX_LONG_POLL_S))
        if drain_now and due is None:
            wait = 0.0
        want = batcher.policy.batch_size - len(batcher)
        deliveries = await self._poll(want, wait, stopped, due)
        if deliveries is None:  # the source failed; nothing came, and that is no empty poll
            window = batcher.poll(clock.now())
            return ([] if window is None else [window]), 0
        now = clock.now()
        self._note_poll(len(deliveries), want, now)
        closed: list[Batch[Delivery]] = []
        if deliveries:
            admitted, sizes, rejected = self._admit(deliveries)
            self._keeper.hold(admitted)
            closed = batcher.add_many(admitted, sizes, now)
            if rejected:
                await self._delete(rejected)
        window = batcher.poll(clock.now())
        if window is not None:
            closed.append(window)
        return closed, len(deliveries)

    def _note_poll(self, got: int, wanted: int, now: float) -> None:
        self.rt.hooks.polled(got)
        if got:
            self._empty_readings = 0
        if got and got >= wanted:
            self.scaler.saw_backlog(now)
        elif not got:
            self._empty_polls += 1
            self.scaler.saw_idle(now)
            if self._tick is not None and not self._tick.done():
                self._tick.set_result(None)

    def _admit(self, deliveries: list[Delivery]) -> tuple[list[Delivery], list[int], list[Delivery]]:
        """The records that go into batches and their sizes, and the filtered-out ones (to delete); oversized
        ones are left."""
        fits = self.settings.batch.fits_alone
        accept = self.rt.accept
        sizes = [d.size for d in deliveries]
        if accept is accept_all and fits(max(sizes)):
            return deliveries, sizes, []  # the usual case, without a call per record
        admitted: list[Delivery] = []
        rejected: list[Delivery] = []
        oversized = 0
        for delivery in deliveries:
            if not fits(delivery.size):
                log.error(
                    "record %s is %d bytes, over the 6 MB invocation payload limit: not sent; "
                    "it will be redelivered and reach the queue's dead-letter queue",
                    delivery.id, delivery.size,
                )
                oversized += 1
            elif accept(delivery):
                admitted.append(delivery)
            else:
                rejected.append(delivery)
        if oversized:
            self.rt.hooks.oversized(oversized)
        if rejected:
            self.rt.hooks.filtered_out(len(rejected))
        return admitted, [d.size for d in admitted], rejected

    async def _process(self, batch: Batch[Delivery]) -> asyncio.Future[None] | None:
        """Invoke the function with one batch and settle the messages; returns the delete, still going on.

        The lane polls again while its last batch is deleted (a source may do
        both in one round trip); the messages count as in flight until then.
        """
        self._busy += 1
        try:
            items = self._keeper.one_copy_each(batch.items)
            event = build_event(self.source.shape, [d.record for d in items])
            invocation = await self.rt.invoke(event, items)
            report = self.settings.report_batch_item_failures
            outcome = judge(
                invocation,
                [d.id for d in items] if report else (),  # ids are only read from a partial response
                shape=self.source.shape,
                report_batch_item_failures=report,
            )
            deleting = self._settle(items, outcome)
            if self._adaptive is not None:
                self.policy = self._adaptive.observe(items, invocation.duration_ms, self.rt.clock)
                if self._adaptive.lanes is not None:
                    self.scaler.hold(self._adaptive.lanes)
            return deleting
        finally:
            self._busy -= 1

    def _settle(self, items: Sequence[Delivery], outcome: Outcome) -> asyncio.Future[None] | None:
        """Failed messages are let go at once (they return after the visibility timeout); processed
        ones stay hidden until their delete is done, however long an outage makes it wait."""
        self.rt.hooks.outcome(len(items), outcome)
        if outcome.kind == "failure":
            self._keeper.let_go(items)
            log.warning("batch of %d failed (%s); the messages return after the visibility timeout",
                        len(items), describe(outcome))
            self.scaler.saw_function_error(self.rt.clock.now())
            return None
        failed = set(outcome.failed_ids)
        if failed:
            self._keeper.let_go([d for d in items if d.id in failed])
        done = [d for d in items if d.id not in failed] if failed else items
        return asyncio.ensure_future(self._delete(done)) if done else None

    async def _delete(self, deliveries: Sequence[Delivery]) -> None:
        """Delete processed messages, waiting out a source outage; a refused delete is not fatal.

        The queue refuses a delete when a message was delivered twice (queues deliver
        at least once) and the other copy's delete came first, or when a receipt
        expired (also during a long outage): the message is gone, or comes back after
        its visibility timeout and is processed again, as on Lambda.
        """
        if not deliveries:
            return
        try:
            deleted = await self.backoff.call(partial(self.source.delete, deliveries), "delete")
        except SettleError as exc:
            log.warning("%s; those messages are processed again after their visibility timeout", exc)
            deleted = exc.settled
        except SourceError as exc:
            if not exc.transient:
                raise
            log.warning("%s: %d processed message(s) not deleted before the stop (%s); they are processed again "
                        "after their visibility timeout", self.backoff.name, len(deliveries), exc)
            deleted = 0
        else:
            if deleted < len(deliveries):  # queues that count instead of naming: a receipt died, said all the same
                log.warning("%d of %d message(s) were not deleted: their receipts died (deleted or received "
                            "again meanwhile)", len(deliveries) - deleted, len(deliveries))
        self._keeper.let_go(deliveries)  # hidden until now: a delete waiting out an outage keeps them
        self.rt.hooks.deleted(deleted)

    async def _release(self, deliveries: Sequence[Delivery]) -> None:
        """Give unprocessed messages back now; ones the queue refuses come back after their visibility timeout."""
        self._keeper.let_go(deliveries)
        try:
            await self.backoff.call(partial(self.source.release, deliveries, 0.0), "release")
        except SettleError as exc:
            log.warning("%s; those messages come back after their visibility timeout", exc)
        except SourceError as exc:
            if not exc.transient:
                raise
            log.warning("%s: %d message(s) not released before the stop (%s); they come back after their "
                        "visibility timeout", self.backoff.name, len(deliveries), exc)


class Adaptation:
    """Adaptive batching for one mapping: the controller, fed after every batch; it owns the lane count."""

    def __init__(self, settings: RunSettings) -> None:
        assert settings.adaptive is not None
        self.policy = settings.batch
        self.lanes: int | None = None
        self.controller = AdaptiveController(settings.adaptive, settings.batch.batch_size, settings.batch.window_s)

    def observe(self, items: Sequence[Delivery], duration_ms: float, clock: Clock) -> BatchPolicy:
        """Fold one finished batch in; returns the policy for the next batches (``lanes``: how many)."""
        now_ms = clock.wall_ms()
        ages = [max(0, now_ms - d.arrival_ms) / 1000 for d in items]
        seen = BatchObservation(len(items), duration_ms / 1000, max(ages), sum(ages) / len(ages),
                                finished_s=clock.now(), newest_latency_s=min(ages))
        chosen = self.controller.observe(seen)
        if (chosen.batch_size, chosen.window_s, chosen.lanes) != (
                self.policy.batch_size, self.policy.window_s, self.lanes):
            log.info("adaptive batching: BatchSize %d, window %.3f s, %s lane(s)", chosen.batch_size,
                     chosen.window_s, chosen.lanes if chosen.lanes is not None else "scaled")
            self.policy = replace(self.policy, batch_size=chosen.batch_size, window_s=chosen.window_s)
            self.lanes = chosen.lanes
        return self.policy

