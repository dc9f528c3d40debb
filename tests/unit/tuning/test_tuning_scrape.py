"""Live traffic from a /metrics exposition: the rate, two points of D(n), and errors that name the flag."""

from __future__ import annotations

import pytest

from batchmap.errors import ConfigError
from batchmap.tuning.scrape import parse, scrape

UUID = "0f0e"


def _exposition(calls: int, records: int, seconds: float, deleted: int, visible: int, uuid: str = UUID) -> str:
    labels = f'function_name="f",event_source_mapping_uuid="{uuid}"'
    return "\n".join([
        "# HELP batchmap_invocations_total Invocations.",
        "# TYPE batchmap_invocations_total counter",
        f"batchmap_invocations_total{{{labels}}} {calls}",
        f"batchmap_invoked_events_total{{{labels}}} {records}",
        f"batchmap_duration_seconds_sum{{{labels}}} {seconds}",
        f'batchmap_duration_seconds_bucket{{{labels},le="+Inf"}} {calls}',
        f"batchmap_deleted_events_total{{{labels}}} {deleted}",
        f"batchmap_polled_events_total{{{labels}}} {records}",
        f'batchmap_backlog_messages{{{labels},state="visible"}} {visible}',
        f'batchmap_backlog_messages{{{labels},state="in_flight"}} 0',
    ]) + "\n"  # fmt: skip


def _fetcher(*pages: str):  # type: ignore[no-untyped-def]
    queue = list(pages)
    return lambda url: queue.pop(0)


def test_two_scrapes_give_the_rate_and_the_line_through_two_batch_sizes() -> None:
    # Since start: 100 invocations of 10 records at 40 ms (t0 20 ms + t1 2 ms). Then 50 of 2 records at 24 ms.
    first = _exposition(100, 1000, 100 * 0.040, deleted=990, visible=10)
    second = _exposition(150, 1100, 100 * 0.040 + 50 * 0.024, deleted=1100, visible=0)
    live = scrape("http://127.0.0.1:1/metrics", 5.0, fetch=_fetcher(first, second), sleep=lambda s: None)
    assert live.mapping_uuid == UUID and live.interval_s >= 5.0
    assert live.rate == pytest.approx((0 - 10 + 1100 - 990) / live.interval_s)
    assert live.recent.mean_batch == pytest.approx(2.0) and live.recent.mean_duration_s == pytest.approx(0.024)
    t0, t1 = live.split()
    assert (t0, t1) == (pytest.approx(0.020), pytest.approx(0.002))
    assert live.split(t1_s=0.002) == (pytest.approx(0.020), 0.002)
    assert live.split(t0_s=0.020) == (0.020, pytest.approx(0.002))


def test_one_batch_size_cannot_be_split_and_says_which_flags_can() -> None:
    first = _exposition(100, 1000, 4.0, deleted=1000, visible=0)
    second = _exposition(110, 1100, 4.4, deleted=1100, visible=0)
    live = scrape("http://127.0.0.1:1/metrics", 1.0, fetch=_fetcher(first, second), sleep=lambda s: None)
    with pytest.raises(ConfigError, match="--t0-ms or --t1-ms") as raised:
        live.split()
    assert raised.value.parameter == "--from-metrics"


def test_several_mappings_need_a_uuid_and_a_quiet_one_is_named() -> None:
    both = _exposition(1, 1, 0.1, 1, 0) + _exposition(1, 1, 0.1, 1, 0, uuid="other")
    with pytest.raises(ConfigError, match="--event-source-mapping-uuid"):
        scrape("http://x/metrics", 1.0, fetch=_fetcher(both, both), sleep=lambda s: None)
    live = scrape("http://x/metrics", 1.0, "other", fetch=_fetcher(both, both.replace("} 1\n", "} 3\n")),
                  sleep=lambda s: None)
    assert live.mapping_uuid == "other"
    with pytest.raises(ConfigError, match="invocations"):
        scrape("http://x/metrics", 1.0, UUID, fetch=_fetcher(both, both), sleep=lambda s: None)
    with pytest.raises(ConfigError) as raised:
        scrape("ftp://x/metrics", 1.0)
    assert raised.value.parameter == "--from-metrics"
    with pytest.raises(ConfigError, match="metrics-interval"):
        scrape("http://x/metrics", 0.0)


def test_parse_reads_labels_and_skips_comments() -> None:
    series = parse('# HELP x y\nx_total{a="1",b="q\\"t"} 3\nbare 2.5\n\n')
    assert series[("x_total", frozenset({("a", "1"), ("b", 'q\\"t')}))] == 3.0
    assert series[("bare", frozenset())] == 2.5
