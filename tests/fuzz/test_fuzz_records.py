"""Fuzz: malformed events into ``parse_event``, every record view, ``decode_item`` and the response reader.

Each may return or raise the errors docs/handler.md documents for it; any
other exception is a crash and fails the test (hypothesis prints the case).
"""

from __future__ import annotations

import math
from typing import Any

from fuzz_support import fuzz, mutated_events, nasty, record_dicts, specials
from hypothesis import given
from hypothesis import strategies as st

from batchmap.engine.invocation import Invocation
from batchmap.engine.outcome import judge
from batchmap.errors import EventError, RecordError
from batchmap.records import (
    DynamoDBRecord,
    KafkaRecord,
    KinesisRecord,
    SQSRecord,
    decode_item,
    decode_value,
    parse_event,
    read_partial_response,
    read_response,
)

VIEWS = (SQSRecord, KinesisRecord, DynamoDBRecord, KafkaRecord)
METHODS = {"json": (), "header": ("headerKey",)}


def members(view: type) -> list[str]:
    """Every public property and method of a view class."""
    return sorted(name for klass in view.__mro__ for name in vars(klass)
                  if not name.startswith("_") and name not in ("kind", "event_source"))


MEMBERS = {view: members(view) for view in VIEWS}


def exercise(record: Any) -> None:
    """Read every member of a view; a RecordError naming a field is the only allowed failure."""
    for name in MEMBERS[type(record)]:
        try:
            value = getattr(record, name)
            if name in METHODS:
                value(*METHODS[name])
        except RecordError as exc:
            assert exc.field, f"{type(record).__name__}.{name}: RecordError without a field: {exc}"
            assert len(str(exc)) < 1000, f"{type(record).__name__}.{name}: message of {len(str(exc))} characters"
    repr(record)


@fuzz(examples=3000)
@given(mutated_events())
def test_parse_event_and_every_view(event: Any) -> None:
    try:
        batch = parse_event(event)
    except EventError as exc:
        assert len(str(exc)) < 1000
    else:
        assert len(batch) == len(record_dicts(event))
        for record in batch:
            assert record.id  # a parsed batch has every identifier
    for raw in record_dicts(event)[:8]:
        for view in VIEWS:
            exercise(view(raw))


@fuzz(examples=1500)
@given(mutated_events(), st.lists(specials | nasty, max_size=4), st.booleans())
def test_read_partial_response(event: Any, identifiers: list[Any], wrap: bool) -> None:
    response: Any = {"batchItemFailures": [{"itemIdentifier": i} for i in identifiers]} if wrap else identifiers
    try:
        reading = read_partial_response(event, response)
    except EventError:
        return
    assert reading.status in ("success", "partial", "invalid")
    assert all(0 <= i < len(record_dicts(event)) for i in reading.failed)


@fuzz(examples=1500)
@given(st.sampled_from(["sqs", "kinesis", "dynamodb", "kafka"]), nasty | specials,
       st.lists(st.sampled_from(["m0", "t-0:7", "", "1"]), max_size=3), st.booleans(), st.booleans())
def test_one_reader_for_engine_and_toolkit(kind: str, payload: Any, ids: list[str], report: bool,
                                           tumbling: bool) -> None:
    reading = read_response(payload, kind, ids, report_batch_item_failures=report)
    assert reading.status in ("success", "partial", "invalid")
    outcome = judge(Invocation("ok", payload=payload), ids, shape=kind, report_batch_item_failures=report,
                    tumbling_window=tumbling and kind in ("kinesis", "dynamodb"))
    if report and not tumbling:
        expected = {"success": "success", "partial": "partial", "invalid": "failure"}[reading.status]
        assert outcome.kind == expected


attribute_values = st.recursive(
    st.one_of(st.fixed_dictionaries({"S": nasty}), st.fixed_dictionaries({"N": nasty}),
              st.fixed_dictionaries({"B": nasty}), st.fixed_dictionaries({"BOOL": nasty}),
              st.fixed_dictionaries({"NULL": nasty}), st.fixed_dictionaries({"SS": nasty}),
              st.fixed_dictionaries({"NS": nasty}), st.fixed_dictionaries({"BS": nasty}), nasty),
    lambda children: st.one_of(st.fixed_dictionaries({"L": st.lists(children, max_size=3)}),
                               st.fixed_dictionaries({"M": st.dictionaries(st.text(max_size=3), children,
                                                                           max_size=3)})),
    max_leaves=8,
)


@fuzz(examples=1500)
@given(st.dictionaries(st.text(max_size=3), attribute_values, max_size=3) | nasty, attribute_values)
def test_dynamodb_typed_json(item: Any, value: Any) -> None:
    for decode, argument in ((decode_item, item), (decode_value, value)):
        try:
            plain = decode(argument)
        except RecordError as exc:
            assert exc.field
        else:
            assert plain is None or not isinstance(plain, float) or not math.isnan(plain)
