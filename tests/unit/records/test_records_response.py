"""The one reader of the partial batch response, against AWS's rules (reference §2.4, §3.4, §4.4).

Each row is read twice: through the toolkit's ``read_partial_response`` and
through the engine's ``judge``. Both call ``read_response``, so both must give
the row's verdict.
"""

from __future__ import annotations

from typing import Any

import pytest

from batchmap.engine.invocation import Invocation
from batchmap.engine.outcome import judge
from batchmap.errors import RecordError
from batchmap.records import (
    batch_response,
    dynamodb_record,
    kafka_event,
    kafka_item_id,
    kafka_record,
    kinesis_record,
    read_partial_response,
    read_response,
    records_event,
    sqs_record,
)

EVENTS: dict[str, dict[str, Any]] = {
    "sqs": records_event([sqs_record(b, message_id=f"m{n}") for n, b in enumerate("abc")]),
    "kinesis": records_event([kinesis_record(b"x", partition_key="p", sequence_number=str(n)) for n in (10, 20, 30)]),
    "dynamodb": records_event([dynamodb_record("INSERT", {"k": n}, sequence_number=str(n)) for n in (5, 6)]),
    "kafka": kafka_event([kafka_record("t", 0, 7, b"x"), kafka_record("t", 1, 3, b"y")]),
}
IDS = {"sqs": ["m0", "m1", "m2"], "kinesis": ["10", "20", "30"], "dynamodb": ["5", "6"],
       "kafka": [kafka_item_id("t-0", 7), kafka_item_id("t-1", 3)]}


def items(*identifiers: Any) -> dict[str, Any]:
    return {"batchItemFailures": [{"itemIdentifier": i} for i in identifiers]}


def kafka(partition: Any, offset: Any) -> dict[str, Any]:
    return {"partition": partition, "offset": offset}


SUCCESS = [  # (kind, response)
    ("sqs", None),                                        # a null response
    ("sqs", {}),                                          # an empty response
    ("sqs", {"batchItemFailures": []}),                   # an empty list
    ("sqs", {"batchItemFailures": None}),                 # a null list
    ("sqs", ""),                                          # our reading: an empty string is an empty response
    ("sqs", b""),                                         # an empty body
    ("sqs", b" \n "),                                     # a blank body
    ("sqs", {"statusCode": 200}),                         # no batchItemFailures at all
    ("sqs", {"BatchItemFailures": [{"itemIdentifier": "m0"}]}),  # a near miss: ignored, warned about
    ("kinesis", None),
    ("kinesis", {"state": {"total": 3}, "batchItemFailures": []}),
    ("dynamodb", {"batchItemFailures": None}),
    ("kafka", {}),
    ("kafka", {"batchItemFailures": []}),
]

PARTIAL = [  # (kind, response, failed positions)
    ("sqs", items("m2", "m0", "m2"), (0, 2)),
    ("sqs", items("m2", "m1", "m0"), (0, 1, 2)),          # every record listed is still partial
    ("sqs", {"batchItemFailures": [{"itemIdentifier": "m1", "reason": "boom"}]}, (1,)),
    ("kinesis", items("30", "20"), (1, 2)),
    ("dynamodb", items("6"), (1,)),
    ("kafka", items(kafka("t-1", 3)), (1,)),
    ("kafka", items(kafka("t-1", 3), kafka("t-0", 7)), (0, 1)),
]

INVALID = [  # (kind, response, what the error says)
    ("sqs", b"{not json", "not valid JSON"),
    ("sqs", "ok", "the response is a JSON string, not an object"),
    ("sqs", 42, "the response is a JSON number"),
    ("sqs", True, "the response is a JSON boolean"),
    ("sqs", [{"itemIdentifier": "m0"}], "the response is a JSON array"),
    ("sqs", {"batchItemFailures": {"itemIdentifier": "m0"}}, "batchItemFailures: must be a list, got object"),
    ("sqs", {"batchItemFailures": "m0"}, "batchItemFailures: must be a list, got string"),
    ("sqs", {"batchItemFailures": ["m0"]}, "batchItemFailures[0]: must be an object"),
    ("sqs", items(""), "[0].itemIdentifier: must not be empty"),
    ("sqs", items(None), "[0].itemIdentifier: must not be null"),
    ("sqs", {"batchItemFailures": [{"ItemIdentifier": "m0"}]}, "no 'itemIdentifier' key (keys: 'ItemIdentifier')"),
    ("sqs", {"batchItemFailures": [{"id": "m0"}]}, "no 'itemIdentifier' key (keys: 'id')"),
    ("sqs", items("m0", "m9"), "[1].itemIdentifier: 'm9' is not the messageId of a record in this batch"),
    ("sqs", items(7), "must be a string (messageId), got number 7"),
    ("kinesis", items("99"), "'99' is not the sequence number of a record in this batch"),
    ("kinesis", items(""), "must not be empty"),
    ("dynamodb", items(None), "must not be null"),
    ("dynamodb", items("7"), "is not the sequence number"),
    ("kafka", items("t-0"), "itemIdentifier: must be an object"),
    ("kafka", items(kafka("t-0", 8)), "'t-0:8' is not the topic-partition and offset"),
    ("kafka", items(kafka("t-9", 7)), "is not the topic-partition and offset"),
    ("kafka", items(kafka("t-0", "7")), "itemIdentifier.offset: must be a non-negative integer"),
    ("kafka", items(kafka("t-0", True)), "itemIdentifier.offset"),
    ("kafka", items(kafka("t-0", -1)), "itemIdentifier.offset"),
    ("kafka", items({"offset": 7}), "itemIdentifier.partition"),
    ("kafka", items(kafka("", 7)), "itemIdentifier.partition"),
    ("kafka", {"batchItemFailures": [{"itemidentifier": kafka("t-0", 7)}]}, "no 'itemIdentifier' key"),
]


def engine(kind: str, response: object, report: bool = True) -> Any:
    return judge(Invocation("ok", payload=response), IDS[kind], shape=kind, report_batch_item_failures=report)


def test_the_table_has_at_least_30_responses() -> None:
    assert len(SUCCESS) + len(PARTIAL) + len(INVALID) >= 30


@pytest.mark.parametrize(("kind", "response"), SUCCESS)
def test_success(kind: str, response: object) -> None:
    reading = read_partial_response(EVENTS[kind], response)
    assert (reading.status, reading.failed, reading.error) == ("success", (), "")
    outcome = engine(kind, response)
    assert outcome.kind == "success"
    assert outcome.warnings == reading.warnings


def test_a_near_miss_is_a_success_with_a_warning() -> None:
    (warning,) = read_partial_response(EVENTS["sqs"], {"BatchItemFailures": [{"itemIdentifier": "m0"}]}).warnings
    assert "'BatchItemFailures'" in warning and "did you mean 'batchItemFailures'" in warning


@pytest.mark.parametrize(("kind", "response", "failed"), PARTIAL)
def test_partial(kind: str, response: object, failed: tuple[int, ...]) -> None:
    reading = read_partial_response(EVENTS[kind], response)
    assert (reading.status, reading.failed, reading.error) == ("partial", failed, "")
    outcome = engine(kind, response)
    assert (outcome.kind, outcome.failed_indexes) == ("partial", failed)
    assert outcome.failed_ids == tuple(IDS[kind][i] for i in failed)


@pytest.mark.parametrize(("kind", "response", "why"), INVALID)
def test_invalid(kind: str, response: object, why: str) -> None:
    reading = read_partial_response(EVENTS[kind], response)
    assert (reading.status, reading.failed) == ("invalid", ())
    assert why in reading.error
    outcome = engine(kind, response)
    assert (outcome.kind, outcome.reason, outcome.detail) == ("failure", "InvalidResponse", reading.error)


@pytest.mark.parametrize("response", [items("m9"), "ok", {"batchItemFailures": "m0"}])
def test_without_report_batch_item_failures_the_list_is_not_read(response: object) -> None:
    assert read_response(response, "sqs", IDS["sqs"], report_batch_item_failures=False).status == (
        "invalid" if response == "ok" else "success")
    assert engine("sqs", response, report=False).kind == "success"  # the engine does not even look


def test_identifiers_are_asked_for_only_when_failures_are_listed() -> None:
    def never() -> list[str]:
        raise AssertionError("the batch's identifiers were built for a response that lists nothing")

    assert read_response({"batchItemFailures": []}, "sqs", never).status == "success"
    assert read_response(items("m1"), "sqs", lambda: IDS["sqs"]).failed == (1,)


def test_the_state_is_handed_back_as_returned() -> None:
    assert read_response({"state": {"n": 1}}, "kinesis", IDS["kinesis"]).state == {"n": 1}
    assert read_response({"state": [1]}, "kinesis", IDS["kinesis"]).state == [1]


def test_a_huge_identifier_is_clipped_in_the_error() -> None:
    reading = read_partial_response(EVENTS["sqs"], items("x" * 1_000_000))
    assert reading.status == "invalid" and len(reading.error) < 300


def test_the_response_to_a_batch_with_a_malformed_record_is_read() -> None:
    event = records_event([sqs_record("a", message_id="m0"), sqs_record("b", message_id="m1")])
    event["Records"][1]["body"] = None  # malformed, but it has its identifier
    assert read_partial_response(event, batch_response(["m1"])).failed == (1,)
    del event["Records"][1]["messageId"]  # now it cannot be reported at all
    with pytest.raises(RecordError, match="messageId"):
        read_partial_response(event, batch_response(["m0"]))
