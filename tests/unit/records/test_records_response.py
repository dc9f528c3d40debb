"""Reading a partial batch response the way Lambda does (reference §2.4, §3.4, §4.4)."""

from __future__ import annotations

from typing import Any

import pytest

from batchmap.records import (
    batch_response,
    kafka_event,
    kafka_record,
    kinesis_record,
    read_partial_response,
    records_event,
    sqs_record,
)

SQS = records_event([sqs_record("a", message_id="m0"), sqs_record("b", message_id="m1"),
                     sqs_record("c", message_id="m2")])
KINESIS = records_event([kinesis_record(b"x", partition_key="p", sequence_number=str(n)) for n in (10, 20, 30)])
KAFKA = kafka_event([kafka_record("t", 0, 7, b"x"), kafka_record("t", 1, 3, b"y")])


@pytest.mark.parametrize("response", [None, {}, {"batchItemFailures": None}, {"batchItemFailures": []},
                                      {"other": 1}])
def test_success_shapes(response: object) -> None:
    assert read_partial_response(SQS, response).status == "success"


def test_partial_positions_are_sorted_and_deduplicated() -> None:
    reading = read_partial_response(SQS, batch_response(["m2", "m0", "m2"]))
    assert (reading.status, reading.failed, reading.error) == ("partial", (0, 2), "")
    assert read_partial_response(KINESIS, batch_response(["30", "20"])).failed == (1, 2)
    kafka = read_partial_response(KAFKA, batch_response([{"partition": "t-1", "offset": 3}]))
    assert kafka.failed == (1,)


@pytest.mark.parametrize(("event", "response", "why"), [
    (SQS, "ok", "not a JSON object"),
    (SQS, {"batchItemFailures": {"itemIdentifier": "m0"}}, "not a list"),
    (SQS, {"batchItemFailures": [{"ItemIdentifier": "m0"}]}, "no itemIdentifier"),
    (SQS, {"batchItemFailures": [{"itemIdentifier": ""}]}, "non-empty string"),
    (SQS, {"batchItemFailures": [{"itemIdentifier": None}]}, "non-empty string"),
    (SQS, {"batchItemFailures": [{"itemIdentifier": "m9"}]}, "names no record"),
    (KINESIS, {"batchItemFailures": [{"itemIdentifier": "99"}]}, "names no record"),
    (KAFKA, {"batchItemFailures": [{"itemIdentifier": "t-0"}]}, "Kafka itemIdentifier"),
    (KAFKA, {"batchItemFailures": [{"itemIdentifier": {"partition": "t-0", "offset": 8}}]}, "names no record"),
])
def test_invalid_responses_fail_the_whole_batch(event: dict[str, Any], response: object, why: str) -> None:
    reading = read_partial_response(event, response)
    assert reading.status == "invalid" and reading.failed == ()
    assert why in reading.error
