"""Fuzzing: any pattern is compiled or refused with a ``FilterError``; any record only ever gets a verdict."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from filters_support import dynamodb_record, kafka_record, kinesis_record, sqs_record
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchmap.errors import FilterError
from batchmap.filters import OPERATORS, FilterCriteria, FilterResult, RecordFilter, Verdict

PATTERNS = settings(max_examples=1_200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RECORDS = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(codec=None, blacklist_categories=()), max_size=4)
"""Any code point, lone surrogates included."""

number = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, -0.0, 300, 300.0, 1e308, 5e-324])
)
scalar = st.none() | st.booleans() | number | text | st.sampled_from(["a", "ab", "a.b", "10.0.0.1", "2001:db8::1"])
names = st.sampled_from(["a", "b", "a.b", "b.a", "a.b.c", "", ".", "$or", "body", *OPERATORS]) | text

operator_argument = st.recursive(
    scalar
    | st.sampled_from(["*", "a*", "*a*b", "a\\*", "a\\\\*", "a**", "\\x", "10.0.0.0/8", "::/0", "1.2.3.4/33"])
    | st.sampled_from([["=", 1], [">", 0, "<=", 5], ["<", 1e308], [">", 5, "<", 1], ["!", 1], ["=", "1"]]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from([*OPERATORS, "x"]), inner, max_size=2),
    max_leaves=4,
)
operator_names = st.sampled_from([*OPERATORS, "equals", "contains"])
operator = st.dictionaries(operator_names, operator_argument, min_size=1, max_size=2)
match_values = st.lists(scalar | operator | st.lists(scalar, max_size=2), max_size=4)
patterns = st.recursive(
    st.dictionaries(names, match_values, max_size=3),
    lambda inner: st.dictionaries(names, inner | match_values | st.lists(inner, max_size=3) | scalar, max_size=3),
    max_leaves=12,
)

valid_operator = st.sampled_from([
    {"prefix": "a"}, {"suffix": "b"}, {"prefix": {"equals-ignore-case": "A"}}, {"equals-ignore-case": "ab"},
    {"wildcard": "a*b"}, {"wildcard": "*.*"}, {"anything-but": ["a", "b"]}, {"anything-but": [0, 300]},
    {"anything-but": {"prefix": ["a", "\ud800"]}}, {"anything-but": {"suffix": "b"}},
    {"anything-but": {"wildcard": ["*a", "b*"]}}, {"anything-but": {"equals-ignore-case": "A"}},
    {"numeric": [">", 0, "<=", 1e308]}, {"numeric": ["=", 300]}, {"numeric": ["<", -1.5]},
    {"exists": True}, {"exists": False}, {"cidr": "10.0.0.0/8"}, {"cidr": "2001:db8::/32"},
])
valid_values = st.lists(valid_operator | scalar, min_size=1, max_size=3)
valid_patterns = st.recursive(
    st.dictionaries(names.filter(lambda name: name not in OPERATORS and name != "$or"), valid_values, min_size=1,
                    max_size=3),
    lambda inner: st.dictionaries(names.filter(lambda name: name not in OPERATORS and name != "$or"),
                                  inner | valid_values, min_size=1, max_size=3)
    | st.lists(inner, min_size=2, max_size=3).map(lambda branches: {"$or": branches}),
    max_leaves=6,
)

records_json = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=10,
)
hostile_text = st.sampled_from([
    "[" * 3_000 + "]" * 3_000,
    '{"a":' * 3_000 + "1" + "}" * 3_000,
    '{"a": ' + "9" * 5_000 + "}",
    '{"a": 1e400, "b": [1E-400, -0.0]}',
    '{"a": "\\ud800", "a.b": "\\udfff"}',
    '{"a": [1, 2',
    "",
    "null",
])
bodies = records_json.map(json.dumps) | hostile_text | text


def compile_or_refuse(pattern: Any) -> FilterCriteria | None:
    try:
        return FilterCriteria.of(json.dumps(pattern))
    except FilterError:
        return None


def with_metadata(record: dict[str, Any], extra: Any) -> dict[str, Any]:
    """The record with ``extra``'s fields beside its own (its data key kept)."""
    if isinstance(extra, dict):
        record.update((key, value) for key, value in extra.items() if key != "body")
    return record


def verdict(accept: RecordFilter, record: dict[str, Any]) -> None:
    result = accept.evaluate(record)
    assert isinstance(result, FilterResult)
    assert result.verdict in set(Verdict)
    assert accept.matches(record) is result.matched


@PATTERNS
@given(st.one_of(patterns, records_json))
def test_any_pattern_compiles_or_is_refused_with_a_filter_error(pattern: Any) -> None:
    criteria = compile_or_refuse(pattern)
    if criteria is None:
        return
    for shape in ("sqs", "kinesis", "dynamodb", "kafka"):
        with contextlib.suppress(FilterError):
            criteria.for_shape(shape)


@RECORDS
@given(valid_patterns, bodies, st.binary(max_size=12), records_json)
def test_any_record_gets_a_verdict(pattern: Any, body: str, raw: bytes, image: Any) -> None:
    data = body.encode("utf-8", "surrogatepass")
    not_base64 = kafka_record(None)
    not_base64["value"] = "not base64!"
    cases = [
        ("sqs", {"body": pattern}, [sqs_record(body), sqs_record(body, messageAttributes=image)]),
        ("kinesis", {"data": pattern}, [kinesis_record(data), kinesis_record(raw)]),
        ("kafka", {"value": pattern, "topic": ["mytopic"]}, [kafka_record(data, key=raw), not_base64]),
        ("dynamodb", {"dynamodb": {"NewImage": pattern}}, [dynamodb_record(NewImage=image)]),
        ("sqs", pattern, [with_metadata(sqs_record(body), image)]),
    ]
    for shape, wrapped, records in cases:
        criteria = compile_or_refuse(wrapped)
        assert criteria is not None or "wildcard" in json.dumps(wrapped), wrapped
        if criteria is not None:
            accept = criteria.for_shape(shape)  # type: ignore[arg-type]
            for record in records:
                verdict(accept, record)
