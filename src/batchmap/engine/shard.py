"""One shard of a stream: read in order, route records to parallel slots, checkpoint.

Records are routed to one of ``ParallelizationFactor`` slots by a hash of
their partition key, so one key always lands in the same slot and keeps its
order; each slot has one batch in flight at a time. The checkpoint moves only
past records that are done in every slot (``Progress``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Sequence
from functools import partial

from batchmap.engine.backoff import StreamBackoffs
from batchmap.engine.batcher import Batch, Batcher
from batchmap.engine.checkpoint import Progress
from batchmap.engine.leases import ShardLeases
from batchmap.engine.runtime import RunSettings, Runtime
from batchmap.engine.stream_batch import StreamBatchProcessor
from batchmap.engine.tumbling import TumblingWindow, window_start_ms
from batchmap.errors import LeaseLostError, SourceError
from batchmap.records.shapes import shape_of
from batchmap.sources.base import Delivery, Position, Shard, StreamSource, change_waiter

log = logging.getLogger("batchmap.engine")

CHECKPOINT_EVERY_S = 0.2
"""How often a shard writes its checkpoint while it moves (and once more when the shard stops)."""
WOKEN_PAUSE_S = 1.0
"""The longest a caught-up shard of a stream that wakes reads waits without a write: a safety net only."""


def slot_of(key: str | None, slots: int) -> int:
    """The slot for a partition key: stable across runs and processes."""
    if slots == 1 or key is None:
        return 0
    digest = hashlib.md5(key.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:8], "big") % slots


class Slot:
    """One parallel lane of a shard: a queue of records, a batcher, one batch in flight."""

    def __init__(self, worker: ShardWorker) -> None:
        self.worker = worker
        size = worker.settings.batch.batch_size
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue(maxsize=max(2 * size, 100))
        self.batcher: Batcher[Delivery] = Batcher(worker.settings.batch, worker.rt.clock.now())
        self.busy = False
        self.window: TumblingWindow | None = None
        self.processor = StreamBatchProcessor(
            worker.settings, worker.source, worker.rt, worker.shard.id, worker.finish,
            stopping=lambda: worker.stopping or worker.revoked, destination_backoff=worker.backoffs.destination,
        )

    @property
    def idle(self) -> bool:
        return not self.busy and self.queue.empty() and len(self.batcher) == 0 and self.window is None

    async def run(self) -> None:
        clock = self.worker.rt.clock
        while not self.worker.stopping:
            for action in await self._collect():
                self.busy = True
                try:
                    if isinstance(action, TumblingWindow):
                        await self._close_window(action)
                    else:
                        await self.processor.process(action.items, self.window)
                        if self.window is not None and self.window.terminated_early:
                            await self._close_window(self.window)
                finally:
                    self.busy = False
                self.batcher.ready(clock.now())
            if self.worker.finished_reading and self.idle:
                return

    async def _close_window(self, window: TumblingWindow) -> None:
        if await self.processor.final_invoke(window) and self.window is window:
            self.window = None

    async def _collect(self) -> list[Batch[Delivery] | TumblingWindow]:
        """Batches that closed (and, with tumbling windows, windows that ended), in order."""
        clock = self.worker.rt.clock
        due = self.batcher.due()
        wait = self.worker.settings.idle_poll_s if due is None else max(0.0, due - clock.now())
        actions: list[Batch[Delivery] | TumblingWindow] = []
        for item in await self._take(wait, self.worker.settings.batch.batch_size - len(self.batcher)):
            self._enter_window(item, actions)
            actions.extend(self.batcher.add(item, item.size, clock.now()))
        closed = self.batcher.poll(clock.now())
        if closed is not None:
            actions.append(closed)
        self._end_window_on_time(actions)
        return actions

    def _enter_window(self, item: Delivery, actions: list[Batch[Delivery] | TumblingWindow]) -> None:
        """With tumbling windows, a record of a later window closes the current batch and window."""
        size = self.worker.settings.tumbling_window_s
        if not size:
            return
        if self.window is not None and not self.window.holds(item):
            flushed = self.batcher.flush(self.worker.rt.clock.now())
            if flushed is not None:
                actions.append(flushed)
            actions.append(self.window)
            self.window = None
        if self.window is None:
            self.window = TumblingWindow(window_start_ms(item.arrival_ms, size), size)

    def _end_window_on_time(self, actions: list[Batch[Delivery] | TumblingWindow]) -> None:
        """A window whose end has passed closes once the shard is caught up and its records are sent."""
        window = self.window
        if window is None or actions or len(self.batcher) or not self.queue.empty():
            return
        if self.worker.caught_up and self.worker.rt.clock.wall_ms() >= window.end_ms:
            actions.append(window)

    async def _take(self, wait: float, room: int) -> list[Delivery]:
        """The records waiting for this slot: the first within ``wait`` seconds, then what is there.

        The wait ends early when the run stops (a cancelled ``get`` takes nothing from the queue).
        """
        items: list[Delivery] = []
        if self.queue.empty() and wait > 0:
            getter = asyncio.ensure_future(self.queue.get())
            stopped = asyncio.ensure_future(self.worker.rt.stop.wait())
            await asyncio.wait((getter, stopped), timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if getter.done():
                items.append(getter.result())
            else:
                getter.cancel()
        while len(items) < room and not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items


class ShardWorker:
    """Reads one shard from its checkpoint and feeds its slots until the shard ends or the run stops."""

    def __init__(
        self, settings: RunSettings, source: StreamSource, leases: ShardLeases, runtime: Runtime, shard: Shard,
        backoffs: StreamBackoffs,
    ) -> None:
        self.settings = settings
        self.backoffs = backoffs
        self.source = source
        self.leases = leases
        self.checkpoints = leases.store
        self.halt = asyncio.Event()
        self.rt = runtime
        self.shard = shard
        self.progress = Progress()
        self.finished_reading = False
        self.revoked = False
        self.shed = False  # handed over to another engine (fair share), not lost
        self.caught_up = False
        self.slots = [Slot(self) for _ in range(settings.parallelization_factor)]
        self._dirty: str | None = None
        self._passed = 0  # records the checkpoint moved past since the last write
        self._counts_commits = shape_of(source.shape).commits  # CommittedEventCount: sources that commit

    @property
    def stopping(self) -> bool:
        """The run is stopping, or this shard was halted (its lease was lost)."""
        return self.rt.stop.is_set() or self.halt.is_set()

    @property
    def idle(self) -> bool:
        """Caught up with the shard and nothing collected, in flight or waiting for a retry."""
        return self.caught_up and all(slot.idle for slot in self.slots) and self._dirty is None

    def finish(self, records: Sequence[Delivery]) -> None:
        """Records are done (processed, filtered out or discarded): move the checkpoint if it can."""
        for delivery in records:
            self.progress.done(delivery.id)
        before = len(self.progress)
        moved = self.progress.advance()
        if moved is not None:
            self._dirty = moved
            self._passed += before - len(self.progress)

    async def run(self) -> None:
        """Read and process until the shard is finished, or the run stops.

        The reader, the slots and the checkpoint writer run in one task group: if
        one fails, the others are cancelled at once and the error goes up, so no
        slot waits for records a dead reader will never send.
        """
        try:
            async with asyncio.TaskGroup() as group:
                slots = [group.create_task(slot.run(), name=f"shard-{self.shard.id}-slot-{n}")
                         for n, slot in enumerate(self.slots)]
                flusher = group.create_task(self._flush_checkpoints(), name=f"shard-{self.shard.id}-checkpoints")
                await self._read_loop()
                await asyncio.wait(slots)
                flusher.cancel()
        except BaseException:
            await asyncio.shield(self._last_checkpoint(failing=True))
            raise
        await asyncio.shield(self._last_checkpoint(failing=False))

    async def _start_position(self) -> Position:
        checkpoint = await self.checkpoints.get(self.settings.mapping_id, self.shard.id)
        if checkpoint is not None:
            return Position("AFTER_SEQUENCE_NUMBER", sequence_number=checkpoint)
        return self.settings.starting_position

    async def _read_loop(self) -> None:
        """Read from the checkpoint on, waiting out source outages, until the shard ends or the run stops."""
        limit = min(10_000, max(self.settings.batch.batch_size * self.settings.parallelization_factor, 100))
        source = self.backoffs.source
        try:
            position = await self.backoffs.checkpoints.call(self._start_position, "reading checkpoints", self.halt)
            while not self.stopping:
                read = await source.call(partial(self.source.read, self.shard.id, position, limit),
                                         f"reading shard {self.shard.id}", self.halt)
                position = read.next_position
                await self._route(read.deliveries)
                if read.shard_ended or read.revoked:
                    self.revoked = read.revoked
                    break
                self.caught_up = not read.deliveries and not read.millis_behind_latest
                if not read.deliveries:
                    await self._pause(self.settings.poll_interval_s)
        except SourceError as exc:
            if not exc.transient:
                raise  # stopping while the source is down ends the reading; anything else ends the run
        self.caught_up = True
        self.finished_reading = True

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the run stops or the shard is halted.

        A stream that wakes reads (``SourceTraits.wakes_reads``) also ends the
        pause when a record may have arrived; its pause is then longer, up to
        ``WOKEN_PAUSE_S``, since polling is only a safety net there.
        """
        waiter = change_waiter(self.source)
        timeout = seconds if waiter is None else max(seconds, WOKEN_PAUSE_S)
        waits: list[asyncio.Future[bool]] = [asyncio.ensure_future(self.rt.stop.wait()),
                                             asyncio.ensure_future(self.halt.wait())]
        if waiter is not None:
            waits.append(asyncio.ensure_future(waiter.wait_for_change(self.shard.id, timeout)))
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        for waiting in waits[2:]:
            if waiting.done() and not waiting.cancelled():
                waiting.result()  # a bug in the wait goes up; its answer itself is not needed

    async def _route(self, deliveries: list[Delivery]) -> None:
        if not deliveries:
            return
        self.rt.hooks.polled(len(deliveries))
        passed: list[Delivery] = []
        filtered: list[Delivery] = []
        for delivery in deliveries:
            self.progress.read(delivery.id)
            (passed if self.rt.accept(delivery) else filtered).append(delivery)
        if filtered:
            self.rt.hooks.filtered_out(len(filtered))
            self.finish(filtered)
        slots = len(self.slots)
        for delivery in passed:
            if not self.settings.batch.fits_alone(delivery.size):
                await self.slots[0].processor.discard([delivery], "MaximumPayloadSizeExceeded", 0)
                continue
            await self._put(self.slots[slot_of(delivery.key, slots)], delivery)

    async def _put(self, slot: Slot, delivery: Delivery) -> None:
        """Hand a record to its slot, waiting while the slot is full (but not past a stop).

        Without yielding while there is room, so every record of one read reaches
        the slot together (a zero window sends what one poll returned).
        """
        with contextlib.suppress(asyncio.QueueFull):
            slot.queue.put_nowait(delivery)
            return
        while not self.stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.1):
                    await slot.queue.put(delivery)
                return

    async def _flush_checkpoints(self) -> None:
        """Write the checkpoint as it moves; while the store fails transiently, try again after a pause."""
        pause = CHECKPOINT_EVERY_S
        while True:
            await asyncio.sleep(pause)
            try:
                await self._write_checkpoint()
            except SourceError as exc:
                if not exc.transient:
                    raise
                pause = max(CHECKPOINT_EVERY_S, self.backoffs.checkpoints.failed("writing checkpoints", exc))
            else:
                pause = CHECKPOINT_EVERY_S

    async def _last_checkpoint(self, *, failing: bool) -> None:
        """The checkpoint once more as the shard stops; if the store refuses it now, the records since the
        previous one are processed again after a restart (never lost). An error here never hides ``failing``'s."""
        try:
            await self._write_checkpoint()
        except SourceError as exc:
            if not (exc.transient or failing):
                raise
            log.warning("shard %s: the last checkpoint %s was not written (%s); the records after the one "
                        "before it are processed again", self.shard.id, self._dirty, exc)

    async def _write_checkpoint(self) -> None:
        pending, passed = self._dirty, self._passed
        if pending is None:
            return
        try:
            await self.leases.put_checkpoint(self.shard.id, pending)
        except LeaseLostError:
            log.warning("shard %s: another engine took the shard over; stopping without checkpointing", self.shard.id)
            self.revoked = True
            self.halt.set()
            self._dirty = None
            return
        if self.backoffs.checkpoints.active:
            self.backoffs.checkpoints.recovered()
        self._passed -= passed
        if self._counts_commits and passed:
            self.rt.hooks.committed(passed)
        if self._dirty == pending:
            self._dirty = None
