"""Filter criteria as an attack surface: hostile patterns are refused, hostile records get a verdict.

A pattern is refused with a ``FilterError`` naming its place; a record, however
built, only ever gets a verdict, and matching stays linear (no backtracking, no
recursion as deep as the record). A test that hangs here fails on pytest's
timeout: the old regular-expression wildcard took minutes on these inputs.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from filters_support import b64, dynamodb_record, kafka_record, kinesis_record, matches, sqs_record
from hypothesis import given, settings
from hypothesis import strategies as st

from batchmap.errors import FilterError
from batchmap.filters import MAX_PATTERN_DEPTH, FilterCriteria, Verdict
from batchmap.filters.wildcard import parse_wildcard


def nested(depth: int, leaf: str = '["x"]') -> str:
    return '{"a": ' * depth + leaf + "}" * depth


class TestPatternLimits:
    def test_depth_up_to_the_limit_is_accepted(self) -> None:
        accept = FilterCriteria.of(nested(MAX_PATTERN_DEPTH)).for_shape("sqs")
        record: Any = "x"
        for _ in range(MAX_PATTERN_DEPTH):
            record = {"a": record}
        assert accept.matches({**record, "body": "{}"})

    @pytest.mark.parametrize("depth", [MAX_PATTERN_DEPTH + 1, 500, 580])
    def test_deeper_patterns_are_refused_naming_the_place(self, depth: int) -> None:
        with pytest.raises(FilterError) as caught:
            FilterCriteria.of('{"ok": [1]}', nested(depth))
        message = str(caught.value)
        assert message.startswith("FilterCriteria.Filters[1].Pattern: a.a.a.")
        assert f"nested deeper than {MAX_PATTERN_DEPTH} levels" in message

    def test_each_name_of_a_dotted_key_and_each_or_counts(self) -> None:
        with pytest.raises(FilterError, match=f"nested deeper than {MAX_PATTERN_DEPTH}"):
            FilterCriteria.of({".".join(["k"] * (MAX_PATTERN_DEPTH + 1)): ["x"]})
        pattern: dict[str, Any] = {"a": ["x"]}
        for _ in range(MAX_PATTERN_DEPTH + 1):
            pattern = {"$or": [pattern, {"b": ["y"]}]}
        with pytest.raises(FilterError, match=f"nested deeper than {MAX_PATTERN_DEPTH}"):
            FilterCriteria.of(pattern)

    def test_arrays_nested_past_the_parser_are_refused(self) -> None:
        with pytest.raises(FilterError, match=f"Pattern: nested deeper than {MAX_PATTERN_DEPTH} levels"):
            FilterCriteria.of('{"a": ' + "[" * 2000 + "]" * 2000 + "}")

    def test_a_deep_match_value_is_refused_in_a_short_message(self) -> None:
        with pytest.raises(FilterError, match="match values must be strings") as caught:
            FilterCriteria.of('{"a": ' + "[" * 600 + "]" * 600 + "}")
        assert len(str(caught.value)) < 400
        with pytest.raises(FilterError, match="prefix: only"):
            FilterCriteria.of('{"a": [' + '{"prefix": ' * 300 + '"x"' + "}" * 300 + "]}")

    def test_the_wire_form_nested_past_the_parser_is_a_filter_error(self) -> None:
        with pytest.raises(FilterError, match="FilterCriteria: nested too deeply to parse"):
            FilterCriteria.from_json("[" * 5_000 + "]" * 5_000)
        with pytest.raises(FilterError, match=r"Filters\[0\]: expected .* got \[\[\[\[\.\.\.\]\]\]\]"):
            FilterCriteria.from_json('{"Filters": ' + "[" * 600 + "]" * 600 + "}")

    @pytest.mark.parametrize(
        "number", ["1e400", "-1e400", "1E+309", "0.10000000000000001", "123456789012345678901", "4.9e-325", "9" * 400]
    )
    @pytest.mark.parametrize(
        ("template", "operator"),
        [
            ('{{"n": [{{"numeric": [">", {}]}}]}}', "numeric"),
            ('{{"n": [{{"numeric": ["=", {}]}}]}}', "numeric"),
            ('{{"n": [{{"numeric": [">", 0, "<", {}]}}]}}', "numeric"),
            ('{{"n": [{{"anything-but": {}}}]}}', "anything-but"),
            ('{{"n": [{{"anything-but": [1, {}]}}]}}', "anything-but"),
        ],
    )
    def test_numbers_that_are_not_exactly_a_double_are_refused_as_bounds(
        self, template: str, operator: str, number: str
    ) -> None:
        with pytest.raises(FilterError) as caught:
            FilterCriteria.of(template.format(number))
        assert f"Pattern: n: {operator}: {number} cannot be compared" in str(caught.value)

    def test_such_numbers_still_match_as_plain_values_by_their_text(self) -> None:
        accept = FilterCriteria.of('{"body": {"n": [1e400]}}').for_shape("sqs")
        assert accept.matches(sqs_record('{"n": 1e400}'))
        assert not accept.matches(sqs_record('{"n": 2e400}'))


class TestWildcardsAreLinear:
    def test_the_reported_pattern_is_refused_as_too_complex(self) -> None:
        with pytest.raises(FilterError, match=r"Pattern: a: the rule is too complex"):
            FilterCriteria.of({"a": [{"wildcard": "*a*a*a*a*a*a*a*a*a*b"}]})

    @pytest.mark.parametrize("size", [60, 100_000])
    def test_a_pattern_a_regex_backtracks_on_answers_at_once(self, size: int) -> None:
        pattern = {"k": [{"wildcard": "a*b*c*d*e*f*g*h*i*j"}]}
        near_miss = "a" + "bcdefgh" * (size // 7) + "j"
        assert not matches(pattern, {"k": near_miss})
        assert matches(pattern, {"k": near_miss[:-1] + "ij"})
        assert not matches({"k": [{"anything-but": {"wildcard": "a*b*c*d*e*f*g*h*i*j"}}]}, {"k": near_miss[:-1] + "ij"})

    def test_long_self_similar_segments_are_found_in_one_pass(self) -> None:
        """Such segments fail AWS's complexity rule, so only the matcher itself can be given them."""
        segment = "a" * 150 + "b" + "a" * 149
        wildcard = parse_wildcard(f"x*{segment}*x", "k")
        value = "x" + "a" * 100_000 + "x"
        assert not wildcard.matches(value)
        assert wildcard.matches(value[:50_000] + segment + value[50_000:])


def deep_array(depth: int, inner: str) -> str:
    return "[" * depth + inner + "]" * depth


HOSTILE_BODIES = {
    "arrays past the parser": "[" * 100_000 + "]" * 100_000,
    "objects past the parser": '{"a":' * 50_000 + "1" + "}" * 50_000,
    "an integer past int()'s digit limit": '{"n": ' + "9" * 5_000 + "}",
    "a number past a double": '{"n": 1e400, "m": -1e400, "s": 4.9e-400}',
    "a lone surrogate": '{"s": "\\ud800", "\\udfff": "x", "n": ["\\udc00"]}',
    "a megabyte string": json.dumps({"s": "a" * 1_000_000, "ip": "1" * 1_000_000}),
    "broken JSON": '{"a": [1, 2',
    "a bare scalar": "12",
    "empty": "",
}

ALL_OPERATORS = {
    "body": {
        "s": ["a", {"prefix": "a"}, {"suffix": "z"}, {"equals-ignore-case": "A"}, {"wildcard": "a*b*c"},
              {"anything-but": {"prefix": ["x", "y"]}}, {"cidr": "10.0.0.0/8"}],
        "n": [{"numeric": [">", 0]}, {"anything-but": [1, 2]}, 5, {"exists": True}],
        "ip": [{"cidr": "2001:db8::/32"}],
        "a": {"b": [{"exists": False}]},
    }
}


@pytest.mark.parametrize("body", HOSTILE_BODIES.values(), ids=list(HOSTILE_BODIES))
def test_hostile_sqs_bodies_get_a_verdict(body: str) -> None:
    accept = FilterCriteria.of(ALL_OPERATORS, {"body": [{"prefix": "1"}]}, {"messageId": ["x"]}).for_shape("sqs")
    result = accept.evaluate(sqs_record(body))
    assert result.verdict in set(Verdict)
    assert accept.matches(sqs_record(body)) is result.matched


def test_a_body_nested_past_the_parser_is_undecodable_not_a_plain_string() -> None:
    accept = FilterCriteria.of({"body": {"a": [1]}}).for_shape("sqs")
    result = accept.evaluate(sqs_record(HOSTILE_BODIES["arrays past the parser"]))
    assert result.verdict is Verdict.FORMAT_MISMATCH
    assert "nested too deeply" in result.reason


def test_huge_numbers_in_a_record_match_by_text_and_never_numerically() -> None:
    digits = "9" * 5_000
    record = sqs_record(f'{{"n": {digits}}}')
    assert not FilterCriteria.of({"body": {"n": [{"numeric": [">", 0]}]}}).for_shape("sqs").matches(record)
    assert FilterCriteria.of({"body": {"n": [{"exists": True}]}}).for_shape("sqs").matches(record)
    assert FilterCriteria.of({"body": {"n": [{"anything-but": [1]}]}}).for_shape("sqs").matches(record)
    infinite = sqs_record('{"n": 1e400}')
    assert not FilterCriteria.of({"body": {"n": [{"numeric": [">", 0]}]}}).for_shape("sqs").matches(infinite)


def test_lone_surrogates_are_ordinary_characters() -> None:
    record = sqs_record('{"s": "x\\ud800y"}')
    operators = ({"prefix": "x\ud800"}, {"suffix": "\ud800y"}, {"wildcard": "x*y"}, {"equals-ignore-case": "X\ud800Y"})
    for operator in operators:
        assert FilterCriteria.of({"body": {"s": [operator]}}).for_shape("sqs").matches(record), operator


def test_arrays_nested_as_deep_as_the_parser_allows_are_walked_without_recursion() -> None:
    leaf = sqs_record(f'{{"v": {deep_array(700, "5")}}}')
    assert FilterCriteria.of({"body": {"v": [5]}}).for_shape("sqs").matches(leaf)
    objects = sqs_record(f'{{"v": {deep_array(700, json.dumps({"x": 1}))}}}')
    assert FilterCriteria.of({"body": {"v": {"x": [1]}}}).for_shape("sqs").matches(objects)
    assert not FilterCriteria.of({"body": {"v": {"x": [2]}}}).for_shape("sqs").matches(objects)
    assert FilterCriteria.of({"body": {"v": {"y": [{"exists": False}]}}}).for_shape("sqs").matches(objects)


def test_dotted_keys_nested_deep_in_a_record() -> None:
    chain = ".".join(["k"] * 5_000)
    record = sqs_record(json.dumps({chain: 1, "k": {chain: 2}}))
    assert FilterCriteria.of({"body": {"k.k.k": {"k": [{"exists": False}]}}}).for_shape("sqs").matches(record)
    assert not FilterCriteria.of({"body": {"k": {"k": [1]}}}).for_shape("sqs").matches(record)


@pytest.mark.parametrize("value", [b"\xff\xfe\xfd", b"\xc3", b"\xed\xa0\x80", b"[" * 100_000])
def test_kafka_values_that_are_not_utf8_json_are_filtered_on_metadata(value: bytes) -> None:
    accept = FilterCriteria.of({"topic": ["mytopic"], "value": {"a": [1]}}).for_shape("kafka")
    result = accept.evaluate(kafka_record(value))
    assert result.verdict is Verdict.MATCHED
    assert "on metadata only" in result.reason


@pytest.mark.parametrize("data", [b"\xff\xfe", b"[" * 100_000, ("{" + '"a":{' * 2000 + "}" * 2001).encode()])
def test_stream_payloads_that_cannot_be_parsed_are_format_mismatches(data: bytes) -> None:
    result = FilterCriteria.of({"data": {"a": [1]}}).for_shape("kinesis").evaluate(kinesis_record(data))
    assert result.verdict is Verdict.FORMAT_MISMATCH


def test_dynamodb_images_with_hostile_values() -> None:
    image = {"S": {"S": "\ud800" * 10}, "N": {"N": "9" * 5000}, "L": {"L": [{"L": [{"S": "x"}]}]}}
    record = dynamodb_record(NewImage=image)
    accept = FilterCriteria.of({"dynamodb": {"NewImage": {"N": {"N": [{"prefix": "99"}]}}}}).for_shape("dynamodb")
    assert accept.matches(record)


def test_kinesis_data_with_broken_base64_padding() -> None:
    record = kinesis_record("{}")
    record["kinesis"]["data"] = b64(b"\x00") + "==="
    assert FilterCriteria.of({"data": {"a": [{"exists": False}]}}).for_shape("kinesis").evaluate(record).verdict is (
        Verdict.FORMAT_MISMATCH
    )


def exactly_a_double(text: str) -> bool:
    """The definition: the number's decimal value is that of its double's shortest form."""
    double = float(text)
    return double - double == 0.0 and Decimal(repr(double)) == Decimal(text)


number_texts = st.builds(
    "{}{}.{}{}".format,
    st.sampled_from(["", "-"]),
    st.from_regex(r"0|[1-9][0-9]{0,9}", fullmatch=True),
    st.text("0123456789", min_size=1, max_size=10),
    st.sampled_from(["", "e5", "E-7", "e308", "e-308", "e-320", "e309", "e-330"]),
)


@settings(max_examples=500, deadline=None)
@given(number_texts)
def test_a_bound_is_accepted_exactly_when_it_is_exactly_a_double(text: str) -> None:
    pattern = f'{{"n": [{{"numeric": ["=", {text}]}}]}}'
    if exactly_a_double(text):
        accept = FilterCriteria.of({"body": json.loads(pattern)}).for_shape("sqs")
        assert accept.matches(sqs_record(f'{{"n": {text}}}'))
        assert accept.matches(sqs_record(f'{{"n": {float(text)!r}}}'))
    else:
        with pytest.raises(FilterError, match="cannot be compared"):
            FilterCriteria.of(pattern)
