"""What every runner shares: the function, the clock, the filter, the hooks and the stop signal.

Kept in one value so the queue and stream runners take one argument for their
collaborators and the settings stay separate (and immutable).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from batchmap.clock import Clock, SystemClock
from batchmap.config.batch_policy import BatchPolicy
from batchmap.engine.adaptive import AdaptiveConfig
from batchmap.engine.backoff import Backoff
from batchmap.engine.invocation import Invocation, Invoker
from batchmap.engine.outcome import Outcome
from batchmap.engine.retry import RetryPolicy
from batchmap.engine.scaling import ScalingPolicy
from batchmap.metrics import MetricsHook
from batchmap.sources.base import Delivery, Destination, Position

log = logging.getLogger("batchmap.engine")

RecordFilter = Callable[[Delivery], bool]
"""True when a record passes the mapping's FilterCriteria (and goes to the function)."""


_ids = random.Random()  # seeded from os.urandom
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.seed)  # a forked engine must not repeat its parent's ids
_UUID4_CLEAR = ~((0xF << 76) | (0x3 << 62))
_UUID4_SET = (0x4 << 76) | (0x2 << 62)


def request_id() -> str:
    """A random version 4 UUID, as Lambda's request ids look.

    Not ``uuid.uuid4()``: it reads ``os.urandom``, which releases the GIL, and on a
    busy engine every call then waits for the database and handler threads to give
    it back. A generator seeded from ``os.urandom`` is as unique; the ids are no secrets.
    """
    text = f"{(_ids.getrandbits(128) & _UUID4_CLEAR) | _UUID4_SET:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def describe(outcome: Outcome) -> str:
    """Why a batch did not succeed, in one line: reason, error type and detail."""
    parts: list[str] = [outcome.reason or outcome.kind]
    if outcome.error_type and not outcome.detail.startswith(outcome.error_type):
        parts.append(outcome.error_type)
    if outcome.detail:
        parts.append(outcome.detail)
    elif outcome.failed_ids:
        parts.append(f"{len(outcome.failed_ids)} reported: {', '.join(outcome.failed_ids[:5])}")
    return ": ".join(parts)


def accept_all(_: Delivery) -> bool:
    """The filter of a mapping without FilterCriteria."""
    return True


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The resolved settings one runner needs, in engine terms."""

    mapping_id: str
    function_name: str
    batch: BatchPolicy
    report_batch_item_failures: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    scaling: ScalingPolicy = field(default_factory=ScalingPolicy)
    parallelization_factor: int = 1
    starting_position: Position = field(default_factory=lambda: Position("TRIM_HORIZON"))
    tumbling_window_s: int = 0
    function_timeout_s: float = 3.0
    poll_interval_s: float = 0.05
    idle_poll_s: float = 1.0
    adaptive: AdaptiveConfig | None = None

    @property
    def function_arn(self) -> str:
        """The local ARN the function is known by in on-failure records."""
        return f"arn:aws:lambda:local:000000000000:function:{self.function_name}"


@dataclass(slots=True)
class Runtime:
    """The collaborators of a runner."""

    invoker: Invoker
    hooks: MetricsHook
    clock: Clock = field(default_factory=SystemClock)
    accept: RecordFilter = accept_all
    destination: Destination | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    backoffs: list[Backoff] = field(default_factory=list)
    """The outage state of every system the runner calls, for ``Engine.status()``."""
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def backoff(self, name: str) -> Backoff:
        """A ``Backoff`` for the system ``name`` with this runtime's hooks, stop and clock, kept in ``backoffs``."""
        backoff = Backoff(name, self.hooks, self.stop, clock=self.clock)
        self.backoffs.append(backoff)
        return backoff

    def request_id(self) -> str:
        """A fresh request id in AWS's UUID format."""
        return request_id()

    async def invoke(self, event: dict[str, Any], batch: Sequence[Delivery]) -> Invocation:
        """Invoke the function with ``event``, counting the records sent."""
        self.hooks.invoked(len(batch))
        result = await self.invoker.invoke(event, self.request_id())
        return result
