"""DynamoDB typed JSON to plain values and back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from batchmap.errors import RecordError
from batchmap.records import decode_item, decode_value, encode_item, encode_value


@pytest.mark.parametrize(("typed", "plain"), [
    ({"S": "x"}, "x"), ({"N": "42"}, 42), ({"N": "-7"}, -7), ({"N": "1.50"}, Decimal("1.50")),
    ({"N": "1e3"}, Decimal("1e3")), ({"B": "AAE="}, b"\x00\x01"), ({"BOOL": False}, False), ({"NULL": True}, None),
    ({"SS": ["a", "b"]}, {"a", "b"}), ({"NS": ["1", "0.5"]}, {1, Decimal("0.5")}), ({"BS": ["YQ=="]}, {b"a"}),
    ({"L": [{"S": "a"}, {"L": []}]}, ["a", []]), ({"M": {"k": {"M": {}}}}, {"k": {}}),
])
def test_decode_value(typed: dict[str, Any], plain: object) -> None:
    assert decode_value(typed) == plain
    assert type(decode_value(typed)) is type(plain)


@pytest.mark.parametrize(("typed", "field_part"), [
    ({"X": "1"}, "unknown DynamoDB attribute type 'X'"), ({"N": "abc"}, "invalid N value"),
    ({"S": "a", "N": "1"}, "one-key object"), ({"B": "***"}, "invalid B value"), ({"BOOL": "yes"}, "invalid BOOL"),
    ({"L": {"S": "x"}}, "invalid L value"),
])
def test_decode_errors_name_the_field(typed: dict[str, Any], field_part: str) -> None:
    with pytest.raises(RecordError) as caught:
        decode_item({"attr": typed}, field="NewImage")
    assert field_part in str(caught.value)
    assert caught.value.field is not None and caught.value.field.startswith("NewImage.attr")


def test_round_trip_of_every_type() -> None:
    item = {"s": "text", "i": 12345678901234567890, "d": Decimal("3.25"), "f": 0.5, "b": b"\x00", "t": True,
            "n": None, "ss": {"x", "y"}, "ns": {1, 2}, "bs": {b"p"}, "l": ["a", 1, None], "m": {"inner": {"deep": "v"}}}
    decoded = decode_item(encode_item(item))
    assert decoded == {**item, "f": Decimal("0.5")}
    assert encode_value(True) == {"BOOL": True} and encode_value(1) == {"N": "1"}


@pytest.mark.parametrize("bad", [set(), {1, "a"}, float("nan"), object()])
def test_encode_rejects_what_dynamodb_cannot_hold(bad: object) -> None:
    with pytest.raises(RecordError):
        encode_value(bad)
