"""The sampler: one task that looks at a running engine a few times a second and keeps a ``RunView``.

Every reader (the progress line, ``/status.json``, ``/readyz``, the gauges of
``/metrics``) reads ``Sampler.latest``, a frozen value swapped in whole, so the
HTTP thread never touches the engine and the queues are asked for their depth
once per interval however many readers there are. It reads the engine through
its public surface only: ``Engine.status()`` (state, outages), each mapping's
recorder, and each queue's ``backlog()``.

A queue in an outage is not asked for its depth (its backoff is already
asking); a depth call that fails or hangs leaves the depth unknown for that
sample. The dead-lettered count of a queue is its dead-letter queue's growth
since the first sample, plus what an on-failure destination accepted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from batchmap.engine.service import Engine, Prepared
from batchmap.engine.status import MappingStatus
from batchmap.errors import SourceError
from batchmap.metrics.live import Depth, MappingView, RateWindow, RunView, retry_wait
from batchmap.metrics.prometheus import live_text, prometheus_text
from batchmap.metrics.recorder import DESTINATION_DELIVERED, FAILED_ATTEMPTS
from batchmap.sources.base import QueueSource

log = logging.getLogger("batchmap.observe")

SAMPLE_INTERVAL_S = 1.0
"""How often the sampler looks (the progress line redraws more often, from the latest sample)."""
DEPTH_TIMEOUT_S = 5.0
"""A depth call that takes longer leaves the depth unknown for that sample."""


@dataclass(slots=True)
class _Memory:
    """What the sampler remembers of one mapping between samples."""

    rates: RateWindow
    dlq_baseline: int | None = None
    failed_attempts: int = 0
    last_failure_s: float | None = None


class Sampler:
    """Samples an engine every ``interval_s``; ``latest`` is the newest ``RunView``."""

    def __init__(self, engine: Engine, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.engine = engine
        self.interval_s = interval_s
        self.clock = engine.clock
        self.started_s = self.clock.now()
        self.latest = RunView(0.0, ())
        self.sampled_at = time.monotonic()
        """When the latest sample was taken (monotonic seconds): a stale one means a stuck event loop."""
        self.retry_wait_s = 0.0
        """Time spent with some mapping waiting for failed messages to come back (between samples)."""
        self._memory: dict[str, _Memory] = {}
        self._warned = False

    async def run(self) -> None:
        """Sample until cancelled; a sample that fails is logged once and the next one tried."""
        while True:
            try:
                await self.sample()
            except Exception as exc:  # a bug here must not end the run, nor pass unseen
                if not self._warned:
                    log.warning("the status sampler failed (%s: %s); trying again every %.1f s",
                                type(exc).__name__, exc, self.interval_s, exc_info=exc)
                    self._warned = True
            await asyncio.sleep(self.interval_s)

    async def sample(self) -> RunView:
        """Look at every mapping now; the result also becomes ``latest``."""
        now = self.clock.now()
        statuses = {s.uuid: s for s in self.engine.status()}
        prepared = {p.resolved.uuid: p for p in self.engine.prepared}
        depths = await asyncio.gather(*(self._depth(prepared[uuid], status) for uuid, status in statuses.items()))
        views = tuple(self._view(prepared[uuid], status, depth, now)
                      for (uuid, status), depth in zip(statuses.items(), depths, strict=True))
        if any(m.retry_wait is not None for m in self.latest.mappings):
            self.retry_wait_s += max(0.0, now - self.started_s - self.latest.elapsed_s)
        self.latest = RunView(now - self.started_s, views)
        self.sampled_at = time.monotonic()
        return self.latest

    def metrics_text(self) -> str:
        """The Prometheus exposition: every mapping's counters now, then the gauges of the latest sample.

        Safe from any thread: recorders are thread-safe and ``latest`` is swapped whole.
        """
        return prometheus_text(p.recorder for p in list(self.engine.prepared)) + live_text(self.latest.mappings)

    async def _depth(self, p: Prepared, status: MappingStatus) -> Depth | None:
        source = p.source
        if not isinstance(source, QueueSource) or status.outages or status.state == "failed":
            return None
        try:
            async with asyncio.timeout(DEPTH_TIMEOUT_S):
                backlog = await source.backlog()
        except (SourceError, TimeoutError):
            return None
        upcoming = None
        if backlog.next_visible_ms is not None:
            upcoming = (backlog.next_visible_ms - self.clock.wall_ms()) / 1000
        return Depth(backlog.visible, backlog.in_flight, backlog.delayed, backlog.dead_lettered, upcoming)

    def _view(self, p: Prepared, status: MappingStatus, depth: Depth | None, now: float) -> MappingView:
        memory = self._memory.setdefault(status.uuid, _Memory(RateWindow()))
        snap = p.recorder.snapshot()
        memory.rates.add(now, snap.counters)
        failed = snap.counters[FAILED_ATTEMPTS]
        if failed > memory.failed_attempts:
            memory.failed_attempts, memory.last_failure_s = failed, now
        if depth is not None and memory.dlq_baseline is None:
            memory.dlq_baseline = depth.dead_letter_depth
        grown = 0 if depth is None or memory.dlq_baseline is None else depth.dead_letter_depth - memory.dlq_baseline
        previous = next((v for v in self.latest.mappings if v.uuid == status.uuid), None)
        if depth is None and previous is not None:  # unknown this time: keep the last count seen
            grown = previous.dead_lettered - snap.counters[DESTINATION_DELIVERED]
        since_failure = None if memory.last_failure_s is None else now - memory.last_failure_s
        wait = retry_wait(depth, snap.invocations_in_flight, failed, since_failure, status.visibility_timeout_s)
        return MappingView(
            uuid=status.uuid, function_name=status.function_name, source=status.source, kind=status.kind,
            state=status.state, metrics=snap,
            outage="; ".join(o.describe(now) for o in status.outages) or None,
            depth=depth, dead_lettered=max(0, grown) + snap.counters[DESTINATION_DELIVERED],
            rates=memory.rates.rates(), retry_wait=wait, reason=status.reason,
        )
