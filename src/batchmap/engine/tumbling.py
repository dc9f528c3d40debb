"""Tumbling windows for streams: fixed windows by arrival time, with state passed between invocations.

Reference §3.6: each record belongs to the window its approximate arrival time
falls in; every batch of a window is invoked with the window's current
``state`` and must return the next one; when the window ends an invocation with
``isFinalInvokeForWindow: true`` carries the final state. The window's records
are checkpointed only after that final invocation succeeds, so a crash replays
the whole window and no state is silently lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from batchmap.sources.base import Delivery

STATE_LIMIT_BYTES = 1024 * 1024
"""AWS's limit on a window's state per shard; passing it ends the window early."""


def window_start_ms(arrival_ms: int, size_s: int) -> int:
    """Start of the fixed window (aligned on the epoch) that an arrival time falls in."""
    size_ms = size_s * 1000
    return arrival_ms - arrival_ms % size_ms


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class TumblingWindow:
    """One open window of a shard slot: its bounds, the state so far, the records awaiting checkpoint."""

    start_ms: int
    size_s: int
    state: dict[str, Any] = field(default_factory=dict)
    pending: list[Delivery] = field(default_factory=list)
    terminated_early: bool = False

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.size_s * 1000

    def holds(self, delivery: Delivery) -> bool:
        """Whether a record's arrival time falls in this window."""
        return window_start_ms(delivery.arrival_ms, self.size_s) == self.start_ms

    def event_fields(self, shard_id: str, source_arn: str, final: bool) -> dict[str, Any]:
        """The top-level fields Lambda adds to a tumbling-window event."""
        return {
            "window": {"start": _iso(self.start_ms), "end": _iso(self.end_ms)},
            "state": self.state,
            "shardId": shard_id,
            "eventSourceARN": source_arn,
            "isFinalInvokeForWindow": final,
            "isWindowTerminatedEarly": self.terminated_early if final else False,
        }

    def update(self, state: dict[str, Any] | None) -> None:
        """Take the state a successful invocation returned; mark the window full past 1 MB."""
        self.state = state or {}
        if len(json.dumps(self.state, separators=(",", ":"))) > STATE_LIMIT_BYTES:
            self.terminated_early = True
