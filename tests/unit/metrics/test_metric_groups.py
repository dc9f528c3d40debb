"""MetricsConfig groups: which metrics the exporters publish, and the provisioned pollers gauge."""

from __future__ import annotations

import json

from batchmap.metrics import MetricsRecorder, prometheus_text
from batchmap.metrics.emf import emf_line
from batchmap.metrics.recorder import hidden_metrics

KAFKA_GROUPS = ("EventCount", "ErrorCount", "KafkaMetrics")


def test_not_set_hides_nothing_and_an_empty_selection_hides_every_offered_group() -> None:
    assert hidden_metrics(None, KAFKA_GROUPS) == frozenset()
    assert hidden_metrics(frozenset(), KAFKA_GROUPS) >= {"PolledEventCount", "PollingErrorCount", "MaxOffsetLag"}
    assert hidden_metrics(frozenset({"EventCount"}), KAFKA_GROUPS) == {"PollingErrorCount", "MaxOffsetLag",
                                                                        "SumOffsetLag"}


def test_polling_errors_are_batchmaps_own_where_aws_has_no_error_group() -> None:
    assert "PollingErrorCount" not in hidden_metrics(frozenset(), ("EventCount",))


def recorder(hidden: frozenset[str]) -> MetricsRecorder:
    r = MetricsRecorder("fn", "uuid-1", hidden)
    r.polled(5)
    r.offset_lag("t-0", 4)
    r.offset_lag("t-1", 9)
    r.pollers(3)
    return r


def test_prometheus_leaves_out_hidden_metrics_and_keeps_the_always_on_ones() -> None:
    text = prometheus_text([recorder(hidden_metrics(frozenset(), KAFKA_GROUPS))])
    assert "batchmap_polled_events_total" not in text and "batchmap_max_offset_lag" not in text
    assert "batchmap_polling_errors_total" not in text
    assert 'batchmap_offset_lag{function_name="fn",event_source_mapping_uuid="uuid-1"} 13' in text
    assert 'batchmap_provisioned_pollers{function_name="fn",event_source_mapping_uuid="uuid-1"} 3' in text
    assert "batchmap_invocations_total" in text
    shown = prometheus_text([recorder(frozenset())])
    assert 'batchmap_polled_events_total{function_name="fn",event_source_mapping_uuid="uuid-1"} 5' in shown
    assert 'batchmap_max_offset_lag{function_name="fn",event_source_mapping_uuid="uuid-1"} 9' in shown


def test_emf_leaves_out_hidden_metrics() -> None:
    line = json.loads(emf_line(recorder(hidden_metrics(frozenset({"KafkaMetrics"}), KAFKA_GROUPS)).snapshot(),
                               None, 0))
    names = {m["Name"] for m in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert {"MaxOffsetLag", "SumOffsetLag", "OffsetLag", "ProvisionedPollers"} <= names
    assert "PolledEventCount" not in names and "PolledEventCount" not in line


def test_the_summary_keeps_every_counter() -> None:
    snapshot = recorder(hidden_metrics(frozenset(), KAFKA_GROUPS)).snapshot()
    assert snapshot.as_dict()["PolledEventCount"] == 5
