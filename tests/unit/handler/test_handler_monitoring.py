"""Rule 12: one EMF line per batch (opt-in) and one structured log line per batch with failures."""

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


def lines_of(caplog: pytest.LogCaptureFixture) -> list[tuple[str, dict[str, Any]]]:
    return [(r.levelname, json.loads(r.getMessage())) for r in caplog.records if r.name == "batchmap.handler"]


def test_one_line_per_failed_batch(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="batchmap.handler"):
        process_batch(kinesis_event(["a", "b", "c"]), fail_m1)
    ((level, line),) = lines_of(caplog)
    assert level == "ERROR"
    (error,) = line.pop("errors")
    trace = error.pop("stackTrace")
    assert any("fail_m1" in frame for frame in trace) and trace[-1].startswith("KeyError")
    assert error == {"errorType": "KeyError", "count": 1, "errorMessage": "'missing'", "itemIdentifier": "1001",
                     "position": 1}
    assert line == {"message": "records failed", "eventSource": "aws:kinesis", "records": 3, "reported": 2,
                    "failed": 1, "failedIdentifiers": ["1001"],
                    "notStarted": [{"reason": "stopped", "detail": "an earlier record of the same ordering unit failed",
                                    "count": 1, "itemIdentifiers": ["1002"]}]}


def test_ten_thousand_failures_make_one_short_line(caplog: pytest.LogCaptureFixture) -> None:
    def fail(record: Any) -> None:
        if int(record.id[1:]) % 2:
            raise ValueError(f"odd {record.id}")
        raise KeyError(record.id)

    with caplog.at_level(logging.INFO, logger="batchmap.handler"):
        process_batch(sqs_event(10_000), fail)
    ((level, line),) = lines_of(caplog)
    assert level == "ERROR" and len(caplog.records[0].getMessage()) < 10_000
    assert (line["failed"], line["reported"]) == (10_000, 10_000)
    assert line["failedIdentifiers"] == [f"m{i}" for i in range(100)]
    errors = {e["errorType"]: e for e in line["errors"]}
    assert (errors["KeyError"]["count"], errors["ValueError"]["count"]) == (5_000, 5_000)
    assert (errors["KeyError"]["itemIdentifier"], errors["ValueError"]["itemIdentifier"]) == ("m0", "m1")
    assert errors["ValueError"]["errorMessage"] == "odd m1"
    assert all(e["stackTrace"] for e in errors.values())


def test_each_failure_has_its_own_line_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="batchmap.handler"):
        process_batch(sqs_event(4), lambda r: fail_m1(r) if r.id != "m3" else 1 / 0, concurrency=2)
    per_record = sorted((line["itemIdentifier"], line["errorType"]) for level, line in lines_of(caplog)
                        if level == "DEBUG")
    assert per_record == [("m1", "KeyError"), ("m3", "ZeroDivisionError")]
    assert [level for level, _ in lines_of(caplog) if level != "DEBUG"] == ["ERROR"]


def test_records_held_back_without_a_failure_make_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="batchmap.handler"):
        process_batch(sqs_event(3), lambda r: None, LambdaContext(500))  # inside the 1 s margin already
    ((level, line),) = lines_of(caplog)
    assert (level, line["message"], line["failed"], line["failedIdentifiers"]) == (
        "WARNING", "records not started", 0, [])
    assert [(s["reason"], s["count"]) for s in line["notStarted"]] == [("deadline", 3)]


def test_a_clean_batch_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="batchmap.handler"):
        process_batch(sqs_event(5), lambda r: None, concurrency=3)
    assert lines_of(caplog) == []


def test_custom_logger() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("test_custom_logger")
    logger.addHandler(logging.StreamHandler(stream))
    logger.propagate = False
    process_batch(sqs_event(3), fail_m1, logger=logger)
    assert json.loads(stream.getvalue())["failedIdentifiers"] == ["m1"]
