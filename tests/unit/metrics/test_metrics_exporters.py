"""Exporters: Prometheus text exposition and CloudWatch EMF lines."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from batchmap.engine.invocation import Invocation
from batchmap.engine.outcome import judge
from batchmap.errors import ConfigError
from batchmap.metrics import (
    CONTENT_TYPE,
    COUNTERS,
    DURATION_BUCKETS_MS,
    EmfEmitter,
    MetricsRecorder,
    emf_line,
    prometheus_text,
)

SAMPLE = re.compile(r'^([a-z_:][a-z0-9_:]*)\{((?:[a-z_]+="(?:[^"\\]|\\.)*",?)*)\} (-?[0-9.e+-]+|\+Inf)$')


def busy_recorder(name: str = "worker", uuid: str = "uuid-1") -> MetricsRecorder:
    recorder = MetricsRecorder(name, uuid)
    recorder.polled(10)
    recorder.filtered_out(2)
    for status, ms in (("ok", 12.0), ("error", 2_400.0)):
        recorder.invoked(8)
        invocation = Invocation(status, duration_ms=ms)  # type: ignore[arg-type]
        recorder.outcome(8, judge(invocation, ["x"], shape="kinesis", report_batch_item_failures=False))
    recorder.destination_failed(8)
    recorder.iterator_age(1_500)
    return recorder


def parse(text: str) -> tuple[dict[str, str], list[tuple[str, dict[str, str], float]]]:
    """A strict reading of the 0.0.4 text format: TYPE before samples, every line well formed."""
    types: dict[str, str] = {}
    samples: list[tuple[str, dict[str, str], float]] = []
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, f"family {name} declared twice"
            types[name] = kind
            continue
        match = SAMPLE.match(line)
        assert match, f"malformed sample line: {line!r}"
        name, raw_labels, value = match.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"sample {name} before its TYPE line"
        labels = dict(re.findall(r'([a-z_]+)="((?:[^"\\]|\\.)*)"', raw_labels))
        samples.append((name, labels, float(value)))
    return types, samples


def value(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    found = [v for n, lab, v in samples if n == name and all(lab.get(k) == w for k, w in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def test_prometheus_exposition_is_well_formed_and_carries_every_counter() -> None:
    types, samples = parse(prometheus_text([busy_recorder()]))
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")
    assert sum(1 for kind in types.values() if kind == "counter") == len(COUNTERS)
    assert value(samples, "batchmap_polled_events_total") == 10
    assert value(samples, "batchmap_invoked_events_total") == 16
    assert value(samples, "batchmap_failed_invoke_events_total") == 8
    assert value(samples, "batchmap_dropped_events_total") == 8
    assert value(samples, "batchmap_destination_delivery_failures_total") == 1
    assert value(samples, "batchmap_errors_total") == 1
    assert value(samples, "batchmap_iterator_age_seconds") == 1.5
    assert "batchmap_offset_lag" not in types  # a stream mapping has no Kafka lag
    labels = samples[0][1]
    assert labels == {"function_name": "worker", "event_source_mapping_uuid": "uuid-1"}


def test_prometheus_histogram_buckets_are_cumulative_and_end_at_the_count() -> None:
    types, samples = parse(prometheus_text([busy_recorder()]))
    assert types["batchmap_duration_seconds"] == "histogram"
    buckets = [(lab["le"], v) for n, lab, v in samples if n == "batchmap_duration_seconds_bucket"]
    assert len(buckets) == len(DURATION_BUCKETS_MS) + 1
    assert buckets[-1] == ("+Inf", 2)
    counts = [v for _, v in buckets]
    assert counts == sorted(counts)
    assert dict(buckets)["0.025"] == 1  # 12 ms
    assert dict(buckets)["2.5"] == 2  # 2.4 s
    assert value(samples, "batchmap_duration_seconds_sum") == pytest.approx(2.412)
    assert value(samples, "batchmap_duration_seconds_count") == 2


def test_prometheus_holds_several_mappings_and_escapes_labels() -> None:
    kafka = MetricsRecorder('odd "name"\\x\n', "uuid-2")
    kafka.offset_lag("t-0", 7)
    kafka.offset_lag("t-1", 3)
    _, samples = parse(prometheus_text([busy_recorder(), kafka.snapshot()]))
    polled = [lab["event_source_mapping_uuid"] for n, lab, _ in samples
              if n == "batchmap_polled_events_total"]
    assert polled == ["uuid-1", "uuid-2"]
    assert value(samples, "batchmap_offset_lag", event_source_mapping_uuid="uuid-2") == 10
    assert value(samples, "batchmap_max_offset_lag", event_source_mapping_uuid="uuid-2") == 7
    assert value(samples, "batchmap_polled_events_total", function_name='odd \\"name\\"\\\\x\\n') == 0


def emf_document(line: str) -> dict[str, Any]:
    """Check a line against the EMF specification's structure and return it parsed."""
    assert "\n" not in line
    doc = json.loads(line)
    meta = doc["_aws"]
    assert isinstance(meta["Timestamp"], int)
    (directive,) = meta["CloudWatchMetrics"]
    assert directive["Namespace"] == "batchmap"
    assert directive["Dimensions"] == [["FunctionName", "EventSourceMappingUUID"]]
    for dimension in directive["Dimensions"][0]:
        assert isinstance(doc[dimension], str)
    names = [m["Name"] for m in directive["Metrics"]]
    assert len(names) == len(set(names)) <= 100
    for metric in directive["Metrics"]:
        assert metric["Unit"] in ("Count", "Milliseconds")
        assert isinstance(doc[metric["Name"]], int | float)
    return doc


def test_emf_lines_carry_the_interval_increase_of_each_counter() -> None:
    recorder = busy_recorder()
    emitter = EmfEmitter(recorder)
    first = emf_document(emitter.line(1_700_000_000_000))
    assert first["_aws"]["Timestamp"] == 1_700_000_000_000
    assert (first["FunctionName"], first["EventSourceMappingUUID"]) == ("worker", "uuid-1")
    assert first["PolledEventCount"] == 10
    assert first["DroppedEventCount"] == 8
    assert first["Duration"] == pytest.approx(1206.0)
    assert first["IteratorAge"] == 1_500
    assert "OffsetLag" not in first
    recorder.polled(4)
    second = emf_document(emitter.line(1_700_000_060_000))
    assert second["PolledEventCount"] == 4
    assert second["InvokedEventCount"] == 0
    assert "Duration" not in second  # no invocation in this interval


def test_emf_reports_kafka_lag_and_names_every_counter() -> None:
    recorder = MetricsRecorder("f", "u")
    recorder.offset_lag("t-0", 9)
    recorder.offset_lag("t-1", 1)
    doc = emf_document(emf_line(recorder.snapshot(), None, 5))
    assert (doc["OffsetLag"], doc["SumOffsetLag"], doc["MaxOffsetLag"]) == (10, 10, 9)
    assert set(COUNTERS) <= set(doc)


@pytest.mark.parametrize("namespace", ["AWS/Lambda", "", "bad namespace"])
def test_emf_refuses_reserved_or_invalid_namespaces(namespace: str) -> None:
    with pytest.raises(ConfigError, match="namespace"):
        EmfEmitter(MetricsRecorder(), namespace=namespace)
