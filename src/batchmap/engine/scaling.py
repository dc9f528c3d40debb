"""How many batches a queue mapping runs at once: pure policy.

AWS starts an SQS mapping at a few concurrent batches, adds more while
messages keep coming (up to ``ScalingConfig.MaximumConcurrency``), scales back
when the queue goes quiet, and backs off when the function fails, unless
partial batch responses are on (reference §2.3, §2.6). In provisioned mode
(``ProvisionedPollerConfig``, §2.7) ``minimum`` and ``maximum`` are the
pollers' floor and ceiling: it never goes below nor above them. ``Scaler``
makes the same decisions from what each poller saw, one step at a time.

Adaptive batching plans the lane count itself: while it does, it ``hold``s the
scaler at its count (clamped to the policy's bounds, the mapping's limits) and
the poll and error signals move nothing, so the two never pull against each other.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAXIMUM_CONCURRENCY = 10
"""Concurrent batches when ``ScalingConfig`` is not set (AWS's own default is the account's concurrency)."""


@dataclass(frozen=True, slots=True)
class ScalingPolicy:
    """Bounds and pace of scaling."""

    maximum: int = DEFAULT_MAXIMUM_CONCURRENCY
    minimum: int = 1
    step_interval_s: float = 0.25
    back_off_on_errors: bool = True
    provisioned: bool = False
    """``ProvisionedPollerConfig`` set: ``minimum`` and ``maximum`` are the pollers' bounds, reported as a metric."""

    @property
    def initial(self) -> int:
        """Concurrent batches when the mapping starts (AWS starts small and grows; provisioned mode at its floor)."""
        return max(self.minimum, min(2, self.maximum))


class Scaler:
    """Tracks the target number of concurrent batches from poll and outcome signals."""

    def __init__(self, policy: ScalingPolicy, now: float) -> None:
        self.policy = policy
        self.target = policy.initial
        self._last_change = now
        self.held = False

    def hold(self, lanes: int) -> int:
        """Another owner (adaptive batching) sets the count from now on; clamped to the policy's bounds."""
        self.held = True
        self.target = min(self.policy.maximum, max(self.policy.minimum, lanes))
        return self.target

    def saw_backlog(self, now: float) -> int:
        """A poll came back full: more work is waiting, so add a batch slot (paced)."""
        if not self.held and self.target < self.policy.maximum and self._may_change(now):
            self.target += 1
            self._last_change = now
        return self.target

    def saw_idle(self, now: float) -> int:
        """A poll came back empty after waiting: give a slot back (paced)."""
        if not self.held and self.target > self.policy.minimum and self._may_change(now):
            self.target -= 1
            self._last_change = now
        return self.target

    def saw_function_error(self, now: float) -> int:
        """The function failed a whole batch: back off unless partial responses are on."""
        if self.policy.back_off_on_errors:
            return self.saw_idle(now)
        return self.target

    def _may_change(self, now: float) -> bool:
        return now - self._last_change >= self.policy.step_interval_s
