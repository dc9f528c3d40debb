"""Rule 12: one EMF line per batch (opt-in) and a structured log line per failed record."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from handler_support import LambdaContext, kinesis_event, sqs_event

from batchmap.handler import EmfMetrics, process_batch


def fail_m1(record: Any) -> None:
    if record.id in ("m1", "1001"):
        raise KeyError("missing")


def test_emf_line_shape_and_values() -> None:
    stream = io.StringIO()
    process_batch(sqs_event(4, sizes=[10, 20, 30, 40]), fail_m1, LambdaContext(60_000, function_name="orders"),
                  metrics=EmfMetrics("shop", dimensions={"Stage": "prod"}, stream=stream))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    doc = json.loads(lines[0])
    directive = doc["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "shop"
    assert directive["Dimensions"] == [["EventSource", "FunctionName", "Stage"]]
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]} == {
        "BatchSize": "Count", "ProcessingTime": "Milliseconds", "SuccessCount": "Count", "FailureCount": "Count",
        "SkippedCount": "Count", "AverageRecordSize": "Bytes", "SuccessRate": "Percent"}
    assert isinstance(doc["_aws"]["Timestamp"], int)
    assert (doc["EventSource"], doc["FunctionName"], doc["Stage"]) == ("aws:sqs", "orders", "prod")
    assert (doc["BatchSize"], doc["SuccessCount"], doc["FailureCount"], doc["SkippedCount"]) == (4, 3, 1, 0)
    assert doc["SuccessRate"] == 75.0 and doc["ProcessingTime"] >= 0
    bodies = [len(json.dumps({"i": i, "pad": "x" * n})) for i, n in enumerate([10, 20, 30, 40])]
    assert doc["AverageRecordSize"] == sum(bodies) // 4
    assert doc["ReportedCount"] == 1 and doc["Strategy"] == "fixed"


def test_metrics_true_writes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    process_batch(kinesis_event(["a", "b", "c"]), fail_m1, metrics=True)
    doc = json.loads(capsys.readouterr().out)
    assert (doc["BatchSize"], doc["SuccessCount"], doc["FailureCount"], doc["SkippedCount"]) == (3, 1, 1, 1)


def test_no_metrics_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    process_batch(sqs_event(2), lambda r: None)
    assert capsys.readouterr().out == ""


def test_one_structured_line_per_failed_record(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="batchmap.handler"):
        process_batch(kinesis_event(["a", "b", "c"]), fail_m1)
    lines = [json.loads(r.getMessage()) for r in caplog.records]
    failed = [line for line in lines if line["message"] == "record failed"]
    assert len(failed) == 1
    assert failed[0]["itemIdentifier"] == "1001" and failed[0]["errorType"] == "KeyError"
    assert failed[0]["errorMessage"] == "'missing'" and failed[0]["position"] == 1
    assert any("fail_m1" in frame for frame in failed[0]["stackTrace"])
    skipped = [line for line in lines if line["message"] == "records not started"]
    assert skipped == [{"message": "records not started", "reason": "stopped",
                        "detail": "an earlier record of the same ordering unit failed", "eventSource": "aws:kinesis",
                        "count": 1, "itemIdentifiers": ["1002"], "truncated": False}]
    assert [r.levelname for r in caplog.records] == ["ERROR", "WARNING"]


def test_custom_logger() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("test_custom_logger")
    logger.addHandler(logging.StreamHandler(stream))
    logger.propagate = False
    process_batch(sqs_event(3), fail_m1, logger=logger)
    assert json.loads(stream.getvalue())["itemIdentifier"] == "m1"
