"""Reading template text (short-form tags, dates, JSON) and parameter overrides as sam deploy takes them."""

from __future__ import annotations

import pytest

import batchmap.templates as templates
from batchmap.errors import TemplateError
from batchmap.templates import parse_parameter_overrides, parse_template


def test_short_forms_become_long_forms() -> None:
    document = parse_template("""\
AWSTemplateFormatVersion: 2010-09-09
Values:
  a: !Ref Queue
  b: !GetAtt Queue.Arn
  c: !GetAtt [Queue, Arn]
  d: !GetAtt Stack.Outputs.Name
  e: !Sub "${A}-x"
  f: !Sub ["${A}", {A: !Ref B}]
  g: !Join [",", [x, !Select [0, !Split [",", "p,q"]]]]
  h: !If [Cond, !Base64 text, !FindInMap [M, a, b]]
  i: !And [!Equals [a, b], !Not [!Condition C], !Or [!Condition D, !Condition E]]
  j: !GetAZs ""
  k: !ImportValue shared
""")
    assert document["AWSTemplateFormatVersion"] == "2010-09-09"  # text, not a date
    values = document["Values"]
    assert values["a"] == {"Ref": "Queue"}
    assert values["b"] == values["c"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert values["d"] == {"Fn::GetAtt": ["Stack", "Outputs.Name"]}
    assert values["e"] == {"Fn::Sub": "${A}-x"}
    assert values["f"] == {"Fn::Sub": ["${A}", {"A": {"Ref": "B"}}]}
    assert values["g"] == {"Fn::Join": [",", ["x", {"Fn::Select": [0, {"Fn::Split": [",", "p,q"]}]}]]}
    assert values["h"] == {"Fn::If": ["Cond", {"Fn::Base64": "text"}, {"Fn::FindInMap": ["M", "a", "b"]}]}
    assert values["i"] == {"Fn::And": [{"Fn::Equals": ["a", "b"]}, {"Fn::Not": [{"Condition": "C"}]},
                                       {"Fn::Or": [{"Condition": "D"}, {"Condition": "E"}]}]}
    assert values["j"] == {"Fn::GetAZs": ""}
    assert values["k"] == {"Fn::ImportValue": "shared"}


def test_json_text_is_read_as_json() -> None:
    assert parse_template('{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}') == {
        "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}


@pytest.mark.parametrize(("items", "expected"), [
    (["Stage=prod", "Size=10"], {"Stage": "prod", "Size": "10"}),
    (["Stage=prod Size=10"], {"Stage": "prod", "Size": "10"}),
    (["Greeting=hello world"], {"Greeting": "hello world"}),
    (["Url=https://x.example/?a=b"], {"Url": "https://x.example/?a=b"}),
    (["ParameterKey=Stage,ParameterValue=prod", "ParameterKey=Empty,ParameterValue="],
     {"Stage": "prod", "Empty": ""}),
])
def test_parameter_overrides_as_sam_cli_takes_them(items: list[str], expected: dict[str, str]) -> None:
    assert parse_parameter_overrides(items) == expected


def test_a_parameter_override_without_a_value() -> None:
    with pytest.raises(TemplateError, match="--parameter-overrides: expected Key=Value, got 'Stage'"):
        parse_parameter_overrides(["Stage"])


def test_every_public_name_resolves() -> None:
    for name in templates.__all__:
        assert getattr(templates, name) is not None, name
