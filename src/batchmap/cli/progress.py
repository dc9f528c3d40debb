"""The live progress line of ``batchmap run`` on a terminal.

``0:12  succeeded 11,000  failed 38  dead-lettered 0  rate 4,775/s  backlog 9,000  ETA 0:02``

Counts are records, not batches: succeeded, failed attempts (a record that
fails twice counts twice) and dead-lettered, over every mapping. The rate is
records succeeded per second over the last few seconds (``RateWindow``), and
the ETA is the backlog over the rate at which records leave it. When nothing
is visible and failed messages wait out their visibility timeout, the line
says so and for how long; an outage is named while the engine waits it out.
The line is drawn through the ``TerminalHandler``, so log lines print above it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from batchmap.cli.output import TerminalHandler
from batchmap.metrics.live import RetryWait, RunView, eta_s
from batchmap.metrics.recorder import FAILED_ATTEMPTS, SUCCEEDED

REDRAW_S = 0.5
"""How often the line is redrawn (the elapsed time moves; the numbers come from the latest sample)."""


def clock_text(seconds: float | None) -> str:
    """``0:07``, ``12:30``, ``1:02:03``; ``–`` when unknown."""
    if seconds is None:
        return "–"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def progress_line(view: RunView, elapsed_s: float) -> str:
    """The progress line for ``view``, ``elapsed_s`` after the run started."""
    parts = [clock_text(elapsed_s), f"succeeded {view.total(SUCCEEDED):,}", f"failed {view.total(FAILED_ATTEMPTS):,}",
             f"dead-lettered {sum(m.dead_lettered for m in view.mappings):,}"]
    rates = [m.succeeded_rate for m in view.mappings]
    rate = None if not rates or any(r is None for r in rates) else sum(r or 0.0 for r in rates)
    parts.append("rate –" if rate is None else f"rate {rate:,.0f}/s")
    depths = [m.depth for m in view.mappings]
    waits = [m.retry_wait for m in view.mappings if m.retry_wait is not None]
    if depths and all(d is not None for d in depths):
        backlog = sum(d.total for d in depths if d is not None)
        parts.append(f"backlog {backlog:,}")
        if not waits:  # what waits for a retry leaves when its timeout says, not at the current rate
            leaving = sum(m.leaving_rate() or 0.0 for m in view.mappings)
            parts.append(f"ETA {clock_text(eta_s(backlog, leaving))}")
    if waits:
        parts.append(_waiting(waits))
    outages = [m.outage for m in view.mappings if m.outage]
    if outages:
        parts.append("waiting out: " + "; ".join(outages))
    return "  ".join(parts)


def _waiting(waits: list[RetryWait]) -> str:
    messages = sum(w.messages for w in waits)
    soonest = min(waits, key=lambda w: w.in_s)
    within = f"in {soonest.in_s:.1f} s" if soonest.exact else f"within {soonest.in_s:.1f} s (visibility timeout)"
    return f"waiting for a retry: {messages:,} failed message(s) hidden, next visible {within}"


async def show_progress(latest: Callable[[], RunView], terminal: TerminalHandler, started_s: float,
                        interval_s: float = REDRAW_S) -> None:
    """Redraw the progress line until cancelled, then remove it."""
    try:
        while True:
            terminal.show(progress_line(latest(), time.monotonic() - started_s))
            await asyncio.sleep(interval_s)
    finally:
        terminal.clear()
