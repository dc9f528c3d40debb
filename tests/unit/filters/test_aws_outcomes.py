"""Behaviours where EventBridge's recorded answers decide: each row is a pattern, an event and AWS's outcome.

The rows are written for batchmap (docs/filtering.md says how the agreement was
measured); ``True``/``False`` is whether the pattern matches, ``INVALID`` that
the pattern is refused when the criteria are built.
"""

from __future__ import annotations

from typing import Any

import pytest
from filters_support import matches, matches_text, sqs_record

from batchmap.errors import FilterError
from batchmap.filters import FilterCriteria, Verdict

INVALID = "invalid"

Row = tuple[str, dict[str, Any], Any, Any]


def check(pattern: dict[str, Any], event: Any, outcome: Any) -> None:
    if outcome == INVALID:
        with pytest.raises(FilterError):
            FilterCriteria.of({"body": pattern})
    else:
        assert matches(pattern, event) is outcome


ANYTHING_BUT_LISTS: list[Row] = [
    ("prefix list, none fits", {"s": [{"anything-but": {"prefix": ["new", "old"]}}]}, {"s": "used"}, True),
    ("prefix list, the second fits", {"s": [{"anything-but": {"prefix": ["new", "old"]}}]}, {"s": "oldest"}, False),
    ("prefix list, a number is no string", {"s": [{"anything-but": {"prefix": ["1", "2"]}}]}, {"s": 12}, True),
    ("prefix list, null is no string", {"s": [{"anything-but": {"prefix": ["n"]}}]}, {"s": None}, True),
    ("prefix list, the field is absent", {"s": [{"anything-but": {"prefix": ["n", "o"]}}]}, {"t": "x"}, False),
    ("prefix list, one element differs", {"s": [{"anything-but": {"prefix": ["n"]}}]}, {"s": ["nx", "y"]}, True),
    ("suffix list, none fits", {"f": [{"anything-but": {"suffix": [".gz", ".zip"]}}]}, {"f": "a.txt"}, True),
    ("suffix list, one fits", {"f": [{"anything-but": {"suffix": [".gz", ".zip"]}}]}, {"f": "a.zip"}, False),
    ("suffix list, null is no string", {"f": [{"anything-but": {"suffix": [".gz", ".zip"]}}]}, {"f": None}, True),
    ("suffix list, the field is absent", {"f": [{"anything-but": {"suffix": [".gz"]}}]}, {}, False),
    ("prefix list with an empty string", {"s": [{"anything-but": {"prefix": ["a", ""]}}]}, {"s": "b"}, INVALID),
    ("suffix list with a number", {"f": [{"anything-but": {"suffix": [".gz", 1]}}]}, {"f": "b"}, INVALID),
    ("suffix list with null", {"f": [{"anything-but": {"suffix": [None]}}]}, {"f": "b"}, INVALID),
    ("prefix ignoring case inside anything-but", {"s": [{"anything-but": {"prefix": {"equals-ignore-case": "a"}}}]},
     {"s": "b"}, INVALID),
]

DOTTED_NAMES: list[Row] = [
    ("dotted key in the event", {"d": {"state": {"status": ["up"]}}}, {"d": {"state.status": "up"}}, True),
    ("dotted key in the pattern", {"d": {"state.status": ["up"]}}, {"d": {"state": {"status": "up"}}}, True),
    ("dotted on both sides", {"d": {"state.status": ["up"]}}, {"d": {"state.status": "up"}}, True),
    ("dotted key with more below", {"d": {"state": {"status": ["up"]}}}, {"d": {"state.status": {"status": "up"}}},
     False),
    ("dotted pattern key with more below", {"d": {"state.status": {"status": ["up"]}}},
     {"d": {"state": {"status": "up"}}}, False),
    ("three names deep", {"a.b.c": ["x"]}, {"a": {"b.c": "x"}}, True),
    ("split key beside its parent", {"a": {"b": ["1"], "c": ["2"]}}, {"a": {"b": "1"}, "a.c": "2"}, True),
    ("a dotted value is no key", {"a": {"b": ["1"]}}, {"a": "b.1"}, False),
    ("exists false sees the dotted key", {"a": {"b": [{"exists": False}]}}, {"a.b": "here"}, False),
]

NUMBERS: list[Row] = [
    ("integer against its float spelling", {"n": [300]}, {"n": 300.0}, True),
    ("float against its integer spelling", {"n": [300.0]}, {"n": 300}, True),
    ("different values", {"n": [300]}, {"n": 301}, False),
    ("anything-but by value", {"n": [{"anything-but": [300]}]}, {"n": 300.0}, False),
    ("numeric bounds near the largest double", {"n": [{"numeric": [">", 1e308, "<", 1.7e308]}]}, {"n": 1.6e308}, True),
]


def rows(table: list[Row]) -> Any:
    return pytest.mark.parametrize(("name", "pattern", "event", "outcome"), table, ids=[row[0] for row in table])


@rows(ANYTHING_BUT_LISTS)
def test_anything_but_takes_lists_of_prefixes_and_suffixes(name: str, pattern: Any, event: Any, outcome: Any) -> None:
    check(pattern, event, outcome)


@rows(DOTTED_NAMES)
def test_field_names_are_joined_by_dots(name: str, pattern: Any, event: Any, outcome: Any) -> None:
    check(pattern, event, outcome)


@rows(NUMBERS)
def test_numbers_compare_by_value(name: str, pattern: Any, event: Any, outcome: Any) -> None:
    check(pattern, event, outcome)


def test_numbers_written_in_the_event_compare_by_value() -> None:
    assert matches_text({"n": [300]}, '{"n": 3.0e2}')
    assert matches_text({"n": [{"anything-but": [100, 300]}]}, '{"n": 2.0e2}')
    assert not matches_text({"n": [{"anything-but": [100, 300]}]}, '{"n": 1e2}')


def test_a_dotted_message_attribute_name_matches_its_pattern() -> None:
    """SQS allows dots in attribute names; the pattern names them as written."""
    attribute = {"stringValue": "eu", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    record = sqs_record("{}", messageAttributes={"geo.region": attribute})
    accept = FilterCriteria.of({"messageAttributes": {"geo.region": {"stringValue": ["eu"]}}}).for_shape("sqs")
    assert accept.matches(record)
    other = FilterCriteria.of({"messageAttributes": {"geo.region": {"stringValue": ["us"]}}}).for_shape("sqs")
    assert not other.matches(record)


def test_a_dotted_data_key_is_a_json_pattern_on_the_payload() -> None:
    accept = FilterCriteria.of({"body.kind": ["order"]}).for_shape("sqs")
    assert accept.matches(sqs_record('{"kind": "order"}'))
    assert accept.evaluate(sqs_record("kind order")).verdict is Verdict.FORMAT_MISMATCH


def test_the_last_of_two_patterns_for_one_path_wins() -> None:
    """As EventBridge does for a repeated key (and for a dotted and a nested spelling of one path)."""
    repeated = '{"body": {"loc": [{"prefix": "us-"}], "loc": [{"anything-but": "us-east"}]}}'
    assert FilterCriteria.of(repeated).for_shape("sqs").matches(sqs_record('{"loc": "eu-central-1"}'))
    spelled_twice = FilterCriteria.of({"body": {"a.b": ["1"], "a": {"b": ["2"]}}}).for_shape("sqs")
    assert spelled_twice.matches(sqs_record('{"a": {"b": "2"}}'))
    assert not spelled_twice.matches(sqs_record('{"a": {"b": "1"}}'))


def test_values_and_an_object_at_one_name_must_both_match() -> None:
    both = {"a": ["1"], "a.b": ["2"]}
    assert matches(both, {"a": "1", "a.b": "2"})
    assert not matches(both, {"a": "1"})


COMPLEXITY: list[tuple[str, list[str], bool]] = [
    ("five colons then a suffix", ["*:*:*:*:*:event-bus/*"], False),
    ("one account wildcard in an ARN", ["arn:aws:events:us-east-1:*:event-bus/*"], True),
    ("a repeated directory after one star", ["/Users/*/dir/dir/dir/dir/dir/doc.txt"], True),
    ("the same letter after each star", ["*a*a*a*a*a*a*a*a*a*b"], False),
    ("nine stars between distinct letters", ["a*b*c*d*e*f*g*h*i*j"], True),
    ("two paths on one field", ["*/init/*", "*/dir/*"], True),
    ("eleven wildcards on one field", [f"{i}*" for i in range(11)], False),
    ("a long run of one character after a star", ["*" + "ab" * 100], False),
]


@pytest.mark.parametrize(("name", "wildcards", "accepted"), COMPLEXITY, ids=[r[0] for r in COMPLEXITY])
def test_wildcards_that_are_too_complex_are_refused(name: str, wildcards: list[str], accepted: bool) -> None:
    pattern = {"body": {"arn": [{"wildcard": text} for text in wildcards]}}
    if accepted:
        FilterCriteria.of(pattern)
        return
    with pytest.raises(FilterError, match=r"Pattern: body\.arn: the rule is too complex") as caught:
        FilterCriteria.of(pattern)
    assert "AWS allows 10" in str(caught.value)


def test_complexity_counts_anything_but_wildcards_and_each_field_apart() -> None:
    six = [f"{i}*/x" for i in range(6)]
    FilterCriteria.of({"a": [{"wildcard": text} for text in six], "b": [{"wildcard": text} for text in six]})
    with pytest.raises(FilterError, match="a: the rule is too complex"):
        FilterCriteria.of({"a": [{"wildcard": text} for text in six] + [{"anything-but": {"wildcard": six}}]})
    with pytest.raises(FilterError, match="a: the rule is too complex"):
        FilterCriteria.of({"$or": [{"a": [{"wildcard": t} for t in six]}, {"a": [{"wildcard": t} for t in six]}]})
