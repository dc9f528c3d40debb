"""Every comparison operator, with the examples of Lambda's and EventBridge's documentation."""

from __future__ import annotations

import re

import pytest
from filters_support import matches, matches_text, sqs_record
from hypothesis import given
from hypothesis import strategies as st

from batchmap.filters import FilterCriteria


class TestLambdaOperatorTable:
    """The rows of Lambda's "Filter rule syntax" table, in order."""

    def test_null(self) -> None:
        assert matches({"UserID": [None]}, {"UserID": None})
        assert not matches({"UserID": [None]}, {"UserID": "null"})
        assert not matches({"UserID": [None]}, {"Other": 1})

    def test_empty(self) -> None:
        assert matches({"LastName": [""]}, {"LastName": ""})
        assert not matches({"LastName": [""]}, {"LastName": "Smith"})
        assert not matches({"LastName": [""]}, {})

    def test_equals(self) -> None:
        assert matches({"Name": ["Alice"]}, {"Name": "Alice"})
        assert not matches({"Name": ["Alice"]}, {"Name": "alice"})
        assert not matches({"Name": ["Alice"]}, {"Name": "Alice "})

    def test_equals_ignore_case(self) -> None:
        pattern = {"Name": [{"equals-ignore-case": "alice"}]}
        assert matches(pattern, {"Name": "ALICE"})
        assert matches(pattern, {"Name": "Alice"})
        assert not matches(pattern, {"Name": "Alicia"})
        assert not matches(pattern, {"Name": 1})

    def test_and(self) -> None:
        pattern = {"Location": ["New York"], "Day": ["Monday"]}
        assert matches(pattern, {"Location": "New York", "Day": "Monday"})
        assert not matches(pattern, {"Location": "New York", "Day": "Tuesday"})
        assert not matches(pattern, {"Location": "New York"})

    def test_or_on_one_field(self) -> None:
        pattern = {"PaymentType": ["Credit", "Debit"]}
        assert matches(pattern, {"PaymentType": "Credit"})
        assert matches(pattern, {"PaymentType": "Debit"})
        assert not matches(pattern, {"PaymentType": "Cash"})

    def test_or_across_fields(self) -> None:
        pattern = {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}
        assert matches(pattern, {"Location": "New York", "Day": "Sunday"})
        assert matches(pattern, {"Location": "Paris", "Day": "Monday"})
        assert not matches(pattern, {"Location": "Paris", "Day": "Sunday"})

    def test_not(self) -> None:
        pattern = {"Weather": [{"anything-but": ["Raining"]}]}
        assert matches(pattern, {"Weather": "Sunny"})
        assert not matches(pattern, {"Weather": "Raining"})
        assert not matches(pattern, {}), "anything-but needs the field to be present"

    def test_numeric_equals(self) -> None:
        pattern = {"Price": [{"numeric": ["=", 100]}]}
        assert matches(pattern, {"Price": 100})
        assert matches_text(pattern, '{"Price": 100.0}'), "numeric compares values, not text"
        assert not matches(pattern, {"Price": 101})
        assert not matches(pattern, {"Price": "100"}), "numeric matches JSON numbers only"

    def test_numeric_range(self) -> None:
        pattern = {"Price": [{"numeric": [">", 10, "<=", 20]}]}
        assert not matches(pattern, {"Price": 10})
        assert matches(pattern, {"Price": 10.5})
        assert matches(pattern, {"Price": 20})
        assert not matches(pattern, {"Price": 20.01})

    def test_exists(self) -> None:
        assert matches({"ProductName": [{"exists": True}]}, {"ProductName": "x"})
        assert matches({"ProductName": [{"exists": True}]}, {"ProductName": None}), "null is a value"
        assert not matches({"ProductName": [{"exists": True}]}, {"Other": "x"})

    def test_does_not_exist(self) -> None:
        assert matches({"ProductName": [{"exists": False}]}, {"Other": "x"})
        assert not matches({"ProductName": [{"exists": False}]}, {"ProductName": ""})

    def test_begins_with(self) -> None:
        pattern = {"Region": [{"prefix": "us-"}]}
        assert matches(pattern, {"Region": "us-east-1"})
        assert not matches(pattern, {"Region": "eu-west-1"})
        assert not matches(pattern, {"Region": ["eu-west-1"]})

    def test_ends_with(self) -> None:
        pattern = {"FileName": [{"suffix": ".png"}]}
        assert matches(pattern, {"FileName": "cat.png"})
        assert not matches(pattern, {"FileName": "cat.PNG"})


class TestEventBridgeExtras:
    def test_prefix_and_suffix_ignoring_case(self) -> None:
        assert matches({"service": [{"prefix": {"equals-ignore-case": "eventb"}}]}, {"service": "EventBridge"})
        assert not matches({"service": [{"prefix": {"equals-ignore-case": "eventb"}}]}, {"service": "Lambda"})
        assert matches({"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}, {"FileName": "A.PNG"})
        assert not matches({"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}, {"FileName": "a.jpg"})

    def test_anything_but_single_values(self) -> None:
        assert matches({"state": [{"anything-but": "initializing"}]}, {"state": "running"})
        assert not matches({"state": [{"anything-but": "initializing"}]}, {"state": "initializing"})
        assert matches({"x-limit": [{"anything-but": 123}]}, {"x-limit": 124})
        assert not matches({"x-limit": [{"anything-but": 123}]}, {"x-limit": 123})

    def test_anything_but_number_list_compares_numerically(self) -> None:
        pattern = {"x-limit": [{"anything-but": [100, 200, 300]}]}
        assert matches(pattern, {"x-limit": 301.8})
        assert not matches(pattern, {"x-limit": 200})
        assert not matches_text(pattern, '{"x-limit": 3.0e2}')

    def test_anything_but_prefix_suffix_ignore_case_wildcard(self) -> None:
        assert matches({"Region": [{"anything-but": {"prefix": "us-"}}]}, {"Region": "eu-west-1"})
        assert not matches({"Region": [{"anything-but": {"prefix": "us-"}}]}, {"Region": "us-east-1"})
        assert matches({"FileName": [{"anything-but": {"suffix": ".png"}}]}, {"FileName": "a.txt"})
        assert not matches({"FileName": [{"anything-but": {"suffix": ".png"}}]}, {"FileName": "a.png"})
        ignore = {"state": [{"anything-but": {"equals-ignore-case": ["initializing", "stopped"]}}]}
        assert not matches(ignore, {"state": "INITIALIZING"})
        assert matches(ignore, {"state": "running"})
        path = {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}
        assert matches(path, {"FilePath": "/usr/bin/python"})
        assert not matches(path, {"FilePath": "/usr/lib/python"})

    def test_anything_but_on_an_array_matches_when_any_element_differs(self) -> None:
        pattern = {"Weather": [{"anything-but": ["Raining"]}]}
        assert matches(pattern, {"Weather": ["Raining", "Sunny"]})
        assert not matches(pattern, {"Weather": ["Raining"]})

    def test_wildcard(self) -> None:
        assert matches({"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleQueueService"})
        assert matches({"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleService"})
        assert not matches({"source": [{"wildcard": "Simple*Service"}]}, {"source": "SimpleQueueServices"})
        assert matches({"key": [{"wildcard": "dir/*/file.*"}]}, {"key": "dir/a/b/file.png"})
        assert not matches({"key": [{"wildcard": "a*"}]}, {"key": 1})

    def test_wildcard_escapes(self) -> None:
        assert matches({"k": [{"wildcard": "a\\*b"}]}, {"k": "a*b"})
        assert not matches({"k": [{"wildcard": "a\\*b"}]}, {"k": "axb"})
        assert matches({"k": [{"wildcard": "a\\\\*"}]}, {"k": "a\\anything"})
        assert matches({"k": [{"wildcard": "a.c"}]}, {"k": "a.c"})
        assert not matches({"k": [{"wildcard": "a.c"}]}, {"k": "abc"}), "only * is special"

    def test_numeric_open_ranges(self) -> None:
        assert matches({"n": [{"numeric": ["<", 10]}]}, {"n": 9.99})
        assert not matches({"n": [{"numeric": ["<", 10]}]}, {"n": 10})
        assert matches({"n": [{"numeric": ["<=", 10]}]}, {"n": 10})
        assert matches({"n": [{"numeric": [">=", 0, "<", 1]}]}, {"n": 0})
        assert not matches({"n": [{"numeric": [">=", 0, "<", 1]}]}, {"n": 1})
        assert not matches({"n": [{"numeric": [">", 0]}]}, {"n": True}), "booleans are not numbers"

    def test_cidr(self) -> None:
        assert matches({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.24"})
        assert not matches({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.1.1"})
        assert not matches({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "not an ip"})
        assert matches({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8::1"})


class TestPlainValues:
    def test_numbers_that_are_exactly_a_double_match_by_value(self) -> None:
        for written in ("300", "300.0", "3.0e2", "3E+2", "300.000"):
            assert matches_text({"n": [300]}, f'{{"n": {written}}}'), written
        spelled = FilterCriteria.of('{"body": {"n": [3.0e2]}}').for_shape("sqs")
        assert spelled.matches(sqs_record('{"n": 300}'))
        assert matches_text({"n": [0.1]}, '{"n": 1e-1}')
        assert matches_text({"n": [0]}, '{"n": -0.0}')
        assert not matches_text({"n": [300]}, '{"n": 300.5}')

    def test_numbers_that_are_not_exactly_a_double_match_by_their_text(self) -> None:
        rounded = FilterCriteria.of('{"body": {"n": [0.10000000000000001]}}').for_shape("sqs")
        assert rounded.matches(sqs_record('{"n": 0.10000000000000001}'))
        assert not rounded.matches(sqs_record('{"n": 0.1}'))
        huge = FilterCriteria.of('{"body": {"n": [1e400]}}').for_shape("sqs")
        assert huge.matches(sqs_record('{"n": 1e400}'))
        assert not huge.matches(sqs_record('{"n": 1E400}'))
        account = FilterCriteria.of('{"body": {"n": [123456789012345678901]}}').for_shape("sqs")
        assert account.matches(sqs_record('{"n": 123456789012345678901}'))
        assert not account.matches(sqs_record('{"n": 123456789012345678900}'))

    def test_types_never_cross(self) -> None:
        assert not matches({"n": ["100"]}, {"n": 100})
        assert not matches({"n": [100]}, {"n": "100"})
        assert not matches({"b": ["true"]}, {"b": True})
        assert matches({"b": [True]}, {"b": True})
        assert not matches({"b": [1]}, {"b": True})
        assert not matches({"b": [True]}, {"b": 1})

    def test_array_in_event_matches_if_any_element_does(self) -> None:
        pattern = {"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-1"]}
        assert matches(pattern, {"resources": ["x", "arn:aws:ec2:us-east-1:123456789012:instance/i-1"]})
        assert not matches(pattern, {"resources": ["x", "y"]})
        assert matches({"n": [{"numeric": [">", 5]}]}, {"n": [1, [2, [9]]]}), "nested arrays are flattened"

    def test_nested_objects(self) -> None:
        pattern = {"detail": {"state": ["initializing", "running"]}}
        assert matches(pattern, {"detail": {"state": "running", "other": 1}})
        assert not matches(pattern, {"detail": {"state": "stopped"}})
        assert not matches(pattern, {"detail": "running"})
        assert not matches(pattern, {"state": "running"})

    def test_array_of_objects_matches_element_by_element(self) -> None:
        people = [{"firstName": "John", "lastName": "Doe"}, {"firstName": "Anna", "lastName": "Smith"}]
        event = {"employees": people}
        assert matches({"employees": {"firstName": ["Anna"]}}, event)
        assert matches({"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}, event)
        assert not matches({"employees": {"firstName": ["Anna"], "lastName": ["Doe"]}}, event)

    def test_exists_works_on_leaves_only(self) -> None:
        event = {"detail": {"state": "x", "c-count": {"c1": 100}}}
        assert matches({"detail": {"c-count": [{"exists": False}]}}, event), "an object is not a leaf"
        assert not matches({"detail": {"c-count": [{"exists": True}]}}, event)
        assert matches({"detail": {"c-count": {"c1": [{"exists": True}]}}}, event)

    def test_exists_on_arrays(self) -> None:
        assert matches({"a": [{"exists": True}]}, {"a": [1]})
        assert matches({"a": [{"exists": False}]}, {"a": []}), "an empty array has no leaves"
        assert matches({"a": {"b": [{"exists": False}]}}, {}), "absent parents make absent leaves"

    def test_or_nested_inside_objects_and_combined_with_and(self) -> None:
        pattern = {
            "source": ["aws.cloudwatch"],
            "$or": [
                {"metricName": ["CPUUtilization"]},
                {"metricType": ["MetricType"], "namespace": ["AWS/EC2"], "$or": [{"id": [1]}, {"scope": ["S"]}]},
            ],
        }
        assert matches(pattern, {"source": "aws.cloudwatch", "metricName": "CPUUtilization"})
        metric = {"source": "aws.cloudwatch", "metricType": "MetricType", "namespace": "AWS/EC2"}
        assert matches(pattern, {**metric, "id": 1})
        assert not matches(pattern, metric)
        assert not matches(pattern, {"source": "other", "metricName": "CPUUtilization"})
        inside = {"detail": {"$or": [{"a": [1]}, {"b": [2]}]}}
        assert matches(inside, {"detail": {"b": 2}})
        assert not matches(inside, {"detail": {"c": 2}})

    def test_several_values_and_operators_for_one_field_are_alternatives(self) -> None:
        pattern = {"v": ["exact", {"prefix": "pre"}, {"numeric": [">", 10]}, None]}
        for value in ("exact", "prefix", 11, None):
            assert matches(pattern, {"v": value}), value
        for value in ("other", 10, False):
            assert not matches(pattern, {"v": value}), value


printable = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@given(printable, printable)
def test_prefix_and_suffix_agree_with_python(text: str, affix: str) -> None:
    assert matches({"v": [{"prefix": affix}]}, {"v": text}) == text.startswith(affix)
    assert matches({"v": [{"suffix": affix}]}, {"v": text}) == text.endswith(affix)


@given(printable, st.lists(printable, min_size=1, max_size=4))
def test_anything_but_is_the_complement_of_equals_for_a_present_string(text: str, values: list[str]) -> None:
    equal = matches({"v": values}, {"v": text})
    assert matches({"v": [{"anything-but": values}]}, {"v": text}) == (not equal)


finite = st.floats(allow_nan=False, allow_infinity=False, min_value=-1e9, max_value=1e9)


@given(finite, finite, finite)
def test_numeric_ranges_agree_with_python(value: float, low: float, high: float) -> None:
    assert matches({"v": [{"numeric": [">=", low]}]}, {"v": value}) == (value >= low)
    assert matches({"v": [{"numeric": ["<", high]}]}, {"v": value}) == (value < high)
    if low < high:
        assert matches({"v": [{"numeric": [">", low, "<=", high]}]}, {"v": value}) == (low < value <= high)


@given(st.lists(st.sampled_from(["a", "b", "*", "."]), max_size=8), st.text(alphabet="ab*.", max_size=8))
def test_wildcard_agrees_with_a_glob_of_star_only(parts: list[str], text: str) -> None:
    pattern = "".join(parts)
    if "**" in pattern:
        return
    expected = re.fullmatch(".*".join(re.escape(p) for p in pattern.split("*")), text, re.DOTALL) is not None
    assert matches({"v": [{"wildcard": pattern}]}, {"v": text}) == expected


@pytest.mark.parametrize("value", ["x", 1, 2.5, True, None, ""])
def test_exists_true_matches_every_present_leaf(value: object) -> None:
    assert matches({"v": [{"exists": True}]}, {"v": value})
    assert not matches({"v": [{"exists": False}]}, {"v": value})


@given(printable, printable)
def test_ignoring_case_agrees_with_folding_the_whole_value(text: str, affix: str) -> None:
    """Only as many characters as the affix are folded: folding never shortens text."""
    folded, wanted = text.casefold(), affix.casefold()
    assert matches({"v": [{"prefix": {"equals-ignore-case": affix}}]}, {"v": text}) == folded.startswith(wanted)
    assert matches({"v": [{"suffix": {"equals-ignore-case": affix}}]}, {"v": text}) == folded.endswith(wanted)
    assert matches({"v": [{"equals-ignore-case": affix}]}, {"v": text}) == (folded == wanted)
    assert matches({"v": [{"anything-but": {"equals-ignore-case": affix}}]}, {"v": text}) == (folded != wanted)


@pytest.mark.parametrize(("value", "affix"), [("ßa", "SS"), ("aß", "ss"), ("ﬁle", "FI"), ("straße", "STRASSE")])
def test_ignoring_case_folds_characters_that_grow(value: str, affix: str) -> None:
    assert matches({"v": [{"prefix": {"equals-ignore-case": affix}}]}, {"v": value}) == value.casefold().startswith(
        affix.casefold()
    )
    assert matches({"v": [{"suffix": {"equals-ignore-case": affix}}]}, {"v": value}) == value.casefold().endswith(
        affix.casefold()
    )
