"""Live traffic from a running engine's ``/metrics``: the arrival rate and the duration of its batches.

``batchmap tune --from-metrics URL`` answers "what should this mapping use"
without a sample event. Two scrapes ``interval_s`` apart give rates: records
arriving (for a queue, what entered the backlog or left it deleted; else what
was polled), invocations, records per invocation and the mean duration. The
first scrape's running totals (since the engine started) are a second point
of duration against batch size: when the two points' batch sizes differ
enough, ``D(n) = t0 + t1·n`` is the line through them; otherwise the caller
states t0 or t1 and the other follows from the mean.
"""

from __future__ import annotations

import math
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

from batchmap.errors import ConfigError

MIN_SPREAD = 1.25
"""Two batch sizes at least this far apart (ratio) fit a line; closer ones leave t0 and t1 unsplit."""
_SAMPLE = re.compile(r'^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True, slots=True)
class Point:
    """Invocations over a span: how many, their mean batch and mean duration (seconds)."""

    invocations: float
    mean_batch: float
    mean_duration_s: float


@dataclass(frozen=True, slots=True)
class LiveTraffic:
    """What two scrapes of one mapping's metrics say."""

    url: str
    mapping_uuid: str
    interval_s: float
    rate: float
    recent: Point
    since_start: Point

    def split(self, t0_s: float | None = None, t1_s: float | None = None) -> tuple[float, float]:
        """(t0, t1) in seconds: the stated one and the other from the recent mean, else the line through both points."""
        p = self.recent
        if t0_s is not None:
            return t0_s, max(0.0, (p.mean_duration_s - t0_s) / p.mean_batch)
        if t1_s is not None:
            return max(0.0, p.mean_duration_s - t1_s * p.mean_batch), t1_s
        a, b = sorted((self.since_start, p), key=lambda q: q.mean_batch)
        if a.invocations <= 0 or b.mean_batch < MIN_SPREAD * a.mean_batch:
            raise ConfigError(
                "--from-metrics",
                self.url,
                f"batches of two sizes to split D(n) into t0 + t1 x n: they held {p.mean_batch:.3g} records "
                f"and took {p.mean_duration_s * 1000:.4g} ms on average; state --t0-ms or --t1-ms",
            )
        t1 = max(0.0, (b.mean_duration_s - a.mean_duration_s) / (b.mean_batch - a.mean_batch))
        return max(0.0, a.mean_duration_s - t1 * a.mean_batch), t1


def scrape(
    url: str,
    interval_s: float,
    mapping_uuid: str | None = None,
    *,
    fetch: Callable[[str], str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> LiveTraffic:
    """Scrape ``url`` twice, ``interval_s`` apart, and read one mapping's traffic from the difference."""
    if not (math.isfinite(interval_s) and interval_s > 0):
        raise ConfigError("--metrics-interval", interval_s, "seconds > 0")
    get = fetch or _fetch
    first, started = parse(get(url)), time.monotonic()
    uuid = _mapping(first, url, mapping_uuid)
    sleep(interval_s)
    second, elapsed = parse(get(url)), time.monotonic() - started
    return _traffic(url, uuid, first, second, max(elapsed, interval_s))


def parse(text: str) -> Series:
    """Prometheus text exposition -> {(name, labels): value}; comments and blank lines are skipped."""
    out: Series = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None or line.startswith("#"):
            continue
        labels = frozenset(_LABEL.findall(match.group(3) or ""))
        try:
            out[(match.group(1), labels)] = float(match.group(4))
        except ValueError:
            continue
    return out


def _fetch(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise ConfigError("--from-metrics", url, "an http:// URL of a running engine's /metrics")
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode("utf-8"))
    except (urllib.error.URLError, OSError) as exc:
        raise ConfigError("--from-metrics", url, f"a reachable /metrics endpoint ({exc})") from None


def _mapping(series: Series, url: str, wanted: str | None) -> str:
    found = sorted({v for (name, labels) in series for k, v in labels if k == "event_source_mapping_uuid"})
    if wanted is not None:
        if wanted not in found:
            raise ConfigError("--event-source-mapping-uuid", wanted, f"one of the mappings at {url}: {found}")
        return wanted
    if len(found) != 1:
        what = "no batchmap mapping" if not found else f"{len(found)} mappings: {', '.join(found)}"
        raise ConfigError("--from-metrics", url, f"one mapping's metrics (found {what}); pick one with "
                          "--event-source-mapping-uuid")
    return found[0]


def _total(series: Series, name: str, uuid: str) -> float | None:
    values = [v for (n, labels), v in series.items() if n == name and ("event_source_mapping_uuid", uuid) in labels]
    return math.fsum(values) if values else None


def _point(invocations: float, records: float, seconds: float) -> Point:
    if invocations <= 0:
        return Point(0.0, 0.0, 0.0)
    return Point(invocations, records / invocations, seconds / invocations)


def _traffic(url: str, uuid: str, first: Series, second: Series, elapsed: float) -> LiveTraffic:
    def pair(name: str) -> tuple[float, float]:
        a, b = _total(first, name, uuid), _total(second, name, uuid)
        if a is None or b is None:
            raise ConfigError("--from-metrics", url, f"a batchmap /metrics exposition (no {name})")
        return a, b

    calls = pair("batchmap_invocations_total")
    records = pair("batchmap_invoked_events_total")
    seconds = pair("batchmap_duration_seconds_sum")
    recent = _point(calls[1] - calls[0], records[1] - records[0], seconds[1] - seconds[0])
    if recent.invocations <= 0:
        raise ConfigError("--from-metrics", url, f"invocations in the {elapsed:.3g} s between the two scrapes; "
                          "scrape a busier mapping or a longer --metrics-interval")
    backlog = (_total(first, "batchmap_backlog_messages", uuid), _total(second, "batchmap_backlog_messages", uuid))
    if backlog[0] is not None and backlog[1] is not None:  # a queue: what entered the backlog or left it done
        deleted = pair("batchmap_deleted_events_total")
        arrived = backlog[1] - backlog[0] + deleted[1] - deleted[0]
    else:
        polled = pair("batchmap_polled_events_total")
        arrived = polled[1] - polled[0]
    return LiveTraffic(
        url=url,
        mapping_uuid=uuid,
        interval_s=elapsed,
        rate=max(0.0, arrived) / elapsed,
        recent=recent,
        since_start=_point(calls[0], records[0], seconds[0]),
    )
