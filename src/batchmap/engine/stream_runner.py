"""One mapping on a stream: a worker per shard, children only after their parents.

Shards are rediscovered periodically so resharding is followed: a child shard
starts once every parent it has (that still exists) has been read to its end
and fully processed, which keeps per-key order across a split or merge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import partial

from batchmap.engine.backoff import StreamBackoffs, source_name
from batchmap.engine.leases import DEFAULT_LEASE_TTL_S, ShardLeases
from batchmap.engine.runtime import RunSettings, Runtime
from batchmap.engine.shard import ShardWorker
from batchmap.errors import SourceError
from batchmap.sources.base import CheckpointStore, Shard, StreamSource, shard_watcher

log = logging.getLogger("batchmap.engine")

DISCOVERY_INTERVAL_S = 5.0
TAKEOVER_CHECK_S = 1.0
"""Draining: how often a shard another engine holds is tried again (its owner may have died)."""


class StreamRunner:
    """Runs one mapping against a ``StreamSource`` until stopped (or caught up)."""

    def __init__(
        self, settings: RunSettings, source: StreamSource, checkpoints: CheckpointStore, runtime: Runtime,
        owner: str | None = None, lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
    ) -> None:
        self.settings = settings
        self.source = source
        self._watcher = shard_watcher(source)
        self.leases = ShardLeases(checkpoints, settings.mapping_id, owner, lease_ttl_s)
        self.rt = runtime
        self.workers: dict[str, ShardWorker] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._finished: set[str] = set()
        self._not_ours: dict[str, float] = {}
        """Shards whose lease another engine held, and when we were first refused."""
        self._share = 0
        """How many shards this engine should hold now (its fair share among live engines)."""
        self._group: asyncio.TaskGroup | None = None
        name = source_name(source)
        self.backoffs = StreamBackoffs(
            runtime.backoff(name),
            runtime.backoff(f"{name} checkpoints"),
            None if runtime.destination is None else  # not named by its URI, which may hold a password
            runtime.backoff(f"{name} on-failure destination"),
        )

    async def run(self, until_idle: bool = False) -> None:
        """Process every shard until ``runtime.stop`` is set, or until all are caught up.

        Shard workers run in a task group: one that fails (an error waiting cannot
        fix, or a bug) cancels the others and this loop at once, and the error goes up.
        """
        try:
            async with asyncio.TaskGroup() as workers:
                self._group = workers
                try:
                    await self._loop(until_idle)
                finally:
                    self.rt.stop.set()  # the workers finish the batches in flight and checkpoint
        finally:
            await self._leave()

    async def _loop(self, until_idle: bool) -> None:
        shards: list[Shard] = []
        next_discovery = next_renewal = next_takeover = 0.0
        while not self.rt.stop.is_set():
            now = self.rt.clock.now()
            if now >= next_renewal:
                failed = await self._store_call(partial(self._renew, shards), "renewing shard leases")
                next_renewal = now + (self.leases.renew_every_s if failed is None else failed)
            if now >= next_discovery or self._just_finished() or self._shards_changed():
                shards, failed = await self._discover(shards)
                if failed is None:
                    failed = await self._store_call(partial(self._take, shards), "taking shard leases")
                next_discovery = now + (DISCOVERY_INTERVAL_S if failed is None else failed)
            elif until_idle and self._not_ours and now >= next_takeover:
                await self._store_call(partial(self._start_ready, shards), "taking shard leases")
                next_takeover = now + TAKEOVER_CHECK_S
            await self._reap()
            if until_idle and self._all_idle(shards):
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.05):
                    await self.rt.stop.wait()

    async def _renew(self, shards: list[Shard]) -> None:
        await self.leases.heartbeat()
        self._halt(await self.leases.renew())
        self._share = await self.leases.fair_share(self._open(shards))
        self._shed()
        if len(self.leases.held) < self._share and any(s not in self.leases.live for s in self._not_ours):
            # a shard we were refused has no live lease now (its owner died, stopped or handed it over):
            # take it at this renewal rather than at the next discovery, up to DISCOVERY_INTERVAL_S later
            await self._start_ready(shards)

    async def _take(self, shards: list[Shard]) -> None:
        self._share = await self.leases.fair_share(self._open(shards))
        await self._start_ready(shards)

    async def _store_call(self, op: Callable[[], Awaitable[None]], what: str) -> float | None:
        """Run lease calls; ``None`` when they succeeded, else (the store failed transiently) the pause
        before trying again. Meanwhile the shards keep going: a lease lost for good stops its shard."""
        try:
            await op()
        except SourceError as exc:
            if not exc.transient:
                raise
            return self.backoffs.checkpoints.failed(what, exc)
        if self.backoffs.checkpoints.active:
            self.backoffs.checkpoints.recovered()
        return None

    async def _discover(self, known: list[Shard]) -> tuple[list[Shard], float | None]:
        """The stream's shards; while the source fails transiently, the ones known so far and the pause."""
        try:
            shards = await self.source.shards()
        except SourceError as exc:
            if not exc.transient:
                raise
            return known, self.backoffs.source.failed("listing shards", exc)
        if self.backoffs.source.active:
            self.backoffs.source.recovered()
        return shards, None

    async def _leave(self) -> None:
        """Give up every lease we hold, so other engines take the shards at once; one that fails expires."""
        releases: list[Callable[[], Awaitable[None]]] = [partial(self.leases.release, shard_id)
                                                         for shard_id in sorted(self.leases.held)]
        for release in [*releases, self.leases.leave]:
            try:
                await release()
            except SourceError as exc:
                log.warning("%s: a lease not released (%s); it expires after %g s", self.backoffs.checkpoints.name,
                            exc, self.leases.ttl_s)

    def _halt(self, lost: list[str]) -> None:
        for shard_id in lost:
            worker = self.workers.get(shard_id)
            if worker is not None:
                worker.revoked = True
                worker.halt.set()

    async def _start_ready(self, shards: list[Shard]) -> None:
        """Start a worker for each shard whose parents are done and whose lease we can take."""
        known = {shard.id for shard in shards}
        for shard in shards:
            if shard.id in self._tasks or shard.id in self._finished:
                continue
            parents = [p for p in shard.parent_ids if p in known]
            if not all(p in self._finished for p in parents):
                continue
            if self._share and len(self.leases.held) >= self._share:
                self._not_ours.setdefault(shard.id, self.rt.clock.now())
                continue
            if not await self.leases.acquire(shard.id):
                self._not_ours.setdefault(shard.id, self.rt.clock.now())
                continue
            self._not_ours.pop(shard.id, None)
            assert self._group is not None, "shards start inside run()"
            worker = ShardWorker(self.settings, self.source, self.leases, self.rt, shard, self.backoffs)
            self.workers[shard.id] = worker
            self._tasks[shard.id] = self._group.create_task(worker.run(), name=f"shard-{shard.id}")

    def _open(self, shards: list[Shard]) -> int:
        """Shards still to be worked on (not finished): what the engines share."""
        return sum(1 for shard in shards if shard.id not in self._finished)

    def _shed(self) -> None:
        """Give shards above our fair share back (a new engine joined): stop them cleanly, then release."""
        running = [s for s in sorted(self.leases.held) if s in self._tasks and not self.workers[s].shed]
        for shard_id in running[self._share:] if self._share else []:
            log.info("shard %s: handing over to another engine (fair share %d)", shard_id, self._share)
            worker = self.workers[shard_id]
            worker.shed = worker.revoked = True
            worker.halt.set()

    def _shards_changed(self) -> bool:
        """A source whose shards come and go without ending (Kafka's rebalances) says so at once."""
        watcher = self._watcher
        if watcher is None or not watcher.shards_changed.is_set():
            return False
        watcher.shards_changed.clear()
        return True

    def _just_finished(self) -> bool:
        return any(task.done() for task in self._tasks.values())

    async def _reap(self) -> None:
        """Collect shard workers that ended; one that failed is the task group's to report, not ours."""
        for shard_id, task in list(self._tasks.items()):
            if not task.done() or task.cancelled() or task.exception() is not None:
                continue
            del self._tasks[shard_id]
            worker = self.workers[shard_id]
            if worker.finished_reading and not worker.revoked and not self.rt.stop.is_set():
                self._finished.add(shard_id)
                await self._store_call(partial(self.leases.release, shard_id), "releasing a shard lease")
            elif worker.shed:  # checkpointed on the way out: the next owner resumes there
                await self._store_call(partial(self.leases.release, shard_id), "releasing a shard lease")

    def _all_idle(self, shards: list[Shard]) -> bool:
        """Every shard finished, caught up, or held by another engine that keeps renewing its lease.

        A shard we were refused counts as another engine's work only after a whole
        lease TTL: an engine that died (SIGKILL) stops renewing, so within that time
        its lease expires and we take the shard over instead of leaving it undrained.
        """
        if self.backoffs.source.active or self.backoffs.checkpoints.active:
            return False  # an outage is waited out, not taken for the end of the stream
        if not shards:
            return True
        patience = self.leases.ttl_s + 2 * TAKEOVER_CHECK_S
        for shard in shards:
            if shard.id in self._finished:
                continue
            refused = self._not_ours.get(shard.id)
            if refused is not None:
                if self.rt.clock.now() - refused < patience:
                    return False
                continue
            worker = self.workers.get(shard.id)
            if worker is None or not worker.idle:
                return False
        return True
