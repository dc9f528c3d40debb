"""FilterCriteria: the wire form, AWS's limits, and a clear FilterError for every invalid pattern."""

from __future__ import annotations

import json
from typing import Any

import pytest

from batchmap.errors import FilterError
from batchmap.filters import MAX_FILTERS, MAX_PATTERN_LENGTH, Filter, FilterCriteria


def invalid(pattern: str, *expected: str) -> None:
    with pytest.raises(FilterError) as caught:
        FilterCriteria.of('{"a": ["ok"]}', pattern)
    message = str(caught.value)
    assert "Filters[1].Pattern" in message, message
    for part in expected:
        assert part in message, message


class TestWireForm:
    def test_from_dict_to_dict_round_trip(self) -> None:
        wire = {"Filters": [{"Pattern": '{"body": {"a": [1]}}'}, {"Pattern": '{"attributes": {"x": ["y"]}}'}]}
        criteria = FilterCriteria.from_dict(wire)
        assert criteria.to_dict() == wire
        assert criteria.filters == (Filter('{"body": {"a": [1]}}'), Filter('{"attributes": {"x": ["y"]}}'))
        assert criteria.patterns == ({"body": {"a": [1]}}, {"attributes": {"x": ["y"]}})

    def test_from_json_as_the_aws_cli_takes_it(self) -> None:
        text = '{"Filters": [{"Pattern": "{ \\"a\\" : [ 1, 2 ]}"}]}'
        assert FilterCriteria.from_json(text).patterns == ({"a": [1, 2]},)

    def test_empty_criteria_remove_filtering(self) -> None:
        assert FilterCriteria.from_json("{}").filters == ()
        assert FilterCriteria.from_dict({"Filters": []}) == FilterCriteria()
        assert FilterCriteria().for_shape("sqs").matches({"body": "anything"})

    def test_a_single_filter_object_is_accepted_where_cloudformation_accepts_it(self) -> None:
        assert FilterCriteria.from_dict({"Filters": {"Pattern": '{"a": [1]}'}}).patterns == ({"a": [1]},)

    def test_of_accepts_dicts_and_json_text(self) -> None:
        criteria = FilterCriteria.of({"a": [1]}, '{"b": [2]}')
        assert criteria.patterns == ({"a": [1]}, {"b": [2]})
        assert json.loads(criteria.filters[0].pattern) == {"a": [1]}

    @pytest.mark.parametrize(
        ("wire", "expected"),
        [
            ([], "expected an object"),
            ({"Filter": []}, "unknown key(s) Filter"),
            ({"Filters": "x"}, "expected a list"),
            ({"Filters": [{"pattern": "{}"}]}, "Filters[0]: expected {\"Pattern\""),
            ({"Filters": [{"Pattern": {"a": [1]}}]}, "Filters[0].Pattern: must be a string"),
        ],
    )
    def test_malformed_wire_forms(self, wire: Any, expected: str) -> None:
        with pytest.raises(FilterError, match=None) as caught:
            FilterCriteria.from_dict(wire)
        assert expected in str(caught.value)

    def test_bad_json_text(self) -> None:
        with pytest.raises(FilterError, match="FilterCriteria: not valid JSON"):
            FilterCriteria.from_json("{Filters:")

    def test_criteria_compare_by_their_patterns(self) -> None:
        assert FilterCriteria.of('{"a": [1]}') == FilterCriteria.of('{"a": [1]}')
        assert hash(FilterCriteria.of('{"a": [1]}')) == hash(FilterCriteria.of('{"a": [1]}'))


class TestLimits:
    def test_up_to_ten_filters(self) -> None:
        patterns = [f'{{"n": [{i}]}}' for i in range(MAX_FILTERS)]
        assert len(FilterCriteria.of(*patterns).filters) == 10
        with pytest.raises(FilterError, match="11 filters given; at most 10"):
            FilterCriteria.of(*patterns, '{"n": [10]}')

    def test_pattern_length(self) -> None:
        filler = "x" * (MAX_PATTERN_LENGTH - len('{"a": [""]}'))
        assert FilterCriteria.of(f'{{"a": ["{filler}"]}}')
        with pytest.raises(FilterError, match="4097 characters; at most 4096"):
            FilterCriteria.of(f'{{"a": ["{filler}x"]}}')


class TestInvalidPatterns:
    def test_not_json(self) -> None:
        invalid('{"a": [1,]}', "not valid JSON")
        invalid("", "non-empty string")

    def test_not_an_object(self) -> None:
        invalid('["a"]', "a pattern must be a JSON object")

    def test_empty_object_and_list(self) -> None:
        invalid("{}", "empty objects are not allowed")
        invalid('{"a": {}}', "a: empty objects are not allowed")
        invalid('{"a": []}', "a: empty lists are not allowed")

    def test_leaf_must_be_a_list(self) -> None:
        invalid('{"a": "x"}', "a: must be an object or a list of match values, got 'x'")
        invalid('{"a": {"b": 1}}', "a.b: must be an object or a list")

    def test_bad_match_values(self) -> None:
        invalid('{"a": [["x"]]}', "match values must be strings, numbers")
        invalid('{"a": [NaN]}', "not valid JSON")

    def test_unknown_operator(self) -> None:
        invalid('{"a": [{"contains": "x"}]}', "unknown operator 'contains'", "supported: prefix")

    def test_operator_object_with_two_operators(self) -> None:
        invalid('{"a": [{"prefix": "x", "suffix": "y"}]}', "exactly one operator")

    def test_numeric_with_a_non_number(self) -> None:
        invalid('{"a": [{"numeric": [">", "10"]}]}', "a: numeric: expected a number, got '10'")
        invalid('{"a": [{"numeric": ["=", true]}]}', "expected a number, got True")

    def test_numeric_shapes(self) -> None:
        invalid('{"a": [{"numeric": 5}]}', "expected a list")
        invalid('{"a": [{"numeric": ["!=", 5]}]}', "is not a numeric expression")
        invalid('{"a": [{"numeric": ["<", 5, ">", 1]}]}', "is not a numeric expression")
        invalid('{"a": [{"numeric": [">", 5, ">", 9]}]}', "second operator must be '<' or '<='")
        invalid('{"a": [{"numeric": [">", 5, "<", 5]}]}', "lower bound must be below the upper bound")
        invalid('{"a": [{"numeric": ["=", 5, "<", 9]}]}', "is not a numeric expression")
        invalid('{"a": [{"numeric": [[], 5]}]}', "is not a numeric expression")
        invalid('{"a": [{"numeric": [">", 5, {"<": 1}, 9]}]}', "second operator must be '<' or '<='")

    def test_exists(self) -> None:
        invalid('{"a": [{"exists": "yes"}]}', "exists: the value must be true or false")
        invalid('{"a": {"exists": true}}', "'exists' is an operator", '{"a": [{"exists": ...}]}')
        invalid('{"exists": [true]}', "'exists' is an operator")

    def test_operator_used_as_a_field_name(self) -> None:
        invalid('{"price": {"numeric": [">", 1]}}', "'numeric' is an operator", '{"price": [{"numeric": ...}]}')

    def test_wildcard(self) -> None:
        invalid('{"a": [{"wildcard": "a**b"}]}', "consecutive wildcard characters ('**')")
        invalid('{"a": [{"wildcard": "a\\\\b"}]}', "a backslash may only escape")
        invalid('{"a": [{"wildcard": 5}]}', "wildcard: the value must be a string")

    def test_string_operators_need_strings(self) -> None:
        invalid('{"a": [{"prefix": 1}]}', "prefix: the value must be a string")
        invalid('{"a": [{"suffix": null}]}', "suffix: the value must be a string")
        invalid('{"a": [{"equals-ignore-case": ["x"]}]}', "equals-ignore-case: the value must be a string")
        invalid('{"a": [{"prefix": {"anything-but": "x"}}]}', "only {\"equals-ignore-case\"")

    def test_anything_but(self) -> None:
        invalid('{"a": [{"anything-but": ["x", 1]}]}', "only strings or only numbers")
        invalid('{"a": [{"anything-but": []}]}', "only strings or only numbers")
        invalid('{"a": [{"anything-but": [null]}]}', "only strings or only numbers")
        invalid('{"a": [{"anything-but": {"prefix": ""}}]}', "must not be empty")
        invalid('{"a": [{"anything-but": {"numeric": [">", 1]}}]}', "only prefix, suffix, equals-ignore-case")
        invalid('{"a": [{"anything-but": {"prefix": "a", "suffix": "b"}}]}', "one nested operator")

    def test_or(self) -> None:
        invalid('{"$or": [{"a": [1]}]}', "$or takes a list of at least two pattern objects")
        invalid('{"$or": {"a": [1]}}', "$or takes a list")
        invalid('{"$or": [{"a": [1]}, ["b"]]}', "$or takes a list")
        invalid('{"$or": [{"a": [1]}, {}]}', "empty objects are not allowed")

    def test_cidr(self) -> None:
        invalid('{"ip": [{"cidr": "10.0.0.0/99"}]}', "is not an IPv4 or IPv6 network")

    def test_the_message_names_the_path(self) -> None:
        invalid('{"body": {"order": {"total": [{"numeric": [">", "x"]}]}}}', "body.order.total: numeric")
