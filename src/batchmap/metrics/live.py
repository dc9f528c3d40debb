"""What an operator sees of a running mapping at one moment: its state, depth, rates and waits.

The counters say what happened since the start; these values say what is
happening now, for the progress line, the status page, ``/readyz`` and the
gauges of ``/metrics``. They are plain values built by a sampler a few times a
second, so every reader (the terminal, the HTTP thread) sees one consistent
picture and none of them calls a source.

Rates are taken over a sliding window of the last few seconds (``RateWindow``),
not since the start, so a run that speeds up or stalls shows it at once; the
ETA is the backlog divided by the current rate of records leaving the queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from batchmap.metrics.recorder import FAILED_ATTEMPTS, FILTERED_OUT, INVOKED, SUCCEEDED, MetricsSnapshot

MappingState = Literal["starting", "running", "stopped", "failed", "disabled"]

RATE_WINDOW_S = 5.0
"""How far back the current rates look."""

RATED: tuple[str, ...] = (INVOKED, SUCCEEDED, FAILED_ATTEMPTS, FILTERED_OUT)
"""The counters whose current rate is kept."""


class RateWindow:
    """Per-second rates of counters over the last ``window_s`` seconds of samples."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, dict[str, int]]] = deque()

    def add(self, now: float, counters: Mapping[str, int]) -> None:
        """Record the counters' values at ``now`` (seconds, any monotonic clock)."""
        self._samples.append((now, {name: int(counters.get(name, 0)) for name in RATED}))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window_s:
            self._samples.popleft()

    def rate(self, name: str) -> float | None:
        """Increase per second of ``name`` over the window; ``None`` until two samples span some time."""
        if len(self._samples) < 2:
            return None
        (first_t, first), (last_t, last) = self._samples[0], self._samples[-1]
        if last_t <= first_t:
            return None
        return max(0, last[name] - first[name]) / (last_t - first_t)

    def rates(self) -> dict[str, float | None]:
        """Every rated counter's current rate, by AWS-style name."""
        return {name: self.rate(name) for name in RATED}


@dataclass(frozen=True, slots=True)
class Depth:
    """A queue's messages by state (as ``batchmap inspect`` shows them) and its dead-letter queue's depth.

    ``next_visible_in_s``: how long until the earliest hidden message is visible again,
    where the queue can tell (the embedded queue); ``None`` elsewhere.
    """

    visible: int
    in_flight: int
    delayed: int
    dead_letter_depth: int = 0
    next_visible_in_s: float | None = None

    @property
    def total(self) -> int:
        """Messages still to process: visible, in flight or delayed."""
        return self.visible + self.in_flight + self.delayed


@dataclass(frozen=True, slots=True)
class RetryWait:
    """Nothing is visible, nothing is being invoked, and failed messages wait to come back.

    ``in_s`` is how long until the next one is visible: exact where the queue
    knows it (``exact``), else the visibility timeout left since the last failure.
    """

    messages: int
    in_s: float
    exact: bool


@dataclass(frozen=True, slots=True)
class MappingView:
    """One mapping as the operator sees it now."""

    uuid: str
    function_name: str
    source: str
    kind: Literal["queue", "stream"]
    state: MappingState
    metrics: MetricsSnapshot
    outage: str | None = None
    """Which system the mapping is waiting out, and since when, in words; ``None`` while all answer."""
    depth: Depth | None = None
    dead_lettered: int = 0
    """Messages the queue moved to its dead-letter queue during this run, plus records an on-failure
    destination accepted."""
    rates: Mapping[str, float | None] = field(default_factory=dict)
    retry_wait: RetryWait | None = None
    reason: str = ""
    """Why a stopped or failed mapping stopped."""

    @property
    def ready(self) -> bool:
        """Running and not waiting out an outage."""
        return self.state == "running" and self.outage is None

    @property
    def succeeded_rate(self) -> float | None:
        """Records succeeded per second, now."""
        return self.rates.get(SUCCEEDED)

    @property
    def eta_s(self) -> float | None:
        """Seconds until the backlog is drained at the current rate; ``None`` when either is unknown."""
        return eta_s(self.depth.total if self.depth else None, self.leaving_rate())

    def leaving_rate(self) -> float | None:
        """Records leaving the backlog per second: succeeded and filtered out (dead-lettering is rare)."""
        done, filtered = self.rates.get(SUCCEEDED), self.rates.get(FILTERED_OUT)
        return None if done is None else done + (filtered or 0.0)

    def not_ready_reason(self) -> str | None:
        """Why this mapping makes the engine not ready, in one line; ``None`` when it is ready."""
        if self.outage is not None:
            return f"mapping {self.uuid} ({self.source}): {self.outage}"
        if self.state in ("running", "disabled"):
            return None
        detail = f": {self.reason}" if self.reason else ""
        return f"mapping {self.uuid} ({self.source}) is {self.state}{detail}"

    def as_json(self) -> dict[str, Any]:
        """A plain JSON object for ``/status.json``."""
        snap = self.metrics
        return {
            "uuid": self.uuid, "function_name": self.function_name, "source": self.source, "kind": self.kind,
            "state": self.state, "ready": self.ready, "outage": self.outage, "reason": self.reason,
            "counters": dict(snap.counters),
            "rates": {name: _round(rate) for name, rate in self.rates.items()},
            "backlog": None if self.depth is None else {
                "visible": self.depth.visible, "in_flight": self.depth.in_flight, "delayed": self.depth.delayed,
                "total": self.depth.total, "dead_letter_queue": self.depth.dead_letter_depth},
            "dead_lettered": self.dead_lettered,
            "invocations_in_flight": snap.invocations_in_flight,
            "iterator_age_ms": snap.iterator_age_ms,
            "eta_s": _round(self.eta_s),
            "retry_wait": None if self.retry_wait is None else {
                "messages": self.retry_wait.messages, "in_s": _round(self.retry_wait.in_s),
                "exact": self.retry_wait.exact},
        }


@dataclass(frozen=True, slots=True)
class RunView:
    """Every mapping of a run at one moment."""

    elapsed_s: float
    mappings: tuple[MappingView, ...]

    def not_ready(self) -> list[str]:
        """Why the engine is not ready, one line per mapping that makes it so (empty: ready)."""
        reasons = [reason for m in self.mappings if (reason := m.not_ready_reason()) is not None]
        if not reasons and not any(m.state == "running" for m in self.mappings):
            reasons.append("no mapping is running")
        return reasons

    def total(self, name: str) -> int:
        """A counter summed over every mapping."""
        return sum(int(m.metrics.counters.get(name, 0)) for m in self.mappings)

    def as_json(self) -> dict[str, Any]:
        """``/status.json``: readiness, elapsed time and every mapping."""
        reasons = self.not_ready()
        return {"ready": not reasons, "not_ready": reasons, "elapsed_s": round(self.elapsed_s, 3),
                "mappings": [m.as_json() for m in self.mappings]}


def eta_s(backlog: int | None, rate: float | None) -> float | None:
    """``backlog / rate``; 0 for an empty backlog, ``None`` when unknown or nothing is leaving."""
    if backlog is None:
        return None
    if backlog == 0:
        return 0.0
    return backlog / rate if rate else None


def retry_wait(depth: Depth | None, in_flight_invocations: int, failed_attempts: int,
               since_failure_s: float | None, visibility_timeout_s: float | None) -> RetryWait | None:
    """Whether the mapping waits for failed messages to become visible again, and for how long.

    Waiting means: no message is visible, none is being invoked, some are in
    flight or delayed, and some attempt failed. The wait is the queue's own
    figure when it has one, else what is left of the visibility timeout since
    the last failure (0 when that is past: the message is due any moment).
    """
    if depth is None or depth.visible or in_flight_invocations or not failed_attempts:
        return None
    hidden = depth.in_flight + depth.delayed
    if not hidden:
        return None
    if depth.next_visible_in_s is not None:
        return RetryWait(hidden, max(0.0, depth.next_visible_in_s), exact=True)
    if visibility_timeout_s is None or since_failure_s is None:
        return None
    return RetryWait(hidden, max(0.0, visibility_timeout_s - since_failure_s), exact=False)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
