"""The engine's read-only status: what each mapping is doing, for readiness and the status page.

Values only, built on demand by ``Engine.status()`` from what the engine
already keeps (each mapping's task state and the ``Backoff`` of every system it
calls), so a reader never touches the engine's internals and never waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from batchmap.engine.backoff import Backoff
from batchmap.metrics.live import MappingState

__all__ = ["MappingState", "MappingStatus", "Outage", "outages"]


@dataclass(frozen=True, slots=True)
class Outage:
    """A system a mapping calls (its source, checkpoint store, destination) that is in backoff."""

    system: str
    since_s: float
    """When the outage began, on the engine's clock (``clock.now()``)."""
    failed_calls: int

    def describe(self, now_s: float) -> str:
        """``sqlite:///q.db?queue=q unavailable for 12.0 s (34 failed calls)``."""
        lasted = max(0.0, now_s - self.since_s)
        return f"{self.system} unavailable for {lasted:.1f} s ({self.failed_calls} failed calls)"


@dataclass(frozen=True, slots=True)
class MappingStatus:
    """One mapping's state: running, or why not."""

    uuid: str
    function_name: str
    source: str
    kind: Literal["queue", "stream"]
    state: MappingState
    outages: tuple[Outage, ...] = ()
    reason: str = ""
    """Why a failed mapping stopped (the error, in one line)."""
    visibility_timeout_s: float | None = None
    """The queue's visibility timeout (queues only): how long a failed message stays hidden."""

    @property
    def ready(self) -> bool:
        """Running, and every system it calls answers."""
        return self.state == "running" and not self.outages


def outages(backoffs: Sequence[Backoff]) -> tuple[Outage, ...]:
    """The systems in backoff now, from their ``Backoff`` state."""
    return tuple(Outage(b.name, b.since, b.failures) for b in backoffs if b.since is not None)
