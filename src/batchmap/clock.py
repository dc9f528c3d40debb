"""The only place that reads time, so policy code can run on a fake clock.

``Clock.now()`` is monotonic seconds (for windows, deadlines, timeouts);
``Clock.wall_ms()`` is epoch milliseconds (for record ages and timestamps that
end up in AWS-shaped JSON). The engine, the tests and the tuner's simulator all
take a ``Clock``; only ``SystemClock`` touches the operating system.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """A source of time that policy code can be given instead of the system."""

    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def wall_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...


class SystemClock:
    """Real time."""

    def now(self) -> float:
        return time.monotonic()

    def wall_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep(self, seconds: float) -> None:
        import asyncio  # here, not at the top: a command that runs no event loop does not load it (~20 ms)

        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """Time that moves only when told to: deterministic tests and simulation."""

    def __init__(self, start: float = 0.0, wall_start_ms: int = 1_700_000_000_000) -> None:
        self._now = start
        self._wall0 = wall_start_ms - int(start * 1000)

    def now(self) -> float:
        return self._now

    def wall_ms(self) -> int:
        return self._wall0 + int(self._now * 1000)

    def advance(self, seconds: float) -> None:
        """Move time forward; never backwards."""
        if seconds < 0:
            raise ValueError(f"seconds: cannot move a clock backwards ({seconds})")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        import asyncio

        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)
