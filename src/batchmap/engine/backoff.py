"""Waiting out a source that is unavailable for a while, as AWS's pollers do.

Every engine loop that calls a source (a queue lane's receive, delete, release
and backlog; a shard's reads and checkpoints; the lease calls) goes through the
``Backoff`` of what it calls. A ``SourceError`` whose ``transient`` flag is set
(a locked file, a full disk, a lost connection, throttling) is waited out with
capped exponential backoff and full jitter, so engines that lost a broker
together do not come back in step. Any other error goes up and stops the run.

One ``Backoff`` per system (a mapping's source, its checkpoint store, its
on-failure destination) keeps the outage's state: when it began and how many
calls failed. The first failure logs one line and the first success after it
logs one more; in between, each failed call only adds to ``PollingErrorCount``.
A system that fails again within ``RELAPSE_S`` of coming back (a client whose
connections come back one by one, a late error about the outage) is the same
outage going on: that failure is logged at INFO, and the next recovery says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from batchmap.clock import Clock, SystemClock
from batchmap.errors import SourceError
from batchmap.metrics import MetricsHook

T = TypeVar("T")
log = logging.getLogger("batchmap.engine")

INITIAL_BACKOFF_S = 0.05
"""The longest first pause after a failed call (full jitter: the pause is drawn from 0 to this)."""
MAX_BACKOFF_S = 5.0
"""The cap on the pause between tries, so a source that comes back is used again within seconds."""
RELAPSE_S = 5.0
"""A failure this soon after a recovery continues the same outage in the log (no new WARNING)."""


def source_name(source: object) -> str:
    """How logs name a source: its URI where it has one without secrets, else its ARN."""
    return str(getattr(source, "uri", None) or getattr(source, "arn", None) or type(source).__name__)


def transient(exc: BaseException) -> bool:
    """Whether waiting may help: a source error its source marked transient."""
    return isinstance(exc, SourceError) and exc.transient


class Backoff:
    """The outage state of one system the engine calls, and the retry loop around its calls."""

    def __init__(
        self, name: str, hooks: MetricsHook, stop: asyncio.Event, *, clock: Clock | None = None,
        initial_s: float = INITIAL_BACKOFF_S, max_s: float = MAX_BACKOFF_S,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.name = name
        self.hooks = hooks
        self.stop = stop
        self.clock: Clock = clock or SystemClock()
        self.initial_s = initial_s
        self.max_s = max_s
        self._jitter = jitter
        self.since: float | None = None
        """When the current outage began (``clock.now()``), or ``None`` while the system answers."""
        self.failures = 0
        """Calls that failed in the current outage."""
        self._recovered_at: float | None = None
        self._relapsed = False

    @property
    def active(self) -> bool:
        """True while the system is in backoff (its last call failed)."""
        return self.since is not None

    def failed(self, what: str, exc: SourceError) -> float:
        """Count a transient failure; the first of an outage is logged. Returns the pause before the next try."""
        self.hooks.polling_error()
        if self.since is None:
            self.since = now = self.clock.now()
            self._relapsed = self._recovered_at is not None and now - self._recovered_at < RELAPSE_S
            if self._relapsed:
                log.info("%s: %s failed again soon after it came back (%s); still waiting it out", self.name,
                         what, exc)
            else:
                log.warning("%s: %s failed (%s); waiting it out with backoff", self.name, what, exc)
        self.failures += 1
        ceiling = min(self.max_s, self.initial_s * 2.0 ** min(self.failures - 1, 30))
        return self._jitter() * ceiling

    def recovered(self) -> None:
        """A call succeeded: end the outage, with one line saying how long it lasted."""
        if self.since is not None:
            now = self.clock.now()
            log.warning("%s: available again after %.1f s (%d failed calls%s)", self.name, now - self.since,
                        self.failures, "; it had failed again soon after coming back" if self._relapsed else "")
            self.since = None
            self.failures = 0
            self._recovered_at = now

    async def pause(self, seconds: float, halt: asyncio.Event | None = None) -> bool:
        """Sleep ``seconds``; False at once if the run stops (or ``halt`` is set) meanwhile."""
        events = [self.stop] if halt is None else [self.stop, halt]
        if any(event.is_set() for event in events):
            return False
        waits = [asyncio.ensure_future(event.wait()) for event in events]
        try:
            done, _ = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*waits, return_exceptions=True)
        return not done

    async def call(self, op: Callable[[], Awaitable[T]], what: str, halt: asyncio.Event | None = None) -> T:
        """``await op()``, trying again after a transient failure until it succeeds or the run stops.

        Stopping (or ``halt``) ends the waiting: the last transient error is raised
        then, and the caller decides what not having done the call means.
        """
        while True:
            try:
                result = await op()
            except SourceError as exc:
                if not exc.transient:
                    raise
                if not await self.pause(self.failed(what, exc), halt):
                    raise
                continue
            if self.since is not None:
                self.recovered()
            return result


@dataclass(frozen=True, slots=True)
class StreamBackoffs:
    """What a stream mapping calls, each with its own outage state: the stream, the checkpoint store
    (leases and positions), and the on-failure destination if there is one."""

    source: Backoff
    checkpoints: Backoff
    destination: Backoff | None = None
