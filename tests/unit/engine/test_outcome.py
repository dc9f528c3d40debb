"""judge(): Lambda's rules for success, partial and failure, for every source shape."""

from __future__ import annotations

from typing import Any

import pytest

from batchmap.engine.invocation import Invocation
from batchmap.engine.outcome import judge
from batchmap.errors import ConfigError
from batchmap.records.shapes import kafka_item_id, parse_kafka_item_id

SQS_IDS = ["m-1", "m-2", "m-3", "m-4"]
SEQ_IDS = ["4959001", "4959002", "4959003", "4959004"]
KAFKA_IDS = [kafka_item_id("orders-0", 15), kafka_item_id("orders-0", 16), kafka_item_id("orders-1", 7),
             kafka_item_id("orders-1", 8)]


def ok(payload: Any) -> Invocation:
    return Invocation("ok", payload=payload, duration_ms=12.5, request_id="r-1")


def failures(*ids: Any) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": i} for i in ids]}


def sqs(payload: Any, report: bool = True) -> Any:
    return judge(ok(payload), SQS_IDS, shape="sqs", report_batch_item_failures=report)


# --- success ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "payload",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, {"statusCode": 200}, "", b"", b"  "],
    ids=["null", "empty", "empty-list", "null-list", "no-key", "empty-string", "empty-body", "blank-body"],
)
def test_success_responses(payload: Any) -> None:
    outcome = sqs(payload)
    assert outcome.kind == "success"
    assert outcome.ok
    assert outcome.failed_ids == ()
    assert outcome.duration_ms == 12.5


def test_without_report_batch_item_failures_a_returned_list_is_ignored() -> None:
    outcome = sqs(failures("m-2"), report=False)
    assert outcome.kind == "success"


@pytest.mark.parametrize("payload", [b"{not json", "a string", [1, 2], 42, {"batchItemFailures": "m-1"}])
def test_without_report_batch_item_failures_the_response_is_not_read(payload: Any) -> None:
    assert sqs(payload, report=False).kind == "success"


# --- partial ---------------------------------------------------------------------------------

def test_sqs_partial_lists_failed_ids_in_batch_order_deduplicated() -> None:
    outcome = sqs(failures("m-4", "m-2", "m-4"))
    assert outcome.kind == "partial"
    assert outcome.failed_ids == ("m-2", "m-4")
    assert outcome.failed_indexes == (1, 3)
    assert outcome.rewind_index is None
    assert outcome.reason is None
    assert outcome.function_error is None


def test_a_partial_response_listing_every_record_is_still_partial() -> None:
    outcome = sqs(failures(*reversed(SQS_IDS)))
    assert outcome.kind == "partial"
    assert outcome.failed_ids == tuple(SQS_IDS)


def test_extra_keys_beside_item_identifier_are_ignored() -> None:
    outcome = sqs({"batchItemFailures": [{"itemIdentifier": "m-3", "reason": "boom"}]})
    assert outcome.failed_ids == ("m-3",)


@pytest.mark.parametrize("shape", ["kinesis", "dynamodb"])
def test_stream_partial_rewinds_to_the_lowest_failed_record(shape: str) -> None:
    outcome = judge(ok(failures("4959004", "4959002")), SEQ_IDS, shape=shape, report_batch_item_failures=True)
    assert outcome.kind == "partial"
    assert outcome.failed_ids == ("4959002", "4959004")
    assert outcome.rewind_index == 1


def test_kafka_partial_uses_partition_and_offset_identity() -> None:
    response = {"batchItemFailures": [
        {"itemIdentifier": {"partition": "orders-1", "offset": 8}},
        {"itemIdentifier": {"partition": "orders-0", "offset": 16}},
        {"itemIdentifier": {"partition": "orders-1", "offset": 7}},
    ]}
    outcome = judge(ok(response), KAFKA_IDS, shape="kafka", report_batch_item_failures=True)
    assert outcome.kind == "partial"
    assert outcome.failed_ids == ("orders-0:16", "orders-1:7", "orders-1:8")
    assert outcome.rewind_index == 1
    assert outcome.rewind_offsets() == {"orders-0": 16, "orders-1": 7}


def test_kafka_item_id_round_trips_topics_with_dashes_and_dots() -> None:
    item_id = kafka_item_id("my.topic-name-12", 99)
    assert parse_kafka_item_id(item_id) == ("my.topic-name-12", 99)
    with pytest.raises(ConfigError, match="not-an-id"):
        parse_kafka_item_id("not-an-id")


# --- failure: function error and timeout -------------------------------------------------------

def test_function_error_fails_the_batch_with_its_error_type() -> None:
    invocation = Invocation("error", error={"errorType": "KeyError", "errorMessage": "'id'"}, duration_ms=3.0)
    outcome = judge(invocation, SQS_IDS, shape="sqs", report_batch_item_failures=True)
    assert outcome.kind == "failure"
    assert outcome.reason == "FunctionError"
    assert outcome.error_type == "KeyError"
    assert outcome.function_error == "Unhandled"
    assert "KeyError: 'id'" in outcome.detail
    assert outcome.duration_ms == 3.0


def test_function_error_without_error_details_still_fails() -> None:
    outcome = judge(Invocation("error"), SQS_IDS, shape="sqs", report_batch_item_failures=False)
    assert (outcome.kind, outcome.reason, outcome.error_type) == ("failure", "FunctionError", "Unhandled")


def test_timeout_fails_the_batch() -> None:
    outcome = judge(Invocation("timeout", duration_ms=3000.0), SEQ_IDS, shape="kinesis",
                    report_batch_item_failures=False)
    assert (outcome.kind, outcome.reason, outcome.function_error) == ("failure", "Timeout", "Unhandled")
    assert outcome.error_type == "Sandbox.Timedout"


# --- failure: invalid responses ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"{not json", "not valid JSON"),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, "[0].itemIdentifier: must not be empty"),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, "[0].itemIdentifier: must not be null"),
        ({"batchItemFailures": [{"itemIdentifier": "m-1"}, {"ItemIdentifier": "m-2"}]},
         "batchItemFailures[1]: no 'itemIdentifier' key (keys: 'ItemIdentifier')"),
        ({"batchItemFailures": [{"itemIdentifier": "nope"}]}, "'nope' is not the messageId of a record"),
        ({"batchItemFailures": {"itemIdentifier": "m-1"}}, "batchItemFailures: must be a list, got object"),
        ({"batchItemFailures": "m-1"}, "batchItemFailures: must be a list, got string"),
        ({"batchItemFailures": ["m-1"]}, "batchItemFailures[0]: must be an object"),
        ({"batchItemFailures": [{"itemIdentifier": 7}]}, "must be a string (messageId), got number 7"),
        ("done", "the response is a JSON string, not an object"),
        ([{"itemIdentifier": "m-1"}], "the response is a JSON array"),
        (42, "the response is a JSON number"),
    ],
)
def test_malformed_responses_fail_the_whole_batch(payload: Any, expected: str) -> None:
    outcome = sqs(payload)
    assert outcome.kind == "failure"
    assert outcome.reason == "InvalidResponse"
    assert expected in outcome.detail
    assert outcome.failed_ids == ()
    assert outcome.function_error is None


@pytest.mark.parametrize("shape", ["kinesis", "dynamodb"])
def test_stream_identifier_not_in_batch_fails(shape: str) -> None:
    outcome = judge(ok(failures("123")), SEQ_IDS, shape=shape, report_batch_item_failures=True)
    assert outcome.reason == "InvalidResponse"
    assert "'123' is not the sequence number of a record in this batch" in outcome.detail


@pytest.mark.parametrize(
    ("identifier", "expected"),
    [
        ({"partition": "orders-0", "offset": 99}, "'orders-0:99' is not the topic-partition and offset"),
        ({"partition": "orders-0", "offset": "15"}, "itemIdentifier.offset: must be a non-negative integer"),
        ({"partition": "orders-0", "offset": True}, "itemIdentifier.offset"),
        ({"partition": "orders-0"}, "itemIdentifier.offset"),
        ({"offset": 15}, "itemIdentifier.partition"),
        ("orders-0:15", "itemIdentifier: must be an object"),
    ],
)
def test_kafka_malformed_identifiers_fail(identifier: Any, expected: str) -> None:
    payload = {"batchItemFailures": [{"itemIdentifier": identifier}]}
    outcome = judge(ok(payload), KAFKA_IDS, shape="kafka", report_batch_item_failures=True)
    assert outcome.reason == "InvalidResponse"
    assert expected in outcome.detail


def test_a_misspelt_top_level_key_is_ignored_like_aws_but_warned_about() -> None:
    outcome = sqs({"BatchItemFailures": [{"itemIdentifier": "m-1"}]})
    assert outcome.kind == "success"
    assert len(outcome.warnings) == 1
    assert "BatchItemFailures" in outcome.warnings[0]


# --- tumbling windows --------------------------------------------------------------------------

def test_tumbling_window_returns_the_state() -> None:
    outcome = judge(ok({"state": {"total": 3}}), SEQ_IDS, shape="kinesis", report_batch_item_failures=False,
                    tumbling_window=True)
    assert outcome.kind == "success"
    assert outcome.state == {"total": 3}


@pytest.mark.parametrize("payload", [None, {}, {"state": None}, {"batchItemFailures": []}])
def test_tumbling_window_without_state_fails(payload: Any) -> None:
    outcome = judge(ok(payload), SEQ_IDS, shape="dynamodb", report_batch_item_failures=True,
                    tumbling_window=True)
    assert outcome.kind == "failure"
    assert outcome.reason == "MissingState"
    assert "state" in outcome.detail


def test_tumbling_window_state_must_be_an_object() -> None:
    outcome = judge(ok({"state": [1]}), SEQ_IDS, shape="kinesis", report_batch_item_failures=False,
                    tumbling_window=True)
    assert outcome.reason == "InvalidResponse"
    assert "state: must be a JSON object" in outcome.detail


def test_tumbling_window_partial_keeps_state_and_failures() -> None:
    payload = {"state": {"n": 1}, "batchItemFailures": [{"itemIdentifier": "4959003"}]}
    outcome = judge(ok(payload), SEQ_IDS, shape="kinesis", report_batch_item_failures=True,
                    tumbling_window=True)
    assert outcome.kind == "partial"
    assert outcome.state == {"n": 1}
    assert outcome.rewind_index == 2


# --- bad arguments -----------------------------------------------------------------------------

def test_unknown_shape_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="shape: invalid value 'mq'"):
        judge(ok(None), SQS_IDS, shape="mq", report_batch_item_failures=True)


def test_tumbling_window_on_sqs_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="TumblingWindowInSeconds"):
        judge(ok({"state": {}}), SQS_IDS, shape="sqs", report_batch_item_failures=True, tumbling_window=True)
